#include "core/progress.h"

#include <unistd.h>

#include <cstdio>

#include "core/clock.h"

namespace recsys {

std::string FormatCount(int64_t n) {
  std::string digits = std::to_string(n < 0 ? -n : n);
  std::string out;
  int lead = static_cast<int>(digits.size() % 3);
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i != 0 && (static_cast<int>(i) - lead) % 3 == 0) out += ',';
    out += digits[i];
  }
  return n < 0 ? "-" + out : out;
}

Progress::Progress(std::string label, std::string unit, int64_t total, bool enabled)
    : label_(std::move(label)),
      unit_(std::move(unit)),
      total_(total),
      enabled_(enabled),
      tty_(isatty(STDERR_FILENO) == 1),
      start_ns_(SystemClock()->MonotonicNanos()),
      last_print_ns_(start_ns_) {}

Progress::~Progress() {
  if (enabled_ && tty_ && !finished_ && last_print_ns_ != start_ns_) std::fputc('\n', stderr);
}

void Progress::Update(int64_t done, double fraction) {
  if (!enabled_) return;
  int64_t now = SystemClock()->MonotonicNanos();
  int64_t every = tty_ ? 200000000 : 5000000000;
  if (now - last_print_ns_ < every) return;
  last_print_ns_ = now;
  Print(done, fraction, false);
}

void Progress::Finish(int64_t done) {
  if (!enabled_ || finished_) return;
  finished_ = true;
  // Short jobs stay silent off a terminal: the summary says it all.
  if (!tty_ && last_print_ns_ == start_ns_) return;
  Print(done, 1, true);
}

void Progress::Print(int64_t done, double fraction, bool final) {
  double secs = (SystemClock()->MonotonicNanos() - start_ns_) / 1e9;
  double rate = secs > 0 ? done / secs : 0;
  std::string line = label_ + ": " + FormatCount(done);
  if (total_ >= 0) line += "/" + FormatCount(total_);
  line += " " + unit_ + ", " + FormatCount(static_cast<int64_t>(rate)) + "/s";
  if (final) {
    char buf[32];
    std::snprintf(buf, sizeof(buf), ", %.1f s", secs);
    line += buf;
  } else if (total_ > 0 && rate > 0 && done <= total_) {
    char buf[32];
    std::snprintf(buf, sizeof(buf), ", ETA %.0f s", (total_ - done) / rate);
    line += buf;
  } else if (fraction > 0 && fraction <= 1) {
    char buf[48];
    std::snprintf(buf, sizeof(buf), ", %.0f%%, ETA %.0f s", fraction * 100,
                  secs * (1 - fraction) / fraction);
    line += buf;
  }
  if (tty_) {
    std::fprintf(stderr, "\r\033[K%s%s", line.c_str(), final ? "\n" : "");
  } else {
    std::fprintf(stderr, "%s\n", line.c_str());
  }
  std::fflush(stderr);
}

}  // namespace recsys
