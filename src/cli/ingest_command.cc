// recsys ingest: JSON lines from files or stdin into the event log. Nothing is dropped here:
// bronze keeps raw input and silver judges it, so even a line that is not JSON is appended
// (to the file's topic or ingest.default_topic) and counted.
#include <fcntl.h>
#include <simdjson.h>
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

namespace recsys {
namespace {

struct IngestStats {
  int64_t lines = 0, appended = 0, blank = 0, not_json = 0, unknown_type = 0, refused = 0;
  int64_t bytes = 0;
  int64_t per_topic[3] = {0, 0, 0};
};

// What routing needs from a line: its event_type's topic and its key.
class LineInspector {
 public:
  // Returns false if the line is not a JSON object.
  bool Inspect(std::string_view line, std::optional<Topic>* topic, std::string* user_id,
               std::string* product_id) {
    topic->reset();
    user_id->clear();
    product_id->clear();
    padded_.assign(line.data(), line.size());
    padded_.append(simdjson::SIMDJSON_PADDING, '\0');
    simdjson::dom::element doc;
    if (parser_.parse(padded_.data(), line.size(), false).get(doc)) return false;
    simdjson::dom::object obj;
    if (doc.get_object().get(obj)) return false;
    std::string_view value;
    if (!obj["event_type"].get_string().get(value)) {
      if (auto type = ParseEventType(value)) *topic = TopicOf(*type);
    }
    if (!obj["user_id"].get_string().get(value)) user_id->assign(value);
    if (!obj["product_id"].get_string().get(value)) product_id->assign(value);
    return true;
  }

 private:
  simdjson::dom::parser parser_;
  std::string padded_;
};

// The topic a file's name stands for: "clickstream.jsonl" -> clickstream.
std::optional<Topic> TopicFromFileName(const std::string& path) {
  std::string base = path.substr(path.rfind('/') + 1);
  base = base.substr(0, base.find('.'));
  return ParseTopic(base);
}

class Ingester {
 public:
  Ingester(CommandContext& ctx, EventLog* log)
      : ctx_(ctx),
        batcher_(log),
        max_bytes_(static_cast<size_t>(ctx.config->GetInt("log.max_record_bytes"))) {
    if (const std::string& t = ctx.config->GetString("ingest.topic"); !t.empty()) {
      forced_topic_ = ParseTopic(t);
    }
    default_topic_ = *ParseTopic(ctx.config->GetString("ingest.default_topic"));
  }

  ~Ingester() {
    if (refused_ != nullptr) std::fclose(refused_);
  }
  Ingester(const Ingester&) = delete;
  Ingester& operator=(const Ingester&) = delete;

  Status Validate() const {
    const std::string& t = ctx_.config->GetString("ingest.topic");
    if (!t.empty() && !forced_topic_) {
      return Status::InvalidArgument("--topic '" + t +
                                     "' is not a topic (clickstream, user-events, product-events)");
    }
    return Status::OK();
  }

  Status IngestFd(int fd, const std::string& name, Progress* progress) {
    std::optional<Topic> file_topic = forced_topic_ ? forced_topic_ : TopicFromFileName(name);
    std::string buf;
    std::string carry;
    std::vector<char> chunk(1 << 20);
    int64_t line_no = 0;
    for (;;) {
      ssize_t n = ::read(fd, chunk.data(), chunk.size());
      if (n < 0) {
        if (errno == EINTR) continue;
        return Status::FromErrno("read", name, errno);
      }
      if (n == 0) break;
      stats_.bytes += n;
      std::string_view data(chunk.data(), static_cast<size_t>(n));
      size_t pos = 0;
      while (pos < data.size()) {
        size_t nl = data.find('\n', pos);
        if (nl == std::string_view::npos) {
          carry.append(data.substr(pos));
          break;
        }
        ++line_no;
        if (!carry.empty()) {
          carry.append(data.substr(pos, nl - pos));
          RECSYS_RETURN_IF_ERROR(Line(carry, file_topic, name, line_no));
          carry.clear();
        } else {
          RECSYS_RETURN_IF_ERROR(Line(data.substr(pos, nl - pos), file_topic, name, line_no));
        }
        pos = nl + 1;
      }
      progress->Update(stats_.lines, total_bytes_ > 0 ? static_cast<double>(stats_.bytes) /
                                                            static_cast<double>(total_bytes_)
                                                      : -1);
    }
    if (!carry.empty()) RECSYS_RETURN_IF_ERROR(Line(carry, file_topic, name, ++line_no));
    return Status::OK();
  }

  Status Finish() {
    if (refused_ != nullptr) {
      bool ok = std::fflush(refused_) == 0 && ::fsync(::fileno(refused_)) == 0;
      ok = std::fclose(refused_) == 0 && ok;
      refused_ = nullptr;
      if (!ok) return Status::IOError("write " + RefusedPath());
    }
    return batcher_.Flush();
  }
  // <data-dir>/refused/ingest-<start ms>.jsonl: lines too large for the log.
  std::string RefusedPath() const {
    return ctx_.DataDir() + "/refused/ingest-" + std::to_string(started_ms_) + ".jsonl";
  }
  // The bytes all inputs hold, when known (regular files), for the ETA; -1 otherwise.
  void set_total_bytes(int64_t total) { total_bytes_ = total; }
  const IngestStats& stats() const { return stats_; }
  const std::vector<std::string>& warnings() const { return warnings_; }

