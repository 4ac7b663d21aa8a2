#include "cli/settings.h"

namespace recsys {
namespace {

using T = SettingType;
constexpr double kMaxInt = 9.0e18;

const SettingSpec kSettings[] = {
    // Global.
    {"data_dir", T::kString, "./recsys-data",
     "folder that holds the event log, the lake and everything else"},
    {"lake_dir", T::kString, "", "root of the local lake; empty = <data_dir>/lake"},
    {"quiet", T::kBool, "false", "no progress lines on stderr"},

    // Embedded event log.
    {"log.partitions", T::kInt, "3", "partitions of each topic created by recsys", 1, 1024},
    {"log.segment_bytes", T::kInt, "134217728", "roll to a new segment file at this size", 4096,
     kMaxInt},
    {"log.fsync", T::kString, "interval", "when appends are fsynced", 0, 0,
     "always|interval|never"},
    {"log.fsync_interval_ms", T::kInt, "1000", "with fsync=interval: most time between fsyncs", 0,
     kMaxInt},
    {"log.retention_bytes", T::kInt, "-1",
     "per partition: delete old segments beyond this; -1 = keep", -1, kMaxInt},
    {"log.retention_ms", T::kInt, "-1", "delete segments whose newest record is older; -1 = keep",
     -1, kMaxInt},
    {"log.max_record_bytes", T::kInt, "16777216", "larger messages are refused by the log", 1024,
     1073741824},

    // Synthetic shop.
    {"generate.users", T::kInt, "10000", "registered users (guests come on top)", 1, 1e8},
    {"generate.products", T::kInt, "2000", "products in the initial catalog", 1, 1e7},
    {"generate.days", T::kInt, "30", "simulated days", 1, 3660},
    {"generate.seed", T::kInt, "42", "random seed: same seed, same events", 0, kMaxInt},
    {"generate.bad_rate", T::kDouble, "0", "share of bad records mixed in (every kind)", 0, 1},
    {"generate.rate", T::kDouble, "0", "events per second; 0 = as fast as possible", 0, 1e9},
    {"generate.start", T::kString, "2024-01-01", "first simulated day (YYYY-MM-DD, UTC)"},
    {"generate.out", T::kString, "",
     "write JSON lines files <out>/<topic>.jsonl instead of appending to the log"},

    // recsys ingest.
    {"ingest.topic", T::kString, "",
     "topic for every line; empty = from the file name, else from each line's event_type"},
    {"ingest.default_topic", T::kString, "clickstream",
     "topic for lines whose topic cannot be told (not JSON, unknown type)", 0, 0,
     "clickstream|user-events|product-events"},

    // recsys sink.
    {"sink.compression", T::kString, "none", "bronze file compression", 0, 0, "none|gzip|zstd"},
    {"sink.compression_level", T::kInt, "-1", "codec level; -1 = the codec's default", -1, 22},
    {"sink.flush_size", T::kInt, "10000", "records per partition per commit (flush.size)", 1, 1e9},
    {"sink.rotate_interval_ms", T::kInt, "0",
     "rotate files on record time (rotate.interval.ms); 0 = off", 0, kMaxInt},
    {"sink.rotate_schedule_interval_ms", T::kInt, "60000",
     "when following: write open files after this long (rotate.schedule.interval.ms); 0 = off", 0,
     kMaxInt},
    {"sink.group", T::kString, "bronze-sink", "consumer group whose offsets the sink commits"},
    {"sink.topics", T::kString, "", "comma-separated topics to sink; empty = all"},
    {"sink.threads", T::kInt, "1", "partitions written in parallel", 1, 64},
    {"sink.once", T::kBool, "false", "drain what is in the log, then exit"},
    {"sink.poll_interval_ms", T::kInt, "200", "when following: sleep when drained", 1, 60000},
};

}  // namespace

std::span<const SettingSpec> AllSettings() { return kSettings; }

}  // namespace recsys
