// recsys process silver | gold: bronze -> silver -> gold.
#include <cstdio>
#include <filesystem>

#include "cli/commands.h"
#include "core/progress.h"
#include "process/gold.h"
#include "process/silver.h"

namespace recsys {
namespace {

Result<LakeLocation> Lake(const CommandContext& ctx, std::unique_ptr<ObjectStore>* store) {
  RECSYS_ASSIGN_OR_RETURN(*store, OpenLake(ctx));
  std::error_code ec;
  std::string root = std::filesystem::absolute(ctx.LakeDir(), ec).lexically_normal().string();
  if (ec) return Status::IOError("lake " + ctx.LakeDir() + ": " + ec.message());
  while (root.size() > 1 && root.back() == '/') root.pop_back();
  return LakeLocation{store->get(), root};
}

void AddCounts(JsonWriter& j, const SilverCounts& c) {
  j.BeginObject();
  j.Key("read");
  j.Int(c.read);
  j.Key("written");
  j.Int(c.written);
  j.Key("quarantined");
  j.Int(c.quarantined);
  j.Key("duplicates");
  j.Int(c.duplicates);
  j.EndObject();
}

}  // namespace

SilverOptions SilverOptionsFrom(const Config& c) {
  SilverOptions o;
  o.session_gap_minutes = static_cast<int>(c.GetInt("process.session_gap_minutes"));
  o.pii_salt = c.GetString("process.pii_salt");
  o.max_future_skew_ms = c.GetInt("process.max_future_skew_ms");
  o.max_message_bytes = static_cast<size_t>(c.GetInt("process.max_message_bytes"));
  o.threads = static_cast<int>(c.GetInt("process.threads"));
  o.memory_limit = c.GetString("process.memory_limit");
  return o;
}

GoldOptions GoldOptionsFrom(const Config& c) {
  GoldOptions o;
  o.weight_view = c.GetDouble("process.weight_view");
  o.weight_click = c.GetDouble("process.weight_click");
  o.weight_cart = c.GetDouble("process.weight_cart");
  o.weight_purchase = c.GetDouble("process.weight_purchase");
  o.interaction_half_life_days = c.GetDouble("process.interaction_half_life_days");
  o.trending_half_life_days = c.GetDouble("process.trending_half_life_days");
  o.clusters = static_cast<int>(c.GetInt("process.clusters"));
  o.max_clusters = static_cast<int>(c.GetInt("process.max_clusters"));
  o.seed = static_cast<uint64_t>(c.GetInt("process.seed"));
  o.threads = static_cast<int>(c.GetInt("process.threads"));
  o.memory_limit = c.GetString("process.memory_limit");
  return o;
}

Status SilverStep(CommandContext& ctx) {
  std::unique_ptr<ObjectStore> store;
  RECSYS_ASSIGN_OR_RETURN(LakeLocation lake, Lake(ctx, &store));
  SilverReport report;
  RECSYS_RETURN_IF_ERROR(RunSilver(lake, SilverOptionsFrom(*ctx.config), &report));
  JsonWriter& j = ctx.summary;
  j.Key("silver");
  j.BeginObject();
  j.Key("run_id");
  j.String(report.run_id);
  j.Key("files");
  j.Int(report.files);
  j.Key("read");
  j.Int(report.total.read);
  j.Key("written");
  j.Int(report.total.written);
  j.Key("quarantined");
  j.Int(report.total.quarantined);
  j.Key("duplicates");
  j.Int(report.total.duplicates);
  j.Key("quarantined_by_reason");
  j.BeginObject();
  for (const auto& [reason, n] : report.quarantined_by_reason) {
    j.Key(reason);
    j.Int(n);
  }
  j.EndObject();
  j.Key("per_topic");
  j.BeginObject();
  for (const auto& [topic, counts] : report.per_topic) {
    j.Key(topic);
    AddCounts(j, counts);
  }
  j.EndObject();
  j.Key("tables");
  j.BeginObject();
  for (const auto& [table, rows] : report.table_rows) {
    j.Key(table);
    j.Int(rows);
  }
  j.EndObject();
  j.Key("seconds");
  j.Double(report.seconds);
  j.Key("events_per_second");
  j.Double(report.seconds > 0 ? report.total.read / report.seconds : 0);
  j.EndObject();

  const SilverCounts& t = report.total;
  char line[512];
  std::snprintf(
      line, sizeof(line),
      "silver run %s: %s bronze files, read %s = written %s + quarantined %s + "
      "duplicates %s, in %.1f s (%s events/s)\n",
      report.run_id.c_str(), FormatCount(report.files).c_str(), FormatCount(t.read).c_str(),
      FormatCount(t.written).c_str(), FormatCount(t.quarantined).c_str(),
      FormatCount(t.duplicates).c_str(), report.seconds,
      FormatCount(static_cast<int64_t>(report.seconds > 0 ? t.read / report.seconds : 0)).c_str());
  ctx.text += line;
  for (const auto& [reason, n] : report.quarantined_by_reason) {
    ctx.text += "  quarantined " + reason + ": " + FormatCount(n) + "\n";
  }
  if (report.files == 0) ctx.text += "  no new bronze files\n";
  return Status::OK();
}

Status GoldStep(CommandContext& ctx) {
  std::unique_ptr<ObjectStore> store;
  RECSYS_ASSIGN_OR_RETURN(LakeLocation lake, Lake(ctx, &store));
  GoldReport report;
  RECSYS_RETURN_IF_ERROR(RunGold(lake, GoldOptionsFrom(*ctx.config), &report));
  JsonWriter& j = ctx.summary;
  j.Key("gold");
  j.BeginObject();
  j.Key("snapshot");
  j.String(report.snapshot);
  j.Key("unchanged");
  j.Bool(report.unchanged);
  j.Key("clusters");
  j.Int(report.chosen_clusters);
  j.Key("tables");
  j.BeginObject();
  for (const GoldTable& t : report.tables) {
    j.Key(t.name);
    j.Int(t.rows);
  }
  j.EndObject();
  j.Key("seconds");
  j.Double(report.seconds);
  j.EndObject();
  char line[256];
  std::snprintf(line, sizeof(line), "gold snapshot %s%s in %.1f s:\n", report.snapshot.c_str(),
                report.unchanged ? " (silver unchanged; kept)" : "", report.seconds);
  ctx.text += line;
  for (const GoldTable& t : report.tables) {
    ctx.text += "  " + t.name + ": " + FormatCount(t.rows) + " rows\n";
  }
  return Status::OK();
}

Status RunProcessSilver(CommandContext& ctx) {
  if (!ctx.args.empty()) return Status::InvalidArgument("unexpected argument " + ctx.args[0]);
  return SilverStep(ctx);
}

Status RunProcessGold(CommandContext& ctx) {
  if (!ctx.args.empty()) return Status::InvalidArgument("unexpected argument " + ctx.args[0]);
  return GoldStep(ctx);
}

}  // namespace recsys
