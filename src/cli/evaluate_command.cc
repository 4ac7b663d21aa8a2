// recsys evaluate: offline quality of every model beside the popularity baseline.
#include <cstdio>
#include <filesystem>

#include "cli/commands.h"
#include "core/files.h"
#include "core/progress.h"
#include "models/data.h"
#include "models/evaluate.h"
#include "models/tune.h"

namespace recsys {
namespace {}  // namespace

Result<InteractionData> LoadSource(const CommandContext& ctx, const std::string& source) {
  const Config& c = *ctx.config;
  if (source == "gold") {
    std::error_code ec;
    std::string root = std::filesystem::absolute(ctx.LakeDir(), ec).lexically_normal().string();
    if (ec) return Status::IOError("lake " + ctx.LakeDir() + ": " + ec.message());
    return LoadGoldInteractions(root, static_cast<int>(c.GetInt("evaluate.threads")));
  }
  if (source.rfind("movielens:", 0) == 0) {
    std::string path = source.substr(10);
    std::error_code ec;
    if (std::filesystem::is_directory(path, ec)) {
      for (const char* name : {"ratings.csv", "u.data", "ratings.dat"}) {
        if (FileExists(path + "/" + name)) {
          path += std::string("/") + name;
          break;
        }
      }
    }
    return LoadMovieLensRatings(path, c.GetBool("evaluate.binary"));
  }
  return Status::InvalidArgument("source '" + source +
                                 "': expected gold or movielens:<ratings file or folder>");
}

// "a;b;;c" -> {"a", "b", "c"}, each trimmed.
std::vector<std::string> SplitSpecList(const std::string& text) {
  std::vector<std::string> out;
  size_t begin = 0;
  while (begin <= text.size()) {
    size_t end = text.find(';', begin);
    if (end == std::string::npos) end = text.size();
    std::string s = text.substr(begin, end - begin);
    while (!s.empty() && s.front() == ' ') s.erase(s.begin());
    while (!s.empty() && s.back() == ' ') s.pop_back();
    if (!s.empty()) out.push_back(s);
    begin = end + 1;
  }
  return out;
}

Status RunEvaluate(CommandContext& ctx) {
  if (!ctx.args.empty()) return Status::InvalidArgument("unexpected argument " + ctx.args[0]);
  const Config& c = *ctx.config;
  const std::string source = c.GetString("evaluate.source");
  RECSYS_ASSIGN_OR_RETURN(SplitSpec split_spec, ParseSplit(c.GetString("evaluate.split")));
  const uint64_t seed = static_cast<uint64_t>(c.GetInt("evaluate.seed"));
  EvaluateOptions options;
  options.k = static_cast<int>(c.GetInt("evaluate.k"));
  options.fit.threads = static_cast<int>(c.GetInt("evaluate.threads"));
  options.fit.seed = seed;
  options.exclude_history = c.GetBool("evaluate.exclude_history");
  options.min_relevant_value = c.GetDouble("evaluate.min_relevant");
  std::vector<std::string> specs = SplitSpecList(c.GetString("evaluate.models"));
  for (std::string& spec : SplitSpecList(c.GetString("evaluate.model"))) {
    specs.push_back(std::move(spec));
  }
  const bool chosen = !specs.empty();
  if (specs.empty()) {
    // Every model, each with its last tuned spec (recsys tune) where one was saved.
    for (const std::string& name : RecommenderNames()) {
      RECSYS_ASSIGN_OR_RETURN(std::string tuned, ReadTunedSpec(ctx.DataDir(), name));
      specs.push_back(tuned.empty() ? name : tuned);
    }
  }
  if (!ctx.quiet() && !ctx.json) {
    options.before_each = [](const std::string& spec) {
      std::fprintf(stderr, "evaluate: %s\n", spec.c_str());
    };
  }

  RECSYS_ASSIGN_OR_RETURN(InteractionData data, LoadSource(ctx, source));
  // Item side data (content's terms, hybrid's rules) exists only in a lake. Without item terms
  // content cannot fit, so the default list leaves it out rather than fail every model.
  ItemSideData side;
  if (source == "gold") {
    std::error_code ec;
    const std::string root =
        std::filesystem::absolute(ctx.LakeDir(), ec).lexically_normal().string();
    auto loaded = LoadItemSideData(root, data.items, options.fit.threads);
    if (loaded.ok()) {
      side = std::move(*loaded);
      options.fit.side = &side;
    }
  }
  if (side.terms.empty() && !chosen) {
    std::erase_if(
        specs, [](const std::string& spec) { return spec.substr(0, spec.find(':')) == "content"; });
  }
  RECSYS_ASSIGN_OR_RETURN(Split split, SplitInteractions(data, split_spec, seed));
  if (split.test_entries == 0) {
    return Status::InvalidArgument("split " + split_spec.text + " holds out no interaction of " +
                                   source);
  }
  if (!ctx.quiet() && !ctx.json) {
    std::fprintf(stderr, "evaluate: %s users, %s items, %s training / %s held-out interactions\n",
                 FormatCount(data.users.size()).c_str(), FormatCount(data.items.size()).c_str(),
                 FormatCount(split.train_entries).c_str(), FormatCount(split.test_entries).c_str());
  }
  RECSYS_ASSIGN_OR_RETURN(std::vector<ModelEvaluation> results,
                          EvaluateSpecs(specs, split, options));

  // Held-out users no model can rank for: they have no training interaction.
  int64_t cold_users = 0;
  for (int32_t u = 0; u < split.train.rows; ++u) {
    if (!split.test_items[static_cast<size_t>(u)].empty() && split.train.RowIndices(u).empty()) {
      ++cold_users;
    }
  }

  JsonWriter& j = ctx.summary;
  j.Key("source");
  j.String(source);
  j.Key("split");
  j.String(split_spec.text);
  j.Key("seed");
  j.Int(static_cast<int64_t>(seed));
  j.Key("k");
  j.Int(options.k);
  j.Key("users");
  j.Int(data.users.size());
  j.Key("items");
  j.Int(data.items.size());
  j.Key("train_interactions");
  j.Int(split.train_entries);
  j.Key("test_interactions");
  j.Int(split.test_entries);
  j.Key("cold_users");
  j.Int(cold_users);
  j.Key("models");
  j.BeginArray();
  for (const ModelEvaluation& e : results) {
    const RankingMetrics& m = e.metrics;
    j.BeginObject();
    j.Key("model");
    j.String(e.name);
    j.Key("spec");
    j.String(e.spec);
    j.Key("users");
    j.Int(m.users);
    j.Key("precision");
    j.Double(m.precision);
    j.Key("recall");
    j.Double(m.recall);
    j.Key("ndcg");
    j.Double(m.ndcg);
    j.Key("map");
    j.Double(m.map);
    j.Key("map_full");
    j.Double(m.map_full);
    j.Key("hit_rate");
    j.Double(m.hit_rate);
    j.Key("coverage");
    j.Double(m.coverage);
    j.Key("fit_seconds");
    j.Double(e.fit_seconds);
    j.Key("recommend_seconds");
    j.Double(e.recommend_seconds);
    j.EndObject();
  }
  j.EndArray();

  char line[512];
  std::snprintf(line, sizeof(line),
                "%s, split %s (seed %llu): %s users, %s items, %s training / %s held-out "
                "interactions; %s users evaluated%s\n",
                source.c_str(), split_spec.text.c_str(), static_cast<unsigned long long>(seed),
                FormatCount(data.users.size()).c_str(), FormatCount(data.items.size()).c_str(),
                FormatCount(split.train_entries).c_str(), FormatCount(split.test_entries).c_str(),
                FormatCount(results.empty() ? 0 : results[0].metrics.users).c_str(),
                cold_users == 0 ? ""
                                : (", " + FormatCount(cold_users) +
                                   " more held out without training history (not scored)")
                                      .c_str());
  ctx.text += line;
  const std::string k = std::to_string(options.k);
  std::snprintf(line, sizeof(line), "%-12s %12s %10s %8s %8s %8s %9s %8s  %s\n", "model",
                ("precision@" + k).c_str(), ("recall@" + k).c_str(), ("ndcg@" + k).c_str(),
                ("map@" + k).c_str(), ("hit@" + k).c_str(), "coverage", "fit s", "spec");
  ctx.text += line;
  for (const ModelEvaluation& e : results) {
    const RankingMetrics& m = e.metrics;
    std::snprintf(line, sizeof(line), "%-12s %12.4f %10.4f %8.4f %8.4f %8.4f %9.4f %8.2f  %s\n",
                  e.name.c_str(), m.precision, m.recall, m.ndcg, m.map, m.hit_rate, m.coverage,
                  e.fit_seconds, e.spec.c_str());
    ctx.text += line;
  }
  return Status::OK();
}

}  // namespace recsys
