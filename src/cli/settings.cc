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

    // recsys import.
    {"import.preset", T::kString, "none",
     "a known source's layout; it reads the catalog and customer files beside FILE", 0, 0,
     "none|online-retail|dunnhumby|movielens"},
    {"import.delimiter", T::kString, ",", "field delimiter: , ; | tab"},
    {"import.header", T::kBool, "true", "the first line names the columns (--header=false: not)"},
    {"import.user_col", T::kString, "", "user id column: header name or 0-based index"},
    {"import.item_col", T::kString, "", "product id column"},
    {"import.time_col", T::kString, "", "time column"},
    {"import.quantity_col", T::kString, "", "quantity column (whole numbers above 0)"},
    {"import.price_col", T::kString, "", "unit price column (numbers above 0)"},
    {"import.rating_col", T::kString, "", "rating column (0 to 10)"},
    {"import.text_col", T::kString, "", "product title column"},
    {"import.order_col", T::kString, "",
     "order id column; none: one order and session per user and UTC day"},
    {"import.category_col", T::kString, "", "product category column (\"A > B\" paths)"},
    {"import.country_col", T::kString, "", "the user's country column"},
    {"import.time_format", T::kString, "iso",
     "unix, unix-ms, iso or a pattern of %Y %y %m %d %H %I %M %S %f %p %b (\"%m/%d/%Y %H:%M\")"},
    {"import.event_type", T::kString, "auto",
     "what a row becomes; auto: purchase if a price or quantity is mapped", 0, 0,
     "auto|purchase|product_view"},
    {"import.currency", T::kString, "", "currency of the prices (EUR, USD, ...)"},
    {"import.timezone", T::kString, "UTC", "zone of times written without one", 0, 0,
     "UTC|America/New_York|Europe/London"},
    {"import.utc_offset_minutes", T::kInt, "0",
     "a fixed zone instead: times without one are UTC + this", -840, 840},
    {"import.encoding", T::kString, "utf-8", "text encoding of the files", 0, 0, "utf-8|latin-1"},
    {"import.whole_catalog", T::kBool, "true",
     "catalog and customer entries that no row mentions become events too"},

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

    // recsys process silver | gold.
    {"process.session_gap_minutes", T::kInt, "30", "inactivity that ends a session", 1, 1440},
    {"process.pii_salt", T::kString, "recsys", "salt of the email hash in silver"},
    {"process.max_future_skew_ms", T::kInt, "3600000",
     "events timed further after now are quarantined (future_time)", 0, kMaxInt},
    {"process.max_message_bytes", T::kInt, "65536", "larger messages are quarantined (oversized)",
     256, 1073741824},
    {"process.threads", T::kInt, "0", "DuckDB threads; 0 = all cores", 0, 256},
    {"process.memory_limit", T::kString, "", "DuckDB memory limit (e.g. 4GB); empty = default"},
    {"process.weight_view", T::kDouble, "1", "interaction weight of a product view", 0, 1000},
    {"process.weight_click", T::kDouble, "2", "interaction weight of a recommendation click", 0,
     1000},
    {"process.weight_cart", T::kDouble, "3", "interaction weight of an add to cart", 0, 1000},
    {"process.weight_purchase", T::kDouble, "5", "interaction weight of a purchase", 0, 1000},
    {"process.interaction_half_life_days", T::kDouble, "30",
     "interaction weights halve every this many days before the newest event", 0.01, 100000},
    {"process.trending_half_life_days", T::kDouble, "7", "half-life of the trending score", 0.01,
     100000},
    {"process.clusters", T::kInt, "0", "k of user_clusters; 0 = chosen by silhouette", 0, 100},
    {"process.max_clusters", T::kInt, "8", "largest k tried when choosing by silhouette", 2, 100},
    {"process.seed", T::kInt, "42", "seed of the k-means initialisation", 0, kMaxInt},

    // recsys evaluate.
    {"evaluate.source", T::kString, "gold",
     "interactions to evaluate on: gold (the lake's current snapshot) or "
     "movielens:<ratings.csv, u.data or their folder>"},
    {"evaluate.model", T::kString, "",
     "one model spec; repeat --model for several (added to --models)", 0, 0, "", true},
    {"evaluate.models", T::kString, "",
     "model specs separated by ';' (\"als:factors=32;itemknn\"); empty = every model with its "
     "defaults; popularity is always added as the baseline"},
    {"evaluate.split", T::kString, "random-per-user:0.75",
     "random-per-user:RATIO (Microsoft Recommenders' stratified split), time:CUTOFF "
     "(YYYY-MM-DD or RFC 3339) or leave-last:N"},
    {"evaluate.seed", T::kInt, "42", "seed of the split and of every fit", 0, 4294967295.0},
    {"evaluate.k", T::kInt, "10", "length of the ranked lists scored", 1, 1000},
    {"evaluate.threads", T::kInt, "0", "threads of the fits and of DuckDB; 0 = all cores", 0, 256},
    {"evaluate.binary", T::kBool, "false", "movielens: every rating counts 1, not its value"},
    {"evaluate.exclude_history", T::kBool, "true",
     "leave training items out of the lists (--exclude-history=false: keep them)"},
    {"evaluate.min_relevant", T::kDouble, "0",
     "held-out interactions with a lower value are not relevant; 0 = all are", 0, 1e9},

    // recsys tune (it also reads the evaluate settings: source, split, seed, k, threads).
    {"tune.model", T::kString, "", "model to tune: als, bpr, itemknn, ease or popularity"},
    {"tune.budget_seconds", T::kDouble, "60",
     "no trial starts after this many seconds (the default spec always runs)", 0, 1e7},
    {"tune.trials", T::kInt, "50", "most trials, the default spec included", 1, 1000000},
    {"tune.metric", T::kString, "ndcg", "validation metric at evaluate.k to maximise", 0, 0,
     "ndcg|precision|recall|map|hit_rate"},
    {"tune.save", T::kBool, "true",
     "write the best spec to <data-dir>/tuned/<model>.txt, which evaluate then uses"},

    // recsys train | recommend.
    {"train.models", T::kString, "",
     "model specs separated by ';'; empty = every model with its defaults"},
    {"train.metric", T::kString, "ndcg",
     "metric at k 10 a new version must not lose on to become current", 0, 0,
     "ndcg|precision|recall|map|map_full|hit_rate|coverage"},
    {"train.threads", T::kInt, "0", "threads of the fits and of DuckDB; 0 = all cores", 0, 256},
    {"recommend.user", T::kString, "", "the shop user id to recommend for"},
    {"recommend.k", T::kInt, "10", "items to recommend", 1, 1000},
    {"recommend.model", T::kString, "",
     "model name; empty = the current version with the best train.metric"},

    // recsys serve.
    {"serve.listen", T::kString, "127.0.0.1:8080", "host:port the HTTP API listens on"},
    {"serve.threads", T::kInt, "0", "HTTP worker threads; 0 = one per core", 0, 256},
    {"serve.model", T::kString, "",
     "registry model served by default; empty = the current version with the best train.metric"},
    {"serve.admin_token", T::kString, "",
     "bearer token of the /v1/admin routes; empty = admin routes answer 403"},
    {"serve.ann_min_items", T::kInt, "50000",
     "factor models over catalogs of at least this many items take candidates from HNSW", 1, 1e9},
    {"serve.hnsw_m", T::kInt, "16", "HNSW graph degree", 2, 256},
    {"serve.hnsw_ef_construction", T::kInt, "100", "HNSW build beam", 8, 10000},
    {"serve.hnsw_ef_search", T::kInt, "40",
     "HNSW query beam (at least k + the items left out + 10)", 8, 10000},
    {"serve.reload_interval_ms", T::kInt, "2000",
     "how often new model versions and gold snapshots are looked for; 0 = only on reload", 0,
     86400000},
    {"serve.max_body_bytes", T::kInt, "1048576", "larger request bodies are answered 413", 1024,
     1 << 30},
    {"serve.max_header_bytes", T::kInt, "16384", "larger request headers are answered 431", 1024,
     1 << 20},
    {"serve.idle_timeout_ms", T::kInt, "60000", "idle keep-alive connections are closed", 100,
     86400000},
    {"serve.request_timeout_ms", T::kInt, "10000",
     "a request not received whole in this time is answered 408", 100, 3600000},
    {"serve.shutdown_grace_ms", T::kInt, "10000",
     "on SIGTERM, requests in flight get this long to finish", 0, 3600000},
    {"serve.max_batch_events", T::kInt, "1000", "most events in one POST /v1/events", 1, 1000000},
    {"serve.fold_in_cache", T::kInt, "100000", "folded-in user vectors kept", 0, 1e9},
    {"serve.candidate_cache_items", T::kInt, "20000000",
     "factor models keep each fitted user's best items after a first request, up to this many "
     "items in all (8 bytes each); 0 = off",
     0, 1e10},
    {"demo.serve", T::kBool, "true",
     "end the demo with `recsys serve` on serve.listen (until Ctrl-C or SIGTERM)"},

    // recsys sql.
    {"sql.format", T::kString, "table", "output of recsys sql", 0, 0, "table|csv|json"},
};

}  // namespace

std::span<const SettingSpec> AllSettings() { return kSettings; }

}  // namespace recsys
