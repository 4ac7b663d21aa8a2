// Collects records per topic and appends them to the event log in batches, so that the log
// sees one Append (one write per partition) per few thousand records rather than one per record.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "ingest/event_log.h"

namespace recsys {

class LogBatcher {
 public:
  // Appends a topic's batch when it holds max_records records or max_bytes bytes.
  explicit LogBatcher(EventLog* log, size_t max_records = 4096, size_t max_bytes = 4 << 20)
      : log_(log), max_records_(max_records), max_bytes_(max_bytes) {}

  // Copies key and value; timestamp 0 = the log's now.
  Status Add(std::string_view topic, std::string_view key, std::string_view value,
             int64_t timestamp_ms = 0);
  // Appends everything pending.
  Status Flush();
  int64_t appended() const { return appended_; }

 private:
  struct Pending {
    std::string arena;
    struct Span {
      size_t key_off, key_len, value_off, value_len;
      int64_t ts;
    };
    std::vector<Span> spans;
  };
  Status FlushTopic(const std::string& topic, Pending* p);

  EventLog* log_;
  size_t max_records_, max_bytes_;
  std::map<std::string, Pending, std::less<>> pending_;
  std::vector<LogRecord> records_;
  int64_t appended_ = 0;
};

}  // namespace recsys
