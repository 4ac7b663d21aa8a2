#include "lake/bronze_sink.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <filesystem>
#include <functional>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "core/clock.h"
#include "core/files.h"
#include "core/temp_dir.h"
#include "ingest/embedded_log.h"
#include "lake/object_store.h"

namespace recsys {
namespace {

// An in-memory EventLog: a vector of records per partition, offsets dense from a start that
// DropBefore can move (retention). Thread-safe.
class FakeLog : public EventLog {
 public:
  struct Record {
    std::string value;
    int64_t timestamp_ms;
  };

  Status CreateTopic(std::string_view topic, int partitions) override {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = topics_.find(std::string(topic));
    if (it != topics_.end()) {
      if (static_cast<int>(it->second.size()) != partitions) {
        return Status::InvalidArgument("topic exists with another partition count");
      }
      return Status::OK();
    }
    topics_[std::string(topic)].resize(static_cast<size_t>(partitions));
    return Status::OK();
  }

  Result<std::vector<TopicInfo>> ListTopics() override {
    std::lock_guard<std::mutex> lock(mu_);
    std::vector<TopicInfo> out;
    for (const auto& [name, parts] : topics_) {
      TopicInfo t{name, {}};
      for (size_t p = 0; p < parts.size(); ++p) t.partitions.push_back(InfoLocked(name, p));
      out.push_back(std::move(t));
    }
    return out;
  }

  Result<int> PartitionCount(std::string_view topic) override {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = topics_.find(std::string(topic));
    if (it == topics_.end()) return Status::NotFound(std::string(topic));
    return static_cast<int>(it->second.size());
  }

  Status Append(std::string_view topic, std::span<const LogRecord> records) override {
    std::lock_guard<std::mutex> lock(mu_);
    auto& parts = topics_[std::string(topic)];
    if (parts.empty()) parts.resize(1);
    for (const LogRecord& r : records) {
      size_t p = std::hash<std::string_view>()(r.key) % parts.size();
      parts[p].records.push_back({std::string(r.value), r.timestamp_ms});
    }
    return Status::OK();
  }

  Status Read(std::string_view topic, int partition, int64_t offset, size_t max_records,
              size_t max_bytes, FetchedBatch* out) override {
    std::lock_guard<std::mutex> lock(mu_);
    ++reads_;
    out->clear();
    const Partition* p = Find(topic, partition);
    if (p == nullptr) return Status::NotFound(std::string(topic));
    if (offset < p->start) return Status::OutOfRange("offset before the start");
    int64_t end = p->start + static_cast<int64_t>(p->records.size());
    size_t bytes = 0;
    std::vector<std::pair<size_t, size_t>> spans;
    for (int64_t o = offset; o < end && out->records.size() < max_records; ++o) {
      const Record& r = p->records[static_cast<size_t>(o - p->start)];
      if (!out->records.empty() && bytes + r.value.size() > max_bytes) break;
      spans.push_back({out->buffer.size(), r.value.size()});
      out->buffer += r.value;
      bytes += r.value.size();
      out->records.push_back({o, r.timestamp_ms, {}, {}});
    }
    for (size_t i = 0; i < spans.size(); ++i) {
      out->records[i].value = std::string_view(out->buffer).substr(spans[i].first, spans[i].second);
    }
    return Status::OK();
  }

  Result<PartitionInfo> GetPartitionInfo(std::string_view topic, int partition) override {
    std::lock_guard<std::mutex> lock(mu_);
    if (Find(topic, partition) == nullptr) return Status::NotFound(std::string(topic));
    return InfoLocked(std::string(topic), static_cast<size_t>(partition));
  }

  Result<std::optional<int64_t>> CommittedOffset(std::string_view group, std::string_view topic,
                                                 int partition) override {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = committed_.find(Key(group, topic, partition));
    if (it == committed_.end()) return std::optional<int64_t>();
    return std::optional<int64_t>(it->second);
  }

  Status Commit(std::string_view group, std::string_view topic, int partition,
                int64_t next_offset) override {
    std::lock_guard<std::mutex> lock(mu_);
    committed_[Key(group, topic, partition)] = next_offset;
    commit_history_[std::string(topic) + "/" + std::to_string(partition)].push_back(next_offset);
    return Status::OK();
  }

  Status Sync() override { return Status::OK(); }

