#include "process/silver.h"

#include <fcntl.h>
#include <simdjson.h>
#include <stdlib.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cerrno>
#include <charconv>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <set>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "core/event.h"
#include "core/files.h"
#include "core/json_writer.h"
#include "core/temp_dir.h"
#include "lake/bronze_sink.h"
#include "lake/duckdb.h"

namespace recsys {
namespace {

constexpr std::string_view kBronzePrefix = "bronze/topics/";
constexpr std::string_view kSilverPrefix = "silver/";
constexpr std::string_view kManifestPrefix = "silver/_manifest/";
constexpr std::string_view kReportPrefix = "silver/_reports/";
constexpr std::string_view kQuarantinePrefix = "silver/_quarantine/";

constexpr int kTopicCount = 3;
// Silver table of each topic, by Topic value.
constexpr std::string_view kTopicTables[kTopicCount] = {"clickstream", "user_events",
                                                        "product_events"};

constexpr std::string_view kRebuiltTables[] = {"sessions", "users", "users_history", "products",
                                               "product_prices"};

// DECIMAL(18,2) holds less than 1e16; a larger price would fail the cast, so it is quarantined.
constexpr double kMaxPrice = 1e15;

// Parsed bronze files waiting for the consuming thread, at most; bounds memory.
constexpr size_t kParseWindow = 16;

constexpr int64_t kDayMs = 86400000;

std::string Str(std::string_view s) { return std::string(s); }

int64_t FloorDiv(int64_t a, int64_t b) { return a / b - (a % b < 0 ? 1 : 0); }

// Makes everything written under path durable (one syncfs(2) for the file system).
Status SyncFileSystem(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return Status::FromErrno("open", path, errno);
  int rc = ::syncfs(fd);
  int err = errno;
  ::close(fd);
  return rc == 0 ? Status::OK() : Status::FromErrno("syncfs", path, err);
}

// ---------------------------------------------------------------------------------------------
// Names in the lake.

struct BronzeFile {
  std::string key;
  int64_t size = 0;
  Topic topic = Topic::kClickstream;
  Compression compression = Compression::kNone;
};

// A bronze object the run can read: bronze/topics/<known topic>/.../<name>.json[.gz|.zst].
std::optional<BronzeFile> ParseBronzeKey(const ObjectInfo& info) {
  std::string_view key = info.key;
  if (!key.starts_with(kBronzePrefix)) return std::nullopt;
  std::string_view rest = key.substr(kBronzePrefix.size());
  size_t slash = rest.find('/');
  if (slash == rest.npos) return std::nullopt;
  std::optional<Topic> topic = ParseTopic(rest.substr(0, slash));
  if (!topic) return std::nullopt;
  BronzeFile f;
  if (key.ends_with(".json")) {
    f.compression = Compression::kNone;
  } else if (key.ends_with(".json.gz")) {
    f.compression = Compression::kGzip;
  } else if (key.ends_with(".json.zst")) {
    f.compression = Compression::kZstd;
  } else {
    return std::nullopt;
  }
  f.key = info.key;
  f.size = info.size;
  f.topic = *topic;
  return f;
}

bool IsRunIdChar(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '-';
}

Status CheckRunId(std::string_view run) {
  if (run.empty() || run.size() > 64 || !std::all_of(run.begin(), run.end(), IsRunIdChar)) {
    return Status::InvalidArgument("silver run id '" + Str(run) +
                                   "': use 1 to 64 letters, digits and '-'");
  }
  return Status::OK();
}

// "YYYYMMDDTHHMMSSZ-<8 hex>": the start time, then randomness so that names sort by time.
std::string NewRunId(int64_t now_ms) {
  CivilTime c = ToCivil(now_ms);
  std::random_device rd;
  uint32_t r = rd();
  char buf[40];
  std::snprintf(buf, sizeof(buf), "%04d%02d%02dT%02d%02d%02dZ-%08x", c.year, c.month, c.day, c.hour,
                c.minute, c.second, r);
  return buf;
}

// The run that wrote a silver object, from its name: data files "part-<run>.parquet",
// quarantine "run=<run>/", reports "<run>.json". Empty if the key is none of those.
std::string RunOfKey(std::string_view key) {
  if (key.starts_with(kReportPrefix)) {
    std::string_view name = key.substr(kReportPrefix.size());
    if (!name.ends_with(".json") || name.find('/') != name.npos) return {};
    return Str(name.substr(0, name.size() - 5));
  }
  if (key.starts_with(kQuarantinePrefix)) {
    std::string_view rest = key.substr(kQuarantinePrefix.size());
    if (!rest.starts_with("run=")) return {};
    rest.remove_prefix(4);
    return Str(rest.substr(0, rest.find('/')));
  }
  std::string_view name = key.substr(key.rfind('/') + 1);
  if (!name.starts_with("part-") || !name.ends_with(".parquet")) return {};
  return Str(name.substr(5, name.size() - 5 - 8));
}

// The silver table an object belongs to ("clickstream", "_quarantine", ...).
std::string_view TableOfKey(std::string_view key) {
  std::string_view rest = key.substr(kSilverPrefix.size());
  return rest.substr(0, rest.find('/'));
}

// ---------------------------------------------------------------------------------------------
// Manifests: silver/_manifest/<run>.jsonl. The first line describes the run
// ({"run_id", "seq", "started_at", "bronze_files"}), each further line one bronze file it
// processed ({"bronze_file", "size", "records"}). seq orders committed runs even when their ids
// share a second (or a caller chose them).

struct ManifestState {
  std::set<std::string> processed;      // bronze keys
  std::map<std::string, int64_t> runs;  // committed run -> seq
  int64_t max_seq = 0;
};

Status ReadManifests(ObjectStore* store, ManifestState* state) {
  RECSYS_ASSIGN_OR_RETURN(std::vector<ObjectInfo> keys, store->List(kManifestPrefix));
  simdjson::dom::parser parser;
  for (const ObjectInfo& info : keys) {
    std::string_view name = std::string_view(info.key).substr(kManifestPrefix.size());
    if (!name.ends_with(".jsonl") || name.find('/') != name.npos) continue;
    std::string run = Str(name.substr(0, name.size() - 6));
    RECSYS_ASSIGN_OR_RETURN(std::string text, store->Get(info.key));
    int64_t seq = 0;
    size_t start = 0, line = 0;
    while (start < text.size()) {
      size_t end = text.find('\n', start);
      if (end == text.npos) end = text.size();
      std::string_view l(text.data() + start, end - start);
      start = end + 1;
      ++line;
      if (l.empty()) continue;
      simdjson::dom::element doc;
      simdjson::padded_string padded(l);
      auto corrupt = [&] {
        return Status::Corruption(info.key + " line " + std::to_string(line) +
                                  ": not a manifest record");
      };
      if (parser.parse(padded).get(doc)) return corrupt();
      std::string_view file;
      int64_t s = 0;
      if (!doc["bronze_file"].get_string().get(file)) {
        state->processed.emplace(file);
      } else if (!doc["seq"].get_int64().get(s)) {
        seq = s;
      } else {
        return corrupt();
      }
    }
    state->runs[run] = seq;
    state->max_seq = std::max(state->max_seq, seq);
  }
  return Status::OK();
}

// ---------------------------------------------------------------------------------------------
// Quarantine rows on their way from the parsing threads to the DuckAppender: cells encoded one
// after the other in a byte string.

enum CellTag : char { kCellString, kCellInt, kCellEnd };

class RowBuffer {
 public:
  void String(std::string_view s) {
    data_.push_back(kCellString);
    uint64_t n = s.size();
    data_.append(reinterpret_cast<const char*>(&n), sizeof(n));
    data_.append(s);
  }
  void Int(int64_t v) {
    data_.push_back(kCellInt);
    data_.append(reinterpret_cast<const char*>(&v), sizeof(v));
  }
  void EndRow() { data_.push_back(kCellEnd); }
  std::string_view data() const { return data_; }

