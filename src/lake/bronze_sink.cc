// The bronze sink: per log partition, the TopicPartitionWriter of Confluent's S3 connector.

#include "lake/bronze_sink.h"

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "core/clock.h"
#include "core/event.h"

namespace recsys {
namespace {

constexpr size_t kReadRecords = 4096;
constexpr size_t kReadBytes = 4 << 20;
constexpr int64_t kHourMs = 3600000;
constexpr int64_t kProgressIntervalNs = 100'000'000;
// Follow mode: how often an idle worker looks for new topics and partitions.
constexpr int64_t kRefreshIntervalNs = 1'000'000'000;
// Follow mode: the longest a worker sleeps before looking at *stop again.
constexpr int64_t kStopCheckMs = 20;

int64_t MonoNanos() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

int64_t FloorDiv(int64_t a, int64_t b) {
  int64_t q = a / b;
  return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

// Kafka's internal topics (__consumer_offsets, ...) are not events.
bool IsInternalTopic(std::string_view name) { return name.starts_with("__"); }

// Appends "year=YYYY/month=MM/day=DD/hour=HH" for an hour counted from the epoch (UTC).
void AppendHourPath(int64_t hour, std::string* out) {
  CivilTime c = ToCivil(hour * kHourMs);
  char buf[64];
  int n = std::snprintf(buf, sizeof(buf), "year=%04d/month=%02d/day=%02d/hour=%02d", c.year,
                        c.month, c.day, c.hour);
  out->append(buf, static_cast<size_t>(n));
}

// A value goes on one line: raw CR and LF bytes become spaces. Inside valid JSON they can only
// be whitespace between tokens (a string cannot hold them unescaped), so the JSON keeps its
// meaning; invalid input stays as raw as a line allows.
void AppendLine(std::string_view value, std::string* out) {
  size_t at = out->size();
  out->append(value);
  if (std::memchr(value.data(), '\n', value.size()) != nullptr ||
      std::memchr(value.data(), '\r', value.size()) != nullptr) {
    for (size_t i = at; i < out->size(); ++i) {
      char& ch = (*out)[i];
      if (ch == '\n' || ch == '\r') ch = ' ';
    }
  }
  out->push_back('\n');
}

// Records written so far, reported to the caller's callback from the calling thread only.
class Progress {
 public:
  explicit Progress(const std::function<void(int64_t)>& fn) : fn_(fn) {}
  void Add(int64_t n) { written_.fetch_add(n, std::memory_order_relaxed); }
  // Calls the callback if the count changed and ~100 ms passed since the last call (or always
  // when final).
  void Report(bool final) {
    if (!fn_) return;
    int64_t now = MonoNanos();
    int64_t written = written_.load(std::memory_order_relaxed);
    if (!final && (written == reported_ || now - last_ns_ < kProgressIntervalNs)) return;
    last_ns_ = now;
    reported_ = written;
    fn_(written);
  }

 private:
  const std::function<void(int64_t)>& fn_;
  std::atomic<int64_t> written_{0};
  int64_t reported_ = 0;
  int64_t last_ns_ = 0;
};

struct SinkContext {
  EventLog* log;
  ObjectStore* store;
  const BronzeSinkOptions* options;
  std::string key_prefix;  // options->prefix + '/', or "" for an empty prefix
  Progress* progress;
};

void MergeStats(const BronzeSinkStats& from, BronzeSinkStats* to) {
  to->records += from.records;
  to->files += from.files;
  to->bytes += from.bytes;
  to->by_arrival_time += from.by_arrival_time;
  for (const auto& [topic, n] : from.records_per_topic) to->records_per_topic[topic] += n;
}

// One log partition's writer. Owned and used by one thread at a time.
class PartitionWriter {
 public:
  PartitionWriter(const SinkContext* ctx, std::string topic, int partition)
      : ctx_(ctx), topic_(std::move(topic)), partition_(partition) {}

  const std::string& topic() const { return topic_; }
  int partition() const { return partition_; }
  int64_t position() const { return position_; }
  bool has_open_files() const { return record_count_ > 0; }
  // Monotonic time when the first record of the open files was buffered.
  int64_t first_buffered_ns() const { return first_buffered_ns_; }
  const BronzeSinkStats& stats() const { return stats_; }

  // Positions the writer at the group's committed offset, or at the partition's start when
  // nothing is committed or the committed offset is no longer (or not yet) in the log.
  // Returns the partition's end offset.
  Result<int64_t> Start() {
    RECSYS_ASSIGN_OR_RETURN(PartitionInfo info, ctx_->log->GetPartitionInfo(topic_, partition_));
    RECSYS_ASSIGN_OR_RETURN(std::optional<int64_t> committed,
                            ctx_->log->CommittedOffset(ctx_->options->group, topic_, partition_));
    position_ = info.start_offset;
    if (committed && *committed >= info.start_offset && *committed <= info.end_offset) {
      position_ = *committed;
    }
    return info.end_offset;
  }

  // Reads and files one batch from the current position; end < 0 reads without a limit,
  // otherwise only offsets before end. Returns the number of records read.
  Result<size_t> Poll(int64_t end, FetchedBatch* batch) {
    size_t max_records = kReadRecords;
    if (end >= 0) {
      if (position_ >= end) return size_t{0};
      max_records = static_cast<size_t>(std::min<int64_t>(end - position_, kReadRecords));
    }
    Status st = ctx_->log->Read(topic_, partition_, position_, max_records, kReadBytes, batch);
    if (st.code() == StatusCode::kOutOfRange) {
      // Retention removed what we had not read yet: carry on from what is left.
      RECSYS_ASSIGN_OR_RETURN(PartitionInfo info, ctx_->log->GetPartitionInfo(topic_, partition_));
      if (info.start_offset <= position_) return st.WithContext("read " + Name());
      position_ = info.start_offset;
      return size_t{0};
    }
    RECSYS_RETURN_IF_ERROR(st.WithContext("read " + Name()));
    if (batch->records.empty()) return size_t{0};
    int64_t now_ns = MonoNanos();
    size_t n = 0;
    for (const FetchedRecord& r : batch->records) {
      if (end >= 0 && r.offset >= end) break;
      RECSYS_RETURN_IF_ERROR(Add(r, now_ns));
      ++n;
    }
    return n;
  }

  // Writes every open file, then commits the offset after the last record in them.
  Status Flush() {
    if (record_count_ == 0) return Status::OK();
    const BronzeSinkOptions& opt = *ctx_->options;
    std::sort(files_.begin(), files_.end(),
              [](const OpenFile& a, const OpenFile& b) { return a.hour < b.hour; });
    // Every open file is compressed first, then all are written in one PutMany, so the store
    // can make the whole flush durable at once before the offset is committed.
    keys_.resize(files_.size());
    if (packed_.size() < files_.size()) packed_.resize(files_.size());
    writes_.clear();
    int64_t bytes = 0;
    for (size_t i = 0; i < files_.size(); ++i) {
      const OpenFile& f = files_[i];
      std::string& key = keys_[i];
      key = ctx_->key_prefix;
      key += topic_;
      key += '/';
      AppendHourPath(f.hour, &key);
      char name_tail[48];
      int n = std::snprintf(name_tail, sizeof(name_tail), "+%d+%010lld", partition_,
                            static_cast<long long>(f.start_offset));
      key += '/';
      key += topic_;
      key.append(name_tail, static_cast<size_t>(n));
      key += CompressionExtension(opt.compression);
      std::string_view data = f.data;
      if (opt.compression != Compression::kNone) {
        Result<std::string> packed = Compress(opt.compression, f.data, opt.compression_level);
        if (!packed.ok()) return packed.status().WithContext("compress " + key);
        packed_[i] = std::move(packed).value();
        data = packed_[i];
      }
      writes_.push_back(ObjectWrite{key, data});
      bytes += static_cast<int64_t>(data.size());
    }
    RECSYS_RETURN_IF_ERROR(ctx_->store->PutMany(writes_));
    stats_.files += static_cast<int64_t>(files_.size());
    stats_.bytes += bytes;
    RECSYS_RETURN_IF_ERROR(ctx_->log->Commit(opt.group, topic_, partition_, last_offset_ + 1)
                               .WithContext("commit " + Name()));
    stats_.records += record_count_;
    stats_.by_arrival_time += pending_by_arrival_;
    stats_.records_per_topic[topic_] += record_count_;
    ctx_->progress->Add(record_count_);
    for (OpenFile& f : files_) {
      f.data.clear();  // keeps its capacity for the next file
      spare_.push_back(std::move(f));
    }
    files_.clear();
    last_file_ = 0;
    record_count_ = 0;
    pending_by_arrival_ = 0;
    return Status::OK();
  }

 private:
  struct OpenFile {
    int64_t hour = 0;          // hours since the epoch, UTC: the encoded partition
    int64_t start_offset = 0;  // offset of the file's first record
    std::string data;          // JSON lines, uncompressed
  };

  std::string Name() const { return topic_ + "/" + std::to_string(partition_); }

  Status Add(const FetchedRecord& r, int64_t now_ns) {
    const BronzeSinkOptions& opt = *ctx_->options;
    std::optional<int64_t> event_time = ExtractEventTime(r.value);
    int64_t time = event_time ? *event_time : r.timestamp_ms;
    int64_t hour = FloorDiv(time, kHourMs);
    // Connect's rotateOnTime: the record that crosses the line goes into the next files.
    if (record_count_ > 0 && opt.rotate_interval_ms > 0 &&
        (time - base_time_ >= opt.rotate_interval_ms || hour != current_hour_)) {
      RECSYS_RETURN_IF_ERROR(Flush());
    }
    OpenFile& f = FileFor(hour, r.offset);
    AppendLine(r.value, &f.data);
    if (record_count_ == 0) {
      base_time_ = time;
      first_buffered_ns_ = now_ns;
    }
    ++record_count_;
    if (!event_time) ++pending_by_arrival_;
    last_offset_ = r.offset;
    current_hour_ = hour;
    position_ = r.offset + 1;
    // Connect's rotateOnSize: the record that fills the quota is in the files written.
    if (record_count_ >= opt.flush_size) RECSYS_RETURN_IF_ERROR(Flush());
    return Status::OK();
  }

  OpenFile& FileFor(int64_t hour, int64_t offset) {
    if (last_file_ < files_.size() && files_[last_file_].hour == hour) return files_[last_file_];
    for (size_t i = 0; i < files_.size(); ++i) {
      if (files_[i].hour == hour) {
        last_file_ = i;
        return files_[i];
      }
    }
    if (spare_.empty()) {
      files_.emplace_back();
    } else {
      files_.push_back(std::move(spare_.back()));
      spare_.pop_back();
    }
    last_file_ = files_.size() - 1;
    OpenFile& f = files_.back();
    f.hour = hour;
    f.start_offset = offset;
    return f;
  }

  const SinkContext* ctx_;
  const std::string topic_;
  const int partition_;
  int64_t position_ = 0;  // next offset to read

  // The open files: records read since the last commit, by encoded partition.
  std::vector<OpenFile> files_;
  std::vector<OpenFile> spare_;             // written files whose buffers are reused
  std::vector<std::string> keys_, packed_;  // per open file, reused across flushes
  std::vector<ObjectWrite> writes_;
  size_t last_file_ = 0;      // index in files_ of the last record's file
  int64_t record_count_ = 0;  // records in the open files
  int64_t pending_by_arrival_ = 0;
  int64_t base_time_ = 0;     // time of the first record in the open files
  int64_t current_hour_ = 0;  // hour of the last record added
  int64_t last_offset_ = -1;  // offset of the last record added
  int64_t first_buffered_ns_ = 0;

  BronzeSinkStats stats_;
};

Status CheckOptions(const BronzeSinkOptions& o) {
  if (o.flush_size < 1) {
    return Status::InvalidArgument("flush_size " + std::to_string(o.flush_size) + " is below 1");
  }
  if (o.rotate_interval_ms < 0) {
    return Status::InvalidArgument("rotate_interval_ms " + std::to_string(o.rotate_interval_ms) +
                                   " is negative");
  }
  if (o.rotate_schedule_interval_ms < 0) {
    return Status::InvalidArgument("rotate_schedule_interval_ms " +
                                   std::to_string(o.rotate_schedule_interval_ms) + " is negative");
  }
  if (o.poll_interval_ms < 0) {
    return Status::InvalidArgument("poll_interval_ms " + std::to_string(o.poll_interval_ms) +
                                   " is negative");
  }
  if (o.threads < 1) {
    return Status::InvalidArgument("threads " + std::to_string(o.threads) + " is below 1");
  }
  if (o.group.empty()) return Status::InvalidArgument("consumer group is empty");
  return Status::OK();
}

std::string KeyPrefix(const std::string& prefix) {
  std::string p = prefix;
  while (!p.empty() && p.back() == '/') p.pop_back();
  if (!p.empty()) p += '/';
  return p;
}

struct PartitionRef {
  std::string topic;
  int partition;
  bool operator<(const PartitionRef& o) const {
    return topic != o.topic ? topic < o.topic : partition < o.partition;
  }
  bool operator==(const PartitionRef& o) const = default;
};

// The partitions to sink, sorted. With missing_ok, configured topics that are not in the log
// yet are left out; otherwise they are NotFound.
Result<std::vector<PartitionRef>> ListPartitions(EventLog* log,
                                                 const std::vector<std::string>& topics,
                                                 bool missing_ok) {
  RECSYS_ASSIGN_OR_RETURN(std::vector<TopicInfo> infos, log->ListTopics());
  std::vector<PartitionRef> out;
  auto add = [&](const TopicInfo& t) {
    for (const PartitionInfo& p : t.partitions) out.push_back({t.name, p.partition});
  };
  if (topics.empty()) {
    for (const TopicInfo& t : infos) {
      if (!IsInternalTopic(t.name)) add(t);
    }
  } else {
    for (const std::string& name : topics) {
      auto it = std::find_if(infos.begin(), infos.end(),
                             [&](const TopicInfo& t) { return t.name == name; });
      if (it != infos.end()) {
        add(*it);
      } else if (!missing_ok) {
        return Status::NotFound("topic '" + name + "' is not in the event log");
      }
    }
  }
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

// The first error of several workers; the others see failed() and stop.
class FirstError {
 public:
  void Set(Status st) {
    if (st.ok()) return;
    std::lock_guard<std::mutex> lock(mu_);
    if (status_.ok()) status_ = std::move(st);
    failed_.store(true);
  }
  bool failed() const { return failed_.load(); }
  Status Get() {
    std::lock_guard<std::mutex> lock(mu_);
    return status_;
  }

 private:
  std::mutex mu_;
  Status status_;
  std::atomic<bool> failed_{false};
};

// Runs body(worker) on `threads` workers, the first on a new thread too unless threads == 1, in
// which case it runs on the calling thread and tick() is its business. Otherwise the calling
// thread calls tick() about every 100 ms until every worker has returned.
void RunWorkers(int threads, const std::function<void(int)>& body,
                const std::function<void()>& tick) {
  if (threads == 1) {
    body(0);
    return;
  }
  std::mutex mu;
  std::condition_variable cv;
  int done = 0;
  std::vector<std::thread> workers;
  workers.reserve(static_cast<size_t>(threads));
  for (int w = 0; w < threads; ++w) {
    workers.emplace_back([&, w] {
      body(w);
      std::lock_guard<std::mutex> lock(mu);
      ++done;
      cv.notify_all();
    });
  }
  {
    std::unique_lock<std::mutex> lock(mu);
    while (done < threads) {
      cv.wait_for(lock, std::chrono::nanoseconds(kProgressIntervalNs));
      lock.unlock();
      tick();
      lock.lock();
    }
  }
  for (std::thread& t : workers) t.join();
}

}  // namespace

BronzeSink::BronzeSink(EventLog* log, ObjectStore* store, BronzeSinkOptions options)
    : log_(log), store_(store), options_(std::move(options)) {}

Status BronzeSink::RunOnce(BronzeSinkStats* stats, const std::function<void(int64_t)>& progress) {
  BronzeSinkStats local;
  if (stats == nullptr) stats = &local;
  *stats = BronzeSinkStats();
  RECSYS_RETURN_IF_ERROR(CheckOptions(options_));
  Progress reporter(progress);
  SinkContext ctx{log_, store_, &options_, KeyPrefix(options_.prefix), &reporter};
  RECSYS_RETURN_IF_ERROR(store_->CleanTemporaryFiles(ctx.key_prefix));
  RECSYS_ASSIGN_OR_RETURN(std::vector<PartitionRef> parts,
                          ListPartitions(log_, options_.topics, /*missing_ok=*/false));

  // Every writer is positioned and given its end before any reading starts: the run drains the
  // log as it was when called.
  std::vector<PartitionWriter> writers;
  std::vector<int64_t> ends;
  writers.reserve(parts.size());
  for (const PartitionRef& p : parts) {
    writers.emplace_back(&ctx, p.topic, p.partition);
    Result<int64_t> end = writers.back().Start();
    if (!end.ok())
      return end.status().WithContext("start " + p.topic + "/" + std::to_string(p.partition));
    ends.push_back(*end);
  }

  int threads = static_cast<int>(
      std::max<size_t>(1, std::min<size_t>(static_cast<size_t>(options_.threads), parts.size())));
  std::atomic<size_t> next{0};
  FirstError error;
  RunWorkers(
      threads,
      [&](int) {
        FetchedBatch batch;
        for (size_t i = next++; i < writers.size() && !error.failed(); i = next++) {
          PartitionWriter& w = writers[i];
          while (w.position() < ends[i] && !error.failed()) {
            int64_t before = w.position();
            Result<size_t> n = w.Poll(ends[i], &batch);
            if (!n.ok()) {
              error.Set(n.status());
              return;
            }
            if (threads == 1) reporter.Report(false);
            // No progress: the offsets left before the end hold no records (Kafka leaves gaps
            // for transaction markers and compaction).
            if (w.position() == before) break;
          }
          error.Set(w.Flush());
          if (threads == 1) reporter.Report(false);
        }
      },
      [&] { reporter.Report(false); });

  for (const PartitionWriter& w : writers) MergeStats(w.stats(), stats);
  reporter.Report(true);
  return error.Get();
}

Status BronzeSink::Follow(const std::atomic<bool>* stop, BronzeSinkStats* stats,
                          const std::function<void(int64_t)>& progress) {
  BronzeSinkStats local;
  if (stats == nullptr) stats = &local;
  *stats = BronzeSinkStats();
  if (stop == nullptr) return Status::InvalidArgument("Follow needs a stop flag");
  RECSYS_RETURN_IF_ERROR(CheckOptions(options_));
  Progress reporter(progress);
  SinkContext ctx{log_, store_, &options_, KeyPrefix(options_.prefix), &reporter};
  RECSYS_RETURN_IF_ERROR(store_->CleanTemporaryFiles(ctx.key_prefix));
  // Fails early on a log that cannot be listed; missing topics are waited for.
  RECSYS_RETURN_IF_ERROR(ListPartitions(log_, options_.topics, /*missing_ok=*/true).status());

  // Partitions are dealt to workers as they appear, each to the worker with the fewest; a worker
  // owns its partitions until the end.
  std::mutex assign_mu;
  std::vector<PartitionRef> assigned;                    // sorted
  std::vector<std::pair<size_t, PartitionRef>> pending;  // (worker, partition) not yet adopted
  std::vector<int> load(static_cast<size_t>(options_.threads), 0);
  int64_t last_refresh_ns = 0;
  // Returns the partitions newly given to worker w.
  auto refresh = [&](int w, bool force) -> Result<std::vector<PartitionRef>> {
    std::lock_guard<std::mutex> lock(assign_mu);
    std::vector<PartitionRef> mine;
    int64_t now = MonoNanos();
    if (force || now - last_refresh_ns >= kRefreshIntervalNs) {
      last_refresh_ns = now;
      RECSYS_ASSIGN_OR_RETURN(std::vector<PartitionRef> parts,
                              ListPartitions(log_, options_.topics, /*missing_ok=*/true));
      for (PartitionRef& p : parts) {
        auto it = std::lower_bound(assigned.begin(), assigned.end(), p);
        if (it != assigned.end() && *it == p) continue;
        assigned.insert(it, p);
        size_t owner =
            static_cast<size_t>(std::min_element(load.begin(), load.end()) - load.begin());
        ++load[owner];
        pending.emplace_back(owner, std::move(p));
      }
    }
    for (auto it = pending.begin(); it != pending.end();) {
      if (it->first == static_cast<size_t>(w)) {
        mine.push_back(std::move(it->second));
        it = pending.erase(it);
      } else {
        ++it;
      }
    }
    return mine;
  };

  std::vector<BronzeSinkStats> worker_stats(static_cast<size_t>(options_.threads));
  FirstError error;
  const int threads = options_.threads;
  RunWorkers(
      threads,
      [&](int w) {
        std::vector<std::unique_ptr<PartitionWriter>> writers;
        FetchedBatch batch;
        auto adopt = [&](bool force) -> Status {
          RECSYS_ASSIGN_OR_RETURN(std::vector<PartitionRef> mine, refresh(w, force));
          for (PartitionRef& p : mine) {
            writers.push_back(std::make_unique<PartitionWriter>(&ctx, p.topic, p.partition));
            Result<int64_t> end = writers.back()->Start();
            if (!end.ok()) {
              return end.status().WithContext("start " + p.topic + "/" +
                                              std::to_string(p.partition));
            }
          }
          return Status::OK();
        };
        Status st = adopt(/*force=*/true);
        while (st.ok() && !stop->load() && !error.failed()) {
          bool read_any = false;
          for (auto& pw : writers) {
            Result<size_t> n = pw->Poll(-1, &batch);
            if (!n.ok()) {
              st = n.status();
              break;
            }
            read_any |= *n > 0;
            if (options_.rotate_schedule_interval_ms > 0 && pw->has_open_files() &&
                MonoNanos() - pw->first_buffered_ns() >=
                    options_.rotate_schedule_interval_ms * 1'000'000) {
              st = pw->Flush();
              if (!st.ok()) break;
            }
            if (stop->load()) break;
          }
          if (!st.ok()) break;
          if (threads == 1) reporter.Report(false);
          // New partitions are looked for (at most every second) even while busy.
          st = adopt(/*force=*/false);
          if (read_any) continue;
          // Drained: sleep, waking now and then to look at *stop and at the schedule.
          for (int64_t slept = 0;
               st.ok() && slept < options_.poll_interval_ms && !stop->load() && !error.failed();
               slept += kStopCheckMs) {
            std::this_thread::sleep_for(std::chrono::milliseconds(
                std::min(kStopCheckMs, options_.poll_interval_ms - slept)));
          }
        }
        if (st.ok() && !error.failed()) {
          for (auto& pw : writers) {
            st = pw->Flush();
            if (!st.ok()) break;
          }
        }
        error.Set(st);
        for (auto& pw : writers) MergeStats(pw->stats(), &worker_stats[static_cast<size_t>(w)]);
      },
      [&] { reporter.Report(false); });

  for (const BronzeSinkStats& s : worker_stats) MergeStats(s, stats);
  reporter.Report(true);
  return error.Get();
}

}  // namespace recsys
