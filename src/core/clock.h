// Time: a Clock interface so tests can control "now", and RFC 3339 formatting and parsing.
//
// All times in recsys are milliseconds since the Unix epoch, UTC, as int64_t.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace recsys {

class Clock {
 public:
  virtual ~Clock() = default;
  virtual int64_t NowMillis() const = 0;
  // Monotonic nanoseconds, for measuring durations only.
  virtual int64_t MonotonicNanos() const = 0;
};

// The real clock. Thread-safe; never deleted.
Clock* SystemClock();

// A clock that only moves when told. Not thread-safe.
class ManualClock : public Clock {
 public:
  explicit ManualClock(int64_t now_ms) : now_ms_(now_ms) {}
  int64_t NowMillis() const override { return now_ms_; }
  int64_t MonotonicNanos() const override { return now_ms_ * 1000000; }
  void Advance(int64_t ms) { now_ms_ += ms; }
  void Set(int64_t ms) { now_ms_ = ms; }

 private:
  int64_t now_ms_;
};

// "2024-03-01T12:34:56.789Z". Always UTC, always milliseconds.
std::string FormatRfc3339Millis(int64_t ms);
// Appends the same 24 characters to *out without allocating a temporary.
void AppendRfc3339Millis(int64_t ms, std::string* out);

// Parses RFC 3339: "YYYY-MM-DDTHH:MM:SS[.fraction](Z|+HH:MM|-HH:MM)"; 't'/' ' accepted for 'T'.
// Returns nullopt for anything else, including out-of-range fields (month 13, hour 25).
std::optional<int64_t> ParseRfc3339(std::string_view text);

// Civil date parts of a UTC time.
struct CivilTime {
  int year, month, day, hour, minute, second, millis;
  int weekday;  // 0 = Sunday
};
CivilTime ToCivil(int64_t ms);
// Milliseconds since the epoch of a UTC civil time.
int64_t FromCivil(int year, int month, int day, int hour = 0, int minute = 0, int second = 0);

}  // namespace recsys
