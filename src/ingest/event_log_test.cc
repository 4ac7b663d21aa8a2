// The EventLog contract (event_log.h), checked against every implementation through a factory,
// and Kafka-compatible partitioning.
#include "ingest/event_log.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <functional>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "core/clock.h"
#include "core/files.h"
#include "core/temp_dir.h"
#include "ingest/embedded_log.h"

namespace recsys {
namespace {

// prefix + n, spelled so that GCC 12 does not warn falsely (-Wrestrict, GCC bug 105329).
std::string Num(std::string_view prefix, int64_t n) {
  std::string s(prefix);
  s += std::to_string(n);
  return s;
}

int32_t SignedMurmur2(std::string_view s) { return static_cast<int32_t>(Murmur2(s)); }

// The first six are Kafka's own vectors (UtilsTest.testMurmur2). The others were worked out by
// an independent port of Utils.murmur2 that reproduces those six, to pin the 1-3 byte tails and
// bytes >= 0x80, which Java reads as signed and masks with 0xff.
TEST(Murmur2Test, MatchesKafka) {
  EXPECT_EQ(SignedMurmur2("21"), -973932308);
  EXPECT_EQ(SignedMurmur2("foobar"), -790332482);
  EXPECT_EQ(SignedMurmur2("a-little-bit-long-string"), -985981536);
  EXPECT_EQ(SignedMurmur2("a-little-bit-longer-string"), -1486304829);
  EXPECT_EQ(SignedMurmur2("lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8"), -58897971);
  EXPECT_EQ(SignedMurmur2("abc"), 479470107);
  EXPECT_EQ(SignedMurmur2(""), 275646681);
  EXPECT_EQ(SignedMurmur2("a"), -1563381124);
  EXPECT_EQ(SignedMurmur2("ab"), 316155434);
}

TEST(Murmur2Test, HighBytesAreReadUnsigned) {
  EXPECT_EQ(SignedMurmur2("caf\xc3\xa9"), -1358007374);
  EXPECT_EQ(SignedMurmur2("\xff\xfe\xfd\xfc\x80"), -247105293);
}

TEST(PartitionForKeyTest, IsKafkasDefaultPartitioner) {
  // (murmur2 & 0x7fffffff) % n, worked out by hand from the values above.
  EXPECT_EQ(PartitionForKey("21", 3), 0);
  EXPECT_EQ(PartitionForKey("21", 7), 3);
  EXPECT_EQ(PartitionForKey("21", 10), 0);
  EXPECT_EQ(PartitionForKey("foobar", 7), 0);
  EXPECT_EQ(PartitionForKey("a", 1), 0);
  for (int n : {1, 2, 3, 12, 1024}) {
    for (int i = 0; i < 200; ++i) {
      const std::string key = Num("user-", i);
      const int p = PartitionForKey(key, n);
      ASSERT_GE(p, 0);
      ASSERT_LT(p, n);
      ASSERT_EQ(p, static_cast<int>((Murmur2(key) & 0x7fffffffu) % static_cast<uint32_t>(n)));
    }
  }
}

TEST(PartitionForKeyTest, SpreadsKeys) {
  std::vector<int> counts(8, 0);
  for (int i = 0; i < 8000; ++i) ++counts[PartitionForKey(Num("u", i), 8)];
  for (int c : counts) {
    EXPECT_GT(c, 800);
    EXPECT_LT(c, 1200);
  }
}

// ---------------------------------------------------------------------------------------------
// The contract, for every implementation.

struct LogFactory {
  std::string name;
  // Opens a log in dir; called again on the same dir to reopen.
  std::function<std::unique_ptr<EventLog>(const std::string& dir)> open;
};

void PrintTo(const LogFactory& f, std::ostream* os) { *os << f.name; }

class EventLogContractTest : public ::testing::TestWithParam<LogFactory> {
 protected:
  void SetUp() override {
    ASSERT_FALSE(dir_.path().empty());
    log_ = GetParam().open(dir_.path());
    ASSERT_NE(log_, nullptr);
  }
  void Reopen() {
    log_.reset();
    log_ = GetParam().open(dir_.path());
    ASSERT_NE(log_, nullptr);
  }

  std::vector<FetchedRecord> ReadAll(std::string_view topic, int partition,
                                     std::vector<std::string>* values) {
    std::vector<FetchedRecord> out;
    Result<PartitionInfo> info = log_->GetPartitionInfo(topic, partition);
    EXPECT_TRUE(info.ok()) << info.status().ToString();
    if (!info.ok()) return out;
    int64_t offset = info->start_offset;
    FetchedBatch batch;
    for (;;) {
      Status st = log_->Read(topic, partition, offset, 100, 1 << 20, &batch);
      EXPECT_TRUE(st.ok()) << st.ToString();
      if (!st.ok() || batch.records.empty()) break;
      for (const FetchedRecord& r : batch.records) {
        values->push_back(std::string(r.key) + "=" + std::string(r.value));
        out.push_back({r.offset, r.timestamp_ms, {}, {}});
        offset = r.offset + 1;
      }
    }
    return out;
  }