 private:
  std::string data_;
};

// Appends every row of a RowBuffer.
Status AppendRows(std::string_view data, DuckAppender* a) {
  size_t pos = 0;
  while (pos < data.size()) {
    const char tag = data[pos++];
    switch (tag) {
      case kCellEnd:
        RECSYS_RETURN_IF_ERROR(a->EndRow());
        break;
      case kCellString: {
        uint64_t n;
        std::memcpy(&n, data.data() + pos, sizeof(n));
        pos += sizeof(n);
        RECSYS_RETURN_IF_ERROR(a->String(data.substr(pos, n)));
        pos += n;
        break;
      }
      case kCellInt: {
        int64_t v;
        std::memcpy(&v, data.data() + pos, sizeof(v));
        pos += sizeof(v);
        RECSYS_RETURN_IF_ERROR(a->Int64(v));
        break;
      }
      default:
        return Status::Internal("silver: corrupt row buffer");
    }
  }
  return Status::OK();
}

// Accepted rows are spooled as CSV that DuckDB reads while writing Parquet (much cheaper than an
// appender call per value and a table in between): tab-separated, unquoted \N is NULL, a field
// with a tab, newline, carriage return or quote (or one that reads \N or is empty) is quoted,
// quotes doubled.
constexpr std::string_view kCsvOptions =
    "delim = '\\t', quote = '\"', escape = '\"', new_line = '\\n', header = false, "
    "nullstr = '\\N', allow_quoted_nulls = false, auto_detect = false";

class CsvLine {
 public:
  explicit CsvLine(std::string* out) : out_(out) {}
  void Null() {
    Sep();
    out_->append("\\N");
  }
  void String(std::string_view s) {
    Sep();
    bool quote = s.empty() || s == "\\N";
    for (char c : s) {
      if (c == '\t' || c == '\n' || c == '\r' || c == '"') {
        quote = true;
        break;
      }
    }
    if (!quote) {
      out_->append(s);
      return;
    }
    out_->push_back('"');
    for (char c : s) {
      if (c == '"') out_->push_back('"');
      out_->push_back(c);
    }
    out_->push_back('"');
  }
  // Empty strings become NULL.
  void NullableString(std::string_view s) { s.empty() ? Null() : String(s); }
  void Int(int64_t v) {
    Sep();
    char buf[24];
    out_->append(buf, std::to_chars(buf, buf + sizeof(buf), v).ptr);
  }
  void OptInt(const std::optional<int64_t>& v) { v ? Int(*v) : Null(); }
  // Shortest text that reads back as the same double.
  void Double(double v) {
    Sep();
    char buf[32];
    out_->append(buf, std::to_chars(buf, buf + sizeof(buf), v).ptr);
  }
  void OptDouble(const std::optional<double>& v) { v ? Double(*v) : Null(); }
  void End() { out_->push_back('\n'); }

 private:
  void Sep() {
    if (!first_) out_->push_back('\t');
    first_ = false;
  }
  std::string* out_;
  bool first_ = true;
};

// The event ids of this run, for deduplication within it. Open addressing over an arena of the
// ids' bytes: 32 to 64 bytes of table per id besides the id, and no allocation per insert.
class IdSet {
 public:
  // True if id was not in the set (and now is).
  bool Insert(std::string_view id) {
    if ((count_ + 1) * 2 > slots_.size()) Grow();
    const uint64_t h = std::hash<std::string_view>()(id);
    const auto tag = static_cast<uint32_t>(h >> 32);
    for (size_t i = h & mask_;; i = (i + 1) & mask_) {
      Slot& s = slots_[i];
      if (s.data == nullptr) {
        s = {Store(id), static_cast<uint32_t>(id.size()), tag};
        ++count_;
        return true;
      }
      if (s.tag == tag && std::string_view(s.data, s.len) == id) return false;
    }
  }

