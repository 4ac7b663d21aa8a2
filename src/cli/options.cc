// Module options from resolved settings, and opening the configured backends.
#include <filesystem>
#include <sstream>

#include "cli/commands.h"
#include "core/clock.h"

namespace recsys {

Result<EmbeddedLogOptions> LogOptionsFrom(const Config& c) {
  EmbeddedLogOptions o;
  o.segment_bytes = c.GetInt("log.segment_bytes");
  const std::string& fsync = c.GetString("log.fsync");
  o.fsync = fsync == "always"  ? FsyncPolicy::kAlways
            : fsync == "never" ? FsyncPolicy::kNever
                               : FsyncPolicy::kInterval;
  o.fsync_interval_ms = c.GetInt("log.fsync_interval_ms");
  o.retention_bytes = c.GetInt("log.retention_bytes");
  o.retention_ms = c.GetInt("log.retention_ms");
  o.max_record_bytes = static_cast<size_t>(c.GetInt("log.max_record_bytes"));
  o.default_partitions = static_cast<int>(c.GetInt("log.partitions"));
  return o;
}

Result<GeneratorOptions> GeneratorOptionsFrom(const Config& c) {
  GeneratorOptions o;
  o.users = c.GetInt("generate.users");
  o.products = c.GetInt("generate.products");
  o.days = static_cast<int>(c.GetInt("generate.days"));
  o.seed = static_cast<uint64_t>(c.GetInt("generate.seed"));
  o.bad_rate = c.GetDouble("generate.bad_rate");
  const std::string& start = c.GetString("generate.start");
  auto ms = ParseRfc3339(start + "T00:00:00Z");
  if (!ms) return Status::InvalidArgument("generate.start '" + start + "' is not YYYY-MM-DD");
  o.start_ms = *ms;
  return o;
}

Result<BronzeSinkOptions> SinkOptionsFrom(const Config& c) {
  BronzeSinkOptions o;
  std::stringstream topics(c.GetString("sink.topics"));
  for (std::string t; std::getline(topics, t, ',');) {
    if (!t.empty()) o.topics.push_back(t);
  }
  o.group = c.GetString("sink.group");
  o.flush_size = c.GetInt("sink.flush_size");
  o.rotate_interval_ms = c.GetInt("sink.rotate_interval_ms");
  o.rotate_schedule_interval_ms = c.GetInt("sink.rotate_schedule_interval_ms");
  RECSYS_ASSIGN_OR_RETURN(o.compression, ParseCompression(c.GetString("sink.compression")));
  o.compression_level = static_cast<int>(c.GetInt("sink.compression_level"));
  o.poll_interval_ms = c.GetInt("sink.poll_interval_ms");
  o.threads = static_cast<int>(c.GetInt("sink.threads"));
  return o;
}

Result<std::unique_ptr<EventLog>> OpenLog(const CommandContext& ctx) {
  RECSYS_ASSIGN_OR_RETURN(EmbeddedLogOptions options, LogOptionsFrom(*ctx.config));
  return OpenEmbeddedLog(ctx.LogDir(), options);
}

Result<std::string> LakeRoot(const CommandContext& ctx) {
  std::error_code ec;
  std::string root = std::filesystem::absolute(ctx.LakeDir(), ec).lexically_normal().string();
  if (ec) return Status::IOError("lake " + ctx.LakeDir() + ": " + ec.message());
  return root;
}

Result<std::unique_ptr<ObjectStore>> OpenLake(const CommandContext& ctx) {
  return OpenLocalStore(ctx.LakeDir());
}

}  // namespace recsys