  TempDir dir_;
  std::unique_ptr<EventLog> log_;
};

TEST_P(EventLogContractTest, CreateTopicIsIdempotentButKeepsItsPartitionCount) {
  ASSERT_TRUE(log_->CreateTopic("clickstream", 4).ok());
  EXPECT_TRUE(log_->CreateTopic("clickstream", 4).ok());
  Status st = log_->CreateTopic("clickstream", 5);
  EXPECT_EQ(st.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(st.message().find("clickstream"), std::string::npos) << st.message();
  Result<int> n = log_->PartitionCount("clickstream");
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(*n, 4);
  EXPECT_EQ(log_->PartitionCount("no-such-topic").status().code(), StatusCode::kNotFound);
  EXPECT_EQ(log_->CreateTopic("bad/name", 1).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(log_->CreateTopic("t", 0).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(log_->CreateTopic("t", 1025).code(), StatusCode::kInvalidArgument);
}

TEST_P(EventLogContractTest, RecordsWithAKeyLandOnKafkasPartitionInOrder) {
  ASSERT_TRUE(log_->CreateTopic("orders", 5).ok());
  std::vector<std::string> keys, values;
  for (int i = 0; i < 300; ++i) {
    keys.push_back(Num("user-", i % 37));
    values.push_back(Num("v", i));
  }
  std::vector<LogRecord> records;
  for (size_t i = 0; i < keys.size(); ++i)
    records.push_back({keys[i], values[i], 1000 + int64_t(i)});
  ASSERT_TRUE(log_->Append("orders", records).ok());

  std::map<int, std::vector<std::string>> expected;
  for (size_t i = 0; i < keys.size(); ++i) {
    expected[PartitionForKey(keys[i], 5)].push_back(keys[i] + "=" + values[i]);
  }
  for (int p = 0; p < 5; ++p) {
    std::vector<std::string> got;
    std::vector<FetchedRecord> meta = ReadAll("orders", p, &got);
    EXPECT_EQ(got, expected[p]) << "partition " << p;
    for (size_t i = 0; i < meta.size(); ++i) EXPECT_EQ(meta[i].offset, static_cast<int64_t>(i));
  }
}

TEST_P(EventLogContractTest, EmptyKeysAreSpreadRoundRobin) {
  ASSERT_TRUE(log_->CreateTopic("anon", 3).ok());
  std::vector<std::string> values;
  for (int i = 0; i < 30; ++i) values.push_back(Num("x", i));
  for (int batch = 0; batch < 3; ++batch) {
    std::vector<LogRecord> records;
    for (int i = 0; i < 10; ++i) records.push_back({"", values[batch * 10 + i], 0});
    ASSERT_TRUE(log_->Append("anon", records).ok());
  }
  for (int p = 0; p < 3; ++p) {
    Result<PartitionInfo> info = log_->GetPartitionInfo("anon", p);
    ASSERT_TRUE(info.ok());
    EXPECT_EQ(info->end_offset, 10) << "partition " << p;
  }
}

TEST_P(EventLogContractTest, AppendCreatesAnUnknownTopic) {
  LogRecord r{"k", "v", 0};
  ASSERT_TRUE(log_->Append("implicit", {&r, 1}).ok());
  Result<int> n = log_->PartitionCount("implicit");
  ASSERT_TRUE(n.ok()) << n.status().ToString();
  EXPECT_GE(*n, 1);
  Result<std::vector<TopicInfo>> topics = log_->ListTopics();
  ASSERT_TRUE(topics.ok());
  ASSERT_EQ(topics->size(), 1u);
  EXPECT_EQ((*topics)[0].name, "implicit");
  int64_t total = 0;
  for (const PartitionInfo& p : (*topics)[0].partitions) total += p.end_offset - p.start_offset;
  EXPECT_EQ(total, 1);
}

TEST_P(EventLogContractTest, ReadBoundsAndLimits) {
  ASSERT_TRUE(log_->CreateTopic("t", 1).ok());
  std::vector<std::string> values;
  for (int i = 0; i < 50; ++i) values.push_back(std::string(100, static_cast<char>('a' + i % 26)));
  std::vector<LogRecord> records;
  for (const std::string& v : values) records.push_back({"key", v, 5});
  ASSERT_TRUE(log_->Append("t", records).ok());

  FetchedBatch batch;
  ASSERT_TRUE(log_->Read("t", 0, 10, 7, 1 << 20, &batch).ok());
  ASSERT_EQ(batch.records.size(), 7u);
  EXPECT_EQ(batch.records[0].offset, 10);
  EXPECT_EQ(batch.records[6].offset, 16);
  EXPECT_EQ(batch.records[3].value, values[13]);
  EXPECT_EQ(batch.records[3].key, "key");
  EXPECT_EQ(batch.records[3].timestamp_ms, 5);

  // max_bytes smaller than one record still returns that record.
  ASSERT_TRUE(log_->Read("t", 0, 20, 100, 1, &batch).ok());
  ASSERT_EQ(batch.records.size(), 1u);
  EXPECT_EQ(batch.records[0].value, values[20]);

  // About 1000 bytes of 100-byte values: some records, not all.
  ASSERT_TRUE(log_->Read("t", 0, 0, 100, 1000, &batch).ok());
  EXPECT_GE(batch.records.size(), 1u);
  EXPECT_LT(batch.records.size(), 12u);

  ASSERT_TRUE(log_->Read("t", 0, 50, 10, 1 << 20, &batch).ok());
  EXPECT_TRUE(batch.records.empty());
  ASSERT_TRUE(log_->Read("t", 0, 500, 10, 1 << 20, &batch).ok());
  EXPECT_TRUE(batch.records.empty());
  EXPECT_EQ(log_->Read("t", 0, -1, 10, 1 << 20, &batch).code(), StatusCode::kOutOfRange);
  EXPECT_EQ(log_->Read("t", 1, 0, 10, 1 << 20, &batch).code(), StatusCode::kNotFound);
  EXPECT_EQ(log_->Read("nope", 0, 0, 10, 1 << 20, &batch).code(), StatusCode::kNotFound);
}

TEST_P(EventLogContractTest, OffsetsContinueAfterReopen) {
  ASSERT_TRUE(log_->CreateTopic("t", 2).ok());
  LogRecord r{"same-key", "first", 0};
  ASSERT_TRUE(log_->Append("t", {&r, 1}).ok());
  ASSERT_TRUE(log_->Append("t", {&r, 1}).ok());
  const int p = PartitionForKey("same-key", 2);
  Reopen();
  r.value = "third";
  ASSERT_TRUE(log_->Append("t", {&r, 1}).ok());
  Result<PartitionInfo> info = log_->GetPartitionInfo("t", p);
  ASSERT_TRUE(info.ok());
  EXPECT_EQ(info->start_offset, 0);
  EXPECT_EQ(info->end_offset, 3);
  FetchedBatch batch;
  ASSERT_TRUE(log_->Read("t", p, 2, 10, 1 << 20, &batch).ok());
  ASSERT_EQ(batch.records.size(), 1u);
  EXPECT_EQ(batch.records[0].value, "third");
}

TEST_P(EventLogContractTest, CommittedOffsetsAreKeptPerGroupTopicAndPartition) {
  ASSERT_TRUE(log_->CreateTopic("t", 3).ok());
  ASSERT_TRUE(log_->CreateTopic("u", 1).ok());
  Result<std::optional<int64_t>> none = log_->CommittedOffset("sink", "t", 0);
  ASSERT_TRUE(none.ok()) << none.status().ToString();
  EXPECT_FALSE(none->has_value());

  ASSERT_TRUE(log_->Commit("sink", "t", 0, 42).ok());
  ASSERT_TRUE(log_->Commit("sink", "t", 2, 7).ok());
  ASSERT_TRUE(log_->Commit("other", "t", 0, 3).ok());
  ASSERT_TRUE(log_->Commit("sink", "u", 0, 9).ok());
  ASSERT_TRUE(log_->Commit("sink", "t", 0, 43).ok());
  Reopen();
  auto get = [&](const char* g, const char* t, int p) -> std::optional<int64_t> {
    Result<std::optional<int64_t>> r = log_->CommittedOffset(g, t, p);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? *r : std::nullopt;
  };
  EXPECT_EQ(get("sink", "t", 0), 43);
  EXPECT_EQ(get("sink", "t", 1), std::nullopt);
  EXPECT_EQ(get("sink", "t", 2), 7);
  EXPECT_EQ(get("other", "t", 0), 3);
  EXPECT_EQ(get("sink", "u", 0), 9);
  EXPECT_EQ(log_->Commit("sink", "t", 0, -1).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(log_->Commit("sink", "missing", 0, 1).code(), StatusCode::kNotFound);
  EXPECT_EQ(log_->Commit("sink", "t", 3, 1).code(), StatusCode::kNotFound);
}

std::unique_ptr<EventLog> OpenEmbedded(const std::string& dir) {
  EmbeddedLogOptions options;
  options.segment_bytes = 4096;  // several segments in most tests
  options.fsync = FsyncPolicy::kNever;
  Result<std::unique_ptr<EventLog>> log = OpenEmbeddedLog(dir, options);
  EXPECT_TRUE(log.ok()) << log.status().ToString();
  return log.ok() ? std::move(log).value() : nullptr;
}

INSTANTIATE_TEST_SUITE_P(Embedded, EventLogContractTest,
                         ::testing::Values(LogFactory{"Embedded", OpenEmbedded}),
                         [](const auto& info) { return info.param.name; });

}  // namespace
}  // namespace recsys