  // Test helpers.
  void Add(const std::string& topic, int partition, std::string value, int64_t timestamp_ms) {
    std::lock_guard<std::mutex> lock(mu_);
    auto& parts = topics_[topic];
    if (parts.size() <= static_cast<size_t>(partition)) parts.resize(partition + 1);
    parts[static_cast<size_t>(partition)].records.push_back({std::move(value), timestamp_ms});
  }
  // Retention: offsets before `offset` are gone.
  void DropBefore(const std::string& topic, int partition, int64_t offset) {
    std::lock_guard<std::mutex> lock(mu_);
    Partition& p = topics_[topic][static_cast<size_t>(partition)];
    p.records.erase(p.records.begin(), p.records.begin() + (offset - p.start));
    p.start = offset;
  }
  std::vector<int64_t> Commits(const std::string& topic, int partition) {
    std::lock_guard<std::mutex> lock(mu_);
    return commit_history_[topic + "/" + std::to_string(partition)];
  }
  std::optional<int64_t> Committed(const std::string& group, const std::string& topic,
                                   int partition) {
    return *CommittedOffset(group, topic, partition);
  }
  int64_t reads() {
    std::lock_guard<std::mutex> lock(mu_);
    return reads_;
  }

 private:
  struct Partition {
    int64_t start = 0;
    std::vector<Record> records;
  };

  static std::string Key(std::string_view group, std::string_view topic, int partition) {
    return std::string(group) + "\n" + std::string(topic) + "\n" + std::to_string(partition);
  }
  const Partition* Find(std::string_view topic, int partition) const {
    auto it = topics_.find(std::string(topic));
    if (it == topics_.end() || partition < 0 ||
        static_cast<size_t>(partition) >= it->second.size()) {
      return nullptr;
    }
    return &it->second[static_cast<size_t>(partition)];
  }
  PartitionInfo InfoLocked(const std::string& topic, size_t partition) const {
    const Partition& p = topics_.at(topic)[partition];
    int64_t end = p.start + static_cast<int64_t>(p.records.size());
    return PartitionInfo{static_cast<int>(partition), p.start, end, 0};
  }

  std::mutex mu_;
  std::map<std::string, std::vector<Partition>> topics_;
  std::map<std::string, int64_t> committed_;
  std::map<std::string, std::vector<int64_t>> commit_history_;
  int64_t reads_ = 0;
};

// A store whose Puts fail after `good_puts` successes, leaving a temporary file behind as a
// crash in the middle of a write would: the sink stops before it commits.
class CrashingStore : public ObjectStore {
 public:
  CrashingStore(ObjectStore* inner, std::string root, int good_puts)
      : inner_(inner), root_(std::move(root)), left_(good_puts) {}
  Status Put(std::string_view key, std::string_view data) override {
    if (left_.fetch_sub(1) <= 0) {
      (void)CreateDirs(root_ + "/" + std::string(key).substr(0, key.rfind('/')));
      (void)WriteFileAtomic(root_ + "/" + std::string(key) + ".tmp-99999-0",
                            data.substr(0, data.size() / 2));
      return Status::IOError("simulated crash writing " + std::string(key));
    }
    return inner_->Put(key, data);
  }
  Result<std::string> Get(std::string_view key) override { return inner_->Get(key); }
  Result<std::vector<ObjectInfo>> List(std::string_view prefix) override {
    return inner_->List(prefix);
  }
  Status Delete(std::string_view key) override { return inner_->Delete(key); }
  std::string Describe() const override { return inner_->Describe(); }
  Status CleanTemporaryFiles(std::string_view prefix) override {
    return inner_->CleanTemporaryFiles(prefix);
  }

 private:
  ObjectStore* inner_;
  std::string root_;
  std::atomic<int> left_;
};

std::unique_ptr<ObjectStore> OpenStore(const std::string& root) {
  Result<std::unique_ptr<ObjectStore>> store = OpenLocalStore(root);
  EXPECT_TRUE(store.ok()) << store.status().ToString();
  return store.ok() ? std::move(*store) : nullptr;
}

int CountTemporaryFiles(const std::string& dir) {
  int n = 0;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(dir)) {
    if (entry.path().filename().string().find(".tmp-") != std::string::npos) ++n;
  }
  return n;
}

int64_t T(const char* rfc3339) { return *ParseRfc3339(rfc3339); }

// prefix + number (written so as not to trip GCC 12's -Wrestrict false positive on
// "literal" + std::string).
std::string Id(std::string prefix, int64_t n) {
  prefix += std::to_string(n);
  return prefix;
}

std::string Ev(const std::string& id, const std::string& time) {
  return R"({"event_id":")" + id + R"(","event_type":"page_view","event_time":")" + time +
         R"(","user_id":"u1"})";
}

