// The bronze sink: event log -> bronze, in exactly the layout the Kafka Connect S3 sink writes
// with format.class=JsonFormat, partitioner.class=TimeBasedPartitioner,
// path.format='year'=YYYY/'month'=MM/'day'=dd/'hour'=HH, partition.duration.ms=3600000,
// timestamp.extractor=RecordField, timestamp.field=event_time, locale=en, timezone=UTC
// (DESIGN.md §4):
//
//   <prefix>/<topic>/year=YYYY/month=MM/day=DD/hour=HH/<topic>+<partition>+<startOffset>.json[.gz|.zst]
//
// startOffset is the offset of the file's first record, zero-padded to 10 digits. A record whose
// event_time cannot be read (bad input is normal input) is filed by its arrival time in the log.
// Each value is one line, written verbatim except that raw CR and LF bytes become spaces (in
// valid JSON they can only be whitespace between tokens, so the JSON means the same).
//
// Rotation follows the connector: per log partition, all open files are written when the number
// of records since the last commit reaches flush_size, or (if rotate_interval_ms > 0) when a
// record's time is rotate_interval_ms past the first record's time in the open files, or its
// hour differs from the open file's. Each file is written under a temporary name, fsynced and
// renamed; only then is the consumer offset committed. A restart resumes at the committed
// offset and makes the same decisions on the same records, so it rewrites the same names with
// the same bytes: bronze never holds an event twice. (Follow's rotate_schedule_interval_ms is
// wall-clock time, so after a restart files may be cut elsewhere; still, every name a crashed
// run wrote after the commit is the first record of its hour after the commit and is written
// again, so no event is held twice.) A partition with no committed
// offset, or one that is no longer in the log (retention, a recreated log), starts at the
// partition's first stored record. On start, temporary files a crash left under the prefix are
// removed (ObjectStore::CleanTemporaryFiles): run one sink per prefix.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "core/status.h"
#include "ingest/event_log.h"
#include "lake/object_store.h"

namespace recsys {

enum class Compression { kNone, kGzip, kZstd };
// ".json", ".json.gz", ".json.zst".
std::string_view CompressionExtension(Compression c);
// "none", "gzip", "zstd" (also "gz", "zst").
Result<Compression> ParseCompression(std::string_view name);
// Compresses a whole file's bytes: gzip (RFC 1952, level 0..9, default 6) or a zstd frame with
// a content checksum (level default 3). kNone returns the input. A level outside the codec's
// range is InvalidArgument.
Result<std::string> Compress(Compression c, std::string_view data, int level = -1);
// Reads every concatenated gzip member or zstd frame, as `gzip -d` / `zstd -d` do. Empty,
// truncated or corrupt input (or trailing garbage) is Corruption.
Result<std::string> Decompress(Compression c, std::string_view data);

struct BronzeSinkOptions {
  // Default: every topic in the log except internal ones (names starting with "__").
  std::vector<std::string> topics;
  std::string group = "bronze-sink";  // consumer group whose offsets are committed
  std::string prefix = "bronze/topics";
  int64_t flush_size = 10000;      // records per partition per commit (Connect: flush.size)
  int64_t rotate_interval_ms = 0;  // record-time rotation (Connect: rotate.interval.ms); 0 off
  // Follow mode: write what is open after this long without a commit (Connect:
  // rotate.schedule.interval.ms, wall clock). 0 = never. Default 60 s.
  int64_t rotate_schedule_interval_ms = 60000;
  Compression compression = Compression::kNone;
  int compression_level = -1;  // -1 = the codec's default
  // Follow mode: how long to sleep when every partition is drained. Default 200 ms.
  int64_t poll_interval_ms = 200;
  int threads = 1;  // partitions processed in parallel
};

struct BronzeSinkStats {
  int64_t records = 0;  // records written to bronze
  int64_t files = 0;
  int64_t bytes = 0;            // bytes written (after compression)
  int64_t by_arrival_time = 0;  // records filed by arrival time (no readable event_time)
  std::map<std::string, int64_t> records_per_topic;
};

class BronzeSink {
 public:
  BronzeSink(EventLog* log, ObjectStore* store, BronzeSinkOptions options);

  // Drains every partition to its end offset as of the call, writes all open files, commits,
  // returns. Calls progress (if set) now and then (at most every ~100 ms, and once at the end),
  // on the calling thread, with the records written so far. A configured topic that is not in
  // the log is NotFound. *stats (may be null) is overwritten with what was written and
  // committed, also when an error is returned; records read but not committed are read again
  // by the next run.
  Status RunOnce(BronzeSinkStats* stats, const std::function<void(int64_t)>& progress = {});

  // Follows the log until *stop becomes true, then writes what is open and commits. Topics and
  // partitions that appear meanwhile (or configured topics created later) are picked up within
  // about a second. Returns the first error of any partition, leaving uncommitted records for
  // the next run. REQUIRES: stop is not null.
  Status Follow(const std::atomic<bool>* stop, BronzeSinkStats* stats,
                const std::function<void(int64_t)>& progress = {});

 private:
  EventLog* log_;
  ObjectStore* store_;
  BronzeSinkOptions options_;
};

}  // namespace recsys
