// Progress reporting for long work, on stderr: on a terminal one line rewritten in place
// (count, rate, ETA when the total is known); otherwise one plain line every few seconds, so
// logs stay readable. Not thread-safe: call from one thread.
#pragma once

#include <cstdint>
#include <string>

namespace recsys {

class Progress {
 public:
  // total < 0: unknown. enabled = false makes every call a no-op (e.g. under --quiet).
  Progress(std::string label, std::string unit, int64_t total, bool enabled = true);
  ~Progress();
  // Reports that `done` units are finished so far. Cheap: prints at most every 200 ms on a
  // terminal, every 5 s otherwise. Where the total count is unknown but the share of the work
  // done is (simulated time, bytes read), pass it as fraction in [0, 1] for the ETA.
  void Update(int64_t done, double fraction = -1);
  // Prints the final line (on a terminal, ends the rewritten line).
  void Finish(int64_t done);

 private:
  void Print(int64_t done, double fraction, bool final);
  std::string label_, unit_;
  int64_t total_;
  bool enabled_, tty_, finished_ = false;
  int64_t start_ns_, last_print_ns_;
};

// "1,234,567".
std::string FormatCount(int64_t n);

}  // namespace recsys
