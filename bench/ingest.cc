// bench/ingest: generate -> event log -> bronze, events per second, against the ceiling of
// writing the same bytes with the same compression straight to files, measured in the same run.
//
// Both pipelines use the same two threads: one generates (and, for recsys, appends to the log),
// the other writes (for recsys, the bronze sink following the log; for the ceiling, the same
// bronze files cut straight from the generator's output, compressed and written the same way).
//
//   build/bin/bench_ingest [--users N] [--days N] [--compression none|gzip|zstd] [--dir D]
//
// Every figure is measured in the run that prints it; nothing is asserted.
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <deque>
#include <map>
#include <mutex>
#include <string>
#include <thread>

#include "cli/log_batcher.h"
#include "core/clock.h"
#include "core/files.h"
#include "core/json_writer.h"
#include "core/progress.h"
#include "generate/generator.h"
#include "ingest/embedded_log.h"
#include "lake/bronze_sink.h"
#include "lake/object_store.h"

namespace recsys {
namespace {

struct BenchOptions {
  GeneratorOptions gen;
  Compression compression = Compression::kZstd;
  int64_t flush_size = 10000;
  std::string dir = "/tmp/recsys-bench-ingest";
  bool json = false;
  int repeat = 3;  // runs of each pipeline, alternating; the median is reported
};

double Seconds(int64_t start_ns) { return (SystemClock()->MonotonicNanos() - start_ns) / 1e9; }

void Check(const Status& st, const char* what) {
  if (!st.ok()) {
    std::fprintf(stderr, "bench_ingest: %s: %s\n", what, st.ToString().c_str());
    std::exit(1);
  }
}

struct RunResult {
  int64_t events = 0;
  int64_t bytes = 0;  // bytes written to the destination
  double seconds = 0;
};

RunResult RunRecsys(const BenchOptions& o) {
  std::string dir = o.dir + "/recsys";
  Check(RemoveAll(dir), "clean");
  EmbeddedLogOptions log_options;
  auto log = OpenEmbeddedLog(dir + "/log", log_options);
  Check(log.status(), "open log");
  auto store = OpenLocalStore(dir + "/lake");
  Check(store.status(), "open lake");
  for (Topic t : kAllTopics) Check((*log)->CreateTopic(TopicName(t), 3), "create topic");

  BronzeSinkOptions sink_options;
  sink_options.compression = o.compression;
  sink_options.flush_size = o.flush_size;
  sink_options.poll_interval_ms = 5;
  sink_options.rotate_schedule_interval_ms = 0;
  BronzeSink sink(log->get(), store->get(), sink_options);
  BronzeSinkStats follow_stats, drain_stats;
  std::atomic<bool> stop{false};

  int64_t start = SystemClock()->MonotonicNanos();
  std::thread consumer([&] { Check(sink.Follow(&stop, &follow_stats), "sink follow"); });
  Generator gen(o.gen);
  LogBatcher batcher(log->get());
  Check(gen.Run([&](const GeneratedRecord& r) {
    return batcher.Add(TopicName(r.topic), r.key, r.json);
  }),
        "generate");
  Check(batcher.Flush(), "append");
  stop = true;
  consumer.join();
  // Whatever the follower had not reached when told to stop.
  Check(sink.RunOnce(&drain_stats), "sink drain");
  RunResult result;
  result.seconds = Seconds(start);
  result.events = follow_stats.records + drain_stats.records;
  result.bytes = follow_stats.bytes + drain_stats.bytes;
  if (result.events != gen.stats().records) {
    std::fprintf(stderr, "bench_ingest: bronze holds %lld records of %lld generated\n",
                 static_cast<long long>(result.events),
                 static_cast<long long>(gen.stats().records));
    std::exit(1);
  }
  return result;
}

// The ceiling: the same files written straight from the generator, without the log. Lines go
// to the file the sink would put them in (topic, partition by key, hour of the record's time,
// flush_size records per partition per flush), and a second thread compresses each flush and
// writes it with the same store call and durability as the sink.
RunResult RunCeiling(const BenchOptions& o) {
  std::string dir = o.dir + "/ceiling";
  Check(RemoveAll(dir), "clean");
  auto store = OpenLocalStore(dir);
  Check(store.status(), "open ceiling store");
  using Flush = std::vector<std::pair<std::string, std::string>>;  // key -> lines
  std::mutex mu;
  std::condition_variable cv;
  std::deque<Flush> queue;
  bool done = false;
  RunResult result;

  int64_t start = SystemClock()->MonotonicNanos();
  std::thread writer([&] {
    std::vector<std::string> packed;
    std::vector<ObjectWrite> writes;
    for (;;) {
      Flush flush;
      {
        std::unique_lock<std::mutex> lock(mu);
        cv.wait(lock, [&] { return done || !queue.empty(); });
        if (queue.empty()) return;
        flush = std::move(queue.front());
        queue.pop_front();
      }
      cv.notify_all();
      packed.resize(flush.size());
      writes.clear();
      for (size_t i = 0; i < flush.size(); ++i) {
        auto c = Compress(o.compression, flush[i].second);
        Check(c.status(), "compress");
        packed[i] = std::move(*c);
        writes.push_back(ObjectWrite{flush[i].first, packed[i]});
        result.bytes += static_cast<int64_t>(packed[i].size());
      }
      Check((*store)->PutMany(writes), "write");
    }
  });

  constexpr int kPartitions = 3;
  struct Partition {
    std::map<int64_t, std::pair<int64_t, std::string>> open;  // hour -> first offset, lines
    int64_t next_offset = 0, count = 0;
  };
  Partition parts[3][kPartitions];
  int round_robin = 0;
  std::string ext(CompressionExtension(o.compression));
  auto hand_over = [&](int topic, int p) {
    Flush flush;
    for (auto& [hour, file] : parts[topic][p].open) {
      CivilTime c = ToCivil(hour * 3600000);
      char key[160];
      std::snprintf(key, sizeof(key),
                    "bronze/topics/%s/year=%04d/month=%02d/day=%02d/hour=%02d/%s+%d+%010lld%s",
                    TopicName(static_cast<Topic>(topic)).data(), c.year, c.month, c.day, c.hour,
                    TopicName(static_cast<Topic>(topic)).data(), p,
                    static_cast<long long>(file.first), ext.c_str());
      flush.emplace_back(key, std::move(file.second));
    }
    parts[topic][p].open.clear();
    parts[topic][p].count = 0;
    std::unique_lock<std::mutex> lock(mu);
    cv.wait(lock, [&] { return queue.size() < 64; });
    queue.push_back(std::move(flush));
    cv.notify_all();
  };
  Generator gen(o.gen);
  Check(gen.Run([&](const GeneratedRecord& r) {
    int t = static_cast<int>(r.topic);
    int p = r.key.empty() ? round_robin++ % kPartitions : PartitionForKey(r.key, kPartitions);
    Partition& part = parts[t][p];
    auto [it, fresh] = part.open.try_emplace(r.time_ms / 3600000);
    if (fresh) it->second.first = part.next_offset;
    it->second.second.append(r.json);
    it->second.second += '\n';
    ++part.next_offset;
    if (++part.count == o.flush_size) hand_over(t, p);
    return Status::OK();
  }),
        "generate");
  for (int t = 0; t < 3; ++t) {
    for (int p = 0; p < kPartitions; ++p) {
      if (parts[t][p].count > 0) hand_over(t, p);
    }
  }
  {
    std::lock_guard<std::mutex> lock(mu);
    done = true;
  }
  cv.notify_all();
  writer.join();
  result.seconds = Seconds(start);
  result.events = gen.stats().records;
  return result;
}

int Main(int argc, char** argv) {
  BenchOptions o;
  // A busy shop: 100,000 users over 3 days puts ~20,000 events in each hourly folder. A shop
  // ingesting 300,000 events/s live would put a billion there; a sparse run (--users 10000
  // --days 30, ~1,800 events an hour) measures the small-file worst case instead.
  o.gen.users = 100000;
  o.gen.days = 3;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "bench_ingest: %s needs a value\n", a.c_str());
        std::exit(2);
      }
      return argv[++i];
    };
    if (a == "--users") {
      o.gen.users = std::stoll(next());
    } else if (a == "--days") {
      o.gen.days = std::stoi(next());
    } else if (a == "--products") {
      o.gen.products = std::stoll(next());
    } else if (a == "--compression") {
      auto c = ParseCompression(next());
      Check(c.status(), "--compression");
      o.compression = *c;
    } else if (a == "--flush-size") {
      o.flush_size = std::stoll(next());
    } else if (a == "--dir") {
      o.dir = next();
    } else if (a == "--repeat") {
      o.repeat = std::max(1, std::stoi(next()));
    } else if (a == "--json") {
      o.json = true;
    } else {
      std::fprintf(
          stderr,
          "usage: bench_ingest [--users N] [--days N] [--products N] "
          "[--compression none|gzip|zstd] [--flush-size N] [--repeat N] [--dir D] [--json]\n");
      return 2;
    }
  }
  std::vector<RunResult> ceilings, runs;
  for (int i = 0; i < o.repeat; ++i) {
    ceilings.push_back(RunCeiling(o));
    runs.push_back(RunRecsys(o));
  }
  auto median = [](std::vector<RunResult> v) {
    std::sort(v.begin(), v.end(),
              [](const RunResult& a, const RunResult& b) { return a.seconds < b.seconds; });
    return v[v.size() / 2];
  };
  RunResult ceiling = median(ceilings), ours = median(runs);
  Check(RemoveAll(o.dir), "clean");
  double ours_eps = ours.events / ours.seconds, ceiling_eps = ceiling.events / ceiling.seconds;
  double ratio = ours_eps / ceiling_eps;
  const char* codec = CompressionExtension(o.compression).data();
  if (o.json) {
    JsonWriter j;
    j.BeginObject();
    j.Key("events");
    j.Int(ours.events);
    j.Key("compression");
    j.String(codec);
    j.Key("recsys_events_per_second");
    j.Double(ours_eps);
    j.Key("ceiling_events_per_second");
    j.Double(ceiling_eps);
    j.Key("ratio");
    j.Double(ratio);
    j.EndObject();
    std::printf("%s\n", j.str().c_str());
  } else {
    std::printf("ingest benchmark: %s events, bronze files %s, %u cores, median of %d runs\n",
                FormatCount(ours.events).c_str(), codec, std::thread::hardware_concurrency(),
                o.repeat);
    std::printf("  recsys  generate -> log -> bronze : %10s events/s  (%.2f s, %s bytes)\n",
                FormatCount(static_cast<int64_t>(ours_eps)).c_str(), ours.seconds,
                FormatCount(ours.bytes).c_str());
    std::printf("  ceiling generate -> files         : %10s events/s  (%.2f s, %s bytes)\n",
                FormatCount(static_cast<int64_t>(ceiling_eps)).c_str(), ceiling.seconds,
                FormatCount(ceiling.bytes).c_str());
    std::printf("  ratio %.2f of the ceiling (target >= 0.50); %s events/s (target >= 300,000)\n",
                ratio, FormatCount(static_cast<int64_t>(ours_eps)).c_str());
  }
  return 0;
}

}  // namespace
}  // namespace recsys

int main(int argc, char** argv) { return recsys::Main(argc, argv); }