std::string Dir(const char* hour_path) { return std::string("bronze/topics/") + hour_path; }

class BronzeSinkTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = tmp_.path() + "/lake";
    store_ = OpenStore(root_);
  }

  // Every bronze object, decompressed: key -> contents.
  std::map<std::string, std::string> Bronze(ObjectStore* store = nullptr) {
    if (store == nullptr) store = store_.get();
    std::map<std::string, std::string> out;
    Result<std::vector<ObjectInfo>> list = store->List("bronze/");
    EXPECT_TRUE(list.ok()) << list.status().ToString();
    if (!list.ok()) return out;
    for (const ObjectInfo& o : *list) {
      std::string data = *store->Get(o.key);
      Compression c = Compression::kNone;
      if (o.key.ends_with(".gz")) c = Compression::kGzip;
      if (o.key.ends_with(".zst")) c = Compression::kZstd;
      Result<std::string> plain = Decompress(c, data);
      EXPECT_TRUE(plain.ok()) << o.key << ": " << plain.status().ToString();
      out[o.key] = plain.ok() ? *plain : "";
    }
    return out;
  }

  // Every line in bronze, sorted.
  std::vector<std::string> Lines(ObjectStore* store = nullptr) {
    std::vector<std::string> lines;
    for (const auto& [key, data] : Bronze(store)) {
      size_t start = 0;
      while (start < data.size()) {
        size_t nl = data.find('\n', start);
        EXPECT_NE(nl, std::string::npos) << key << " has an unterminated line";
        if (nl == std::string::npos) break;
        lines.push_back(data.substr(start, nl - start));
        start = nl + 1;
      }
    }
    std::sort(lines.begin(), lines.end());
    return lines;
  }

  Status Run(EventLog* log, const BronzeSinkOptions& options, BronzeSinkStats* stats,
             ObjectStore* store = nullptr) {
    BronzeSink sink(log, store != nullptr ? store : store_.get(), options);
    return sink.RunOnce(stats);
  }

  TempDir tmp_;
  std::string root_;
  std::unique_ptr<ObjectStore> store_;
};

// Five clickstream records over three hours, the fourth without a readable event_time.
void AddHandMadeSequence(FakeLog* log) {
  log->Add("clickstream", 0, Ev("a", "2024-03-01T10:00:00.000Z"), T("2024-03-01T10:00:01Z"));
  log->Add("clickstream", 0, Ev("b", "2024-03-01T11:05:00.000Z"), T("2024-03-01T11:05:01Z"));
  log->Add("clickstream", 0, Ev("c", "2024-03-01T10:30:00.000Z"), T("2024-03-01T11:06:00Z"));
  log->Add("clickstream", 0, Ev("d", "2024-03-01T11:10:00.000Z"), T("2024-03-01T11:10:01Z"));
  log->Add("clickstream", 0, "not json at all", T("2024-03-01T12:00:00Z"));
}

TEST_F(BronzeSinkTest, WritesTheConnectLayoutWithFlushSizeRotation) {
  FakeLog log;
  AddHandMadeSequence(&log);
  BronzeSinkOptions options;
  options.flush_size = 3;
  BronzeSinkStats stats;
  ASSERT_TRUE(Run(&log, options, &stats).ok());

  // a, b, c fill flush_size: both open files (hour 10 from offset 0, hour 11 from offset 1) are
  // written and offset 3 committed; d and the unreadable record are written at the end.
  std::map<std::string, std::string> expected = {
      {Dir("clickstream/year=2024/month=03/day=01/hour=10/clickstream+0+0000000000.json"),
       Ev("a", "2024-03-01T10:00:00.000Z") + "\n" + Ev("c", "2024-03-01T10:30:00.000Z") + "\n"},
      {Dir("clickstream/year=2024/month=03/day=01/hour=11/clickstream+0+0000000001.json"),
       Ev("b", "2024-03-01T11:05:00.000Z") + "\n"},
      {Dir("clickstream/year=2024/month=03/day=01/hour=11/clickstream+0+0000000003.json"),
       Ev("d", "2024-03-01T11:10:00.000Z") + "\n"},
      {Dir("clickstream/year=2024/month=03/day=01/hour=12/clickstream+0+0000000004.json"),
       "not json at all\n"},
  };
  EXPECT_EQ(Bronze(), expected);
  EXPECT_EQ(log.Commits("clickstream", 0), (std::vector<int64_t>{3, 5}));
  EXPECT_EQ(stats.records, 5);
  EXPECT_EQ(stats.files, 4);
  EXPECT_EQ(stats.by_arrival_time, 1);
  EXPECT_EQ(stats.records_per_topic, (std::map<std::string, int64_t>{{"clickstream", 5}}));
  int64_t bytes = 0;
  for (const auto& [key, data] : expected) bytes += static_cast<int64_t>(data.size());
  EXPECT_EQ(stats.bytes, bytes);
}

