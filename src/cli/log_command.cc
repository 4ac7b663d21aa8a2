// recsys log topics | retention: look after the embedded event log.
#include <cstdio>

#include "cli/commands.h"
#include "core/progress.h"

namespace recsys {

Status RunLogTopics(CommandContext& ctx) {
  RECSYS_ASSIGN_OR_RETURN(std::unique_ptr<EventLog> log, OpenLog(ctx));
  RECSYS_ASSIGN_OR_RETURN(std::vector<TopicInfo> topics, log->ListTopics());
  const std::string& group = ctx.config->GetString("sink.group");
  JsonWriter& j = ctx.summary;
  j.Key("group");
  j.String(group);
  j.Key("topics");
  j.BeginArray();
  char line[256];
  std::snprintf(line, sizeof(line), "%-16s %4s %14s %14s %14s %12s\n", "topic", "part", "start",
                "end", "lag", "bytes");
  ctx.text += line;
  for (const TopicInfo& t : topics) {
    j.BeginObject();
    j.Key("name");
    j.String(t.name);
    j.Key("partitions");
    j.BeginArray();
    for (const PartitionInfo& p : t.partitions) {
      RECSYS_ASSIGN_OR_RETURN(std::optional<int64_t> committed,
                              log->CommittedOffset(group, t.name, p.partition));
      int64_t lag = p.end_offset - committed.value_or(p.start_offset);
      j.BeginObject();
      j.Key("partition");
      j.Int(p.partition);
      j.Key("start_offset");
      j.Int(p.start_offset);
      j.Key("end_offset");
      j.Int(p.end_offset);
      j.Key("committed");
      if (committed) {
        j.Int(*committed);
      } else {
        j.Null();
      }
      j.Key("lag");
      j.Int(lag);
      j.Key("bytes");
      j.Int(p.bytes);
      j.EndObject();
      std::snprintf(line, sizeof(line), "%-16s %4d %14s %14s %14s %12s\n", t.name.c_str(),
                    p.partition, FormatCount(p.start_offset).c_str(),
                    FormatCount(p.end_offset).c_str(), FormatCount(lag).c_str(),
                    FormatCount(p.bytes).c_str());
      ctx.text += line;
    }
    j.EndArray();
    j.EndObject();
  }
  j.EndArray();
  if (topics.empty()) ctx.text = "no topics in " + ctx.LogDir() + "\n";
  return Status::OK();
}

Status RunLogRetention(CommandContext& ctx) {
  RECSYS_ASSIGN_OR_RETURN(std::unique_ptr<EventLog> log, OpenLog(ctx));
  int64_t deleted = 0;
  RECSYS_RETURN_IF_ERROR(ApplyRetention(log.get(), &deleted));
  ctx.summary.Key("segments_deleted");
  ctx.summary.Int(deleted);
  ctx.text += "deleted " + FormatCount(deleted) + " segments\n";
  return Status::OK();
}

}  // namespace recsys