 private:
  static constexpr size_t kChunk = 1 << 20;
  struct Slot {
    const char* data = nullptr;  // null: empty slot
    uint32_t len = 0;            // ids are at most max_message_bytes long
    uint32_t tag = 0;            // high half of the hash
  };
  const char* Store(std::string_view id) {
    if (chunks_.empty() || used_ + id.size() + 1 > chunk_size_) {
      chunk_size_ = std::max(kChunk, id.size() + 1);
      chunks_.push_back(std::make_unique<char[]>(chunk_size_));
      used_ = 0;
    }
    char* p = chunks_.back().get() + used_;
    std::memcpy(p, id.data(), id.size());
    used_ += id.size() + 1;  // +1: an empty id still gets a non-null address of its own
    return p;
  }
  void Grow() {
    std::vector<Slot> old = std::move(slots_);
    slots_.assign(std::max<size_t>(1024, old.size() * 2), Slot{});
    mask_ = slots_.size() - 1;
    for (const Slot& s : old) {
      if (s.data == nullptr) continue;
      size_t i = std::hash<std::string_view>()(std::string_view(s.data, s.len)) & mask_;
      while (slots_[i].data != nullptr) i = (i + 1) & mask_;
      slots_[i] = s;
    }
  }
  std::vector<Slot> slots_;
  size_t mask_ = 0, count_ = 0;
  std::vector<std::unique_ptr<char[]>> chunks_;
  size_t used_ = 0, chunk_size_ = 0;
};

// ---------------------------------------------------------------------------------------------
// Parsing one bronze file.

struct FileResult {
  Status status;
  int64_t lines = 0;
  std::string csv;  // CSV rows of the file's topic, in line order
  std::string ids;  // their event ids, concatenated
  struct Row {
    size_t csv_end, id_end;
    int64_t day;  // of event_time, days since 1970-01-01
  };
  std::vector<Row> rows;
  RowBuffer rejected;  // stg_quarantine rows
  std::array<int64_t, kRejectReasonCount> by_reason{};
};

bool IsSpace(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && IsSpace(s.front())) s.remove_prefix(1);
  while (!s.empty() && IsSpace(s.back())) s.remove_suffix(1);
  return s;
}

std::string_view TrimOpt(const std::optional<std::string>& s) {
  return s ? Trim(*s) : std::string_view();
}

void AsciiCase(std::string_view in, bool upper, std::string* out) {
  out->assign(in);
  for (char& c : *out) {
    if (upper && c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
    if (!upper && c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
}

// Text that is valid UTF-8 (DuckDB's VARCHAR requires it): each byte that is not part of a
// valid sequence becomes U+FFFD.
std::string ValidUtf8(std::string_view s) {
  if (simdjson::validate_utf8(s.data(), s.size())) return Str(s);
  std::string out;
  out.reserve(s.size() + 16);
  size_t i = 0;
  while (i < s.size()) {
    const auto c = static_cast<unsigned char>(s[i]);
    size_t len = c < 0x80 ? 1 : c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC0 ? 2 : 0;
    if (len == 0 || i + len > s.size() || !simdjson::validate_utf8(s.data() + i, len)) {
      out.append("\xEF\xBF\xBD");
      ++i;
      continue;
    }
    out.append(s.data() + i, len);
    i += len;
  }
  return out;
}

std::optional<Rejection> Reject(RejectReason reason, std::string message) {
  return Rejection{reason, std::move(message)};
}

std::optional<Rejection> CheckPrice(std::string_view name, const std::optional<double>& price) {
  if (price && *price >= kMaxPrice) {
    return Reject(RejectReason::kWrongType,
                  Str(name) + " " + std::to_string(*price) + " is too large (limit 1e15)");
  }
  return std::nullopt;
}

// Upper-cases a currency into *out (empty: none); it must be a three-letter code (ISO 4217).
std::optional<Rejection> NormalizeCurrency(std::string_view name, std::string_view raw,
                                           std::string* out) {
  AsciiCase(Trim(raw), /*upper=*/true, out);
  if (out->empty()) return std::nullopt;
  if (out->size() != 3 ||
      !std::all_of(out->begin(), out->end(), [](char c) { return c >= 'A' && c <= 'Z'; })) {
    return Reject(RejectReason::kWrongType, Str(name) + " \"" + ValidUtf8(raw.substr(0, 32)) +
                                                "\" is not a three-letter currency code");
  }
  return std::nullopt;
}

// Rules silver adds to EventParser's: required ids that are only whitespace are missing (they
// would become NULL), prices must fit DECIMAL(18,2), currencies must be codes, and times must
// fall in years 1 to 9999 (DuckDB's dates and the event_date folders need four-digit years).
std::optional<Rejection> CheckSilverRules(const Event& e) {
  static const int64_t kYearOne = FromCivil(1, 1, 1);
  if (e.event_time_ms < kYearOne) {
    return Reject(RejectReason::kBadTime,
                  "event_time " + FormatRfc3339Millis(e.event_time_ms) + " is before the year 1");
  }
  auto blank = [](const std::string& s) { return !s.empty() && Trim(s).empty(); };
  auto missing = [](std::string_view f) {
    return Reject(RejectReason::kMissingField, Str(f) + " is blank");
  };
  const Topic topic = e.topic();
  if (blank(e.event_id)) return missing("event_id");
  if (topic != Topic::kProductEvents && blank(e.user_id)) return missing("user_id");
  if (topic == Topic::kClickstream && blank(e.session_id)) return missing("session_id");
  if (topic != Topic::kUserEvents && blank(e.product_id)) {
    switch (e.type) {
      case EventType::kPageView:
      case EventType::kSearch:
      case EventType::kRecommendationImpression:
        break;  // optional here: becomes NULL
      default:
        return missing("product_id");
    }
  }
  if (e.type == EventType::kPurchase && blank(e.order_id)) return missing("order_id");
  if (e.type == EventType::kProductCreated && e.product.title && Trim(*e.product.title).empty()) {
    return missing("attributes.title");
  }
  if (auto r = CheckPrice("price", e.price)) return r;
  if (auto r = CheckPrice("attributes.price", e.product.price)) return r;
  return std::nullopt;
}

class FileParser {
 public:
  FileParser(const SilverOptions& options, int64_t now_ms) {
    validation_.now_ms = now_ms;
    validation_.max_future_skew_ms = options.max_future_skew_ms;
    validation_.max_message_bytes = options.max_message_bytes;
  }

  FileResult Parse(ObjectStore* store, const BronzeFile& file, int32_t file_idx) {
    FileResult result;
    Result<std::string> raw = store->Get(file.key);
    if (!raw.ok()) {
      result.status = raw.status().WithContext("silver: read " + file.key);
      return result;
    }
    std::string text;
    if (file.compression == Compression::kNone) {
      text = std::move(raw.value());
    } else {
      Result<std::string> plain = Decompress(file.compression, *raw);
      if (!plain.ok()) {
        result.status = plain.status().WithContext("silver: " + file.key);
        return result;
      }
      text = std::move(plain.value());
    }
    validation_.expected_topic = file.topic;
    result.csv.reserve(text.size() * 3 / 4);
    size_t start = 0;
    int64_t line = 0;
    while (start < text.size()) {
      size_t end = text.find('\n', start);
      if (end == text.npos) end = text.size();
      std::string_view record(text.data() + start, end - start);
      start = end + 1;
      ++line;
      std::optional<Rejection> r = parser_.Parse(record, validation_, &event_);
      if (!r) r = CheckSilverRules(event_);
      if (!r) r = Encode(file.topic, file_idx, line, &result);
      if (r) Quarantine(file, file_idx, line, record, *r, &result);
    }
    result.lines = line;
    return result;
  }

 private:
  // Appends the staging row of event_; on a rejection leaves *out as it was.
  std::optional<Rejection> Encode(Topic topic, int32_t file_idx, int64_t line, FileResult* out) {
    const Event& e = event_;
    const size_t mark = out->csv.size();
    CsvLine csv(&out->csv);
    const std::string_view id = Trim(e.event_id);
    csv.String(id);
    csv.String(EventTypeName(e.type));
    csv.Int(e.event_time_ms);
    std::optional<Rejection> r;
    switch (topic) {
      case Topic::kClickstream:
        csv.NullableString(Trim(e.user_id));
        csv.NullableString(Trim(e.session_id));
        csv.NullableString(Trim(e.product_id));
        csv.OptInt(e.quantity);
        csv.OptDouble(e.price);
        if ((r = NormalizeCurrency("currency", e.currency, &scratch_))) break;
        csv.NullableString(scratch_);
        csv.NullableString(Trim(e.order_id));
        csv.NullableString(Trim(e.query));
        csv.NullableString(Trim(e.page));
        csv.NullableString(Trim(e.referrer));
        AsciiCase(Trim(e.device), /*upper=*/false, &scratch_);
        csv.NullableString(scratch_);
        csv.NullableString(Trim(e.rec_id));
        csv.OptInt(e.position);
        csv.OptDouble(e.rating);
        break;
      case Topic::kUserEvents: {
        csv.NullableString(Trim(e.user_id));
        const UserAttributes& u = e.user;
        for (const auto* a :
             {&u.country, &u.city, &u.age_band, &u.gender, &u.signup_channel, &u.email}) {
          csv.NullableString(TrimOpt(*a));
        }
        break;
      }
      case Topic::kProductEvents: {
        csv.NullableString(Trim(e.product_id));
        const ProductAttributes& p = e.product;
        for (const auto* a : {&p.title, &p.description, &p.category, &p.brand}) {
          csv.NullableString(TrimOpt(*a));
        }
        csv.OptDouble(p.price);
        if ((r = NormalizeCurrency("attributes.currency", TrimOpt(p.currency), &scratch_))) {
          break;
        }
        csv.NullableString(scratch_);
        csv.OptInt(p.stock);
        if (p.tags) {
          // A JSON array, cast to VARCHAR[] by DuckDB; blank tags are dropped.
          scratch_ = "[";
          for (const std::string& tag : *p.tags) {
            std::string_view t = Trim(tag);
            if (t.empty()) continue;
            if (scratch_.size() > 1) scratch_.push_back(',');
            AppendJsonString(t, &scratch_);
          }
          scratch_.push_back(']');
          csv.String(scratch_);
        } else {
          csv.Null();
        }
        break;
      }
    }
    if (r) {
      out->csv.resize(mark);
      return r;
    }
    csv.Int(e.schema_version);
    csv.Int(file_idx);
    csv.Int(line);
    csv.End();
    out->ids.append(id);
    out->rows.push_back({out->csv.size(), out->ids.size(), FloorDiv(e.event_time_ms, kDayMs)});
    return std::nullopt;
  }

  static void Quarantine(const BronzeFile& file, int32_t file_idx, int64_t line,
                         std::string_view record, const Rejection& r, FileResult* result) {
    RowBuffer& q = result->rejected;
    q.String(ValidUtf8(record));
    q.String(TopicName(file.topic));
    q.Int(file_idx);
    q.Int(line);
    q.String(RejectReasonCode(r.reason));
    q.String(ValidUtf8(r.message));
    q.EndRow();
    ++result->by_reason[static_cast<int>(r.reason)];
  }

  EventParser parser_;
  ValidationOptions validation_;
  Event event_;
  std::string scratch_;
};

// ---------------------------------------------------------------------------------------------
// SQL over the spooled rows and the silver tables.

// The CSV columns of each topic, in the order FileParser::Encode writes them; event_time is in
// epoch milliseconds.
constexpr std::string_view kCsvColumns[kTopicCount] = {
    "event_id VARCHAR, event_type VARCHAR, event_time BIGINT, user_id VARCHAR, "
    "session_id VARCHAR, product_id VARCHAR, quantity BIGINT, price DOUBLE, currency VARCHAR, "
    "order_id VARCHAR, query VARCHAR, page VARCHAR, referrer VARCHAR, device VARCHAR, "
    "rec_id VARCHAR, position BIGINT, rating DOUBLE, schema_version INTEGER, file_idx INTEGER, "
    "bronze_line BIGINT",
    "event_id VARCHAR, event_type VARCHAR, event_time BIGINT, user_id VARCHAR, "
    "country VARCHAR, city VARCHAR, age_band VARCHAR, gender VARCHAR, signup_channel VARCHAR, "
    "email VARCHAR, schema_version INTEGER, file_idx INTEGER, bronze_line BIGINT",
    "event_id VARCHAR, event_type VARCHAR, event_time BIGINT, product_id VARCHAR, "
    "title VARCHAR, description VARCHAR, category VARCHAR, brand VARCHAR, price DOUBLE, "
    "currency VARCHAR, stock BIGINT, tags VARCHAR, schema_version INTEGER, file_idx INTEGER, "
    "bronze_line BIGINT",
};

// The ids spooled for each day: event_id and the topic's number (Topic).
constexpr std::string_view kIdColumns = "event_id VARCHAR, topic INTEGER";

// read_csv's columns argument from "name TYPE, ..." text.
std::string CsvColumns(std::string_view columns) {
  std::string out = "{";
  size_t start = 0;
  while (start < columns.size()) {
    size_t end = columns.find(", ", start);
    if (end == columns.npos) end = columns.size();
    std::string_view col = columns.substr(start, end - start);
    std::string_view name = col.substr(0, col.find(' '));
    std::string_view type = col.substr(col.find(' ') + 1);
    if (out.size() > 1) out += ", ";
    out += DuckDb::Quote(name) + ": " + DuckDb::Quote(type);
    start = end + 2;
  }
  return out + "}";
}

// The silver columns of each topic over its CSV rows s, in the order of
// docs/formats/lake-tables.md; the lineage columns follow. {salt} is the quoted salt.
constexpr std::string_view kTypedColumns[kTopicCount] = {
    R"sql(
  s.event_id, s.event_type, epoch_ms(s.event_time) AS event_time, s.user_id, s.session_id,
  s.product_id, s.quantity, CAST(s.price AS DECIMAL(18,2)) AS price, s.currency, s.order_id,
  s.query, s.page, s.referrer, s.device, s.rec_id, s.position, s.rating)sql",
    R"sql(
  s.event_id, s.event_type, epoch_ms(s.event_time) AS event_time, s.user_id, s.country, s.city,
  s.age_band, s.gender, s.signup_channel, sha256({salt} || lower(s.email)) AS email_hash)sql",
    R"sql(
  s.event_id, s.event_type, epoch_ms(s.event_time) AS event_time, s.product_id, s.title,
  s.description, s.category, s.brand, CAST(s.price AS DECIMAL(18,2)) AS price, s.currency,
  s.stock, CAST(CAST(s.tags AS JSON) AS VARCHAR[]) AS tags)sql",
};

// Rebuilt tables. {src} is every row of the incremental table they derive from, {gap} the
// session gap in minutes. Results never depend on the order rows are read in: events at the
// same time are never split by a session boundary (RANGE frames take peers together), and the
// "first" or "latest" event is decided by (event_time, event_id).
constexpr std::string_view kSessionsSql = R"sql(
WITH c AS (
  SELECT user_id, event_id, event_type, event_time, product_id, quantity, price, device,
         referrer
  FROM {src}),
flagged AS (
  SELECT *,
    CASE WHEN lag(event_time) OVER w IS NULL
           OR event_time - lag(event_time) OVER w > INTERVAL {gap} MINUTE
         THEN 1 ELSE 0 END AS starts_session
  FROM c WINDOW w AS (PARTITION BY user_id ORDER BY event_time)),
numbered AS (
  SELECT *, sum(starts_session) OVER (PARTITION BY user_id ORDER BY event_time
                                      RANGE UNBOUNDED PRECEDING) AS session_no
  FROM flagged)
SELECT
  user_id || ':' || epoch_ms(min(event_time)) AS session_key,
  user_id,
  min(event_time) AS session_start,
  max(event_time) AS session_end,
  (epoch_ms(max(event_time)) - epoch_ms(min(event_time))) / 1000.0 AS duration_s,
  count(*) AS events,
  count(*) FILTER (WHERE event_type = 'page_view') AS page_views,
  count(*) FILTER (WHERE event_type = 'product_view') AS product_views,
  count(*) FILTER (WHERE event_type = 'search') AS searches,
  count(*) FILTER (WHERE event_type = 'add_to_cart') AS add_to_carts,
  count(*) FILTER (WHERE event_type = 'remove_from_cart') AS remove_from_carts,
  count(*) FILTER (WHERE event_type = 'purchase') AS purchases,
  CAST(coalesce(sum(price * coalesce(quantity, 1)) FILTER (WHERE event_type = 'purchase'), 0)
       AS DECIMAL(18,2)) AS revenue,
  count(*) FILTER (WHERE event_type = 'purchase') > 0 AS converted,
  arg_min_null(device, (event_time, event_id)) AS device,
  arg_min_null(referrer, (event_time, event_id)) AS referrer,
  count(DISTINCT product_id) FILTER (WHERE event_type = 'product_view') AS products_viewed,
  CAST(min(event_time) AS DATE) AS event_date
FROM numbered
GROUP BY user_id, session_no
ORDER BY event_date
)sql";