TEST_F(BronzeSinkTest, UnreadableEventTimeGoesByArrivalTime) {
  FakeLog log;
  log.Add("clickstream", 0, R"({"event_id":"x","event_time":"yesterday"})",
          T("2023-12-31T23:59:59.999Z"));
  log.Add("clickstream", 0, R"({"event_id":"y","event_time":12345})", T("2024-01-01T00:00:00Z"));
  log.Add("clickstream", 0, R"({"event_id":"z"})", T("2024-01-01T00:30:00Z"));
  log.Add("clickstream", 0, Ev("w", "2024-01-01T00:00:00.000+01:00"), T("2024-01-01T05:00:00Z"));
  BronzeSinkStats stats;
  ASSERT_TRUE(Run(&log, BronzeSinkOptions(), &stats).ok());
  EXPECT_EQ(stats.by_arrival_time, 3);
  std::vector<std::string> keys;
  for (const auto& [key, data] : Bronze()) keys.push_back(key);
  // The event_time with an offset is converted to UTC: 23:00 of the day before.
  EXPECT_EQ(keys, (std::vector<std::string>{
                      Dir("clickstream/year=2023/month=12/day=31/hour=23/"
                          "clickstream+0+0000000000.json"),
                      Dir("clickstream/year=2024/month=01/day=01/hour=00/"
                          "clickstream+0+0000000001.json"),
                  }));
  EXPECT_EQ(Bronze()[keys[0]], std::string(R"({"event_id":"x","event_time":"yesterday"})") + "\n" +
                                   Ev("w", "2024-01-01T00:00:00.000+01:00") + "\n");
}

TEST_F(BronzeSinkTest, EmbeddedLineBreaksBecomeSpaces) {
  FakeLog log;
  log.Add("clickstream", 0, "{\"event_id\":\"a\",\r\n\"event_time\":\"2024-03-01T10:00:00Z\"}",
          T("2024-03-01T10:00:00Z"));
  log.Add("clickstream", 0, "broken\nrecord", T("2024-03-01T10:00:00Z"));
  ASSERT_TRUE(Run(&log, BronzeSinkOptions(), nullptr).ok());
  EXPECT_EQ(Lines(), (std::vector<std::string>{
                         "broken record",
                         "{\"event_id\":\"a\",  \"event_time\":\"2024-03-01T10:00:00Z\"}",
                     }));
}

TEST_F(BronzeSinkTest, CompressedOutputHoldsTheSameLines) {
  for (Compression c : {Compression::kGzip, Compression::kZstd}) {
    TempDir plain_dir;
    std::unique_ptr<ObjectStore> plain_store = OpenStore(plain_dir.path());
    FakeLog plain_log;
    AddHandMadeSequence(&plain_log);
    BronzeSinkOptions options;
    options.flush_size = 3;
    ASSERT_TRUE(Run(&plain_log, options, nullptr, plain_store.get()).ok());

    TempDir packed_dir;
    std::unique_ptr<ObjectStore> packed_store = OpenStore(packed_dir.path());
    FakeLog packed_log;
    AddHandMadeSequence(&packed_log);
    options.compression = c;
    BronzeSinkStats stats;
    ASSERT_TRUE(Run(&packed_log, options, &stats, packed_store.get()).ok());

    std::map<std::string, std::string> expected;
    for (const auto& [key, data] : Bronze(plain_store.get())) {
      expected[key.substr(0, key.size() - 5) + std::string(CompressionExtension(c))] = data;
    }
    EXPECT_EQ(Bronze(packed_store.get()), expected);
    int64_t stored = 0;
    Result<std::vector<ObjectInfo>> listed = packed_store->List("");
    ASSERT_TRUE(listed.ok());
    for (const ObjectInfo& o : *listed) stored += o.size;
    EXPECT_EQ(stats.bytes, stored);
  }
}

