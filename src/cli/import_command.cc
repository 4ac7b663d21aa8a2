// recsys import: a shop's history from CSV files into the event log (ingest/csv_import.h). Rows
// that cannot become events go to <data-dir>/refused/import-<start ms>.jsonl, one JSON object
// per line: {"file","line","reason","message","raw"}.
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>

#include "cli/commands.h"
#include "cli/log_batcher.h"
#include "core/clock.h"
#include "core/event.h"
#include "core/files.h"
#include "core/progress.h"
#include "ingest/csv.h"
#include "ingest/csv_import.h"

namespace recsys {
namespace {

class LogImportSink : public ImportSink {
 public:
  LogImportSink(EventLog* log, std::string refused_path)
      : batcher_(log), refused_path_(std::move(refused_path)) {}
  ~LogImportSink() override {
    if (refused_ != nullptr) std::fclose(refused_);
  }
  LogImportSink(const LogImportSink&) = delete;
  LogImportSink& operator=(const LogImportSink&) = delete;

  Status Emit(const Event& e) override {
    json_.clear();
    AppendEventJson(e, &json_);
    return batcher_.Add(TopicName(e.topic()), e.key(), json_);
  }

  Status Quarantine(const QuarantinedRow& row) override {
    if (refused_ == nullptr) {
      RECSYS_RETURN_IF_ERROR(CreateDirs(DirOf(refused_path_)));
      refused_ = std::fopen(refused_path_.c_str(), "a");
      if (refused_ == nullptr) return Status::FromErrno("open", refused_path_, errno);
    }
    JsonWriter w;
    w.BeginObject();
    w.Key("file");
    w.String(ValidUtf8(row.file));
    w.Key("line");
    w.Int(row.line);
    w.Key("reason");
    w.String(row.reason);
    w.Key("message");
    w.String(ValidUtf8(row.message));
    w.Key("raw");
    w.String(ValidUtf8(row.raw));
    w.EndObject();
    const std::string& line = w.str();
    if (std::fwrite(line.data(), 1, line.size(), refused_) != line.size() ||
        std::fputc('\n', refused_) == EOF) {
      return Status::IOError("write " + refused_path_);
    }
    return Status::OK();
  }

  // Appends what is pending and makes the refused file durable.
  Status Finish() {
    if (refused_ != nullptr) {
      bool ok = std::fflush(refused_) == 0 && ::fsync(::fileno(refused_)) == 0;
      ok = std::fclose(refused_) == 0 && ok;
      refused_ = nullptr;
      if (!ok) return Status::IOError("write " + refused_path_);
    }
    return batcher_.Flush();
  }

  int64_t appended() const { return batcher_.appended(); }

 private:
  static std::string DirOf(const std::string& path) { return path.substr(0, path.rfind('/')); }