// Attributes are the latest non-null value of each.
constexpr std::string_view kUsersSql = R"sql(
SELECT
  user_id,
  min(event_time) FILTER (WHERE event_type = 'signup') AS signup_time,
  arg_max(country, (event_time, event_id)) FILTER (WHERE country IS NOT NULL) AS country,
  arg_max(city, (event_time, event_id)) FILTER (WHERE city IS NOT NULL) AS city,
  arg_max(age_band, (event_time, event_id)) FILTER (WHERE age_band IS NOT NULL) AS age_band,
  arg_max(gender, (event_time, event_id)) FILTER (WHERE gender IS NOT NULL) AS gender,
  arg_max(signup_channel, (event_time, event_id)) FILTER (WHERE signup_channel IS NOT NULL)
    AS signup_channel,
  arg_max(email_hash, (event_time, event_id)) FILTER (WHERE email_hash IS NOT NULL)
    AS email_hash,
  max(event_time) FILTER (WHERE event_type = 'login') AS last_login,
  count(*) FILTER (WHERE event_type = 'login') AS logins,
  count(*) FILTER (WHERE event_type = 'profile_update') AS profile_updates,
  max(event_time) AS updated_at
FROM {src}
GROUP BY user_id
ORDER BY user_id
)sql";

// Type 2: the state after each event is the latest non-null value of every attribute; a version
// starts wherever the state changes and ends where the next one starts.
constexpr std::string_view kUsersHistorySql = R"sql(
WITH state AS (
  SELECT user_id, event_time, event_id,
    last_value(country IGNORE NULLS) OVER w AS country,
    last_value(city IGNORE NULLS) OVER w AS city,
    last_value(age_band IGNORE NULLS) OVER w AS age_band,
    last_value(gender IGNORE NULLS) OVER w AS gender,
    last_value(signup_channel IGNORE NULLS) OVER w AS signup_channel,
    last_value(email_hash IGNORE NULLS) OVER w AS email_hash
  FROM {src}
  WINDOW w AS (PARTITION BY user_id ORDER BY event_time, event_id ROWS UNBOUNDED PRECEDING)),
known AS (
  SELECT *, (country, city, age_band, gender, signup_channel, email_hash) AS attrs
  FROM state
  WHERE country IS NOT NULL OR city IS NOT NULL OR age_band IS NOT NULL OR gender IS NOT NULL
     OR signup_channel IS NOT NULL OR email_hash IS NOT NULL),
changes AS (
  SELECT * FROM known
  QUALIFY lag(attrs) OVER (PARTITION BY user_id ORDER BY event_time, event_id)
          IS DISTINCT FROM attrs),
versions AS (
  SELECT user_id, country, city, age_band, gender, signup_channel, email_hash,
    event_time AS valid_from,
    lead(event_time) OVER (PARTITION BY user_id ORDER BY event_time, event_id) AS valid_to
  FROM changes)
SELECT *, valid_to IS NULL AS is_current FROM versions ORDER BY user_id, valid_from
)sql";

constexpr std::string_view kProductsSql = R"sql(
SELECT
  product_id,
  arg_max(title, (event_time, event_id)) FILTER (WHERE title IS NOT NULL) AS title,
  arg_max(description, (event_time, event_id)) FILTER (WHERE description IS NOT NULL)
    AS description,
  arg_max(category, (event_time, event_id)) FILTER (WHERE category IS NOT NULL) AS category,
  arg_max(brand, (event_time, event_id)) FILTER (WHERE brand IS NOT NULL) AS brand,
  arg_max(price, (event_time, event_id)) FILTER (WHERE price IS NOT NULL) AS price,
  arg_max(currency, (event_time, event_id)) FILTER (WHERE currency IS NOT NULL) AS currency,
  arg_max(stock, (event_time, event_id)) FILTER (WHERE stock IS NOT NULL) AS stock,
  arg_max(tags, (event_time, event_id)) FILTER (WHERE tags IS NOT NULL) AS tags,
  min(event_time) FILTER (WHERE event_type = 'product_created') AS created_at,
  max(event_time) AS updated_at,
  bool_or(event_type = 'product_discontinued') AS discontinued
FROM {src}
GROUP BY product_id
ORDER BY product_id
)sql";

// A row per price change; the currency is the latest one known at the change.
constexpr std::string_view kProductPricesSql = R"sql(
WITH e AS (
  SELECT product_id, event_time, event_id, price,
    last_value(currency IGNORE NULLS) OVER (
      PARTITION BY product_id ORDER BY event_time, event_id ROWS UNBOUNDED PRECEDING)
      AS currency
  FROM {src}),
changes AS (
  SELECT * FROM e
  WHERE price IS NOT NULL
  QUALIFY lag((price, currency)) OVER (PARTITION BY product_id ORDER BY event_time, event_id)
          IS DISTINCT FROM (price, currency))