TEST_F(BronzeSinkTest, RerunAfterCompletionWritesNothingNew) {
  FakeLog log;
  AddHandMadeSequence(&log);
  BronzeSinkOptions options;
  options.flush_size = 3;
  ASSERT_TRUE(Run(&log, options, nullptr).ok());
  std::map<std::string, std::string> first = Bronze();

  BronzeSinkStats stats;
  ASSERT_TRUE(Run(&log, options, &stats).ok());
  EXPECT_EQ(stats.records, 0);
  EXPECT_EQ(stats.files, 0);
  EXPECT_EQ(Bronze(), first);

  // New records are picked up where the last run stopped.
  log.Add("clickstream", 0, Ev("e", "2024-03-01T12:30:00.000Z"), T("2024-03-01T12:30:00Z"));
  ASSERT_TRUE(Run(&log, options, &stats).ok());
  EXPECT_EQ(stats.records, 1);
  std::map<std::string, std::string> after = Bronze();
  EXPECT_EQ(after.size(), first.size() + 1);
  EXPECT_EQ(
      after[Dir("clickstream/year=2024/month=03/day=01/hour=12/clickstream+0+0000000005.json")],
      Ev("e", "2024-03-01T12:30:00.000Z") + "\n");
}

TEST_F(BronzeSinkTest, RotateIntervalFollowsRecordTime) {
  FakeLog log;
  const char* times[] = {"10:00:00.000", "10:05:00.000", "10:09:59.999", "10:10:00.000",
                         "10:15:00.000", "11:01:00.000", "11:02:00.000", "10:59:00.000"};
  for (int i = 0; i < 8; ++i) {
    std::string t = std::string("2024-03-01T") + times[i] + "Z";
    log.Add("clickstream", 0, Ev(std::to_string(i), t), T("2024-03-02T00:00:00Z"));
  }
  BronzeSinkOptions options;
  options.flush_size = 1000;
  options.rotate_interval_ms = 10 * 60 * 1000;
  ASSERT_TRUE(Run(&log, options, nullptr).ok());
  // Rotations: at 10:10 (10 minutes after 10:00), at 11:01 (another hour) and at 10:59 (the
  // hour changes back). The record that triggers a rotation starts the next file.
  std::map<std::string, std::string> bronze = Bronze();
  std::vector<std::pair<std::string, int>> files;  // key -> lines
  for (const auto& [key, data] : bronze) {
    files.push_back({key.substr(key.find("hour=")),
                     static_cast<int>(std::count(data.begin(), data.end(), '\n'))});
  }
  EXPECT_EQ(files, (std::vector<std::pair<std::string, int>>{
                       {"hour=10/clickstream+0+0000000000.json", 3},
                       {"hour=10/clickstream+0+0000000003.json", 2},
                       {"hour=10/clickstream+0+0000000007.json", 1},
                       {"hour=11/clickstream+0+0000000005.json", 2},
                   }));
  EXPECT_EQ(log.Commits("clickstream", 0), (std::vector<int64_t>{3, 5, 7, 8}));
}

// Records for two topics and several partitions across a few hours, some unreadable.
void AddMixedTraffic(FakeLog* log, int n) {
  int64_t base = T("2024-05-05T22:00:00Z");
  for (int i = 0; i < n; ++i) {
    int64_t t = base + static_cast<int64_t>(i) * 7919 % (4 * 3600000);
    std::string topic = i % 4 == 3 ? "user-events" : "clickstream";
    int partition = topic == "clickstream" ? i % 3 : 0;
    std::string value = "{\"garbage\":";
    if (i % 17 == 5) {
      value += std::to_string(i);
    } else {
      value = Ev(Id("e", i), FormatRfc3339Millis(t));
    }
    log->Add(topic, partition, value, base + i);
  }
}

TEST_F(BronzeSinkTest, AllTopicsAndPartitionsByDefault) {
  FakeLog log;
  AddMixedTraffic(&log, 400);
  ASSERT_TRUE(log.CreateTopic("__consumer_offsets", 1).ok());
  log.Add("__consumer_offsets", 0, "internal", 1);
  BronzeSinkOptions options;
  options.flush_size = 25;
  BronzeSinkStats stats;
  ASSERT_TRUE(Run(&log, options, &stats).ok());
  EXPECT_EQ(stats.records, 400);
  EXPECT_EQ(stats.records_per_topic,
            (std::map<std::string, int64_t>{{"clickstream", 300}, {"user-events", 100}}));
  std::set<std::string> name_starts;
  for (const auto& [key, data] : Bronze()) {
    std::string name = key.substr(key.rfind('/') + 1);
    std::string topic = key.substr(14, key.find('/', 14) - 14);
    EXPECT_TRUE(name.starts_with(topic + "+")) << key;
    name_starts.insert(name.substr(0, name.rfind('+')));
  }
  EXPECT_EQ(name_starts, (std::set<std::string>{"clickstream+0", "clickstream+1", "clickstream+2",
                                                "user-events+0"}));
  EXPECT_EQ(Lines().size(), 400u);
  for (int p = 0; p < 3; ++p) EXPECT_EQ(*log.Committed("bronze-sink", "clickstream", p), 100);
  EXPECT_EQ(*log.Committed("bronze-sink", "user-events", 0), 100);
  EXPECT_FALSE(log.Committed("bronze-sink", "__consumer_offsets", 0).has_value());
}

