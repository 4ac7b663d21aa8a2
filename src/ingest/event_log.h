// EventLog: the durable, partitioned, offset-addressed log that events land in (DESIGN.md §2).
//
// The embedded implementation keeps segment files under a folder (docs/formats/event-log.md);
// a Kafka implementation comes later behind the same interface, so the semantics follow Kafka:
// topics have a fixed number of partitions, a record's partition is chosen from its key,
// offsets are per partition and dense from the partition's start, consumer groups commit
// "the next offset to read".
//
// Thread safety: every method may be called from several threads at once.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace recsys {

// A record to append. The views must stay valid for the duration of the call.
struct LogRecord {
  std::string_view key;      // partitioning key; may be empty (then partitions are filled in turn)
  std::string_view value;    // the message
  int64_t timestamp_ms = 0;  // arrival (log append) time; 0 = now
};

// A record read back. key and value point into the owning FetchedBatch's buffer.
struct FetchedRecord {
  int64_t offset;
  int64_t timestamp_ms;
  std::string_view key;
  std::string_view value;
};

struct FetchedBatch {
  std::vector<FetchedRecord> records;
  std::string buffer;  // owns the bytes the records point into
  void clear() {
    records.clear();
    buffer.clear();
  }
};

struct PartitionInfo {
  int partition;
  int64_t start_offset;  // first offset still stored (retention may have removed earlier ones)
  int64_t end_offset;    // next offset to be written
  int64_t bytes;         // on disk
};

struct TopicInfo {
  std::string name;
  std::vector<PartitionInfo> partitions;
};

class EventLog {
 public:
  virtual ~EventLog() = default;

  // Creates the topic with n partitions if it does not exist. If it exists with another number
  // of partitions, returns InvalidArgument. REQUIRES: 1 <= partitions <= 1024.
  virtual Status CreateTopic(std::string_view topic, int partitions) = 0;
  virtual Result<std::vector<TopicInfo>> ListTopics() = 0;
  // The number of partitions of an existing topic; NotFound otherwise.
  virtual Result<int> PartitionCount(std::string_view topic) = 0;

  // Appends records to the topic, each to the partition its key hashes to (Kafka's murmur2, so
  // a key lands on the same partition number as with Kafka's default partitioner). Records of
  // one call that go to the same partition keep their order. Durable per the fsync policy
  // when it returns. If it fails, a prefix of the records may have been appended.
  virtual Status Append(std::string_view topic, std::span<const LogRecord> records) = 0;

  // Reads records of one partition starting at `offset`, at most max_records and roughly at
  // most max_bytes (at least one record is returned if any is there; max_records 0 counts as 1).
  // Replaces *out. An offset before the partition's start is OutOfRange; at or past the end
  // returns no records. Stored bytes that fail their check are never returned: Corruption.
  virtual Status Read(std::string_view topic, int partition, int64_t offset, size_t max_records,
                      size_t max_bytes, FetchedBatch* out) = 0;
  virtual Result<PartitionInfo> GetPartitionInfo(std::string_view topic, int partition) = 0;

  // Consumer group offsets: the next offset the group will read. nullopt if never committed.
  virtual Result<std::optional<int64_t>> CommittedOffset(std::string_view group,
                                                         std::string_view topic, int partition) = 0;
  // Durably records the group's position (written to disk and fsynced before returning).
  virtual Status Commit(std::string_view group, std::string_view topic, int partition,
                        int64_t next_offset) = 0;

  // Makes all appended records durable now, whatever the fsync policy.
  virtual Status Sync() = 0;
};

// Kafka's default partitioner: (murmur2(key) & 0x7fffffff) % partitions. REQUIRES: partitions
// >= 1. An empty key hashes like any other here; Append spreads empty keys round robin instead.
int PartitionForKey(std::string_view key, int partitions);
// Kafka's Utils.murmur2 (seed 0x9747b28c) of the bytes; the Java int's bits, as unsigned.
uint32_t Murmur2(std::string_view data);

}  // namespace recsys
