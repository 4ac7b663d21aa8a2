// recsys sink: event log -> bronze.
#include <algorithm>
#include <csignal>
#include <cstdio>

#include "cli/commands.h"
#include "core/clock.h"
#include "core/progress.h"

namespace recsys {
namespace {

std::atomic<bool> g_stop{false};

void OnSignal(int) { g_stop.store(true); }

void AddSinkSummary(CommandContext& ctx, const BronzeSinkStats& s, double secs,
                    const std::string& lake) {
  JsonWriter& j = ctx.summary;
  j.Key("sink");
  j.BeginObject();
  j.Key("records");
  j.Int(s.records);
  j.Key("files");
  j.Int(s.files);
  j.Key("bytes");
  j.Int(s.bytes);
  j.Key("by_arrival_time");
  j.Int(s.by_arrival_time);
  j.Key("per_topic");
  j.BeginObject();
  for (const auto& [topic, n] : s.records_per_topic) {
    j.Key(topic);
    j.Int(n);
  }
  j.EndObject();
  j.Key("seconds");
  j.Double(secs);
  j.Key("records_per_second");
  j.Double(secs > 0 ? s.records / secs : 0);
  j.Key("bronze");
  j.String(lake + "/bronze/topics");
  j.EndObject();
  char line[512];
  std::snprintf(line, sizeof(line),
                "sank %s records into %s files (%s bytes) in %.1f s, %s/s -> %s/bronze/topics\n",
                FormatCount(s.records).c_str(), FormatCount(s.files).c_str(),
                FormatCount(s.bytes).c_str(), secs,
                FormatCount(static_cast<int64_t>(secs > 0 ? s.records / secs : 0)).c_str(),
                lake.c_str());
  ctx.text += line;
  if (s.by_arrival_time > 0) {
    ctx.text += "  " + FormatCount(s.by_arrival_time) +
                " records had no readable event_time and were filed by arrival time\n";
  }
}

// Records between the group's committed offsets and the ends of the topics the sink reads.
Result<int64_t> Lag(EventLog* log, const BronzeSinkOptions& options) {
  RECSYS_ASSIGN_OR_RETURN(std::vector<TopicInfo> topics, log->ListTopics());
  int64_t lag = 0;
  for (const TopicInfo& t : topics) {
    bool wanted = options.topics.empty() ? t.name.rfind("__", 0) != 0
                                         : std::find(options.topics.begin(), options.topics.end(),
                                                     t.name) != options.topics.end();
    if (!wanted) continue;
    for (const PartitionInfo& p : t.partitions) {
      RECSYS_ASSIGN_OR_RETURN(std::optional<int64_t> committed,
                              log->CommittedOffset(options.group, t.name, p.partition));
      lag += p.end_offset - std::max(committed.value_or(p.start_offset), p.start_offset);
    }
  }
  return lag;
}

}  // namespace

Status SinkOnceStep(CommandContext& ctx, EventLog* log, ObjectStore* lake,
                    const BronzeSinkOptions& options) {
  BronzeSink sink(log, lake, options);
  BronzeSinkStats stats;
  RECSYS_ASSIGN_OR_RETURN(int64_t lag, Lag(log, options));
  Progress progress("sink", "records", lag, !ctx.quiet());
  int64_t start = SystemClock()->MonotonicNanos();
  RECSYS_RETURN_IF_ERROR(sink.RunOnce(&stats, [&](int64_t n) { progress.Update(n); }));
  progress.Finish(stats.records);
  AddSinkSummary(ctx, stats, (SystemClock()->MonotonicNanos() - start) / 1e9, ctx.LakeDir());
  return Status::OK();
}

Status RunSink(CommandContext& ctx) {
  if (!ctx.args.empty()) return Status::InvalidArgument("unexpected argument " + ctx.args[0]);
  RECSYS_ASSIGN_OR_RETURN(BronzeSinkOptions options, SinkOptionsFrom(*ctx.config));
  RECSYS_ASSIGN_OR_RETURN(std::unique_ptr<EventLog> log, OpenLog(ctx));
  RECSYS_ASSIGN_OR_RETURN(std::unique_ptr<ObjectStore> lake, OpenLake(ctx));
  if (ctx.config->GetBool("sink.once")) return SinkOnceStep(ctx, log.get(), lake.get(), options);

  std::signal(SIGINT, OnSignal);
  std::signal(SIGTERM, OnSignal);
  if (!ctx.quiet()) {
    std::fprintf(stderr, "sink: following %s into %s (Ctrl-C to stop)\n", ctx.LogDir().c_str(),
                 lake->Describe().c_str());
  }
  BronzeSink sink(log.get(), lake.get(), options);
  BronzeSinkStats stats;
  Progress progress("sink", "records", -1, !ctx.quiet());
  int64_t start = SystemClock()->MonotonicNanos();
  RECSYS_RETURN_IF_ERROR(sink.Follow(&g_stop, &stats, [&](int64_t n) { progress.Update(n); }));
  progress.Finish(stats.records);
  AddSinkSummary(ctx, stats, (SystemClock()->MonotonicNanos() - start) / 1e9, ctx.LakeDir());
  return Status::OK();
}

}  // namespace recsys