TEST_F(BronzeSinkTest, ConfiguredTopicsOnlyAndMissingTopicIsAnError) {
  FakeLog log;
  AddMixedTraffic(&log, 40);
  BronzeSinkOptions options;
  options.topics = {"user-events"};
  options.group = "g1";
  BronzeSinkStats stats;
  ASSERT_TRUE(Run(&log, options, &stats).ok());
  EXPECT_EQ(stats.records_per_topic, (std::map<std::string, int64_t>{{"user-events", 10}}));
  EXPECT_FALSE(log.Committed("g1", "clickstream", 0).has_value());

  options.topics = {"no-such-topic"};
  Status st = Run(&log, options, &stats);
  EXPECT_EQ(st.code(), StatusCode::kNotFound);
  EXPECT_NE(st.message().find("no-such-topic"), std::string::npos);
}

TEST_F(BronzeSinkTest, TwoThreadsWriteTheSameFilesAsOne) {
  FakeLog one_log;
  FakeLog two_log;
  AddMixedTraffic(&one_log, 3000);
  AddMixedTraffic(&two_log, 3000);
  BronzeSinkOptions options;
  options.flush_size = 97;
  options.compression = Compression::kZstd;
  BronzeSinkStats one_stats;
  ASSERT_TRUE(Run(&one_log, options, &one_stats).ok());
  std::map<std::string, std::string> one = Bronze();

  TempDir other;
  std::unique_ptr<ObjectStore> two_store = OpenStore(other.path());
  options.threads = 2;
  BronzeSinkStats two_stats;
  ASSERT_TRUE(Run(&two_log, options, &two_stats, two_store.get()).ok());
  EXPECT_EQ(Bronze(two_store.get()), one);
  EXPECT_EQ(two_stats.records, 3000);
  EXPECT_EQ(two_stats.records, one_stats.records);
  EXPECT_EQ(two_stats.files, one_stats.files);
  EXPECT_EQ(two_stats.by_arrival_time, one_stats.by_arrival_time);
  EXPECT_EQ(two_stats.records_per_topic, one_stats.records_per_topic);
  EXPECT_GT(one_stats.by_arrival_time, 0);
}

TEST_F(BronzeSinkTest, CrashBeforeCommitIsRepairedByTheNextRun) {
  BronzeSinkOptions options;
  options.flush_size = 7;
  options.compression = Compression::kGzip;

  FakeLog clean_log;
  AddMixedTraffic(&clean_log, 200);
  ASSERT_TRUE(Run(&clean_log, options, nullptr).ok());
  std::map<std::string, std::string> clean = Bronze();
  std::vector<std::string> all_lines = Lines();
  ASSERT_EQ(all_lines.size(), 200u);

  for (int threads : {1, 2}) {
    for (int good_puts : {0, 1, 2, 5, 13, 30}) {
      SCOPED_TRACE("threads " + std::to_string(threads) + ", puts before the crash " +
                   std::to_string(good_puts));
      TempDir dir;
      std::unique_ptr<ObjectStore> store = OpenStore(dir.path());
      FakeLog log;
      AddMixedTraffic(&log, 200);
      options.threads = threads;
      CrashingStore crashing(store.get(), dir.path(), good_puts);
      BronzeSinkStats stats;
      Status st = Run(&log, options, &stats, &crashing);
      EXPECT_EQ(st.code(), StatusCode::kIOError) << st.ToString();
      EXPECT_LT(stats.records, 200);

      ASSERT_TRUE(Run(&log, options, &stats, store.get()).ok());
      EXPECT_EQ(Bronze(store.get()), clean);
      EXPECT_EQ(Lines(store.get()), all_lines);
      // The crash's temporary files are gone.
      EXPECT_EQ(CountTemporaryFiles(dir.path()), 0);
    }
  }
}