SELECT product_id, price, currency, event_time AS valid_from,
  lead(event_time) OVER (PARTITION BY product_id ORDER BY event_time, event_id) AS valid_to
FROM changes
ORDER BY product_id, valid_from
)sql";

std::string Replace(std::string_view text, std::string_view from, std::string_view to) {
  std::string out(text);
  for (size_t pos = out.find(from); pos != out.npos; pos = out.find(from, pos + to.size())) {
    out.replace(pos, from.size(), to);
  }
  return out;
}

// "YYYY-MM-DD" of a day number (days since 1970-01-01).
std::string DayText(int64_t day) {
  CivilTime c = ToCivil(day * kDayMs);
  char buf[16];
  std::snprintf(buf, sizeof(buf), "%04d-%02d-%02d", c.year, c.month, c.day);
  return buf;
}

Status AppendToFile(const std::string& path, std::string_view data) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd < 0) return Status::FromErrno("open", path, errno);
  while (!data.empty()) {
    ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      int err = errno;
      ::close(fd);
      return Status::FromErrno("write", path, err);
    }
    data.remove_prefix(static_cast<size_t>(n));
  }
  return ::close(fd) == 0 ? Status::OK() : Status::FromErrno("close", path, errno);
}

// The run's accepted rows, spooled as CSV in its temporary folder: one file per topic and
// event_date ("<topic>-<day>.csv"), and one of event ids per event_date ("ids-<day>.csv"), so
// that each silver file is one COPY from one CSV file.
class Spools {
 public:
  static constexpr int kIds = kTopicCount;  // the kind of the ids files
  struct Spool {
    std::string path;
    std::string buffer;
    int64_t rows = 0;
    int64_t bytes = 0;
    size_t longest = 0;  // longest line, for read_csv's max_line_size
  };
  using Key = std::pair<int, int64_t>;  // kind (a Topic or kIds), day

  explicit Spools(std::string dir) : dir_(std::move(dir)) {}

  Status Add(int kind, int64_t day, std::string_view line) {
    Spool& s = spools_[{kind, day}];
    if (s.path.empty()) {
      s.path = dir_ + "/" + (kind == kIds ? "ids" : Str(kTopicTables[kind])) + "-" +
               std::to_string(day) + ".csv";
    }
    s.buffer.append(line);
    ++s.rows;
    s.bytes += static_cast<int64_t>(line.size());
    s.longest = std::max(s.longest, line.size());
    buffered_ += line.size();
    if (s.buffer.size() >= kFlushBytes) RECSYS_RETURN_IF_ERROR(Flush(&s));
    if (buffered_ >= kMaxBufferedBytes) return FlushAll();
    return Status::OK();
  }

  Status FlushAll() {
    for (auto& [key, s] : spools_) RECSYS_RETURN_IF_ERROR(Flush(&s));
    return Status::OK();
  }

  const std::map<Key, Spool>& spools() const { return spools_; }
  std::string IdsGlob() const { return dir_ + "/ids-*.csv"; }

 private:
  static constexpr size_t kFlushBytes = 1 << 20;
  static constexpr size_t kMaxBufferedBytes = 64 << 20;

  Status Flush(Spool* s) {
    if (s->buffer.empty()) return Status::OK();
    RECSYS_RETURN_IF_ERROR(AppendToFile(s->path, s->buffer));
    buffered_ -= s->buffer.size();
    s->buffer.clear();
    return Status::OK();
  }

  std::string dir_;
  std::map<Key, Spool> spools_;
  size_t buffered_ = 0;
};

// read_csv over a spool.
std::string ReadSpool(const Spools::Spool& s, std::string_view columns) {
  const size_t max_line = std::max<size_t>(2000000, s.longest + 16);
  return "read_csv(" + DuckDb::Quote(s.path) + ", " + Str(kCsvOptions) +
         ", max_line_size = " + std::to_string(max_line) + ", columns = " + CsvColumns(columns) +
         ")";
}

// One silver Parquet file to write from one spool.
struct WriteJob {
  int kind;     // a Topic, or Spools::kIds for event_ids
  int64_t day;  // event_date
  const Spools::Spool* spool;
  int64_t written = 0;
};

Status CreateFilesTable(DuckDb* db, const std::vector<BronzeFile>& files) {
  RECSYS_RETURN_IF_ERROR(db->Execute("CREATE TABLE files (idx INTEGER, key VARCHAR)"));
  RECSYS_ASSIGN_OR_RETURN(std::unique_ptr<DuckAppender> a, db->Appender("files"));
  for (size_t i = 0; i < files.size(); ++i) {
    RECSYS_RETURN_IF_ERROR(a->Int64(static_cast<int64_t>(i)));
    RECSYS_RETURN_IF_ERROR(a->String(files[i].key));
    RECSYS_RETURN_IF_ERROR(a->EndRow());
  }
  return a->Close();
}

// ---------------------------------------------------------------------------------------------

class SilverRun {
 public:
  SilverRun(const LakeLocation& lake, const SilverOptions& options, SilverReport* report)
      : lake_(lake), options_(options), report_(report) {}

  Status Run();

 private:
  Status CleanUp(const ManifestState& manifests);
  Status OpenDb(const std::vector<BronzeFile>& files);
  Status Ingest(const std::vector<BronzeFile>& files);
  Status Consume(FileResult& r, int topic, DuckAppender* quarantine);
  Status FindOldDuplicates();
  Status WriteIncremental(const std::vector<BronzeFile>& files);
  Status WriteJobs(const std::vector<BronzeFile>& files, const std::vector<WriteJob*>& jobs,
                   int writer);
  Status WriteQuarantine();
  Status Rebuild();
  Status CheckAccounting();
  Status Commit(const std::vector<BronzeFile>& files, int64_t seq);
  // Removes what this run wrote (best effort): a failed run leaves nothing behind.
  void Abandon();

  std::string Path(std::string_view key) const { return lake_.root + "/" + Str(key); }
  // read_parquet over every file of an incremental table: after CleanUp, those of committed
  // runs and this run's.
  std::string AllFiles(std::string_view table) const {
    return "read_parquet(" + DuckDb::Quote(Path("silver/" + Str(table)) + "/*/*.parquet") +
           ", hive_partitioning = false)";
  }
  // Writes query's rows to silver/<table>/[event_date=<day>/]part-<run>.parquet with db.
  Result<int64_t> Copy(DuckDb* db, std::string_view table, std::optional<int64_t> day,
                       const std::string& query);
  int Threads() const {
    return options_.threads > 0
               ? options_.threads
               : std::max(1, static_cast<int>(std::thread::hardware_concurrency()));
  }

  const LakeLocation& lake_;
  const SilverOptions& options_;
  SilverReport* report_;
  Clock* clock_ = nullptr;
  int64_t now_ms_ = 0;
  std::string run_;
  // Scratch (spools, DuckDB spill, staged ids); declared before what writes into it, so it
  // goes last.
  std::unique_ptr<TempDir> temp_;
  std::string temp_dir_;  // temp_->path()
  std::unique_ptr<DuckDb> db_;
  bool have_event_ids_ = false;

  IdSet ids_;
  std::unique_ptr<Spools> spools_;
  std::string id_line_;
  // Records of this run whose event_id an earlier run wrote, by (topic, day).
  std::map<Spools::Key, int64_t> old_duplicates_;
  std::array<SilverCounts, kTopicCount> counts_{};
  std::array<int64_t, kRejectReasonCount> by_reason_{};
  std::map<std::string, int64_t> table_rows_;
  std::vector<int64_t> file_records_;  // lines read from each bronze file
  bool stopped_for_testing_ = false;
};

