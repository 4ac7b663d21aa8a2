// bench/ingest: generate -> event log -> bronze, events per second, against the ceiling of
// writing the same bytes with the same compression straight to files, measured in the same run.
//
// Both pipelines use the same two threads: one generates (and, for recsys, appends to the log),
// the other writes (for recsys, the bronze sink following the log; for the ceiling, compressing
// batches of flush_size lines and writing each to its own file, fsynced like the sink's).
//
//   build/bin/bench_ingest [--users N] [--days N] [--compression none|gzip|zstd] [--dir D]
#include <unistd.h>

#include <atomic>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <deque>
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

// The ceiling: the generator's lines, batched per topic like the sink's files, compressed and
// written straight to files by a second thread.
RunResult RunCeiling(const BenchOptions& o) {
  std::string dir = o.dir + "/ceiling";
  Check(RemoveAll(dir), "clean");
  Check(CreateDirs(dir), "mkdir");
  std::mutex mu;
  std::condition_variable cv;
  std::deque<std::string> queue;
  bool done = false;
  RunResult result;

  int64_t start = SystemClock()->MonotonicNanos();
  std::thread writer([&] {
    int64_t n = 0;
    for (;;) {
      std::string batch;
      {
        std::unique_lock<std::mutex> lock(mu);
        cv.wait(lock, [&] { return done || !queue.empty(); });
        if (queue.empty()) return;
        batch = std::move(queue.front());
        queue.pop_front();
      }
      cv.notify_all();
      auto compressed = Compress(o.compression, batch);
      Check(compressed.status(), "compress");
      Check(WriteFileAtomic(dir + "/part-" + std::to_string(n++) +
                                std::string(CompressionExtension(o.compression)),
                            *compressed),
            "write");
      result.bytes += static_cast<int64_t>(compressed->size());
    }
  });
  std::string pending[3];
  int64_t counts[3] = {0, 0, 0};
  auto hand_over = [&](std::string* buf) {
    std::unique_lock<std::mutex> lock(mu);
    cv.wait(lock, [&] { return queue.size() < 8; });
    queue.push_back(std::move(*buf));
    buf->clear();
    cv.notify_all();
  };
  Generator gen(o.gen);
  Check(gen.Run([&](const GeneratedRecord& r) {
          int t = static_cast<int>(r.topic);
          pending[t].append(r.json);
          pending[t] += '\n';
          if (++counts[t] % o.flush_size == 0) hand_over(&pending[t]);
          return Status::OK();
        }),
        "generate");
  for (std::string& p : pending) {
    if (!p.empty()) hand_over(&p);
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
  o.gen.users = 10000;
  o.gen.days = 30;
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
    } else if (a == "--json") {
      o.json = true;
    } else {
      std::fprintf(stderr,
                   "usage: bench_ingest [--users N] [--days N] [--products N] "
                   "[--compression none|gzip|zstd] [--flush-size N] [--dir D] [--json]\n");
      return 2;
    }
  }
  RunResult ceiling = RunCeiling(o);
  RunResult ours = RunRecsys(o);
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
    std::printf("ingest benchmark: %s events, bronze files %s, %u cores\n",
                FormatCount(ours.events).c_str(), codec,
                std::thread::hardware_concurrency());
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