TEST_F(BronzeSinkTest, RetentionGapStartsAtTheFirstRecordLeft) {
  FakeLog log;
  for (int i = 0; i < 10; ++i) {
    log.Add("clickstream", 0, Ev(std::to_string(i), "2024-03-01T10:00:00.000Z"), 1);
  }
  BronzeSinkOptions options;
  options.flush_size = 4;
  // Offsets 0..3 were sunk, then retention removed everything before offset 6.
  ASSERT_TRUE(log.Commit("bronze-sink", "clickstream", 0, 4).ok());
  log.DropBefore("clickstream", 0, 6);
  ASSERT_TRUE(Run(&log, options, nullptr).ok());
  std::map<std::string, std::string> bronze = Bronze();
  ASSERT_EQ(bronze.size(), 1u);
  EXPECT_TRUE(bronze.begin()->first.ends_with("clickstream+0+0000000006.json"));
  EXPECT_EQ(*log.Committed("bronze-sink", "clickstream", 0), 10);
}

TEST_F(BronzeSinkTest, ProgressIsReportedAndEndsAtTheTotal) {
  FakeLog log;
  AddMixedTraffic(&log, 500);
  BronzeSinkOptions options;
  options.flush_size = 10;
  BronzeSink sink(&log, store_.get(), options);
  std::vector<int64_t> seen;
  BronzeSinkStats stats;
  ASSERT_TRUE(sink.RunOnce(&stats, [&](int64_t n) { seen.push_back(n); }).ok());
  ASSERT_FALSE(seen.empty());
  EXPECT_EQ(seen.back(), 500);
  EXPECT_TRUE(std::is_sorted(seen.begin(), seen.end()));
}

TEST_F(BronzeSinkTest, BadOptionsAreRejected) {
  FakeLog log;
  BronzeSinkOptions options;
  options.flush_size = 0;
  EXPECT_EQ(Run(&log, options, nullptr).code(), StatusCode::kInvalidArgument);
  options = BronzeSinkOptions();
  options.threads = 0;
  EXPECT_EQ(Run(&log, options, nullptr).code(), StatusCode::kInvalidArgument);
  options = BronzeSinkOptions();
  options.rotate_interval_ms = -1;
  EXPECT_EQ(Run(&log, options, nullptr).code(), StatusCode::kInvalidArgument);
}