  LogBatcher batcher_;
  std::string refused_path_;
  FILE* refused_ = nullptr;
  std::string json_;
};

// The options from the import.* settings. With a preset, settings left at their defaults leave
// the preset's choice in place.
Result<ImportOptions> ImportOptionsFrom(const Config& c, int64_t now_ms) {
  ImportOptions o;
  o.preset = c.GetString("import.preset");
  if (o.preset == "none") o.preset.clear();
  o.now_ms = now_ms;
  o.whole_catalog = c.GetBool("import.whole_catalog");
  const bool preset = !o.preset.empty();
  auto given = [&](const char* name) {
    return !preset || c.SourceOf(name) != SettingSource::kDefault;
  };
  auto text = [&](const char* name, std::optional<std::string>* out) {
    const std::string& v = c.GetString(name);
    // Without a preset an empty column is unmapped; with one, an explicit empty value unmaps the
    // preset's column.
    if (given(name) && (preset || !v.empty())) *out = v;
  };
  if (given("import.delimiter")) {
    RECSYS_ASSIGN_OR_RETURN(char d, ParseDelimiter(c.GetString("import.delimiter")));
    o.delimiter = d;
  }
  if (given("import.header")) o.header = c.GetBool("import.header");
  text("import.user_col", &o.user_col);
  text("import.item_col", &o.item_col);
  text("import.time_col", &o.time_col);
  text("import.quantity_col", &o.quantity_col);
  text("import.price_col", &o.price_col);
  text("import.rating_col", &o.rating_col);
  text("import.text_col", &o.text_col);
  text("import.order_col", &o.order_col);
  text("import.category_col", &o.category_col);
  text("import.country_col", &o.country_col);
  text("import.time_format", &o.time_format);
  text("import.event_type", &o.event_type);
  text("import.currency", &o.currency);
  text("import.timezone", &o.timezone);
  text("import.encoding", &o.encoding);
  if (given("import.utc_offset_minutes")) {
    o.utc_offset_minutes = static_cast<int>(c.GetInt("import.utc_offset_minutes"));
  }
  return o;
}

}  // namespace

Status RunImport(CommandContext& ctx) {
  if (ctx.args.empty()) {
    return Status::InvalidArgument("give the CSV files to import (`recsys import --help`)");
  }
  const int64_t started_ms = SystemClock()->NowMillis();
  RECSYS_ASSIGN_OR_RETURN(ImportOptions options, ImportOptionsFrom(*ctx.config, started_ms));
  RECSYS_ASSIGN_OR_RETURN(std::unique_ptr<EventLog> log, OpenLog(ctx));
  const int partitions = static_cast<int>(ctx.config->GetInt("log.partitions"));
  for (Topic t : kAllTopics) RECSYS_RETURN_IF_ERROR(log->CreateTopic(TopicName(t), partitions));

  const std::string refused_path =
      ctx.DataDir() + "/refused/import-" + std::to_string(started_ms) + ".jsonl";
  LogImportSink sink(log.get(), refused_path);
  RECSYS_ASSIGN_OR_RETURN(std::unique_ptr<CsvImporter> importer,
                          CsvImporter::Create(options, &sink));

  int64_t total_bytes = 0;
  for (const std::string& input : ctx.args) {
    struct stat st;
    if (::stat(input.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) {
      total_bytes = -1;
      break;
    }
    total_bytes += st.st_size;
  }
  Progress progress("import", "rows", -1, !ctx.quiet());
  importer->set_progress([&](int64_t bytes) {
    progress.Update(
        importer->stats().rows,
        total_bytes > 0 ? static_cast<double>(bytes) / static_cast<double>(total_bytes) : -1);
  });
  const int64_t start_ns = SystemClock()->MonotonicNanos();
  for (const std::string& input : ctx.args) RECSYS_RETURN_IF_ERROR(importer->ImportPath(input));
  RECSYS_RETURN_IF_ERROR(importer->Finish());
  RECSYS_RETURN_IF_ERROR(sink.Finish());
  RECSYS_RETURN_IF_ERROR(log->Sync());
  const ImportStats& s = importer->stats();
  progress.Finish(s.rows);
  const double secs = static_cast<double>(SystemClock()->MonotonicNanos() - start_ns) / 1e9;
  const double rate = secs > 0 ? static_cast<double>(s.rows) / secs : 0;

  JsonWriter& j = ctx.summary;
  auto field = [&](const char* k, int64_t v) {
    j.Key(k);
    j.Int(v);
  };
  j.Key("preset");
  j.String(options.preset.empty() ? "none" : options.preset);
  field("files", s.files);
  field("rows", s.rows);
  field("catalog_rows", s.catalog_rows);
  j.Key("catalog_files");
  j.BeginArray();
  for (const std::string& f : s.catalog_files) j.String(f);
  j.EndArray();
  j.Key("events");
  j.BeginObject();
  for (Topic t : kAllTopics)
    field(std::string(TopicName(t)).c_str(), s.events[static_cast<int>(t)]);
  j.EndObject();
  field("appended", sink.appended());
  field("users", s.users);
  field("products", s.products);
  field("quarantined", s.quarantined);
  j.Key("quarantined_by_reason");
  j.BeginObject();
  for (const auto& [reason, n] : s.quarantined_by_reason) field(reason.c_str(), n);
  j.EndObject();
  if (s.quarantined > 0) {
    j.Key("refused_file");
    j.String(refused_path);
  }
  field("bytes", s.bytes);
  j.Key("seconds");
  j.Double(secs);
  j.Key("rows_per_second");
  j.Double(rate);

  char line[512];
  std::snprintf(line, sizeof(line),
                "imported %s rows from %s file%s in %.2f s (%s rows/s): clickstream %s, "
                "user-events %s (users), product-events %s (products)\n",
                FormatCount(s.rows).c_str(), FormatCount(s.files).c_str(), s.files == 1 ? "" : "s",
                secs, FormatCount(static_cast<int64_t>(rate)).c_str(),
                FormatCount(s.events[0]).c_str(), FormatCount(s.events[1]).c_str(),
                FormatCount(s.events[2]).c_str());
  ctx.text += line;
  if (!s.catalog_files.empty()) {
    ctx.text += "catalog and customers from";
    for (const std::string& f : s.catalog_files) ctx.text += " " + f;
    ctx.text += " (" + FormatCount(s.catalog_rows) + " rows)\n";
  }
  if (s.quarantined > 0) {
    ctx.text += "quarantined " + FormatCount(s.quarantined) + " rows:";
    bool first = true;
    for (const auto& [reason, n] : s.quarantined_by_reason) {
      ctx.text += (first ? " " : ", ") + reason + " " + FormatCount(n);
      first = false;
    }
    ctx.text += "; kept in " + refused_path + "\n";
  }
  return Status::OK();
}

}  // namespace recsys