 private:
  Status Line(std::string_view line, std::optional<Topic> file_topic, const std::string& name,
              int64_t line_no) {
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    ++stats_.lines;
    if (line.find_first_not_of(" \t") == std::string_view::npos) {
      ++stats_.blank;
      return Status::OK();
    }
    if (line.size() > max_bytes_) {
      // The log refuses it (like Kafka's message.max.bytes). It is kept aside, not lost.
      ++stats_.refused;
      if (warnings_.size() < 20) {
        warnings_.push_back(name + " line " + std::to_string(line_no) + ": " +
                            std::to_string(line.size()) + " bytes exceed log.max_record_bytes; " +
                            "kept in " + RefusedPath());
      }
      return KeepRefused(line);
    }
    std::optional<Topic> type_topic;
    bool json = inspector_.Inspect(line, &type_topic, &user_id_, &product_id_);
    if (!json) ++stats_.not_json;
    if (json && !type_topic) ++stats_.unknown_type;
    Topic topic = file_topic ? *file_topic : type_topic ? *type_topic : default_topic_;
    std::string_view key = topic == Topic::kProductEvents ? product_id_ : user_id_;
    ++stats_.per_topic[static_cast<int>(topic)];
    ++stats_.appended;
    return batcher_.Add(TopicName(topic), key, line);
  }

  Status KeepRefused(std::string_view line) {
    if (refused_ == nullptr) {
      RECSYS_RETURN_IF_ERROR(CreateDirs(ctx_.DataDir() + "/refused"));
      refused_ = std::fopen(RefusedPath().c_str(), "a");
      if (refused_ == nullptr) return Status::FromErrno("open", RefusedPath(), errno);
    }
    if (std::fwrite(line.data(), 1, line.size(), refused_) != line.size() ||
        std::fputc('\n', refused_) == EOF) {
      return Status::IOError("write " + RefusedPath());
    }
    return Status::OK();
  }

  CommandContext& ctx_;
  LogBatcher batcher_;
  FILE* refused_ = nullptr;
  int64_t started_ms_ = SystemClock()->NowMillis();
  size_t max_bytes_;
  std::optional<Topic> forced_topic_;
  Topic default_topic_;
  LineInspector inspector_;
  std::string user_id_, product_id_;
  IngestStats stats_;
  int64_t total_bytes_ = -1;
  std::vector<std::string> warnings_;
};

}  // namespace

Status RunIngest(CommandContext& ctx) {
  RECSYS_ASSIGN_OR_RETURN(std::unique_ptr<EventLog> log, OpenLog(ctx));
  int partitions = static_cast<int>(ctx.config->GetInt("log.partitions"));
  for (Topic t : kAllTopics) RECSYS_RETURN_IF_ERROR(log->CreateTopic(TopicName(t), partitions));
  Ingester ingester(ctx, log.get());
  RECSYS_RETURN_IF_ERROR(ingester.Validate());
  std::vector<std::string> inputs = ctx.args;
  if (inputs.empty()) inputs.push_back("-");
  int64_t total_bytes = 0;
  for (const std::string& input : inputs) {
    struct stat st;
    if (input == "-" || ::stat(input.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) {
      total_bytes = -1;
      break;
    }
    total_bytes += st.st_size;
  }
  ingester.set_total_bytes(total_bytes);
  Progress progress("ingest", "lines", -1, !ctx.quiet());
  int64_t start = SystemClock()->MonotonicNanos();
  for (const std::string& input : inputs) {
    if (input == "-") {
      RECSYS_RETURN_IF_ERROR(ingester.IngestFd(STDIN_FILENO, "stdin", &progress));
      continue;
    }
    int fd = ::open(input.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return Status::FromErrno("open", input, errno);
    Status st = ingester.IngestFd(fd, input, &progress);
    ::close(fd);
    RECSYS_RETURN_IF_ERROR(st);
  }
  RECSYS_RETURN_IF_ERROR(ingester.Finish());
  RECSYS_RETURN_IF_ERROR(log->Sync());
  const IngestStats& s = ingester.stats();
  progress.Finish(s.lines);
  double secs = (SystemClock()->MonotonicNanos() - start) / 1e9;
  for (const std::string& w : ingester.warnings()) {
    std::fprintf(stderr, "recsys ingest: warning: %s\n", w.c_str());
  }

  JsonWriter& j = ctx.summary;
  auto field = [&](const char* k, int64_t v) {
    j.Key(k);
    j.Int(v);
  };
  field("lines", s.lines);
  field("appended", s.appended);
  field("blank", s.blank);
  field("not_json", s.not_json);
  field("unknown_type", s.unknown_type);
  field("refused_oversized", s.refused);
  if (s.refused > 0) {
    j.Key("refused_file");
    j.String(ingester.RefusedPath());
  }
  field("bytes", s.bytes);
  j.Key("per_topic");
  j.BeginObject();
  for (Topic t : kAllTopics)
    field(std::string(TopicName(t)).c_str(), s.per_topic[static_cast<int>(t)]);
  j.EndObject();
  j.Key("seconds");
  j.Double(secs);
  j.Key("lines_per_second");
  j.Double(secs > 0 ? s.lines / secs : 0);
  char line[512];
  std::snprintf(line, sizeof(line),
                "ingested %s lines in %.1f s (%s/s): clickstream %s, user-events %s, "
                "product-events %s; %s not JSON, %s of unknown type, %s blank, %s refused\n",
                FormatCount(s.lines).c_str(), secs,
                FormatCount(static_cast<int64_t>(secs > 0 ? s.lines / secs : 0)).c_str(),
                FormatCount(s.per_topic[0]).c_str(), FormatCount(s.per_topic[1]).c_str(),
                FormatCount(s.per_topic[2]).c_str(), FormatCount(s.not_json).c_str(),
                FormatCount(s.unknown_type).c_str(), FormatCount(s.blank).c_str(),
                FormatCount(s.refused).c_str());
  ctx.text += line;
  return Status::OK();
}

}  // namespace recsys