// Waits (generously) for a condition that the sink makes true in the background.
bool WaitFor(const std::function<bool()>& done) {
  for (int i = 0; i < 1000; ++i) {
    if (done()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return done();
}

TEST_F(BronzeSinkTest, FollowWritesAsRecordsArriveAndFlushesOnStop) {
  FakeLog log;
  ASSERT_TRUE(log.CreateTopic("clickstream", 2).ok());
  BronzeSinkOptions options;
  options.flush_size = 5;
  options.poll_interval_ms = 5;
  options.rotate_schedule_interval_ms = 0;
  options.threads = 2;
  BronzeSink sink(&log, store_.get(), options);
  std::atomic<bool> stop{false};
  BronzeSinkStats stats;
  Status result;
  std::thread follower([&] { result = sink.Follow(&stop, &stats); });

  for (int i = 0; i < 12; ++i) {
    log.Add("clickstream", 0, Ev(Id("p0-", i), "2024-03-01T10:00:00.000Z"), 1);
  }
  EXPECT_TRUE(WaitFor([&] { return log.Committed("bronze-sink", "clickstream", 0) == 10; }));
  EXPECT_EQ(Lines().size(), 10u);
  // A topic created while following is picked up.
  log.Add("user-events", 0, Ev("u", "2024-03-01T10:00:00.000Z"), 1);
  for (int i = 0; i < 4; ++i) log.Add("user-events", 0, Ev(Id("u", i), "x"), 1);
  EXPECT_TRUE(WaitFor([&] { return log.Committed("bronze-sink", "user-events", 0) == 5; }));

  stop = true;
  follower.join();
  ASSERT_TRUE(result.ok()) << result.ToString();
  EXPECT_EQ(*log.Committed("bronze-sink", "clickstream", 0), 12);
  EXPECT_EQ(stats.records, 17);
  EXPECT_EQ(stats.by_arrival_time, 4);
  EXPECT_EQ(Lines().size(), 17u);
}

TEST_F(BronzeSinkTest, FollowScheduledRotationWritesIdleOpenFiles) {
  FakeLog log;
  ASSERT_TRUE(log.CreateTopic("clickstream", 1).ok());
  BronzeSinkOptions options;
  options.flush_size = 1000;
  options.poll_interval_ms = 5;
  options.rotate_schedule_interval_ms = 30;
  BronzeSink sink(&log, store_.get(), options);
  std::atomic<bool> stop{false};
  BronzeSinkStats stats;
  Status result;
  std::thread follower([&] { result = sink.Follow(&stop, &stats); });
  for (int i = 0; i < 3; ++i) {
    log.Add("clickstream", 0, Ev(std::to_string(i), "2024-03-01T10:00:00.000Z"), 1);
  }
  // Far below flush_size: only the schedule can write them while the sink keeps running.
  EXPECT_TRUE(WaitFor([&] { return log.Committed("bronze-sink", "clickstream", 0) == 3; }));
  EXPECT_EQ(Lines().size(), 3u);
  stop = true;
  follower.join();
  ASSERT_TRUE(result.ok()) << result.ToString();
  EXPECT_EQ(stats.records, 3);
}

TEST_F(BronzeSinkTest, FollowReturnsTheStoreError) {
  FakeLog log;
  log.Add("clickstream", 0, Ev("a", "2024-03-01T10:00:00.000Z"), 1);
  CrashingStore crashing(store_.get(), root_, 0);
  BronzeSinkOptions options;
  options.flush_size = 1;
  BronzeSink sink(&log, &crashing, options);
  std::atomic<bool> stop{false};
  BronzeSinkStats stats;
  EXPECT_EQ(sink.Follow(&stop, &stats).code(), StatusCode::kIOError);
  EXPECT_FALSE(log.Committed("bronze-sink", "clickstream", 0).has_value());
}

// The real embedded log: records appended through it, a crash before commit, a reopened log.
TEST_F(BronzeSinkTest, EmbeddedLogCrashAndRestartWritesEveryRecordOnce) {
  std::string log_dir = tmp_.path() + "/log";
  ManualClock clock(T("2024-06-01T08:00:00Z"));
  EmbeddedLogOptions log_options;
  log_options.clock = &clock;
  log_options.default_partitions = 2;
  std::vector<std::string> values;
  {
    Result<std::unique_ptr<EventLog>> log = OpenEmbeddedLog(log_dir, log_options);
    ASSERT_TRUE(log.ok()) << log.status().ToString();
    ASSERT_TRUE((*log)->CreateTopic("clickstream", 2).ok());
    std::vector<std::string> keys;
    for (int i = 0; i < 300; ++i) {
      keys.push_back(Id("user-", i % 13));
      std::string value = "{bad json ";
      if (i % 50 == 7) {
        value += std::to_string(i);
      } else {
        value = Ev(Id("e", i), FormatRfc3339Millis(T("2024-06-01T06:00:00Z") + int64_t{i} * 40000));
      }
      values.push_back(std::move(value));
    }
    std::vector<LogRecord> records;
    for (int i = 0; i < 300; ++i) records.push_back({keys[i], values[i], 0});
    ASSERT_TRUE((*log)->Append("clickstream", records).ok());
    ASSERT_TRUE((*log)->Sync().ok());
  }
  std::sort(values.begin(), values.end());

  BronzeSinkOptions options;
  options.flush_size = 16;
  options.compression = Compression::kZstd;
  {
    Result<std::unique_ptr<EventLog>> log = OpenEmbeddedLog(log_dir, log_options);
    ASSERT_TRUE(log.ok());
    CrashingStore crashing(store_.get(), root_, 9);
    EXPECT_FALSE(Run(log->get(), options, nullptr, &crashing).ok());
  }
  BronzeSinkStats stats;
  {
    Result<std::unique_ptr<EventLog>> log = OpenEmbeddedLog(log_dir, log_options);
    ASSERT_TRUE(log.ok());
    ASSERT_TRUE(Run(log->get(), options, &stats).ok());
    for (int p = 0; p < 2; ++p) {
      EXPECT_EQ((*(*log)->CommittedOffset("bronze-sink", "clickstream", p)).value(),
                (*(*log)->GetPartitionInfo("clickstream", p)).end_offset);
    }
  }
  EXPECT_EQ(Lines(), values);
  EXPECT_LT(stats.records, 300);  // what was committed before the crash is not read again
  // Records without a readable event_time are filed by the log's arrival time, 08:00.
  for (const auto& [key, data] : Bronze()) {
    if (data.find("{bad json") != std::string::npos) {
      EXPECT_NE(key.find("hour=08/"), std::string::npos) << key;
    }
  }
}

}  // namespace
}  // namespace recsys
