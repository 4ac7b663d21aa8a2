// The embedded log's own promises: its files (docs/formats/event-log.md), recovery after a
// crash, corruption never served, retention, threads, and a second log on the same folder.
#include "ingest/embedded_log.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <map>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "core/clock.h"
#include "core/crc32c.h"
#include "core/files.h"
#include "core/temp_dir.h"

namespace recsys {
namespace {

// prefix + n, spelled so that GCC 12 does not warn falsely (-Wrestrict, GCC bug 105329).
std::string Num(std::string_view prefix, int64_t n) {
  std::string s(prefix);
  s += std::to_string(n);
  return s;
}

EmbeddedLogOptions SmallSegments(int64_t segment_bytes) {
  EmbeddedLogOptions options;
  options.segment_bytes = segment_bytes;
  options.fsync = FsyncPolicy::kNever;
  return options;
}

std::unique_ptr<EventLog> Open(const std::string& dir, const EmbeddedLogOptions& options) {
  Result<std::unique_ptr<EventLog>> log = OpenEmbeddedLog(dir, options);
  EXPECT_TRUE(log.ok()) << log.status().ToString();
  return log.ok() ? std::move(log).value() : nullptr;
}

struct Rec {
  int64_t offset;
  int64_t timestamp_ms;
  std::string key;
  std::string value;
  bool operator==(const Rec&) const = default;
};

// Every record from `from` to the end, checking that offsets are dense.
std::vector<Rec> ReadFrom(EventLog* log, std::string_view topic, int partition, int64_t from,
                          size_t max_records = 64, size_t max_bytes = 1 << 16) {
  std::vector<Rec> out;
  FetchedBatch batch;
  int64_t offset = from;
  for (;;) {
    Status st = log->Read(topic, partition, offset, max_records, max_bytes, &batch);
    EXPECT_TRUE(st.ok()) << st.ToString();
    if (!st.ok() || batch.records.empty()) break;
    EXPECT_LE(batch.records.size(), max_records);
    for (const FetchedRecord& r : batch.records) {
      EXPECT_EQ(r.offset, offset);
      out.push_back({r.offset, r.timestamp_ms, std::string(r.key), std::string(r.value)});
      offset = r.offset + 1;
    }
  }
  return out;
}

std::vector<Rec> ReadAll(EventLog* log, std::string_view topic, int partition) {
  Result<PartitionInfo> info = log->GetPartitionInfo(topic, partition);
  EXPECT_TRUE(info.ok()) << info.status().ToString();
  return info.ok() ? ReadFrom(log, topic, partition, info->start_offset) : std::vector<Rec>{};
}

std::string PartitionDir(const std::string& dir, const std::string& topic, int partition) {
  return dir + "/" + topic + Num("/", partition);
}

std::vector<std::string> SegmentPaths(const std::string& pdir) {
  std::vector<std::string> out;
  Result<std::vector<std::string>> names = ListDir(pdir);
  EXPECT_TRUE(names.ok());
  if (!names.ok()) return out;
  for (const std::string& n : *names) {
    if (n.size() == 24 && n.ends_with(".log")) out.push_back(pdir + "/" + n);
  }
  return out;
}

int64_t FileSize(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0 ? st.st_size : -1;
}

uint32_t Get32(const std::string& s, size_t at) {
  return static_cast<uint32_t>(static_cast<unsigned char>(s[at])) |
         static_cast<uint32_t>(static_cast<unsigned char>(s[at + 1])) << 8 |
         static_cast<uint32_t>(static_cast<unsigned char>(s[at + 2])) << 16 |
         static_cast<uint32_t>(static_cast<unsigned char>(s[at + 3])) << 24;
}
int64_t Get64(const std::string& s, size_t at) {
  return static_cast<int64_t>(Get32(s, at) | static_cast<uint64_t>(Get32(s, at + 4)) << 32);
}
void Put32(std::string* s, uint32_t v) {
  for (int i = 0; i < 4; ++i) s->push_back(static_cast<char>(v >> (8 * i)));
}
void Put64(std::string* s, int64_t v) {
  for (int i = 0; i < 8; ++i) s->push_back(static_cast<char>(static_cast<uint64_t>(v) >> (8 * i)));
}

// Where each record frame starts, following the documented layout: a 32-byte header, then
// frames of [u32 body length][u32 crc][body].
std::vector<int64_t> FrameStarts(const std::string& path) {
  Result<std::string> data = ReadFile(path);
  EXPECT_TRUE(data.ok());
  std::vector<int64_t> starts;
  if (!data.ok()) return starts;
  size_t pos = 32;
  while (pos + 8 <= data->size()) {
    starts.push_back(static_cast<int64_t>(pos));
    pos += 8 + Get32(*data, pos);
  }
  return starts;
}

void FlipByte(const std::string& path, int64_t pos) {
  int fd = ::open(path.c_str(), O_RDWR);
  ASSERT_GE(fd, 0) << path;
  char c;
  ASSERT_EQ(::pread(fd, &c, 1, pos), 1);
  c = static_cast<char>(c ^ 0x5a);
  ASSERT_EQ(::pwrite(fd, &c, 1, pos), 1);
  ::close(fd);
}

void Truncate(const std::string& path, int64_t size) {
  ASSERT_EQ(::truncate(path.c_str(), size), 0) << path;
}

void AppendBytes(const std::string& path, const std::string& bytes) {
  int fd = ::open(path.c_str(), O_WRONLY | O_APPEND);
  ASSERT_GE(fd, 0) << path;
  ASSERT_EQ(::write(fd, bytes.data(), bytes.size()), static_cast<ssize_t>(bytes.size()));
  ::close(fd);
}

// Appends n records "v<first>".."v<first+n-1>" with key `key`, one call per `batch` records.
void AppendValues(EventLog* log, std::string_view topic, int first, int n, size_t value_size = 40,
                  std::string_view key = "k", int batch = 10) {
  std::vector<std::string> values;
  for (int i = first; i < first + n; ++i) {
    std::string v = Num("v", i);
    v.resize(std::max(value_size, v.size()), '.');
    values.push_back(v);
  }
  for (int i = 0; i < n; i += batch) {
    std::vector<LogRecord> records;
    for (int j = i; j < std::min(n, i + batch); ++j) records.push_back({key, values[j], 0});
    ASSERT_TRUE(log->Append(topic, records).ok());
  }
}

std::string ValueNumber(const std::string& value) { return value.substr(0, value.find('.')); }

// ---------------------------------------------------------------------------------------------

TEST(EmbeddedLogTest, RoundTripAcrossManySegments) {
  TempDir dir;
  auto log = Open(dir.path(), SmallSegments(512));
  ASSERT_TRUE(log->CreateTopic("t", 1).ok());
  std::mt19937 rng(7);
  std::vector<Rec> expected;
  std::vector<std::string> keys, values;
  int64_t offset = 0;
  while (offset < 400) {
    const int n = static_cast<int>(rng() % 37) + 1;
    keys.clear();
    values.clear();
    for (int i = 0; i < n; ++i) {
      keys.push_back(rng() % 4 == 0 ? "" : Num("key", rng() % 100));
      values.push_back(std::string(rng() % 120, static_cast<char>('a' + rng() % 26)));
    }
    std::vector<LogRecord> records;
    for (int i = 0; i < n; ++i) {
      const int64_t ts = 1000 + offset + i;
      records.push_back({keys[i], values[i], ts});
      expected.push_back({offset + i, ts, keys[i], values[i]});
    }
    ASSERT_TRUE(log->Append("t", records).ok());
    offset += n;
  }

  const std::vector<std::string> segments = SegmentPaths(PartitionDir(dir.path(), "t", 0));
  EXPECT_GT(segments.size(), 20u);
  for (const std::string& path : segments) {
    // Each file is named after the offset of its first record.
    Result<std::string> data = ReadFile(path);
    ASSERT_TRUE(data.ok());
    const std::string name = path.substr(path.size() - 24, 20);
    if (data->size() > 32) {
      EXPECT_EQ(Get64(*data, 32 + 8), std::stoll(name)) << path;
    }
    EXPECT_LE(FileSize(path), 512 + 160) << path;  // rolls at 512, one record may overshoot
  }

  for (auto [max_records, max_bytes] :
       {std::pair<size_t, size_t>{1, 1}, {7, 300}, {1000, 1 << 20}, {64, 0}}) {
    EXPECT_EQ(ReadFrom(log.get(), "t", 0, 0, max_records, max_bytes), expected)
        << max_records << " records, " << max_bytes << " bytes";
  }
  // Starting anywhere gives the same tail.
  for (int64_t from : {1, 13, 199, 398, 399}) {
    std::vector<Rec> tail(expected.begin() + from, expected.end());
    EXPECT_EQ(ReadFrom(log.get(), "t", 0, from, 5, 200), tail) << "from " << from;
  }

  log.reset();
  log = Open(dir.path(), SmallSegments(512));
  EXPECT_EQ(ReadAll(log.get(), "t", 0), expected);
  LogRecord next{"k", "after reopen", 9};
  ASSERT_TRUE(log->Append("t", {&next, 1}).ok());
  std::vector<Rec> last = ReadFrom(log.get(), "t", 0, offset);
  ASSERT_EQ(last.size(), 1u);
  EXPECT_EQ(last[0], (Rec{offset, 9, "k", "after reopen"}));
}

TEST(EmbeddedLogTest, SegmentFilesFollowTheDocumentedFormat) {
  TempDir dir;
  auto log = Open(dir.path(), SmallSegments(1 << 20));
  ASSERT_TRUE(log->CreateTopic("clicks", 2).ok());
  std::vector<LogRecord> records = {{"user-1", "hello", 1700000000123}, {"user-1", "", 5}};
  ASSERT_TRUE(log->Append("clicks", records).ok());
  ASSERT_TRUE(log->Sync().ok());

  Result<std::string> meta = ReadFile(dir.path() + "/clicks/topic.meta");
  ASSERT_TRUE(meta.ok());
  EXPECT_EQ(*meta, "recsys-event-log-topic 1\npartitions 2\n");

  const int p = PartitionForKey("user-1", 2);
  Result<std::string> data =
      ReadFile(PartitionDir(dir.path(), "clicks", p) + "/00000000000000000000.log");
  ASSERT_TRUE(data.ok());
  const std::string& d = *data;
  ASSERT_EQ(d.size(), 32u + (8 + 20 + 6 + 5) + (8 + 20 + 6));
  EXPECT_EQ(d.substr(0, 8), "RECSYSLG");
  EXPECT_EQ(Get32(d, 8), 1u);  // format version
  EXPECT_EQ(Get32(d, 12), 0u);
  EXPECT_EQ(Get64(d, 16), 0);  // base offset
  EXPECT_EQ(Get32(d, 24), 0u);
  EXPECT_EQ(Get32(d, 28), crc32c::Value(d.data(), 28));

  size_t at = 32;
  EXPECT_EQ(Get32(d, at), 20u + 6 + 5);
  EXPECT_EQ(Get32(d, at + 4), crc32c::Value(d.data() + at + 8, 31));
  EXPECT_EQ(Get64(d, at + 8), 0);
  EXPECT_EQ(Get64(d, at + 16), 1700000000123);
  EXPECT_EQ(Get32(d, at + 24), 6u);
  EXPECT_EQ(d.substr(at + 28, 11), "user-1hello");
  at += 8 + 31;
  EXPECT_EQ(Get32(d, at), 26u);
  EXPECT_EQ(Get32(d, at + 4), crc32c::Value(d.data() + at + 8, 26));
  EXPECT_EQ(Get64(d, at + 8), 1);
  EXPECT_EQ(Get64(d, at + 16), 5);

  ASSERT_TRUE(log->Commit("sink", "clicks", p, 2).ok());
  Result<std::string> offset = ReadFile(dir.path() + Num("/_groups/sink/clicks/", p) + ".offset");
  ASSERT_TRUE(offset.ok());
  EXPECT_EQ(*offset, "recsys-group-offset 1\n2\n");
}

// Files put together by hand from docs/formats/event-log.md (version 1), as an earlier build
// would have left them: the log must read them and carry on.
TEST(EmbeddedLogTest, ReadsAVersion1LogBuiltFromTheSpec) {
  TempDir dir;
  const std::string pdir = PartitionDir(dir.path(), "legacy", 0);
  ASSERT_TRUE(CreateDirs(pdir).ok());
  ASSERT_TRUE(
      WriteFileAtomic(dir.path() + "/legacy/topic.meta", "recsys-event-log-topic 1\npartitions 1\n")
          .ok());
  std::string seg = "RECSYSLG";
  Put32(&seg, 1);
  Put32(&seg, 0);
  Put64(&seg, 100);  // a log whose first 100 records retention removed
  Put32(&seg, 0);
  Put32(&seg, crc32c::Value(seg.data(), 28));
  for (int i = 0; i < 3; ++i) {
    std::string body;
    Put64(&body, 100 + i);
    Put64(&body, 1600000000000 + i);
    Put32(&body, 2);
    body += Num("k", i) + Num("value-", i);
    Put32(&seg, static_cast<uint32_t>(body.size()));
    Put32(&seg, crc32c::Value(body));
    seg += body;
  }
  ASSERT_TRUE(WriteFileAtomic(pdir + "/00000000000000000100.log", seg).ok());
  ASSERT_TRUE(CreateDirs(dir.path() + "/_groups/old-sink/legacy").ok());
  ASSERT_TRUE(WriteFileAtomic(dir.path() + "/_groups/old-sink/legacy/0.offset",
                              "recsys-group-offset 1\n101\n")
                  .ok());

  auto log = Open(dir.path(), SmallSegments(1 << 20));
  Result<PartitionInfo> info = log->GetPartitionInfo("legacy", 0);
  ASSERT_TRUE(info.ok()) << info.status().ToString();
  EXPECT_EQ(info->start_offset, 100);
  EXPECT_EQ(info->end_offset, 103);
  EXPECT_EQ(ReadAll(log.get(), "legacy", 0),
            (std::vector<Rec>{{100, 1600000000000, "k0", "value-0"},
                              {101, 1600000000001, "k1", "value-1"},
                              {102, 1600000000002, "k2", "value-2"}}));
  Result<std::optional<int64_t>> committed = log->CommittedOffset("old-sink", "legacy", 0);
  ASSERT_TRUE(committed.ok());
  EXPECT_EQ(*committed, 101);
  LogRecord r{"k3", "value-3", 7};
  ASSERT_TRUE(log->Append("legacy", {&r, 1}).ok());
  std::vector<Rec> tail = ReadFrom(log.get(), "legacy", 0, 103);
  ASSERT_EQ(tail.size(), 1u);
  EXPECT_EQ(tail[0].value, "value-3");
}

TEST(EmbeddedLogTest, RefusesNewerFormatVersionsWithoutTouchingThem) {
  TempDir dir;
  ASSERT_TRUE(CreateDirs(dir.path() + "/future/0").ok());
  ASSERT_TRUE(
      WriteFileAtomic(dir.path() + "/future/topic.meta", "recsys-event-log-topic 2\npartitions 1\n")
          .ok());
  Result<std::unique_ptr<EventLog>> log = OpenEmbeddedLog(dir.path(), SmallSegments(1 << 20));
  ASSERT_FALSE(log.ok());
  EXPECT_NE(log.status().message().find("future/topic.meta"), std::string::npos)
      << log.status().ToString();
  EXPECT_NE(log.status().message().find("version 2"), std::string::npos);
}

TEST(EmbeddedLogTest, TornTailIsCutOffAtReopen) {
  std::mt19937 rng(42);
  for (int round = 0; round < 6; ++round) {
    TempDir dir;
    auto log = Open(dir.path(), SmallSegments(1 << 20));
    ASSERT_TRUE(log->CreateTopic("t", 1).ok());
    AppendValues(log.get(), "t", 0, 20);
    log.reset();

    const std::string seg = PartitionDir(dir.path(), "t", 0) + "/00000000000000000000.log";
    std::vector<int64_t> starts = FrameStarts(seg);
    ASSERT_EQ(starts.size(), 20u);
    const int64_t last_start = starts.back();
    const int64_t last_end = FileSize(seg);
    // Anywhere strictly inside the last frame: inside its length, CRC, offset, key or value.
    const int64_t cut =
        round == 0 ? last_start + 1 : last_start + 1 + rng() % (last_end - last_start - 1);
    Truncate(seg, cut);

    log = Open(dir.path(), SmallSegments(1 << 20));
    Result<PartitionInfo> info = log->GetPartitionInfo("t", 0);
    ASSERT_TRUE(info.ok());
    EXPECT_EQ(info->end_offset, 19) << "cut at " << cut;
    EXPECT_EQ(FileSize(seg), last_start) << "the partial frame is gone from the file";
    std::vector<Rec> got = ReadAll(log.get(), "t", 0);
    ASSERT_EQ(got.size(), 19u);
    for (int i = 0; i < 19; ++i) EXPECT_EQ(ValueNumber(got[i].value), Num("v", i));

    AppendValues(log.get(), "t", 100, 2);
    got = ReadAll(log.get(), "t", 0);
    ASSERT_EQ(got.size(), 21u);
    EXPECT_EQ(got[19].offset, 19);
    EXPECT_EQ(ValueNumber(got[19].value), "v100");
    EXPECT_EQ(ValueNumber(got[20].value), "v101");
  }
}

TEST(EmbeddedLogTest, CorruptRecordInTheActiveSegmentEndsTheLog) {
  // {record to damage, byte within its frame}: the value of the last record, the length of a
  // middle one, the offset field of another.
  const std::vector<std::pair<int, int>> cases = {{19, 40}, {9, 1}, {4, 9}};
  for (auto [victim, byte] : cases) {
    TempDir dir;
    auto log = Open(dir.path(), SmallSegments(1 << 20));
    ASSERT_TRUE(log->CreateTopic("t", 1).ok());
    AppendValues(log.get(), "t", 0, 20);
    log.reset();
    const std::string seg = PartitionDir(dir.path(), "t", 0) + "/00000000000000000000.log";
    const std::vector<int64_t> starts = FrameStarts(seg);
    FlipByte(seg, starts[victim] + byte);

    log = Open(dir.path(), SmallSegments(1 << 20));
    std::vector<Rec> got = ReadAll(log.get(), "t", 0);
    ASSERT_EQ(got.size(), static_cast<size_t>(victim)) << "victim " << victim;
    for (int i = 0; i < victim; ++i) EXPECT_EQ(ValueNumber(got[i].value), Num("v", i));
    EXPECT_EQ(FileSize(seg), starts[victim]);
    FetchedBatch batch;
    ASSERT_TRUE(log->Read("t", 0, victim, 10, 1 << 20, &batch).ok());
    EXPECT_TRUE(batch.records.empty());

    AppendValues(log.get(), "t", 500, 1);
    got = ReadFrom(log.get(), "t", 0, victim);
    ASSERT_EQ(got.size(), 1u);
    EXPECT_EQ(got[0].offset, victim);
    EXPECT_EQ(ValueNumber(got[0].value), "v500");
  }
}

TEST(EmbeddedLogTest, CorruptClosedSegmentIsReportedNotServed) {
  TempDir dir;
  auto log = Open(dir.path(), SmallSegments(1024));
  ASSERT_TRUE(log->CreateTopic("t", 1).ok());
  AppendValues(log.get(), "t", 0, 60, 100);
  log.reset();

  const std::vector<std::string> segments = SegmentPaths(PartitionDir(dir.path(), "t", 0));
  ASSERT_GE(segments.size(), 4u);
  const std::string& first = segments[0];
  const std::vector<int64_t> starts = FrameStarts(first);
  ASSERT_GE(starts.size(), 4u);
  const int64_t bad_pos = starts[2];
  FlipByte(first, bad_pos + 8 + 20 + 1 + 10);  // inside the value of offset 2

  log = Open(dir.path(), SmallSegments(1024));
  Result<PartitionInfo> info = log->GetPartitionInfo("t", 0);
  ASSERT_TRUE(info.ok());
  EXPECT_EQ(info->end_offset, 60) << "closed segments are not cut at open";

  FetchedBatch batch;
  // A read that reaches the bad record stops in front of it...
  ASSERT_TRUE(log->Read("t", 0, 0, 100, 1 << 20, &batch).ok());
  ASSERT_EQ(batch.records.size(), 2u);
  EXPECT_EQ(batch.records[1].offset, 1);
  // ...and the next one, which would have to serve it, says why it cannot.
  Status st = log->Read("t", 0, 2, 100, 1 << 20, &batch);
  EXPECT_EQ(st.code(), StatusCode::kCorruption) << st.ToString();
  EXPECT_NE(st.message().find(first), std::string::npos) << st.message();
  EXPECT_NE(st.message().find(Num("byte ", bad_pos)), std::string::npos) << st.message();
  EXPECT_TRUE(batch.records.empty());

  // Other segments are unaffected.
  std::vector<Rec> later = ReadFrom(log.get(), "t", 0, starts.size());
  ASSERT_EQ(later.size(), 60 - starts.size());
  EXPECT_EQ(ValueNumber(later.back().value), "v59");
  // Appends carry on.
  AppendValues(log.get(), "t", 60, 1, 100);
  info = log->GetPartitionInfo("t", 0);
  ASSERT_TRUE(info.ok());
  EXPECT_EQ(info->end_offset, 61);
}

TEST(EmbeddedLogTest, ActiveSegmentWithDamagedHeaderAndNoRecordsIsRecreated) {
  TempDir dir;
  auto log = Open(dir.path(), SmallSegments(512));
  ASSERT_TRUE(log->CreateTopic("t", 1).ok());
  ASSERT_TRUE(log->CreateTopic("empty", 1).ok());
  AppendValues(log.get(), "t", 0, 30, 60);
  log.reset();
  // A crash while rolling left the next segment with part of its header.
  const std::string pdir = PartitionDir(dir.path(), "t", 0);
  const std::string stub = pdir + "/00000000000000000030.log";
  ASSERT_FALSE(FileExists(stub));
  ASSERT_TRUE(WriteFileAtomic(stub, "RECSYSLG\x01").ok());
  // And a flipped bit in the header of a segment that holds no records yet.
  const std::string empty = PartitionDir(dir.path(), "empty", 0) + "/00000000000000000000.log";
  FlipByte(empty, 20);

  log = Open(dir.path(), SmallSegments(512));
  AppendValues(log.get(), "t", 1000, 1, 60);
  AppendValues(log.get(), "empty", 1000, 1, 60);
  std::vector<Rec> all = ReadAll(log.get(), "t", 0);
  ASSERT_EQ(all.size(), 31u);
  EXPECT_EQ(all.back().offset, 30);
  EXPECT_EQ(ValueNumber(all.back().value), "v1000");
  EXPECT_EQ(ValueNumber(all[29].value), "v29");
  all = ReadAll(log.get(), "empty", 0);
  ASSERT_EQ(all.size(), 1u);
  EXPECT_EQ(ValueNumber(all[0].value), "v1000");
  for (const std::string& path : {stub, empty}) {
    Result<std::string> data = ReadFile(path);
    ASSERT_TRUE(data.ok());
    EXPECT_EQ(data->substr(0, 8), "RECSYSLG");
    EXPECT_GT(data->size(), 32u);
  }
}

TEST(EmbeddedLogTest, DamagedHeaderInFrontOfRecordsIsCorruptionNotDataLoss) {
  TempDir dir;
  auto log = Open(dir.path(), SmallSegments(1 << 20));
  ASSERT_TRUE(log->CreateTopic("t", 1).ok());
  AppendValues(log.get(), "t", 0, 5);
  log.reset();
  const std::string seg = PartitionDir(dir.path(), "t", 0) + "/00000000000000000000.log";
  const int64_t size = FileSize(seg);
  FlipByte(seg, 2);  // the magic

  log = Open(dir.path(), SmallSegments(1 << 20));
  FetchedBatch batch;
  EXPECT_EQ(log->Read("t", 0, 0, 10, 1 << 20, &batch).code(), StatusCode::kCorruption);
  LogRecord r{"k", "v", 0};
  Status st = log->Append("t", {&r, 1});
  EXPECT_EQ(st.code(), StatusCode::kCorruption);
  EXPECT_NE(st.message().find(seg), std::string::npos) << st.message();
  EXPECT_EQ(FileSize(seg), size) << "the records behind the header are kept";
}

TEST(EmbeddedLogTest, OversizedRecordsAreRefusedWhole) {
  TempDir dir;
  EmbeddedLogOptions options = SmallSegments(1 << 20);
  options.max_record_bytes = 100;
  auto log = Open(dir.path(), options);
  ASSERT_TRUE(log->CreateTopic("orders", 1).ok());
  std::string big(101, 'x');
  std::vector<LogRecord> records = {{"", "fine", 0}, {"", big, 0}};
  Status st = log->Append("orders", records);
  EXPECT_EQ(st.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(st.message().find("orders"), std::string::npos) << st.message();
  Result<PartitionInfo> info = log->GetPartitionInfo("orders", 0);
  ASSERT_TRUE(info.ok());
  EXPECT_EQ(info->end_offset, 0);
  records[1].value = std::string_view(big).substr(0, 99);
  records[1].key = "k";
  EXPECT_TRUE(log->Append("orders", records).ok());
}

TEST(EmbeddedLogTest, ImplicitTopicsGetDefaultPartitionsAndTimestampsComeFromTheClock) {
  TempDir dir;
  ManualClock clock(1700000000000);
  EmbeddedLogOptions options = SmallSegments(1 << 20);
  options.default_partitions = 4;
  options.clock = &clock;
  auto log = Open(dir.path(), options);
  std::vector<LogRecord> records = {{"a", "now", 0}, {"a", "explicit", 12345}};
  ASSERT_TRUE(log->Append("new-topic", records).ok());
  Result<int> n = log->PartitionCount("new-topic");
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(*n, 4);
  std::vector<Rec> got = ReadAll(log.get(), "new-topic", PartitionForKey("a", 4));
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0].timestamp_ms, 1700000000000);
  EXPECT_EQ(got[1].timestamp_ms, 12345);
  LogRecord bad{"k", "v", 0};
  EXPECT_EQ(log->Append("no spaces", {&bad, 1}).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(log->Append("_groups", {&bad, 1}).code(), StatusCode::kInvalidArgument);
}

TEST(EmbeddedLogTest, KeysStayOnTheirPartitionAcrossCallsAndReopens) {
  TempDir dir;
  auto log = Open(dir.path(), SmallSegments(4096));
  ASSERT_TRUE(log->CreateTopic("users", 6).ok());
  std::map<std::string, std::vector<std::string>> sent;
  for (int round = 0; round < 3; ++round) {
    if (round == 2) log = Open(dir.path(), SmallSegments(4096));
    for (int u = 0; u < 25; ++u) {
      const std::string key = Num("user-", u);
      const std::string value = key + Num("@", round);
      LogRecord r{key, value, 0};
      ASSERT_TRUE(log->Append("users", {&r, 1}).ok());
      sent[key].push_back(value);
    }
  }
  std::map<std::string, std::vector<std::string>> seen;
  for (int p = 0; p < 6; ++p) {
    for (const Rec& r : ReadAll(log.get(), "users", p)) {
      EXPECT_EQ(p, PartitionForKey(r.key, 6)) << r.key;
      seen[r.key].push_back(r.value);
    }
  }
  EXPECT_EQ(seen, sent);
}

TEST(EmbeddedLogTest, ConcurrentAppendsLandExactlyOnce) {
  TempDir dir;
  auto log = Open(dir.path(), SmallSegments(16 << 10));
  ASSERT_TRUE(log->CreateTopic("t", 3).ok());
  constexpr int kThreads = 4;
  constexpr int kPerThread = 1500;
  std::atomic<bool> done{false};
  std::atomic<int> reader_errors{0};
  std::thread reader([&] {
    // Reads partition 0 while it grows: every record it sees is whole and in offset order.
    int64_t next = 0;
    FetchedBatch batch;
    while (!done.load()) {
      if (!log->Read("t", 0, next, 50, 1 << 16, &batch).ok()) ++reader_errors;
      for (const FetchedRecord& r : batch.records) {
        if (r.offset != next || r.value.substr(0, 1) != "t") ++reader_errors;
        next = r.offset + 1;
      }
    }
  });
  std::vector<std::thread> writers;
  for (int t = 0; t < kThreads; ++t) {
    writers.emplace_back([&, t] {
      std::mt19937 rng(t);
      int i = 0;
      while (i < kPerThread) {
        const int n = std::min(kPerThread - i, static_cast<int>(rng() % 40) + 1);
        std::vector<std::string> keys, values;
        for (int j = i; j < i + n; ++j) {
          keys.push_back(j % 5 == 0 ? "" : Num("key-", j % 17));
          values.push_back(Num("t", t) + Num(":", j));
        }
        std::vector<LogRecord> records;
        for (int j = 0; j < n; ++j) records.push_back({keys[j], values[j], 0});
        Status st = log->Append("t", records);
        ASSERT_TRUE(st.ok()) << st.ToString();
        i += n;
      }
    });
  }
  for (std::thread& w : writers) w.join();
  done = true;
  reader.join();
  EXPECT_EQ(reader_errors.load(), 0);

  std::set<std::string> seen;
  size_t total = 0;
  for (int p = 0; p < 3; ++p) {
    std::map<int, int> last_of_thread;  // a thread's records keep their order in a partition
    for (const Rec& r : ReadAll(log.get(), "t", p)) {
      ++total;
      seen.insert(r.value);
      const int t = r.value[1] - '0';
      const int j = std::stoi(r.value.substr(3));
      auto it = last_of_thread.find(t);
      if (it != last_of_thread.end()) {
        EXPECT_LT(it->second, j) << r.value;
      }
      last_of_thread[t] = j;
      if (!r.key.empty()) {
        EXPECT_EQ(PartitionForKey(r.key, 3), p);
      }
    }
  }
  EXPECT_EQ(total, static_cast<size_t>(kThreads * kPerThread));
  EXPECT_EQ(seen.size(), static_cast<size_t>(kThreads * kPerThread));
}

TEST(EmbeddedLogTest, ConsumerOffsetsSurviveReopen) {
  TempDir dir;
  {
    auto log = Open(dir.path(), SmallSegments(4096));
    ASSERT_TRUE(log->CreateTopic("clickstream", 3).ok());
    for (int p = 0; p < 3; ++p) ASSERT_TRUE(log->Commit("s3-sink", "clickstream", p, 10 * p).ok());
    ASSERT_TRUE(log->Commit("s3-sink", "clickstream", 1, 11).ok());
  }
  auto log = Open(dir.path(), SmallSegments(4096));
  for (int p = 0; p < 3; ++p) {
    Result<std::optional<int64_t>> got = log->CommittedOffset("s3-sink", "clickstream", p);
    ASSERT_TRUE(got.ok());
    EXPECT_EQ(*got, p == 1 ? 11 : 10 * p);
  }
  Result<std::optional<int64_t>> other = log->CommittedOffset("another", "clickstream", 0);
  ASSERT_TRUE(other.ok());
  EXPECT_FALSE(other->has_value());
  EXPECT_EQ(log->CommittedOffset("bad/group", "clickstream", 0).status().code(),
            StatusCode::kInvalidArgument);

  // A damaged offset file is reported with its path, not read as some offset.
  const std::string path = dir.path() + "/_groups/s3-sink/clickstream/2.offset";
  ASSERT_TRUE(WriteFileAtomic(path, "recsys-group-offset 1\n2x\n").ok());
  Result<std::optional<int64_t>> bad = log->CommittedOffset("s3-sink", "clickstream", 2);
  EXPECT_EQ(bad.status().code(), StatusCode::kCorruption);
  EXPECT_NE(bad.status().message().find(path), std::string::npos);
}

TEST(EmbeddedLogTest, RetentionByBytesDeletesOldestClosedSegments) {
  TempDir dir;
  EmbeddedLogOptions options = SmallSegments(1024);
  options.retention_bytes = 4096;
  auto log = Open(dir.path(), options);
  ASSERT_TRUE(log->CreateTopic("t", 1).ok());
  AppendValues(log.get(), "t", 0, 200, 100, "k", 5);

  Result<PartitionInfo> info = log->GetPartitionInfo("t", 0);
  ASSERT_TRUE(info.ok());
  EXPECT_EQ(info->end_offset, 200);
  EXPECT_GT(info->start_offset, 100);
  EXPECT_LE(info->bytes, 4096 + 1024);
  const std::vector<std::string> segments = SegmentPaths(PartitionDir(dir.path(), "t", 0));
  int64_t on_disk = 0;
  for (const std::string& s : segments) on_disk += FileSize(s);
  EXPECT_EQ(on_disk, info->bytes);
  EXPECT_EQ(std::stoll(segments.front().substr(segments.front().size() - 24, 20)),
            info->start_offset);

  FetchedBatch batch;
  EXPECT_EQ(log->Read("t", 0, info->start_offset - 1, 10, 1 << 20, &batch).code(),
            StatusCode::kOutOfRange);
  EXPECT_EQ(log->Read("t", 0, 0, 10, 1 << 20, &batch).code(), StatusCode::kOutOfRange);
  std::vector<Rec> kept = ReadAll(log.get(), "t", 0);
  ASSERT_EQ(kept.size(), static_cast<size_t>(200 - info->start_offset));
  EXPECT_EQ(ValueNumber(kept.back().value), "v199");

  // Tightening the limit and applying it by hand; the active segment always stays.
  log.reset();
  options.retention_bytes = 0;
  log = Open(dir.path(), options);
  int64_t deleted = -1;
  ASSERT_TRUE(ApplyRetention(log.get(), &deleted).ok());
  EXPECT_EQ(deleted, static_cast<int64_t>(segments.size()) - 1);
  EXPECT_EQ(SegmentPaths(PartitionDir(dir.path(), "t", 0)).size(), 1u);
  info = log->GetPartitionInfo("t", 0);
  ASSERT_TRUE(info.ok());
  EXPECT_EQ(info->end_offset, 200);
  EXPECT_EQ(ReadAll(log.get(), "t", 0).size(), static_cast<size_t>(200 - info->start_offset));
}

TEST(EmbeddedLogTest, RetentionByAgeUsesRecordTimesAndTheClock) {
  TempDir dir;
  ManualClock clock(1700000000000);
  EmbeddedLogOptions options = SmallSegments(1024);
  options.retention_ms = 60000;
  options.clock = &clock;
  auto log = Open(dir.path(), options);
  ASSERT_TRUE(log->CreateTopic("t", 1).ok());
  AppendValues(log.get(), "t", 0, 30, 100);  // stamped with the clock: t0
  clock.Advance(30000);
  AppendValues(log.get(), "t", 30, 30, 100);  // t0 + 30 s
  int64_t deleted = -1;
  ASSERT_TRUE(ApplyRetention(log.get(), &deleted).ok());
  EXPECT_EQ(deleted, 0) << "nothing is older than a minute yet";

  clock.Advance(45000);  // the first batch is 75 s old, the second 45 s
  ASSERT_TRUE(ApplyRetention(log.get(), &deleted).ok());
  EXPECT_GT(deleted, 0);
  Result<PartitionInfo> info = log->GetPartitionInfo("t", 0);
  ASSERT_TRUE(info.ok());
  EXPECT_GT(info->start_offset, 0);
  EXPECT_LE(info->start_offset, 30) << "segments holding newer records are kept";
  std::vector<Rec> kept = ReadAll(log.get(), "t", 0);
  ASSERT_EQ(kept.size(), static_cast<size_t>(60 - info->start_offset));
  for (const Rec& r : kept) {
    if (r.offset >= 30) {
      EXPECT_EQ(r.timestamp_ms, 1700000030000);
    }
  }

  // Retention also runs by itself whenever a segment rolls. The segment active now receives
  // new records before it closes, so it stays.
  clock.Advance(3600000);
  const std::string active = SegmentPaths(PartitionDir(dir.path(), "t", 0)).back();
  const int64_t active_base = std::stoll(active.substr(active.size() - 24, 20));
  EXPECT_GT(active_base, info->start_offset);
  AppendValues(log.get(), "t", 60, 40, 100);
  info = log->GetPartitionInfo("t", 0);
  ASSERT_TRUE(info.ok());
  EXPECT_EQ(info->start_offset, active_base);
  EXPECT_EQ(info->end_offset, 100);

  // Everything is old now, but the active segment is never deleted.
  clock.Advance(3600000);
  ASSERT_TRUE(ApplyRetention(log.get(), &deleted).ok());
  EXPECT_GT(deleted, 0);
  EXPECT_EQ(SegmentPaths(PartitionDir(dir.path(), "t", 0)).size(), 1u);
  info = log->GetPartitionInfo("t", 0);
  ASSERT_TRUE(info.ok());
  EXPECT_EQ(info->end_offset, 100);
  EXPECT_GT(info->start_offset, active_base);
  EXPECT_EQ(ReadAll(log.get(), "t", 0).size(), static_cast<size_t>(100 - info->start_offset));
}

TEST(EmbeddedLogTest, SparseIndexFindsRecordsInBigSegments) {
  TempDir dir;
  const EmbeddedLogOptions options = SmallSegments(256 << 10);
  auto log = Open(dir.path(), options);
  ASSERT_TRUE(log->CreateTopic("t", 1).ok());
  std::mt19937 rng(3);
  std::vector<std::string> values;
  for (int i = 0; i < 3000; ++i) {
    values.push_back(Num("v", i) + std::string(200 + rng() % 200, '.'));
  }
  for (int i = 0; i < 3000; i += 100) {
    std::vector<LogRecord> records;
    for (int j = i; j < i + 100; ++j) records.push_back({"", values[j], 0});
    ASSERT_TRUE(log->Append("t", records).ok());
  }
  const std::string pdir = PartitionDir(dir.path(), "t", 0);
  ASSERT_GE(SegmentPaths(pdir).size(), 3u);

  auto check_random_reads = [&](const char* when) {
    std::mt19937 pick(11);
    FetchedBatch batch;
    for (int k = 0; k < 300; ++k) {
      const int64_t offset = pick() % 3000;
      const size_t n = pick() % 5 + 1;
      ASSERT_TRUE(log->Read("t", 0, offset, n, 1 << 20, &batch).ok()) << when;
      ASSERT_FALSE(batch.records.empty()) << when;
      ASSERT_LE(batch.records.size(), n);
      for (size_t j = 0; j < batch.records.size(); ++j) {
        ASSERT_EQ(batch.records[j].offset, offset + static_cast<int64_t>(j)) << when;
        ASSERT_EQ(batch.records[j].value, values[offset + j]) << when;
      }
    }
  };
  check_random_reads("while writing");
  log.reset();
  log = Open(dir.path(), options);
  check_random_reads("after reopen");

  // The index files are a cache: damaged or missing, they are rebuilt.
  log.reset();
  bool damaged_one = false;
  Result<std::vector<std::string>> names = ListDir(pdir);
  ASSERT_TRUE(names.ok());
  for (const std::string& name : *names) {
    if (!name.ends_with(".index")) continue;
    if (!damaged_one) {
      FlipByte(pdir + "/" + name, 50);
      damaged_one = true;
    } else {
      ASSERT_EQ(::unlink((pdir + "/" + name).c_str()), 0);
    }
  }
  EXPECT_TRUE(damaged_one);
  log = Open(dir.path(), options);
  check_random_reads("without index files");
}

TEST(EmbeddedLogTest, SecondLogOnTheSameFolderFollowsTheWriter) {
  TempDir dir;
  const EmbeddedLogOptions options = SmallSegments(1024);
  auto writer = Open(dir.path(), options);  // the `recsys ingest` process
  auto reader = Open(dir.path(), options);  // the `recsys sink` process
  ASSERT_NE(writer, nullptr);
  ASSERT_NE(reader, nullptr);
  ASSERT_TRUE(writer->CreateTopic("clickstream", 1).ok());
  AppendValues(writer.get(), "clickstream", 0, 10, 100);

  std::vector<Rec> got = ReadFrom(reader.get(), "clickstream", 0, 0);
  ASSERT_EQ(got.size(), 10u);
  FetchedBatch batch;
  ASSERT_TRUE(reader->Read("clickstream", 0, 10, 10, 1 << 20, &batch).ok());
  EXPECT_TRUE(batch.records.empty());

  // More records, across several segment rolls, show up as the writer appends them.
  for (int round = 1; round <= 5; ++round) {
    AppendValues(writer.get(), "clickstream", round * 10, 10, 100);
    std::vector<Rec> more = ReadFrom(reader.get(), "clickstream", 0, got.size());
    got.insert(got.end(), more.begin(), more.end());
    ASSERT_EQ(got.size(), static_cast<size_t>(10 * (round + 1)));
  }
  for (size_t i = 0; i < got.size(); ++i) EXPECT_EQ(ValueNumber(got[i].value), Num("v", i));
  Result<PartitionInfo> info = reader->GetPartitionInfo("clickstream", 0);
  ASSERT_TRUE(info.ok());
  EXPECT_EQ(info->end_offset, 60);
  Result<std::vector<TopicInfo>> topics = reader->ListTopics();
  ASSERT_TRUE(topics.ok());
  ASSERT_EQ(topics->size(), 1u);

  // Only one of them may write a partition; committing offsets is fine for both.
  LogRecord r{"k", "from the reader", 0};
  Status st = reader->Append("clickstream", {&r, 1});
  EXPECT_EQ(st.code(), StatusCode::kUnavailable) << st.ToString();
  EXPECT_NE(st.message().find("another process"), std::string::npos);
  EXPECT_TRUE(reader->Commit("sink", "clickstream", 0, 60).ok());
  Result<std::optional<int64_t>> committed = writer->CommittedOffset("sink", "clickstream", 0);
  ASSERT_TRUE(committed.ok());
  EXPECT_EQ(*committed, 60);

  // A topic the writer creates later is found by the reader too.
  AppendValues(writer.get(), "user-events", 0, 3, 10);
  Result<int> n = reader->PartitionCount("user-events");
  ASSERT_TRUE(n.ok()) << n.status().ToString();

  // Once the writer is gone, the other log may write, after the last offset.
  writer.reset();
  ASSERT_TRUE(reader->Append("clickstream", {&r, 1}).ok());
  std::vector<Rec> last = ReadFrom(reader.get(), "clickstream", 0, 60);
  ASSERT_EQ(last.size(), 1u);
  EXPECT_EQ(last[0].value, "from the reader");
}

TEST(EmbeddedLogTest, OpeningDoesNotCutATailThatALiveWriterOwns) {
  TempDir dir;
  const EmbeddedLogOptions options = SmallSegments(1 << 20);
  auto writer = Open(dir.path(), options);
  ASSERT_TRUE(writer->CreateTopic("t", 1).ok());
  AppendValues(writer.get(), "t", 0, 5);
  const std::string seg = PartitionDir(dir.path(), "t", 0) + "/00000000000000000000.log";
  const int64_t size = FileSize(seg);
  // What another process sees while the writer's write() is half done.
  AppendBytes(seg, std::string("\x40\x00\x00\x00\x12\x34", 6));

  auto reader = Open(dir.path(), options);
  EXPECT_EQ(FileSize(seg), size + 6);
  std::vector<Rec> got = ReadAll(reader.get(), "t", 0);
  EXPECT_EQ(got.size(), 5u);

  AppendValues(writer.get(), "t", 5, 1);
  got = ReadFrom(reader.get(), "t", 0, 5);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(ValueNumber(got[0].value), "v5");
}

TEST(EmbeddedLogTest, EveryFsyncPolicyKeepsRecordsAcrossReopen) {
  for (FsyncPolicy policy : {FsyncPolicy::kAlways, FsyncPolicy::kInterval, FsyncPolicy::kNever}) {
    TempDir dir;
    ManualClock clock(1700000000000);
    EmbeddedLogOptions options = SmallSegments(1024);
    options.fsync = policy;
    options.fsync_interval_ms = 1000;
    options.clock = &clock;
    auto log = Open(dir.path(), options);
    AppendValues(log.get(), "t", 0, 20, 100, "k", 3);
    clock.Advance(1500);
    AppendValues(log.get(), "t", 20, 5, 100, "k", 3);
    ASSERT_TRUE(log->Sync().ok());
    log.reset();
    log = Open(dir.path(), options);
    std::vector<Rec> got = ReadAll(log.get(), "t", PartitionForKey("k", 3));
    ASSERT_EQ(got.size(), 25u) << static_cast<int>(policy);
    EXPECT_EQ(ValueNumber(got.back().value), "v24");
  }
}

TEST(EmbeddedLogTest, RejectsBadOptions) {
  TempDir dir;
  EmbeddedLogOptions options;
  options.segment_bytes = 10;
  EXPECT_EQ(OpenEmbeddedLog(dir.path(), options).status().code(), StatusCode::kInvalidArgument);
  options = EmbeddedLogOptions();
  options.default_partitions = 0;
  EXPECT_EQ(OpenEmbeddedLog(dir.path(), options).status().code(), StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace recsys
