// recsys generate: the synthetic shop into the event log or into JSON lines files.
#include <cstdio>
#include <thread>

#include "cli/commands.h"
#include "cli/log_batcher.h"
#include "core/clock.h"
#include "core/files.h"
#include "core/progress.h"

namespace recsys {
namespace {

// Keeps a producer at `rate` events per second (rate <= 0: unlimited).
class Pacer {
 public:
  explicit Pacer(double rate) : rate_(rate), start_ns_(SystemClock()->MonotonicNanos()) {}
  // Returns true if the caller should make what it has visible before the pause.
  bool MustWait(int64_t done) const {
    if (rate_ <= 0) return false;
    return SystemClock()->MonotonicNanos() - start_ns_ < static_cast<int64_t>(done / rate_ * 1e9);
  }
  void Wait(int64_t done) const {
    int64_t due = start_ns_ + static_cast<int64_t>(done / rate_ * 1e9);
    int64_t now = SystemClock()->MonotonicNanos();
    if (due > now) std::this_thread::sleep_for(std::chrono::nanoseconds(due - now));
  }

 private:
  double rate_;
  int64_t start_ns_;
};

// How far through the simulated period a record's time is, for the ETA.
double SimulatedShare(const GeneratorOptions& o, int64_t time_ms) {
  return static_cast<double>(time_ms - o.start_ms) / (o.days * 86400000.0);
}

void AddGeneratorSummary(CommandContext& ctx, const Generator& gen, double secs,
                         const std::string& where) {
  const GeneratorStats& s = gen.stats();
  ctx.summary.Key("generate");
  ctx.summary.BeginObject();
  ctx.summary.Key("records");
  ctx.summary.Int(s.records);
  ctx.summary.Key("bad_records");
  ctx.summary.Int(s.bad);
  for (Topic t : kAllTopics) {
    ctx.summary.Key(TopicName(t));
    ctx.summary.Int(s.per_topic[static_cast<int>(t)]);
  }
  ctx.summary.Key("sessions");
  ctx.summary.Int(s.sessions);
  ctx.summary.Key("conversion_rate");
  ctx.summary.Double(s.sessions ? static_cast<double>(s.converting_sessions) / s.sessions : 0);
  ctx.summary.Key("purchases");
  ctx.summary.Int(s.purchases);
  ctx.summary.Key("seconds");
  ctx.summary.Double(secs);
  ctx.summary.Key("events_per_second");
  ctx.summary.Double(secs > 0 ? s.records / secs : 0);
  ctx.summary.Key("destination");
  ctx.summary.String(where);
  ctx.summary.EndObject();
  char line[512];
  std::snprintf(line, sizeof(line),
                "generated %s records (%s bad) in %.1f s, %s/s -> %s\n"
                "  clickstream %s, user-events %s, product-events %s; %s sessions, %.1f%% "
                "converting\n",
                FormatCount(s.records).c_str(), FormatCount(s.bad).c_str(), secs,
                FormatCount(static_cast<int64_t>(secs > 0 ? s.records / secs : 0)).c_str(),
                where.c_str(), FormatCount(s.per_topic[0]).c_str(),
                FormatCount(s.per_topic[1]).c_str(), FormatCount(s.per_topic[2]).c_str(),
                FormatCount(s.sessions).c_str(),
                s.sessions ? 100.0 * s.converting_sessions / s.sessions : 0.0);
  ctx.text += line;
}

Status WriteGroundTruth(CommandContext& ctx, const Generator& gen) {
  Status st = gen.WriteGroundTruth(ctx.DataDir());
  if (!st.ok()) return st.WithContext("ground truth");
  ctx.text += "  hidden tastes -> " + ctx.DataDir() + "/ground_truth/\n";
  return Status::OK();
}

// Writes <dir>/<topic>.jsonl files.
Status GenerateToFiles(CommandContext& ctx, const GeneratorOptions& options,
                       const std::string& dir) {
  RECSYS_RETURN_IF_ERROR(CreateDirs(dir));
  FILE* files[3] = {nullptr, nullptr, nullptr};
  std::vector<std::string> paths;
  for (Topic t : kAllTopics) {
    paths.push_back(dir + "/" + std::string(TopicName(t)) + ".jsonl");
    files[static_cast<int>(t)] = std::fopen(paths.back().c_str(), "w");
    if (files[static_cast<int>(t)] == nullptr) {
      for (FILE* f : files) {
        if (f) std::fclose(f);
      }
      return Status::FromErrno("create", paths.back(), errno);
    }
    std::setvbuf(files[static_cast<int>(t)], nullptr, _IOFBF, 1 << 20);
  }
  Generator gen(options);
  Progress progress("generate", "records", -1, !ctx.quiet());
  Pacer pacer(ctx.config->GetDouble("generate.rate"));
  int64_t start = SystemClock()->MonotonicNanos();
  int64_t n = 0;
  Status st = gen.Run([&](const GeneratedRecord& r) -> Status {
    FILE* f = files[static_cast<int>(r.topic)];
    std::fwrite(r.json.data(), 1, r.json.size(), f);
    std::fputc('\n', f);
    ++n;
    if ((n & 4095) == 0) progress.Update(n, SimulatedShare(options, r.time_ms));
    if (pacer.MustWait(n)) {
      for (FILE* file : files) std::fflush(file);
      pacer.Wait(n);
    }
    return Status::OK();
  });
  for (int i = 0; i < 3; ++i) {
    if (std::fclose(files[i]) != 0 && st.ok()) st = Status::FromErrno("write", paths[i], errno);
  }
  RECSYS_RETURN_IF_ERROR(st);
  progress.Finish(n);
  AddGeneratorSummary(ctx, gen, (SystemClock()->MonotonicNanos() - start) / 1e9, dir);
  return WriteGroundTruth(ctx, gen);
}

}  // namespace

Status GenerateStep(CommandContext& ctx, EventLog* log, const GeneratorOptions& options) {
  int partitions = static_cast<int>(ctx.config->GetInt("log.partitions"));
  for (Topic t : kAllTopics) RECSYS_RETURN_IF_ERROR(log->CreateTopic(TopicName(t), partitions));
  Generator gen(options);
  LogBatcher batcher(log);
  Progress progress("generate", "records", -1, !ctx.quiet());
  Pacer pacer(ctx.config->GetDouble("generate.rate"));
  int64_t start = SystemClock()->MonotonicNanos();
  int64_t n = 0;
  RECSYS_RETURN_IF_ERROR(gen.Run([&](const GeneratedRecord& r) -> Status {
    RECSYS_RETURN_IF_ERROR(batcher.Add(TopicName(r.topic), r.key, r.json));
    ++n;
    if ((n & 4095) == 0) progress.Update(n, SimulatedShare(options, r.time_ms));
    if (pacer.MustWait(n)) {
      RECSYS_RETURN_IF_ERROR(batcher.Flush());
      pacer.Wait(n);
    }
    return Status::OK();
  }));
  RECSYS_RETURN_IF_ERROR(batcher.Flush());
  RECSYS_RETURN_IF_ERROR(log->Sync());
  progress.Finish(n);
  AddGeneratorSummary(ctx, gen, (SystemClock()->MonotonicNanos() - start) / 1e9, ctx.LogDir());
  return WriteGroundTruth(ctx, gen);
}

Status RunGenerate(CommandContext& ctx) {
  if (!ctx.args.empty()) return Status::InvalidArgument("unexpected argument " + ctx.args[0]);
  RECSYS_ASSIGN_OR_RETURN(GeneratorOptions options, GeneratorOptionsFrom(*ctx.config));
  const std::string& out = ctx.config->GetString("generate.out");
  if (!out.empty()) return GenerateToFiles(ctx, options, out);
  RECSYS_ASSIGN_OR_RETURN(std::unique_ptr<EventLog> log, OpenLog(ctx));
  return GenerateStep(ctx, log.get(), options);
}

}  // namespace recsys