Status SilverRun::Run() {
  if (lake_.store == nullptr || lake_.root.empty()) {
    return Status::InvalidArgument("silver: the lake needs a store and a local root");
  }
  clock_ = options_.clock ? options_.clock : SystemClock();
  const int64_t started_ns = clock_->MonotonicNanos();
  now_ms_ = clock_->NowMillis();
  *report_ = SilverReport();

  ManifestState manifests;
  RECSYS_RETURN_IF_ERROR(ReadManifests(lake_.store, &manifests));
  run_ = options_.run_id.empty() ? NewRunId(now_ms_) : options_.run_id;
  RECSYS_RETURN_IF_ERROR(CheckRunId(run_));
  if (manifests.runs.count(run_)) {
    return Status::AlreadyExists("silver run " + run_ + " is already committed");
  }
  report_->run_id = run_;
  RECSYS_RETURN_IF_ERROR(CleanUp(manifests));

  RECSYS_ASSIGN_OR_RETURN(std::vector<ObjectInfo> bronze, lake_.store->List(kBronzePrefix));
  std::vector<BronzeFile> files;
  for (const ObjectInfo& info : bronze) {
    std::optional<BronzeFile> f = ParseBronzeKey(info);
    if (f && !manifests.processed.count(f->key)) files.push_back(std::move(*f));
  }
  if (files.empty()) return Status::OK();
  RECSYS_ASSIGN_OR_RETURN(std::vector<ObjectInfo> event_ids,
                          lake_.store->List("silver/event_ids/"));
  have_event_ids_ = !event_ids.empty();

  Status st = OpenDb(files);
  if (st.ok()) st = Ingest(files);
  if (st.ok()) st = FindOldDuplicates();
  if (st.ok()) st = WriteIncremental(files);
  if (st.ok()) st = WriteQuarantine();
  if (st.ok()) st = Rebuild();
  if (st.ok()) st = CheckAccounting();
  if (st.ok()) {
    report_->files = static_cast<int64_t>(files.size());
    report_->table_rows = table_rows_;
    report_->seconds = static_cast<double>(clock_->MonotonicNanos() - started_ns) / 1e9;
    st = Commit(files, manifests.max_seq + 1);
  }
  db_.reset();
  spools_.reset();
  temp_.reset();
  if (!st.ok()) {
    if (!stopped_for_testing_) Abandon();
    SilverReport failed;
    failed.run_id = run_;
    *report_ = std::move(failed);
  }
  return st;
}

// Files of runs without a manifest are what a crash left: removed before anything else, so
// nothing they hold is counted. Of each rebuilt table only the newest committed run's files stay
// (a crash between a manifest and the removal of older generations leaves two).
Status SilverRun::CleanUp(const ManifestState& manifests) {
  RECSYS_RETURN_IF_ERROR(lake_.store->CleanTemporaryFiles(kSilverPrefix));
  RECSYS_ASSIGN_OR_RETURN(std::vector<ObjectInfo> objects, lake_.store->List(kSilverPrefix));
  std::map<std::string, int64_t> newest;  // rebuilt table -> newest seq with files
  for (const ObjectInfo& o : objects) {
    auto it = manifests.runs.find(RunOfKey(o.key));
    if (it == manifests.runs.end()) continue;
    std::string table = Str(TableOfKey(o.key));
    for (std::string_view t : kRebuiltTables) {
      if (t == table) newest[table] = std::max(newest[table], it->second);
    }
  }
  for (const ObjectInfo& o : objects) {
    if (o.key.starts_with(kManifestPrefix)) continue;
    std::string run = RunOfKey(o.key);
    if (run.empty()) continue;
    auto it = manifests.runs.find(run);
    const bool orphan = it == manifests.runs.end();
    auto n = newest.find(Str(TableOfKey(o.key)));
    const bool superseded = !orphan && n != newest.end() && it->second < n->second;
    if (!orphan && !superseded) continue;
    RECSYS_RETURN_IF_ERROR(lake_.store->Delete(o.key).WithContext("silver: clean up"));
    ++report_->orphan_files_removed;
  }
  return Status::OK();
}

Status SilverRun::OpenDb(const std::vector<BronzeFile>& files) {
  temp_ = std::make_unique<TempDir>("recsys-silver");
  if (temp_->path().empty()) {
    return Status::IOError("silver: cannot make a scratch folder under $TMPDIR (or /tmp)");
  }
  temp_dir_ = temp_->path();
  spools_ = std::make_unique<Spools>(temp_dir_);
  DuckDbOptions db_options;
  db_options.threads = options_.threads;
  db_options.memory_limit = options_.memory_limit;
  db_options.temp_directory = temp_dir_ + "/spill";
  RECSYS_ASSIGN_OR_RETURN(db_, DuckDb::Open("", db_options));
  RECSYS_RETURN_IF_ERROR(db_->Execute(
      "SET preserve_insertion_order = false; CREATE TABLE stg_quarantine (raw VARCHAR, "
      "topic VARCHAR, file_idx INTEGER, bronze_line BIGINT, reason VARCHAR, message VARCHAR)"));
  return CreateFilesTable(db_.get(), files);
}

Status SilverRun::Ingest(const std::vector<BronzeFile>& files) {
  RECSYS_ASSIGN_OR_RETURN(std::unique_ptr<DuckAppender> quarantine,
                          db_->Appender("stg_quarantine"));

  // Parsing threads fill results[i] at most kParseWindow files ahead of this thread, which
  // takes them in key order so that the first occurrence of an event id wins.
  const size_t n = files.size();
  const int threads = std::clamp(Threads(), 1, static_cast<int>(std::min<size_t>(n, 64)));
  std::vector<std::unique_ptr<FileResult>> results(n);
  file_records_.assign(n, 0);
  std::mutex mu;
  std::condition_variable ready, space;
  size_t consumed = 0;
  bool stop = false;
  std::atomic<size_t> next{0};
  auto work = [&] {
    FileParser parser(options_, now_ms_);
    for (;;) {
      const size_t i = next.fetch_add(1);
      if (i >= n) return;
      {
        std::unique_lock<std::mutex> lock(mu);
        space.wait(lock, [&] { return stop || i < consumed + kParseWindow; });
        if (stop) return;
      }
      auto r = std::make_unique<FileResult>(
          parser.Parse(lake_.store, files[i], static_cast<int32_t>(i)));
      std::lock_guard<std::mutex> lock(mu);
      results[i] = std::move(r);
      ready.notify_all();
    }
  };
  std::vector<std::thread> workers;
  workers.reserve(threads);
  for (int t = 0; t < threads; ++t) workers.emplace_back(work);

  Status st;
  for (size_t i = 0; i < n && st.ok(); ++i) {
    std::unique_ptr<FileResult> r;
    {
      std::unique_lock<std::mutex> lock(mu);
      ready.wait(lock, [&] { return results[i] != nullptr; });
      r = std::move(results[i]);
      consumed = i + 1;
      space.notify_all();
    }
    st = r->status;
    if (st.ok()) st = Consume(*r, static_cast<int>(files[i].topic), quarantine.get());
    file_records_[i] = r->lines;
  }
  {
    std::lock_guard<std::mutex> lock(mu);
    stop = true;
    space.notify_all();
  }
  for (std::thread& w : workers) w.join();
  RECSYS_RETURN_IF_ERROR(st);
  RECSYS_RETURN_IF_ERROR(spools_->FlushAll());
  return quarantine->Close();
}

Status SilverRun::Consume(FileResult& r, int topic, DuckAppender* quarantine) {
  SilverCounts& c = counts_[topic];
  c.read += r.lines;
  size_t csv_begin = 0, id_begin = 0;
  for (const FileResult::Row& row : r.rows) {
    std::string_view id(r.ids.data() + id_begin, row.id_end - id_begin);
    if (ids_.Insert(id)) {
      RECSYS_RETURN_IF_ERROR(spools_->Add(
          topic, row.day, std::string_view(r.csv).substr(csv_begin, row.csv_end - csv_begin)));
      id_line_.clear();
      CsvLine line(&id_line_);
      line.String(id);
      line.Int(topic);
      line.End();
      RECSYS_RETURN_IF_ERROR(spools_->Add(Spools::kIds, row.day, id_line_));
    } else {
      ++c.duplicates;
    }
    csv_begin = row.csv_end;
    id_begin = row.id_end;
  }
  RECSYS_RETURN_IF_ERROR(AppendRows(r.rejected.data(), quarantine));
  for (int i = 0; i < kRejectReasonCount; ++i) by_reason_[i] += r.by_reason[i];
  return Status::OK();
}

