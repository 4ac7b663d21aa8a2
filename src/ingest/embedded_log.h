// The embedded event log: append-only segment files per topic and partition under one folder.
// Format: docs/formats/event-log.md.
#pragma once

#include <memory>
#include <string>

#include "core/clock.h"
#include "core/status.h"
#include "ingest/event_log.h"

namespace recsys {

enum class FsyncPolicy {
  kAlways,    // fsync each Append before it returns
  kInterval,  // fsync at most every fsync_interval_ms (and on Sync, segment roll and close)
  kNever,     // leave it to the OS (and Sync, segment roll and close)
};

struct EmbeddedLogOptions {
  // A new segment is started when the active one reaches this size. Default 128 MiB.
  int64_t segment_bytes = 128LL << 20;
  // Default 1000 ms; used with FsyncPolicy::kInterval.
  FsyncPolicy fsync = FsyncPolicy::kInterval;
  int64_t fsync_interval_ms = 1000;
  // Retention per partition; closed segments beyond either limit are deleted, oldest first.
  // The active segment is never deleted. -1 = unlimited (default for both).
  int64_t retention_bytes = -1;
  int64_t retention_ms = -1;
  // Records larger than this are refused with InvalidArgument. Default 16 MiB.
  size_t max_record_bytes = 16 << 20;
  // Partitions for topics created implicitly by Append. Default 3.
  int default_partitions = 3;
  // Where "now" comes from (arrival timestamps, retention by age). Default: the system clock.
  Clock* clock = nullptr;
};

// Opens (creating if needed) the log under `dir`. On open, every partition's active segment is
// checked record by record: a torn or corrupt tail is truncated away and never served. A
// corrupt record in a closed segment makes reads of it return Corruption (never bad data).
//
// Several logs (in one process or several) may open the same folder: each partition is written
// by one of them at a time, the first to append to it, until it is destroyed; Append on another
// returns Unavailable. The others read it, and see records as soon as the writer's Append
// returns. Topic and group names: 1-249 of [A-Za-z0-9._-], not starting with '.'; "_groups" is
// not a topic name.
Result<std::unique_ptr<EventLog>> OpenEmbeddedLog(const std::string& dir,
                                                  const EmbeddedLogOptions& options);

// Deletes segments beyond the retention limits now (also done when segments roll). Returns the
// number of segments deleted through *deleted if non-null.
Status ApplyRetention(EventLog* log, int64_t* deleted);

}  // namespace recsys
