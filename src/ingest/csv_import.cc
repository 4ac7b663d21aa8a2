#include "ingest/csv_import.h"

#include <sys/stat.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <set>
#include <unordered_map>
#include <utility>
#include <vector>

#include "core/clock.h"
#include "core/files.h"
#include "ingest/csv.h"

namespace recsys {
namespace {

constexpr int64_t kMaxFutureSkewMs = 3600000;
constexpr int64_t kNoTime = std::numeric_limits<int64_t>::max();
constexpr int64_t kHourMs = 3600000;
constexpr int kMinYear = 1900, kMaxYear = 9999;
// Rows between two progress reports.
constexpr int64_t kProgressEvery = 16384;

// ---------------------------------------------------------------------------------------------
// Small text helpers

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

char Lower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }

bool IsDigits(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

std::string Quoted(std::string_view s) {
  constexpr size_t kMax = 64;
  std::string q = "'";
  q.append(s.substr(0, kMax));
  if (s.size() > kMax) q.append("...");
  q.push_back('\'');
  return q;
}

std::string BaseName(const std::string& path) {
  std::string p = path;
  while (p.size() > 1 && p.back() == '/') p.pop_back();
  const size_t slash = p.rfind('/');
  return slash == std::string::npos ? p : p.substr(slash + 1);
}

std::string DirName(const std::string& path) {
  const size_t slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  return slash == 0 ? "/" : path.substr(0, slash);
}

bool IsDir(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

std::optional<double> ToDouble(std::string_view s) {
  if (!s.empty() && s.front() == '+') s.remove_prefix(1);
  double v = 0;
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (s.empty() || ec != std::errc() || ptr != s.data() + s.size() || !std::isfinite(v)) {
    return std::nullopt;
  }
  return v;
}

// A whole number; "3.0" counts ("3.5" does not).
std::optional<int64_t> ToInt(std::string_view s) {
  if (!s.empty() && s.front() == '+') s.remove_prefix(1);
  int64_t v = 0;
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (!s.empty() && ec == std::errc() && ptr == s.data() + s.size()) return v;
  std::optional<double> d = ToDouble(s);
  if (!d || *d != std::floor(*d) || std::fabs(*d) > 9.0e15) return std::nullopt;
  return static_cast<int64_t>(*d);
}

// ---------------------------------------------------------------------------------------------
// Event ids

uint64_t Mix64(uint64_t x) {
  x ^= x >> 30;
  x *= 0xbf58476d1ce4e5b9ULL;
  x ^= x >> 27;
  x *= 0x94d049bb133111ebULL;
  x ^= x >> 31;
  return x;
}

// FNV-1a over the parts, each followed by a 0 byte so that ("ab","c") and ("a","bc") differ.
class IdHasher {
 public:
  void Add(std::string_view s) {
    for (char c : s) Byte(static_cast<unsigned char>(c));
    Byte(0);
  }
  void Add(int64_t v) {
    for (int i = 0; i < 8; ++i)
      Byte(static_cast<unsigned char>(static_cast<uint64_t>(v) >> (8 * i)));
  }
  // "imp-" and 24 hex digits (96 bits).
  void Write(std::string* out) const {
    static constexpr char kHex[] = "0123456789abcdef";
    const uint64_t a = Mix64(h1_), b = Mix64(h2_ ^ 0x9e3779b97f4a7c15ULL);
    out->assign("imp-");
    for (int i = 60; i >= 0; i -= 4) out->push_back(kHex[(a >> i) & 0xF]);
    for (int i = 28; i >= 0; i -= 4) out->push_back(kHex[(b >> i) & 0xF]);
  }

 private:
  void Byte(unsigned char c) {
    h1_ = (h1_ ^ c) * 0x100000001b3ULL;
    h2_ = (h2_ ^ c) * 0x100000001b3ULL + 0x2545f4914f6cdd1dULL;
  }
  uint64_t h1_ = 0xcbf29ce484222325ULL;
  uint64_t h2_ = 0x84222325cbf29ce4ULL;
};

// ---------------------------------------------------------------------------------------------
// Times

bool IsLeap(int y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

int DaysInMonth(int y, int m) {
  static constexpr int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return m == 2 && IsLeap(y) ? 29 : kDays[m - 1];
}

int Weekday(int y, int m, int d) { return ToCivil(FromCivil(y, m, d)).weekday; }

// Day of the month of its n-th Sunday (n >= 1), or of its last Sunday (n = 0).
int SundayOfMonth(int y, int m, int n) {
  if (n == 0) {
    const int last = DaysInMonth(y, m);
    return last - Weekday(y, m, last);
  }
  return 1 + (7 - Weekday(y, m, 1)) % 7 + 7 * (n - 1);
}

enum class ZoneRule { kFixed, kNewYork, kLondon };

// Wall-clock time to UTC. In the hour that repeats when clocks go back, the first (daylight)
// reading is taken; a time in the hour skipped when they go forward is read as daylight time.
struct Zone {
  ZoneRule rule = ZoneRule::kFixed;
  int offset_minutes = 0;

  int64_t ToUtc(int64_t local_ms) const {
    if (rule == ZoneRule::kFixed) return local_ms - int64_t{offset_minutes} * 60000;
    const int y = ToCivil(local_ms).year;
    int64_t start, end;
    if (rule == ZoneRule::kNewYork) {
      // US rules since 2007; 1987-2006: first Sunday of April to last Sunday of October.
      if (y >= 2007) {
        start = FromCivil(y, 3, SundayOfMonth(y, 3, 2), 2);
        end = FromCivil(y, 11, SundayOfMonth(y, 11, 1), 2);
      } else {
        start = FromCivil(y, 4, SundayOfMonth(y, 4, 1), 2);
        end = FromCivil(y, 10, SundayOfMonth(y, 10, 0), 2);
      }
      const bool dst = local_ms >= start && local_ms < end;
      return local_ms + (dst ? 4 : 5) * kHourMs;
    }
    // EU rules (the UK's since 1996): 01:00 UTC on the last Sundays of March and October.
    start = FromCivil(y, 3, SundayOfMonth(y, 3, 0), 1);
    end = FromCivil(y, 10, SundayOfMonth(y, 10, 0), 2);
    const bool dst = local_ms >= start && local_ms < end;
    return local_ms - (dst ? kHourMs : 0);
  }
};

Result<Zone> ZoneFrom(const std::string& name, int offset_minutes) {
  Zone z;
  z.offset_minutes = offset_minutes;
  if (name.empty() || name == "UTC") return z;
  if (offset_minutes != 0) {
    return Status::InvalidArgument("give either a timezone (" + name +
                                   ") or a UTC offset, not both");
  }
  if (name == "America/New_York") {
    z.rule = ZoneRule::kNewYork;
  } else if (name == "Europe/London") {
    z.rule = ZoneRule::kLondon;
  } else {
    return Status::InvalidArgument("timezone '" + name +
                                   "' is not one of UTC, America/New_York, Europe/London");
  }
  return z;
}

constexpr const char* kMonthNames[] = {"jan", "feb", "mar", "apr", "may", "jun",
                                       "jul", "aug", "sep", "oct", "nov", "dec"};

// Reads 1 to max_digits digits at text[*i].
bool ReadNumber(std::string_view text, size_t* i, int max_digits, int* out) {
  int v = 0, n = 0;
  while (*i < text.size() && n < max_digits && text[*i] >= '0' && text[*i] <= '9') {
    v = v * 10 + (text[*i] - '0');
    ++*i;
    ++n;
  }
  *out = v;
  return n > 0;
}

// Milliseconds of a fraction ".123456" at text[*i] (the dot already consumed): up to 9 digits.
bool ReadFraction(std::string_view text, size_t* i, int* ms) {
  int digits = 0, v = 0;
  while (*i < text.size() && text[*i] >= '0' && text[*i] <= '9') {
    if (digits < 3) v = v * 10 + (text[*i] - '0');
    ++digits;
    ++*i;
  }
  if (digits == 0 || digits > 9) return false;
  for (int d = digits; d < 3; ++d) v *= 10;
  *ms = v;
  return true;
}

enum class TimeKind { kUnix, kUnixMs, kIso, kPattern };

struct TimeFormat {
  TimeKind kind = TimeKind::kIso;
  std::string pattern;  // kPattern
  std::string text;     // as given, for messages
};

constexpr const char* kIsoLocalPatterns[] = {"%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M:%S",
                                             "%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M", "%Y-%m-%d"};

Result<TimeFormat> TimeFormatFrom(const std::string& text) {
  TimeFormat f;
  f.text = text;
  if (text == "unix") {
    f.kind = TimeKind::kUnix;
  } else if (text == "unix-ms") {
    f.kind = TimeKind::kUnixMs;
  } else if (text == "iso" || text.empty()) {
    f.kind = TimeKind::kIso;
    f.text = "iso";
  } else {
    f.kind = TimeKind::kPattern;
    f.pattern = text;
    bool has_year = false;
    for (size_t i = 0; i < text.size(); ++i) {
      if (text[i] != '%') continue;
      if (++i == text.size() ||
          std::string_view("YymdHIMSfpb%").find(text[i]) == std::string::npos) {
        return Status::InvalidArgument(
            "time format '" + text +
            "': use unix, unix-ms, iso or a pattern of %Y %y %m %d %H %I "
            "%M %S %f %p %b");
      }
      has_year |= text[i] == 'Y' || text[i] == 'y';
    }
    if (!has_year) return Status::InvalidArgument("time format '" + text + "' has no year");
  }
  return f;
}

bool InRange(int64_t ms) {
  static const int64_t kMin = FromCivil(kMinYear, 1, 1);
  static const int64_t kMax = FromCivil(kMaxYear + 1, 1, 1);
  return ms >= kMin && ms < kMax;
}

// UTC milliseconds of a time in one of the formats; nullopt if it matches none.
std::optional<int64_t> ReadTime(std::string_view text, const std::vector<TimeFormat>& formats,
                                const Zone& zone) {
  for (const TimeFormat& f : formats) {
    std::optional<int64_t> ms;
    switch (f.kind) {
      case TimeKind::kUnix: {
        if (std::optional<int64_t> s = ToInt(text); s && std::llabs(*s) < int64_t{1} << 42) {
          ms = *s * 1000;
        } else if (std::optional<double> d = ToDouble(text); d && std::fabs(*d) < 1e13) {
          ms = static_cast<int64_t>(std::llround(*d * 1000));
        }
        break;
      }
      case TimeKind::kUnixMs:
        if (std::optional<int64_t> v = ToInt(text); v && std::llabs(*v) < int64_t{1} << 52) ms = v;
        break;
      case TimeKind::kIso:
        ms = ParseRfc3339(text);
        if (!ms) {
          for (const char* p : kIsoLocalPatterns) {
            if (std::optional<int64_t> local = ParseLocalTime(text, p)) {
              ms = zone.ToUtc(*local);
              break;
            }
          }
        }
        break;
      case TimeKind::kPattern:
        if (std::optional<int64_t> local = ParseLocalTime(text, f.pattern)) ms = zone.ToUtc(*local);
        break;
    }
    if (ms && InRange(*ms)) return ms;
  }
  return std::nullopt;
}

// ---------------------------------------------------------------------------------------------
// Entities

struct StringHash {
  using is_transparent = void;
  size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
};

template <typename Attributes>
struct Entity {
  std::string id;
  int64_t first_ms = kNoTime;  // earliest row that mentions it
  Attributes attributes;
};

template <typename Attributes>
class EntityTable {
 public:
  // The entity with this id, added (without attributes) if new.
  Entity<Attributes>& Get(std::string_view id) {
    auto it = index_.find(id);
    if (it != index_.end()) return entities_[it->second];
    index_.emplace(std::string(id), static_cast<uint32_t>(entities_.size()));
    entities_.push_back(Entity<Attributes>{std::string(id), kNoTime, {}});
    return entities_.back();
  }
  const std::vector<Entity<Attributes>>& entities() const { return entities_; }

 private:
  std::vector<Entity<Attributes>> entities_;
  std::unordered_map<std::string, uint32_t, StringHash, std::equal_to<>> index_;
};

// ---------------------------------------------------------------------------------------------
// Mappings

// A column: header names to try in turn, or a 0-based index (a name made of digits).
using ColumnNames = std::vector<std::string>;

struct Mapping {
  CsvOptions csv;
  bool latin1 = false;
  std::vector<TimeFormat> time_formats;
  Zone zone;
  EventType type = EventType::kPurchase;
  std::string currency;
  std::optional<ColumnNames> user, item, time, quantity, price, rating, text, order, category,
      country;
  bool price_is_line_total = false;  // the price column holds quantity x unit price
  bool cancel_on_c = false;          // online-retail: order ids "C..." are cancellations
  bool strip_decimal_ids = false;    // user ids "17850.0" (a spreadsheet's float) -> "17850"
};

enum class Preset { kNone, kOnlineRetail, kDunnhumby, kMovieLens };

Result<Preset> PresetFrom(const std::string& name) {
  if (name.empty() || name == "none") return Preset::kNone;
  if (name == "online-retail") return Preset::kOnlineRetail;
  if (name == "dunnhumby") return Preset::kDunnhumby;
  if (name == "movielens") return Preset::kMovieLens;
  return Status::InvalidArgument("preset '" + name +
                                 "' is not one of online-retail, dunnhumby, movielens");
}

std::string_view PresetKey(Preset p) {
  switch (p) {
    case Preset::kNone:
      return "csv";
    case Preset::kOnlineRetail:
      return "online-retail";
    case Preset::kDunnhumby:
      return "dunnhumby";
    case Preset::kMovieLens:
      return "movielens";
  }
  return "csv";
}

std::vector<TimeFormat> Formats(std::initializer_list<const char*> texts) {
  std::vector<TimeFormat> out;
  for (const char* t : texts) out.push_back(*TimeFormatFrom(t));
  return out;
}

struct ColumnIndex {
  int user = -1, item = -1, time = -1, quantity = -1, price = -1, rating = -1, text = -1,
      order = -1, category = -1, country = -1;
};

// The index of a mapped column in a file, or -1 when unmapped. NotFound naming the file and
// what it has when the column is mapped but absent.
Result<int> Resolve(const CsvReader& reader, const std::optional<ColumnNames>& names,
                    std::string_view role) {
  if (!names) return -1;
  for (const std::string& n : *names) {
    if (IsDigits(n)) return std::stoi(n);
    if (std::optional<int> i = reader.FindColumn(n)) return *i;
  }
  std::string have;
  for (const std::string& h : reader.header()) have += (have.empty() ? "" : ", ") + h;
  return Status::NotFound(reader.name() + ": no " + std::string(role) + " column " +
                          Quoted((*names)[0]) +
                          (reader.header().empty() ? " (the file has no header; give a 0-based "
                                                     "column number)"
                                                   : " (columns: " + have + ")"));
}

// The file's name for a column in messages: its header name, else "column N".
std::string ColumnLabel(const CsvReader& reader, int index) {
  if (index >= 0 && static_cast<size_t>(index) < reader.header().size()) {
    return std::string(Trim(reader.header()[index]));
  }
  return "column " + std::to_string(index);
}

std::string AgeBand(int age) {
  if (age < 18) return "0-17";
  if (age < 25) return "18-24";
  if (age < 35) return "25-34";
  if (age < 45) return "35-44";
  if (age < 55) return "45-54";
  if (age < 65) return "55-64";
  return "65+";
}

constexpr const char* kMl100kGenres[] = {
    "unknown",     "Action", "Adventure", "Animation", "Children's", "Comedy",  "Crime",
    "Documentary", "Drama",  "Fantasy",   "Film-Noir", "Horror",     "Musical", "Mystery",
    "Romance",     "Sci-Fi", "Thriller",  "War",       "Western"};

}  // namespace

std::optional<int64_t> ParseLocalTime(std::string_view text, std::string_view pattern) {
  text = Trim(text);
  int year = -1, month = 1, day = 1, hour = 0, minute = 0, second = 0, ms = 0;
  int ampm = -1;  // 0 am, 1 pm
  bool hour12 = false;
  size_t i = 0;
  for (size_t p = 0; p < pattern.size(); ++p) {
    const char c = pattern[p];
    if (c == ' ') {
      if (i >= text.size() || (text[i] != ' ' && text[i] != '\t')) return std::nullopt;
      while (i < text.size() && (text[i] == ' ' || text[i] == '\t')) ++i;
      continue;
    }
    if (c != '%' || p + 1 == pattern.size()) {
      if (i >= text.size() || text[i] != c) return std::nullopt;
      ++i;
      continue;
    }
    bool ok = true;
    switch (pattern[++p]) {
      case 'Y':
        ok = ReadNumber(text, &i, 4, &year);
        break;
      case 'y':
        ok = ReadNumber(text, &i, 2, &year);
        year += year < 69 ? 2000 : 1900;  // POSIX: 69-99 are 19xx
        break;
      case 'm':
        ok = ReadNumber(text, &i, 2, &month);
        break;
      case 'd':
        ok = ReadNumber(text, &i, 2, &day);
        break;
      case 'H':
        ok = ReadNumber(text, &i, 2, &hour);
        break;
      case 'I':
        ok = ReadNumber(text, &i, 2, &hour);
        hour12 = true;
        break;
      case 'M':
        ok = ReadNumber(text, &i, 2, &minute);
        break;
      case 'S':
        ok = ReadNumber(text, &i, 2, &second);
        if (ok && i + 1 < text.size() && text[i] == '.' && text[i + 1] >= '0' &&
            text[i + 1] <= '9') {
          ++i;
          ok = ReadFraction(text, &i, &ms);
        }
        break;
      case 'f':
        ok = ReadFraction(text, &i, &ms);
        break;
      case 'p':
        if (i + 2 <= text.size() && Lower(text[i + 1]) == 'm' &&
            (Lower(text[i]) == 'a' || Lower(text[i]) == 'p')) {
          ampm = Lower(text[i]) == 'p' ? 1 : 0;
          i += 2;
        } else {
          ok = false;
        }
        break;
      case 'b': {
        ok = false;
        if (i + 3 <= text.size()) {
          for (int m = 0; m < 12 && !ok; ++m) {
            if (Lower(text[i]) == kMonthNames[m][0] && Lower(text[i + 1]) == kMonthNames[m][1] &&
                Lower(text[i + 2]) == kMonthNames[m][2]) {
              month = m + 1;
              ok = true;
            }
          }
          i += 3;
          while (ok && i < text.size() && Lower(text[i]) >= 'a' && Lower(text[i]) <= 'z') ++i;
        }
        break;
      }
      case '%':
        ok = i < text.size() && text[i] == '%';
        ++i;
        break;
      default:
        ok = false;
    }
    if (!ok) return std::nullopt;
  }
  if (i != text.size() || year < kMinYear || year > kMaxYear) return std::nullopt;
  if (hour12) {
    if (hour < 1 || hour > 12) return std::nullopt;
    if (ampm == 1 && hour < 12) hour += 12;
    if (ampm == 0 && hour == 12) hour = 0;
  }
  if (month < 1 || month > 12 || day < 1 || day > DaysInMonth(year, month) || hour > 23 ||
      minute > 59 || second > 59) {
    return std::nullopt;
  }
  return FromCivil(year, month, day, hour, minute, second) + ms;
}

struct CsvImporter::Impl {
  ImportOptions options;
  Preset preset = Preset::kNone;
  ImportSink* sink = nullptr;
  ImportStats stats;
  std::function<void(int64_t)> progress;

  EntityTable<UserAttributes> users;
  EntityTable<ProductAttributes> products;
  std::set<std::string> catalog_dirs;  // folders whose catalog files were read
  int64_t earliest_ms = kNoTime;

  // Reused per row.
  Event event;
  std::string latin1[8], raw_utf8, message;

  // ---- setup

  Status Validate() {
    RECSYS_ASSIGN_OR_RETURN(preset, PresetFrom(options.preset));
    RECSYS_RETURN_IF_ERROR(MappingFor("").status());  // checks the options a mapping uses
    if (preset == Preset::kNone && (!options.user_col || !options.item_col || !options.time_col)) {
      return Status::InvalidArgument(
          "without a preset, map at least --user-col, --item-col and --time-col");
    }
    return Status::OK();
  }

  // The mapping of one file: the preset's (movielens looks at the file's first line), then the
  // options given. first_line is empty during validation.
  Result<Mapping> MappingFor(std::string_view first_line) {
    Mapping m;
    m.time_formats = Formats({"iso"});
    switch (preset) {
      case Preset::kNone:
        break;
      case Preset::kOnlineRetail:
        m.user = ColumnNames{"CustomerID", "Customer ID"};
        m.item = ColumnNames{"StockCode"};
        m.time = ColumnNames{"InvoiceDate"};
        m.quantity = ColumnNames{"Quantity"};
        m.price = ColumnNames{"UnitPrice", "Price"};
        m.text = ColumnNames{"Description"};
        m.order = ColumnNames{"InvoiceNo", "Invoice"};
        m.country = ColumnNames{"Country"};
        m.time_formats = Formats({"%m/%d/%Y %H:%M", "%m/%d/%Y %H:%M:%S", "iso"});
        m.zone.rule = ZoneRule::kLondon;
        m.currency = "GBP";
        m.cancel_on_c = true;
        m.strip_decimal_ids = true;
        break;
      case Preset::kDunnhumby:
        m.user = ColumnNames{"household_id"};
        m.item = ColumnNames{"product_id"};
        m.time = ColumnNames{"transaction_timestamp"};
        m.quantity = ColumnNames{"quantity"};
        m.price = ColumnNames{"sales_value"};
        m.order = ColumnNames{"basket_id"};
        m.price_is_line_total = true;
        m.zone.rule = ZoneRule::kNewYork;
        m.currency = "USD";
        break;
      case Preset::kMovieLens:
        m.type = EventType::kProductView;
        m.time_formats = Formats({"unix"});
        if (first_line.find('\t') != std::string_view::npos) {
          // ML-100k u.data: user item rating time, tab-separated, no header.
          m.csv.delimiter = '\t';
          m.csv.header = false;
          m.user = ColumnNames{"0"};
          m.item = ColumnNames{"1"};
          m.rating = ColumnNames{"2"};
          m.time = ColumnNames{"3"};
        } else {
          m.user = ColumnNames{"userId"};
          m.item = ColumnNames{"movieId"};
          m.rating = ColumnNames{"rating"};
          m.time = ColumnNames{"timestamp"};
        }
        break;
    }
    const ImportOptions& o = options;
    if (o.delimiter) m.csv.delimiter = *o.delimiter;
    if (o.header) m.csv.header = *o.header;
    m.csv.chunk_bytes = o.chunk_bytes;
    auto column = [](const std::optional<std::string>& given, std::optional<ColumnNames>* out) {
      if (!given) return;
      if (given->empty()) {
        out->reset();
      } else {
        *out = ColumnNames{*given};
      }
    };
    column(o.user_col, &m.user);
    column(o.item_col, &m.item);
    column(o.time_col, &m.time);
    column(o.quantity_col, &m.quantity);
    column(o.price_col, &m.price);
    column(o.rating_col, &m.rating);
    column(o.text_col, &m.text);
    column(o.order_col, &m.order);
    column(o.category_col, &m.category);
    column(o.country_col, &m.country);
    if (o.time_format) {
      RECSYS_ASSIGN_OR_RETURN(TimeFormat f, TimeFormatFrom(*o.time_format));
      m.time_formats = {f};
    }
    if (o.timezone || o.utc_offset_minutes) {
      RECSYS_ASSIGN_OR_RETURN(m.zone,
                              ZoneFrom(o.timezone.value_or(""), o.utc_offset_minutes.value_or(0)));
    }
    const std::string type = o.event_type.value_or("auto");
    if (type == "purchase") {
      m.type = EventType::kPurchase;
    } else if (type == "product_view") {
      m.type = EventType::kProductView;
    } else if (type != "auto" && !type.empty()) {
      return Status::InvalidArgument("event type '" + type +
                                     "' is not one of purchase, product_view");
    } else if (preset == Preset::kNone) {
      m.type = m.price || m.quantity ? EventType::kPurchase : EventType::kProductView;
    }
    if (o.currency) m.currency = *o.currency;
    if (o.encoding) {
      if (*o.encoding == "latin-1") {
        m.latin1 = true;
      } else if (*o.encoding != "utf-8" && !o.encoding->empty()) {
        return Status::InvalidArgument("encoding '" + *o.encoding +
                                       "' is not one of utf-8, latin-1");
      }
    }
    return m;
  }

  // ---- output

  Status Emit(const Event& e) {
    ++stats.events[static_cast<int>(e.topic())];
    return sink->Emit(e);
  }

  Status Quarantine(const std::string& file, const CsvRecord& record, std::string_view reason,
                    std::string_view why, bool latin1_file) {
    ++stats.quarantined;
    ++stats.quarantined_by_reason[std::string(reason)];
    std::string_view raw = record.raw;
    if (latin1_file) {
      Latin1ToUtf8(raw, &raw_utf8);
      raw = raw_utf8;
    }
    return sink->Quarantine(QuarantinedRow{file, record.line, reason, why, raw});
  }

  // ---- rows

  // A field, trimmed, as UTF-8; empty when the column is unmapped or the row is short. Each
  // field of a row read at the same time needs its own slot (the buffer of a latin-1 conversion).
  std::string_view Field(const CsvRecord& r, int index, bool latin1_file, int slot) {
    if (index < 0 || static_cast<size_t>(index) >= r.fields.size()) return {};
    std::string_view v = Trim(r.fields[index]);
    if (!latin1_file) return v;
    Latin1ToUtf8(v, &latin1[slot]);
    return latin1[slot];
  }

  Status ImportRows(CsvReader& reader, const Mapping& m, const std::string& source_key) {
    ColumnIndex c;
    RECSYS_ASSIGN_OR_RETURN(c.user, Resolve(reader, m.user, "user"));
    RECSYS_ASSIGN_OR_RETURN(c.item, Resolve(reader, m.item, "item"));
    RECSYS_ASSIGN_OR_RETURN(c.time, Resolve(reader, m.time, "time"));
    RECSYS_ASSIGN_OR_RETURN(c.quantity, Resolve(reader, m.quantity, "quantity"));
    RECSYS_ASSIGN_OR_RETURN(c.price, Resolve(reader, m.price, "price"));
    RECSYS_ASSIGN_OR_RETURN(c.rating, Resolve(reader, m.rating, "rating"));
    RECSYS_ASSIGN_OR_RETURN(c.text, Resolve(reader, m.text, "text"));
    RECSYS_ASSIGN_OR_RETURN(c.order, Resolve(reader, m.order, "order"));
    RECSYS_ASSIGN_OR_RETURN(c.category, Resolve(reader, m.category, "category"));
    RECSYS_ASSIGN_OR_RETURN(c.country, Resolve(reader, m.country, "country"));
    if (c.user < 0 || c.item < 0 || c.time < 0) {
      return Status::InvalidArgument(reader.name() + ": map the user, item and time columns");
    }
    const int64_t bytes_before = stats.bytes;
    const std::string& file = reader.name();
    CsvRecord record;
    for (;;) {
      RECSYS_ASSIGN_OR_RETURN(bool more, reader.Next(&record));
      if (!more) break;
      ++stats.rows;
      if (progress && stats.rows % kProgressEvery == 0) {
        progress(bytes_before + reader.bytes_read());
      }
      RECSYS_RETURN_IF_ERROR(ImportRow(reader, record, m, c, file, source_key));
    }
    stats.bytes = bytes_before + reader.bytes_read();
    if (progress) progress(stats.bytes);
    return Status::OK();
  }

  Status ImportRow(const CsvReader& reader, const CsvRecord& r, const Mapping& m,
                   const ColumnIndex& c, const std::string& file, const std::string& source_key) {
    const bool l1 = m.latin1;
    if (r.problem != CsvProblem::kNone) {
      return Quarantine(file, r, CsvProblemName(r.problem), r.message, l1);
    }
    auto bad = [&](std::string_view reason, int column, std::string_view value,
                   std::string_view what) {
      message = ColumnLabel(reader, column);
      if (value.empty()) {
        message += " is empty";
      } else {
        message.append(" ").append(Quoted(value)).append(" ").append(what);
      }
      return Quarantine(file, r, reason, message, l1);
    };

    const std::string_view order = Field(r, c.order, l1, 0);
    if (m.cancel_on_c && !order.empty() && (order[0] == 'C' || order[0] == 'c')) {
      return bad("cancelled_invoice", c.order, order, "is a cancellation");
    }
    std::string_view user = Field(r, c.user, l1, 1);
    if (m.strip_decimal_ids) {
      const size_t dot = user.find('.');
      if (dot != std::string_view::npos && IsDigits(user.substr(0, dot)) &&
          user.find_first_not_of('0', dot + 1) == std::string_view::npos) {
        user = user.substr(0, dot);
      }
    }
    if (user.empty()) return bad("missing_user", c.user, user, "");
    const std::string_view item = Field(r, c.item, l1, 2);
    if (item.empty()) return bad("missing_product", c.item, item, "");

    const std::string_view time_text = Field(r, c.time, l1, 3);
    std::optional<int64_t> time = ReadTime(time_text, m.time_formats, m.zone);
    if (!time) {
      return bad("bad_time", c.time, time_text,
                 "is not a time in " + m.time_formats[0].text + " (years " +
                     std::to_string(kMinYear) + " to " + std::to_string(kMaxYear) + ")");
    }
    if (*time > options.now_ms + kMaxFutureSkewMs) {
      return bad("future_time", c.time, time_text,
                 "is more than an hour after now (" + FormatRfc3339Millis(options.now_ms) + ")");
    }

    std::optional<int64_t> quantity;
    if (c.quantity >= 0) {
      const std::string_view q = Field(r, c.quantity, l1, 4);
      quantity = ToInt(q);
      if (!quantity || *quantity <= 0) {
        return bad("bad_quantity", c.quantity, q, "is not a whole number above 0");
      }
    } else if (m.type == EventType::kPurchase) {
      quantity = 1;
    }
    std::optional<double> price;
    if (c.price >= 0) {
      const std::string_view p = Field(r, c.price, l1, 5);
      price = ToDouble(p);
      if (!price || *price <= 0) return bad("bad_price", c.price, p, "is not a number above 0");
      if (m.price_is_line_total && quantity)
        *price = std::round(*price / double(*quantity) * 1e6) / 1e6;
    }
    std::optional<double> rating;
    if (c.rating >= 0) {
      const std::string_view v = Field(r, c.rating, l1, 6);
      rating = ToDouble(v);
      if (!rating || *rating < 0 || *rating > 10) {
        return bad("bad_rating", c.rating, v, "is not a number from 0 to 10");
      }
    }

    Event& e = event;
    e.type = m.type;
    e.event_time_ms = *time;
    e.user_id.assign(user);
    e.product_id.assign(item);
    e.quantity = quantity;
    e.price = price;
    e.currency.clear();
    if (price) e.currency = m.currency;
    e.rating = rating;
    if (!order.empty()) {
      e.session_id.assign("imp-").append(order);
      if (m.type == EventType::kPurchase) {
        e.order_id.assign(order);
      } else {
        e.order_id.clear();
      }
    } else {
      // One session (and order) per user and UTC day.
      const CivilTime day = ToCivil(*time);
      char date[16];
      std::snprintf(date, sizeof(date), "-%04d%02d%02d", day.year, day.month, day.day);
      e.session_id.assign("imp-").append(user).append(date);
      if (m.type == EventType::kPurchase) {
        e.order_id = e.session_id;
      } else {
        e.order_id.clear();
      }
    }
    IdHasher id;
    id.Add(source_key);
    id.Add(r.line);
    id.Add(r.raw);
    id.Write(&e.event_id);
    RECSYS_RETURN_IF_ERROR(Emit(e));

    earliest_ms = std::min(earliest_ms, *time);
    Entity<UserAttributes>& u = users.Get(user);
    u.first_ms = std::min(u.first_ms, *time);
    if (!u.attributes.country) {
      if (std::string_view v = Field(r, c.country, l1, 7); !v.empty()) u.attributes.country = v;
    }
    Entity<ProductAttributes>& p = products.Get(item);
    ProductAttributes& a = p.attributes;
    if (*time < p.first_ms) {
      p.first_ms = *time;
      // The price when the product first appears.
      if (price) {
        a.price = price;
        if (!m.currency.empty()) a.currency = m.currency;
      }
    }
    if (!a.title) {
      if (std::string_view v = Field(r, c.text, l1, 7); !v.empty()) a.title = v;
    }
    if (!a.category) {
      if (std::string_view v = Field(r, c.category, l1, 7); !v.empty()) a.category = v;
    }
    return Status::OK();
  }

  // ---- catalog and customer files

  // Reads a file beside the imported one, if it is there, row by row.
  template <typename Fn>
  Status ReadCatalogFile(const std::string& dir, const std::string& name, CsvOptions csv,
                         bool latin1, std::initializer_list<const char*> columns, Fn&& row_fn) {
    const std::string path = JoinPath(dir, name);
    if (!FileExists(path)) return Status::OK();
    csv.chunk_bytes = options.chunk_bytes;
    RECSYS_ASSIGN_OR_RETURN(std::unique_ptr<CsvReader> reader, CsvReader::OpenFile(path, csv));
    std::vector<int> index;
    for (const char* col : columns) {
      RECSYS_ASSIGN_OR_RETURN(int i, Resolve(*reader, ColumnNames{col}, "catalog"));
      index.push_back(i);
    }
    stats.catalog_files.push_back(path);
    CsvRecord record;
    std::vector<std::string_view> f(index.size());
    for (;;) {
      RECSYS_ASSIGN_OR_RETURN(bool more, reader->Next(&record));
      if (!more) break;
      ++stats.catalog_rows;
      if (record.problem != CsvProblem::kNone) {
        RECSYS_RETURN_IF_ERROR(
            Quarantine(path, record, CsvProblemName(record.problem), record.message, latin1));
        continue;
      }
      for (size_t k = 0; k < index.size(); ++k) {
        f[k] = static_cast<size_t>(index[k]) < record.fields.size() ? Trim(record.fields[index[k]])
                                                                    : std::string_view();
      }
      if (f[0].empty()) {
        RECSYS_RETURN_IF_ERROR(Quarantine(path, record, "missing_id",
                                          ColumnLabel(*reader, index[0]) + " is empty", latin1));
        continue;
      }
      row_fn(record, f);
    }
    return Status::OK();
  }

  Status ReadCatalogs(const std::string& dir) {
    if (!catalog_dirs.insert(dir).second) return Status::OK();
    CsvOptions csv;
    switch (preset) {
      case Preset::kNone:
      case Preset::kOnlineRetail:
        return Status::OK();
      case Preset::kDunnhumby: {
        RECSYS_RETURN_IF_ERROR(
            ReadCatalogFile(dir, "products.csv", csv, false,
                            {"product_id", "department", "product_category", "product_type",
                             "package_size", "brand"},
                            [&](const CsvRecord&, const std::vector<std::string_view>& f) {
                              ProductAttributes& a = products.Get(f[0]).attributes;
                              std::string path;
                              for (std::string_view part : {f[1], f[2], f[3]}) {
                                if (part.empty()) continue;
                                if (!path.empty()) path += " > ";
                                path += part;
                              }
                              if (!path.empty()) a.category = path;
                              std::string title(!f[3].empty() ? f[3] : !f[2].empty() ? f[2] : f[1]);
                              if (!title.empty() && !f[4].empty()) title.append(" ").append(f[4]);
                              if (!title.empty()) a.title = title;
                              if (!f[5].empty()) a.brand = std::string(f[5]);
                            }));
        return ReadCatalogFile(dir, "demographics.csv", csv, false, {"household_id", "age"},
                               [&](const CsvRecord&, const std::vector<std::string_view>& f) {
                                 UserAttributes& a = users.Get(f[0]).attributes;
                                 if (!f[1].empty()) a.age_band = std::string(f[1]);
                               });
      }
      case Preset::kMovieLens: {
        CsvOptions pipes;
        pipes.delimiter = '|';
        pipes.header = false;
        pipes.quote = '\0';
        std::string utf8;
        RECSYS_RETURN_IF_ERROR(ReadCatalogFile(
            dir, "u.item", pipes, true, {"0", "1"},
            [&](const CsvRecord& r, const std::vector<std::string_view>& f) {
              ProductAttributes& a = products.Get(f[0]).attributes;
              Latin1ToUtf8(f[1], &utf8);
              if (!utf8.empty()) a.title = utf8;
              std::vector<std::string> genres;
              for (size_t g = 1; g < std::size(kMl100kGenres) && 5 + g < r.fields.size(); ++g) {
                if (Trim(r.fields[5 + g]) == "1") genres.emplace_back(kMl100kGenres[g]);
              }
              if (!genres.empty()) {
                a.category = genres[0];
                a.tags = std::move(genres);
              }
            }));
        RECSYS_RETURN_IF_ERROR(ReadCatalogFile(
            dir, "u.user", pipes, true, {"0", "1", "2"},
            [&](const CsvRecord&, const std::vector<std::string_view>& f) {
              UserAttributes& a = users.Get(f[0]).attributes;
              if (std::optional<int64_t> age = ToInt(f[1]); age && *age >= 0 && *age < 150) {
                a.age_band = AgeBand(static_cast<int>(*age));
              }
              if (f[2] == "M") a.gender = "male";
              if (f[2] == "F") a.gender = "female";
            }));
        return ReadCatalogFile(dir, "movies.csv", csv, false, {"movieId", "title", "genres"},
                               [&](const CsvRecord&, const std::vector<std::string_view>& f) {
                                 ProductAttributes& a = products.Get(f[0]).attributes;
                                 if (!f[1].empty()) a.title = std::string(f[1]);
                                 std::vector<std::string> genres;
                                 std::string_view rest = f[2];
                                 while (!rest.empty() && rest != "(no genres listed)") {
                                   const size_t bar = rest.find('|');
                                   std::string_view g = Trim(rest.substr(0, bar));
                                   if (!g.empty()) genres.emplace_back(g);
                                   if (bar == std::string_view::npos) break;
                                   rest.remove_prefix(bar + 1);
                                 }
                                 if (!genres.empty()) {
                                   a.category = genres[0];
                                   a.tags = std::move(genres);
                                 }
                               });
      }
    }
    return Status::OK();
  }

  // ---- files

  // The data file a preset reads from its folder.
  Result<std::string> DataFileIn(const std::string& dir) {
    std::vector<const char*> names;
    switch (preset) {
      case Preset::kDunnhumby:
        names = {"transactions.csv", "transactions_sample.csv"};
        break;
      case Preset::kMovieLens:
        names = {"ratings.csv", "u.data"};
        break;
      default:
        return Status::InvalidArgument(dir + " is a folder; give the CSV file");
    }
    for (const char* n : names) {
      if (FileExists(JoinPath(dir, n))) return JoinPath(dir, n);
    }
    std::string want;
    for (const char* n : names) want += (want.empty() ? "" : " or ") + std::string(n);
    return Status::NotFound(dir + ": no " + want + " in this folder");
  }

  Status ImportPath(const std::string& given) {
    std::string path = given;
    if (IsDir(path)) {
      RECSYS_ASSIGN_OR_RETURN(path, DataFileIn(path));
    }
    std::string first_line;
    if (preset == Preset::kMovieLens) {
      RECSYS_ASSIGN_OR_RETURN(std::unique_ptr<ByteSource> src, OpenFileSource(path));
      first_line.resize(4096);
      RECSYS_ASSIGN_OR_RETURN(size_t n, src->Read(first_line.data(), first_line.size()));
      first_line.resize(n);
      first_line = first_line.substr(0, first_line.find('\n'));
    }
    RECSYS_ASSIGN_OR_RETURN(Mapping m, MappingFor(first_line));
    RECSYS_ASSIGN_OR_RETURN(std::unique_ptr<CsvReader> reader, CsvReader::OpenFile(path, m.csv));
    RECSYS_RETURN_IF_ERROR(ReadCatalogs(DirName(path)));
    ++stats.files;
    const std::string source_key = std::string(PresetKey(preset)) + "/" + BaseName(path);
    return ImportRows(*reader, m, source_key);
  }

  Status Finish() {
    const int64_t unmentioned_ms = earliest_ms != kNoTime ? earliest_ms : options.now_ms;
    Event e;
    for (const Entity<UserAttributes>& u : users.entities()) {
      if (u.first_ms == kNoTime && !options.whole_catalog) continue;
      e = Event{};
      e.type = EventType::kSignup;
      e.event_time_ms = u.first_ms != kNoTime ? u.first_ms : unmentioned_ms;
      e.user_id = u.id;
      e.user = u.attributes;
      IdHasher id;
      id.Add(PresetKey(preset));
      id.Add("signup");
      id.Add(u.id);
      id.Write(&e.event_id);
      RECSYS_RETURN_IF_ERROR(Emit(e));
      ++stats.users;
    }
    for (const Entity<ProductAttributes>& p : products.entities()) {
      if (p.first_ms == kNoTime && !options.whole_catalog) continue;
      e = Event{};
      e.type = EventType::kProductCreated;
      e.event_time_ms = p.first_ms != kNoTime ? p.first_ms : unmentioned_ms;
      e.product_id = p.id;
      e.product = p.attributes;
      if (!e.product.title) e.product.title = p.id;
      IdHasher id;
      id.Add(PresetKey(preset));
      id.Add("product_created");
      id.Add(p.id);
      id.Write(&e.event_id);
      RECSYS_RETURN_IF_ERROR(Emit(e));
      ++stats.products;
    }
    return Status::OK();
  }
};

CsvImporter::CsvImporter(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
CsvImporter::~CsvImporter() = default;

Result<std::unique_ptr<CsvImporter>> CsvImporter::Create(const ImportOptions& options,
                                                         ImportSink* sink) {
  auto impl = std::make_unique<Impl>();
  impl->options = options;
  impl->sink = sink;
  RECSYS_RETURN_IF_ERROR(impl->Validate());
  return std::unique_ptr<CsvImporter>(new CsvImporter(std::move(impl)));
}

Status CsvImporter::ImportPath(const std::string& path) { return impl_->ImportPath(path); }
Status CsvImporter::Finish() { return impl_->Finish(); }
const ImportStats& CsvImporter::stats() const { return impl_->stats; }
void CsvImporter::set_progress(std::function<void(int64_t)> progress) {
  impl_->progress = std::move(progress);
}

}  // namespace recsys