// Records whose event_id is already in silver (silver/event_ids) duplicate an earlier run's.
Status SilverRun::FindOldDuplicates() {
  if (!have_event_ids_ || spools_->spools().empty()) return Status::OK();
  size_t longest = 0;
  for (const auto& [key, spool] : spools_->spools()) {
    if (key.first == Spools::kIds) longest = std::max(longest, spool.longest);
  }
  const std::string ids =
      "read_csv(" + DuckDb::Quote(spools_->IdsGlob()) + ", " + Str(kCsvOptions) +
      ", max_line_size = " + std::to_string(std::max<size_t>(2000000, longest + 16)) +
      ", columns = " + CsvColumns(kIdColumns) + ", filename = true)";
  RECSYS_RETURN_IF_ERROR(db_->Execute(
      "CREATE TABLE old_ids AS SELECT event_id FROM read_parquet(" +
      DuckDb::Quote(Path("silver/event_ids") + "/*/*.parquet") +
      ", hive_partitioning = false) WHERE event_id IN (SELECT event_id FROM " + ids + ")"));
  RECSYS_ASSIGN_OR_RETURN(int64_t old, db_->QueryInt64("SELECT count(*) FROM old_ids"));
  if (old == 0) return Status::OK();
  RECSYS_ASSIGN_OR_RETURN(
      QueryResult r,
      db_->Query("SELECT topic, CAST(regexp_extract(filename, 'ids-(-?[0-9]+)\\.csv$', 1) AS "
                 "BIGINT) AS day, count(*) FROM " +
                 ids + " WHERE event_id IN (SELECT event_id FROM old_ids) GROUP BY ALL"));
  for (size_t i = 0; i < r.rows(); ++i) {
    const int topic = static_cast<int>(r.GetInt64(i, 0));
    if (topic < 0 || topic >= kTopicCount) return Status::Internal("silver: bad spooled topic");
    old_duplicates_[{topic, r.GetInt64(i, 1)}] += r.GetInt64(i, 2);
    counts_[topic].duplicates += r.GetInt64(i, 2);
  }
  return db_->Execute("COPY old_ids TO " + DuckDb::Quote(temp_dir_ + "/old_ids.parquet") +
                      " (FORMAT parquet)");
}

Result<int64_t> SilverRun::Copy(DuckDb* db, std::string_view table, std::optional<int64_t> day,
                                const std::string& query) {
  std::string dir = Path("silver/" + Str(table));
  if (day) dir += "/event_date=" + DayText(*day);
  RECSYS_RETURN_IF_ERROR(CreateDirs(dir));
  const std::string file = dir + "/part-" + run_ + ".parquet";
  return db->QueryInt64("COPY (" + query + ") TO " + DuckDb::Quote(file) +
                        " (FORMAT parquet, COMPRESSION zstd, COMPRESSION_LEVEL 1)");
}

// One file per table and event_date (exactly the names of docs/formats/lake-tables.md), each a
// COPY from one spool. Writers with a single-threaded DuckDB each take a share of the files:
// most files are too small for DuckDB to split, and this way no row is copied into a table or
// into DuckDB's per-partition buffers first.
Status SilverRun::WriteIncremental(const std::vector<BronzeFile>& files) {
  std::vector<WriteJob> jobs;
  std::map<int64_t, int64_t> day_rows, day_old;
  for (const auto& [key, spool] : spools_->spools()) {
    const auto [kind, day] = key;
    if (kind == Spools::kIds) continue;
    const int64_t old = old_duplicates_.count(key) ? old_duplicates_.at(key) : 0;
    day_rows[day] += spool.rows;
    day_old[day] += old;
    if (spool.rows > old) jobs.push_back({kind, day, &spool});
  }
  for (const auto& [key, spool] : spools_->spools()) {
    const auto [kind, day] = key;
    if (kind == Spools::kIds && day_rows[day] > day_old[day]) jobs.push_back({kind, day, &spool});
  }
  // Largest first, each to the writer with the fewest bytes so far.
  std::vector<WriteJob*> order;
  order.reserve(jobs.size());
  for (WriteJob& j : jobs) order.push_back(&j);
  std::sort(order.begin(), order.end(),
            [](const WriteJob* a, const WriteJob* b) { return a->spool->bytes > b->spool->bytes; });
  const int writers = std::clamp(Threads(), 1, std::max<int>(1, static_cast<int>(jobs.size())));
  // The writers only create the event_date folders, each its own.
  for (std::string_view table : {"clickstream", "user_events", "product_events", "event_ids"}) {
    RECSYS_RETURN_IF_ERROR(CreateDirs(Path("silver/" + Str(table))));
  }
  std::vector<std::vector<WriteJob*>> shares(writers);
  std::vector<int64_t> load(writers, 0);
  for (WriteJob* j : order) {
    const size_t w = std::min_element(load.begin(), load.end()) - load.begin();
    shares[w].push_back(j);
    load[w] += j->spool->bytes;
  }
  std::vector<Status> results(writers);
  std::vector<std::thread> threads;
  for (int w = 1; w < writers; ++w) {
    threads.emplace_back([&, w] { results[w] = WriteJobs(files, shares[w], w); });
  }
  results[0] = WriteJobs(files, shares[0], 0);
  for (std::thread& t : threads) t.join();
  for (const Status& st : results) RECSYS_RETURN_IF_ERROR(st);

  for (const WriteJob& j : jobs) {
    if (j.kind == Spools::kIds) {
      table_rows_["event_ids"] += j.written;
    } else {
      counts_[j.kind].written += j.written;
      table_rows_[Str(kTopicTables[j.kind])] += j.written;
    }
  }
  return Status::OK();
}

Status SilverRun::WriteJobs(const std::vector<BronzeFile>& files,
                            const std::vector<WriteJob*>& jobs, int writer) {
  if (jobs.empty()) return Status::OK();
  DuckDbOptions db_options;
  db_options.threads = 1;
  db_options.memory_limit = options_.memory_limit;
  db_options.temp_directory = temp_dir_ + "/spill-" + std::to_string(writer);
  RECSYS_ASSIGN_OR_RETURN(std::unique_ptr<DuckDb> db, DuckDb::Open("", db_options));
  RECSYS_RETURN_IF_ERROR(db->Execute("SET preserve_insertion_order = false"));
  RECSYS_RETURN_IF_ERROR(CreateFilesTable(db.get(), files));
  std::string not_old;
  if (!old_duplicates_.empty()) {
    RECSYS_RETURN_IF_ERROR(db->Execute("CREATE TABLE old_ids AS SELECT * FROM read_parquet(" +
                                       DuckDb::Quote(temp_dir_ + "/old_ids.parquet") + ")"));
    not_old = " WHERE s.event_id NOT IN (SELECT event_id FROM old_ids)";
  }
  const std::string salt = DuckDb::Quote(options_.pii_salt);
  const std::string run = DuckDb::Quote(run_);
  for (WriteJob* j : jobs) {
    std::string query;
    std::string_view table;
    if (j->kind == Spools::kIds) {
      table = "event_ids";
      query = "SELECT s.event_id, CASE s.topic";
      for (int t = 0; t < kTopicCount; ++t) {
        query += " WHEN " + std::to_string(t) + " THEN " +
                 DuckDb::Quote(TopicName(static_cast<Topic>(t)));
      }
      query += " END AS topic, " + run + " AS run_id FROM " + ReadSpool(*j->spool, kIdColumns) +
               " s" + not_old;
    } else {
      table = kTopicTables[j->kind];
      query = "SELECT " + Replace(kTypedColumns[j->kind], "{salt}", salt) +
              ", s.schema_version, f.key AS bronze_file, s.bronze_line, " + run +
              " AS run_id FROM " + ReadSpool(*j->spool, kCsvColumns[j->kind]) +
              " s JOIN files f ON f.idx = s.file_idx" + not_old;
    }
    RECSYS_ASSIGN_OR_RETURN(j->written, Copy(db.get(), table, j->day, query));
  }
  return Status::OK();
}

Status SilverRun::WriteQuarantine() {
  RECSYS_ASSIGN_OR_RETURN(QueryResult q,
                          db_->Query("SELECT topic, count(*) FROM stg_quarantine GROUP BY topic"));
  for (size_t row = 0; row < q.rows(); ++row) {
    std::optional<Topic> t = ParseTopic(q.GetString(row, 0));
    if (!t) return Status::Internal("silver: quarantine row of unknown topic");
    counts_[static_cast<int>(*t)].quarantined = q.GetInt64(row, 1);
  }
  if (q.rows() == 0) return Status::OK();
  const std::string dir = Path(Str(kQuarantinePrefix) + "run=" + run_);
  RECSYS_RETURN_IF_ERROR(CreateDirs(dir));
  RECSYS_ASSIGN_OR_RETURN(
      int64_t rows,
      db_->QueryInt64("COPY (SELECT q.raw, q.topic, f.key AS bronze_file, q.bronze_line, "
                      "q.reason, q.message, " +
                      DuckDb::Quote(run_) + " AS run_id, epoch_ms(" + std::to_string(now_ms_) +
                      ") AS quarantined_at FROM stg_quarantine q JOIN files f ON f.idx = "
                      "q.file_idx ORDER BY q.file_idx, q.bronze_line) TO " +
                      DuckDb::Quote(dir + "/part-0.parquet") +
                      " (FORMAT parquet, COMPRESSION zstd, COMPRESSION_LEVEL 1)"));
  table_rows_["_quarantine"] = rows;
  return Status::OK();
}

