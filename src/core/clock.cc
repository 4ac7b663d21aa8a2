#include "core/clock.h"

#include <chrono>

namespace recsys {
namespace {

class RealClock : public Clock {
 public:
  int64_t NowMillis() const override {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
  }
  int64_t MonotonicNanos() const override {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(
               std::chrono::steady_clock::now().time_since_epoch())
        .count();
  }
};

// Howard Hinnant's days_from_civil / civil_from_days.
int64_t DaysFromCivil(int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<int64_t>(doe) - 719468;
}

void CivilFromDays(int64_t z, int* y, int* m, int* d) {
  z += 719468;
  const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const unsigned doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const int64_t yy = static_cast<int64_t>(yoe) + era * 400;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  *d = static_cast<int>(doy - (153 * mp + 2) / 5 + 1);
  *m = static_cast<int>(mp < 10 ? mp + 3 : mp - 9);
  *y = static_cast<int>(yy + (*m <= 2));
}

bool IsLeap(int y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

int DaysInMonth(int y, int m) {
  static const int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return m == 2 && IsLeap(y) ? 29 : kDays[m - 1];
}

inline void Put2(char* p, int v) {
  p[0] = static_cast<char>('0' + v / 10);
  p[1] = static_cast<char>('0' + v % 10);
}

// Reads exactly n digits at s[*i]; false if any is not a digit.
bool Digits(std::string_view s, size_t* i, int n, int* out) {
  if (*i + n > s.size()) return false;
  int v = 0;
  for (int k = 0; k < n; ++k) {
    char c = s[*i + k];
    if (c < '0' || c > '9') return false;
    v = v * 10 + (c - '0');
  }
  *i += n;
  *out = v;
  return true;
}

}  // namespace

Clock* SystemClock() {
  static RealClock* clock = new RealClock();
  return clock;
}

CivilTime ToCivil(int64_t ms) {
  int64_t days = ms >= 0 ? ms / 86400000 : -((-ms + 86399999) / 86400000);
  int64_t rem = ms - days * 86400000;
  CivilTime c{};
  CivilFromDays(days, &c.year, &c.month, &c.day);
  c.hour = static_cast<int>(rem / 3600000);
  c.minute = static_cast<int>(rem / 60000 % 60);
  c.second = static_cast<int>(rem / 1000 % 60);
  c.millis = static_cast<int>(rem % 1000);
  c.weekday = static_cast<int>(((days % 7) + 11) % 7);  // 1970-01-01 was a Thursday
  return c;
}

int64_t FromCivil(int year, int month, int day, int hour, int minute, int second) {
  return DaysFromCivil(year, static_cast<unsigned>(month), static_cast<unsigned>(day)) * 86400000 +
         hour * 3600000LL + minute * 60000LL + second * 1000LL;
}

void AppendRfc3339Millis(int64_t ms, std::string* out) {
  CivilTime c = ToCivil(ms);
  char buf[24];
  int y = c.year;
  if (y < 0 || y > 9999) y = y < 0 ? 0 : 9999;
  buf[0] = static_cast<char>('0' + y / 1000);
  buf[1] = static_cast<char>('0' + y / 100 % 10);
  Put2(buf + 2, y % 100);
  buf[4] = '-';
  Put2(buf + 5, c.month);
  buf[7] = '-';
  Put2(buf + 8, c.day);
  buf[10] = 'T';
  Put2(buf + 11, c.hour);
  buf[13] = ':';
  Put2(buf + 14, c.minute);
  buf[16] = ':';
  Put2(buf + 17, c.second);
  buf[19] = '.';
  buf[20] = static_cast<char>('0' + c.millis / 100);
  Put2(buf + 21, c.millis % 100);
  buf[23] = 'Z';
  out->append(buf, 24);
}

std::string FormatRfc3339Millis(int64_t ms) {
  std::string s;
  s.reserve(24);
  AppendRfc3339Millis(ms, &s);
  return s;
}

std::optional<int64_t> ParseRfc3339(std::string_view s) {
  size_t i = 0;
  int y = 0, mo = 0, d = 0, h = 0, mi = 0, se = 0;
  if (!Digits(s, &i, 4, &y) || i >= s.size() || s[i++] != '-') return std::nullopt;
  if (!Digits(s, &i, 2, &mo) || i >= s.size() || s[i++] != '-') return std::nullopt;
  if (!Digits(s, &i, 2, &d) || i >= s.size()) return std::nullopt;
  char t = s[i++];
  if (t != 'T' && t != 't' && t != ' ') return std::nullopt;
  if (!Digits(s, &i, 2, &h) || i >= s.size() || s[i++] != ':') return std::nullopt;
  if (!Digits(s, &i, 2, &mi) || i >= s.size() || s[i++] != ':') return std::nullopt;
  if (!Digits(s, &i, 2, &se)) return std::nullopt;
  if (mo < 1 || mo > 12 || d < 1 || d > DaysInMonth(y, mo) || h > 23 || mi > 59 || se > 60) {
    return std::nullopt;
  }
  int64_t millis = 0;
  if (i < s.size() && s[i] == '.') {
    ++i;
    int n = 0;
    while (i < s.size() && s[i] >= '0' && s[i] <= '9') {
      if (n < 3) millis = millis * 10 + (s[i] - '0');
      ++n;
      ++i;
    }
    if (n == 0) return std::nullopt;
    for (int k = n; k < 3; ++k) millis *= 10;
  }
  if (i >= s.size()) return std::nullopt;
  int64_t offset_ms = 0;
  if (s[i] == 'Z' || s[i] == 'z') {
    ++i;
  } else if (s[i] == '+' || s[i] == '-') {
    int sign = s[i++] == '+' ? 1 : -1;
    int oh, om;
    if (!Digits(s, &i, 2, &oh) || i >= s.size() || s[i++] != ':' || !Digits(s, &i, 2, &om)) {
      return std::nullopt;
    }
    if (oh > 23 || om > 59) return std::nullopt;
    offset_ms = sign * (oh * 3600000LL + om * 60000LL);
  } else {
    return std::nullopt;
  }
  if (i != s.size()) return std::nullopt;
  if (se == 60) se = 59;  // leap second: clamp
  return FromCivil(y, mo, d, h, mi, se) + millis - offset_ms;
}

}  // namespace recsys