// The rebuilt tables are recomputed from every file of the incremental table they derive from,
// when this run added rows to it.
Status SilverRun::Rebuild() {
  auto copy = [&](std::string_view table, std::optional<int64_t> day, const std::string& query) {
    Result<int64_t> rows = Copy(db_.get(), table, day, query);
    if (rows.ok()) table_rows_[Str(table)] += *rows;
    return rows.status();
  };
  if (counts_[static_cast<int>(Topic::kClickstream)].written > 0) {
    std::string sql = Replace(kSessionsSql, "{src}", AllFiles("clickstream"));
    sql = Replace(sql, "{gap}", std::to_string(options_.session_gap_minutes));
    RECSYS_RETURN_IF_ERROR(db_->Execute("CREATE TABLE new_sessions AS " + sql));
    RECSYS_ASSIGN_OR_RETURN(
        QueryResult days,
        db_->Query("SELECT DISTINCT datediff('day', DATE '1970-01-01', event_date) FROM "
                   "new_sessions"));
    for (size_t i = 0; i < days.rows(); ++i) {
      const int64_t day = days.GetInt64(i, 0);
      RECSYS_RETURN_IF_ERROR(copy("sessions", day,
                                  "SELECT * EXCLUDE (event_date) FROM new_sessions WHERE "
                                  "event_date = DATE '1970-01-01' + " +
                                      std::to_string(day)));
    }
  }
  if (counts_[static_cast<int>(Topic::kUserEvents)].written > 0) {
    const std::string src = AllFiles("user_events");
    RECSYS_RETURN_IF_ERROR(copy("users", std::nullopt, Replace(kUsersSql, "{src}", src)));
    RECSYS_RETURN_IF_ERROR(
        copy("users_history", std::nullopt, Replace(kUsersHistorySql, "{src}", src)));
  }
  if (counts_[static_cast<int>(Topic::kProductEvents)].written > 0) {
    const std::string src = AllFiles("product_events");
    RECSYS_RETURN_IF_ERROR(copy("products", std::nullopt, Replace(kProductsSql, "{src}", src)));
    RECSYS_RETURN_IF_ERROR(
        copy("product_prices", std::nullopt, Replace(kProductPricesSql, "{src}", src)));
  }
  return Status::OK();
}

Status SilverRun::CheckAccounting() {
  for (int t = 0; t < kTopicCount; ++t) {
    const SilverCounts& c = counts_[t];
    if (c.read == 0) continue;
    const std::string topic = Str(TopicName(static_cast<Topic>(t)));
    report_->per_topic[topic] = c;
    report_->total.read += c.read;
    report_->total.written += c.written;
    report_->total.quarantined += c.quarantined;
    report_->total.duplicates += c.duplicates;
    if (c.read != c.written + c.quarantined + c.duplicates) {
      return Status::Internal("silver run " + run_ + ": " + topic + " read " +
                              std::to_string(c.read) + " records but wrote " +
                              std::to_string(c.written) + ", quarantined " +
                              std::to_string(c.quarantined) + " and dropped " +
                              std::to_string(c.duplicates) + " duplicates; nothing committed");
    }
  }
  const int64_t ids = table_rows_.count("event_ids") ? table_rows_.at("event_ids") : 0;
  if (ids != report_->total.written) {
    return Status::Internal("silver run " + run_ + ": wrote " +
                            std::to_string(report_->total.written) + " records but " +
                            std::to_string(ids) + " event ids; nothing committed");
  }
  int64_t rejected = 0;
  for (int i = 0; i < kRejectReasonCount; ++i) {
    if (by_reason_[i] == 0) continue;
    report_->quarantined_by_reason[Str(RejectReasonCode(static_cast<RejectReason>(i)))] =
        by_reason_[i];
    rejected += by_reason_[i];
  }
  if (rejected != report_->total.quarantined) {
    return Status::Internal("silver run " + run_ + ": " + std::to_string(rejected) +
                            " rejections but " + std::to_string(report_->total.quarantined) +
                            " quarantined records; nothing committed");
  }
  return Status::OK();
}

Status SilverRun::Commit(const std::vector<BronzeFile>& files, int64_t seq) {
  // DuckDB writes in place: the data files must be durable before the manifest says they exist.
  RECSYS_RETURN_IF_ERROR(SyncFileSystem(lake_.root));
  RECSYS_RETURN_IF_ERROR(lake_.store->Put(Str(kReportPrefix) + run_ + ".json", report_->ToJson()));
  if (options_.testing_stop_before_manifest) {
    stopped_for_testing_ = true;
    return Status::Internal("silver run " + run_ + ": stopped before the manifest (testing)");
  }
  JsonWriter head;
  head.BeginObject();
  head.Key("run_id");
  head.String(run_);
  head.Key("seq");
  head.Int(seq);
  head.Key("started_at");
  head.String(FormatRfc3339Millis(now_ms_));
  head.Key("bronze_files");
  head.Int(static_cast<int64_t>(files.size()));
  head.EndObject();
  std::string manifest = head.str() + "\n";
  for (size_t i = 0; i < files.size(); ++i) {
    JsonWriter w;
    w.BeginObject();
    w.Key("bronze_file");
    w.String(files[i].key);
    w.Key("size");
    w.Int(files[i].size);
    w.Key("records");
    w.Int(file_records_[i]);
    w.EndObject();
    manifest += w.str() + "\n";
  }
  RECSYS_RETURN_IF_ERROR(lake_.store->Put(Str(kManifestPrefix) + run_ + ".jsonl", manifest));

  // Committed: the older generations of the tables rebuilt now go.
  for (std::string_view table : kRebuiltTables) {
    if (!table_rows_.count(Str(table))) continue;
    RECSYS_ASSIGN_OR_RETURN(std::vector<ObjectInfo> objects,
                            lake_.store->List("silver/" + Str(table) + "/"));
    for (const ObjectInfo& o : objects) {
      if (RunOfKey(o.key) != run_) RECSYS_RETURN_IF_ERROR(lake_.store->Delete(o.key));
    }
  }
  return Status::OK();
}

void SilverRun::Abandon() {
  Result<std::vector<ObjectInfo>> objects = lake_.store->List(kSilverPrefix);
  if (!objects.ok()) return;
  for (const ObjectInfo& o : *objects) {
    if (!o.key.starts_with(kManifestPrefix) && RunOfKey(o.key) == run_) {
      (void)lake_.store->Delete(o.key);
    }
  }
}

}  // namespace

std::string SilverReport::ToJson() const {
  auto counts = [](JsonWriter& w, const SilverCounts& c) {
    w.Key("read");
    w.Int(c.read);
    w.Key("written");
    w.Int(c.written);
    w.Key("quarantined");
    w.Int(c.quarantined);
    w.Key("duplicates");
    w.Int(c.duplicates);
  };
  JsonWriter w;
  w.BeginObject();
  w.Key("run_id");
  w.String(run_id);
  counts(w, total);
  w.Key("quarantined_by_reason");
  w.BeginObject();
  for (const auto& [reason, n] : quarantined_by_reason) {
    w.Key(reason);
    w.Int(n);
  }
  w.EndObject();
  w.Key("files");
  w.Int(files);
  w.Key("seconds");
  w.Double(seconds);
  w.Key("per_topic");
  w.BeginObject();
  for (const auto& [topic, c] : per_topic) {
    w.Key(topic);
    w.BeginObject();
    counts(w, c);
    w.EndObject();
  }
  w.EndObject();
  w.Key("table_rows");
  w.BeginObject();
  for (const auto& [table, n] : table_rows) {
    w.Key(table);
    w.Int(n);
  }
  w.EndObject();
  w.Key("orphan_files_removed");
  w.Int(orphan_files_removed);
  w.EndObject();
  return w.str();
}

Status RunSilver(const LakeLocation& lake, const SilverOptions& options, SilverReport* report) {
  SilverReport local;
  SilverRun run(lake, options, report ? report : &local);
  return run.Run();
}

}  // namespace recsys
