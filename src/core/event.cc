#include "core/event.h"

#include <simdjson.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <cstring>
#include <memory>
#include <utility>

#include "core/clock.h"

namespace recsys {
namespace {

constexpr std::string_view kTopicNames[] = {"clickstream", "user-events", "product-events"};

constexpr std::string_view kEventTypeNames[kEventTypeCount] = {
    "page_view",
    "product_view",
    "search",
    "add_to_cart",
    "remove_from_cart",
    "purchase",
    "recommendation_impression",
    "recommendation_click",
    "signup",
    "login",
    "profile_update",
    "product_created",
    "product_updated",
    "price_changed",
    "stock_changed",
    "product_discontinued",
};

constexpr std::string_view kRejectReasonCodes[kRejectReasonCount] = {
    "malformed_json", "missing_field",      "wrong_type",  "unknown_event_type",
    "wrong_topic",    "bad_time",           "future_time", "negative_value",
    "oversized",      "unsupported_schema", "duplicate",
};

// ---------------------------------------------------------------------------------------------
// Encoding

// 0: copied as is; 1: needs a backslash escape; 2: first byte of a multi-byte UTF-8 sequence (or
// an invalid byte).
constexpr std::array<uint8_t, 256> MakeCharClass() {
  std::array<uint8_t, 256> t{};
  for (int c = 0; c < 0x20; ++c) t[c] = 1;
  t['"'] = 1;
  t['\\'] = 1;
  for (int c = 0x80; c < 0x100; ++c) t[c] = 2;
  return t;
}
constexpr std::array<uint8_t, 256> kCharClass = MakeCharClass();

// Length of the valid UTF-8 sequence starting at s[0] (s has n >= 1 bytes), or 0 if it is not
// valid (overlong forms, surrogates and code points above U+10FFFF are invalid, as in simdjson).
size_t Utf8SequenceLength(const unsigned char* s, size_t n) {
  const unsigned char c = s[0];
  auto cont = [&](size_t i, unsigned char lo = 0x80, unsigned char hi = 0xBF) {
    return i < n && s[i] >= lo && s[i] <= hi;
  };
  if (c >= 0xC2 && c <= 0xDF) return cont(1) ? 2 : 0;
  if (c == 0xE0) return cont(1, 0xA0) && cont(2) ? 3 : 0;
  if ((c >= 0xE1 && c <= 0xEC) || c == 0xEE || c == 0xEF) return cont(1) && cont(2) ? 3 : 0;
  if (c == 0xED) return cont(1, 0x80, 0x9F) && cont(2) ? 3 : 0;
  if (c == 0xF0) return cont(1, 0x90) && cont(2) && cont(3) ? 4 : 0;
  if (c >= 0xF1 && c <= 0xF3) return cont(1) && cont(2) && cont(3) ? 4 : 0;
  if (c == 0xF4) return cont(1, 0x80, 0x8F) && cont(2) && cont(3) ? 4 : 0;
  return 0;
}

// True if any of the 8 bytes in x is < 0x20, '"', '\\' or >= 0x80 (SWAR, see "Bit Twiddling
// Hacks": haszero / hasless).
inline bool NeedsAttention(uint64_t x) {
  constexpr uint64_t kOnes = 0x0101010101010101ULL;
  constexpr uint64_t kHigh = 0x8080808080808080ULL;
  const uint64_t quote = x ^ (kOnes * '"');
  const uint64_t backslash = x ^ (kOnes * '\\');
  const uint64_t control = (x - kOnes * 0x20) & ~x;
  const uint64_t has_quote = (quote - kOnes) & ~quote;
  const uint64_t has_backslash = (backslash - kOnes) & ~backslash;
  return ((control | has_quote | has_backslash | x) & kHigh) != 0;
}

void AppendJsonString(std::string_view s, std::string* out) {
  static constexpr char kHex[] = "0123456789abcdef";
  out->push_back('"');
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  const size_t n = s.size();
  size_t run_start = 0;
  size_t i = 0;
  while (i < n) {
    if (i + 8 <= n) {
      uint64_t x;
      std::memcpy(&x, p + i, 8);
      if (!NeedsAttention(x)) {
        i += 8;
        continue;
      }
    }
    const uint8_t cls = kCharClass[p[i]];
    if (cls == 0) {
      ++i;
      continue;
    }
    if (cls == 2) {
      const size_t len = Utf8SequenceLength(p + i, n - i);
      if (len != 0) {
        i += len;
        continue;
      }
    }
    out->append(s.data() + run_start, i - run_start);
    const unsigned char c = p[i];
    switch (c) {
      case '"':
        out->append("\\\"", 2);
        break;
      case '\\':
        out->append("\\\\", 2);
        break;
      case '\n':
        out->append("\\n", 2);
        break;
      case '\r':
        out->append("\\r", 2);
        break;
      case '\t':
        out->append("\\t", 2);
        break;
      case '\b':
        out->append("\\b", 2);
        break;
      case '\f':
        out->append("\\f", 2);
        break;
      default:
        if (c < 0x20) {
          const char esc[6] = {'\\', 'u', '0', '0', kHex[c >> 4], kHex[c & 0xF]};
          out->append(esc, 6);
        } else {
          out->append("\xEF\xBF\xBD", 3);  // U+FFFD for a byte that is not valid UTF-8
        }
    }
    ++i;
    run_start = i;
  }
  out->append(s.data() + run_start, n - run_start);
  out->push_back('"');
}

void AppendInt(int64_t v, std::string* out) {
  char buf[24];
  auto res = std::to_chars(buf, buf + sizeof(buf), v);
  out->append(buf, res.ptr - buf);
}

void AppendDouble(double v, std::string* out) {
  if (!std::isfinite(v)) {
    out->append("null", 4);
    return;
  }
  char buf[32];
  // Shortest representation that reads back as the same double; integral values print as "12".
  auto res = std::to_chars(buf, buf + sizeof(buf), v);
  out->append(buf, res.ptr - buf);
}

// Each key is written with a leading comma, `,"name":`; the comma before the first key of an
// object is then overwritten with the object's '{'.
void AppendStringField(std::string_view key, const std::string& v, std::string* out) {
  if (v.empty()) return;
  out->append(key);
  AppendJsonString(v, out);
}

void AppendOptString(std::string_view key, const std::optional<std::string>& v, std::string* out) {
  if (!v) return;
  out->append(key);
  AppendJsonString(*v, out);
}

void AppendOptInt(std::string_view key, const std::optional<int64_t>& v, std::string* out) {
  if (!v) return;
  out->append(key);
  AppendInt(*v, out);
}

void AppendOptDouble(std::string_view key, const std::optional<double>& v, std::string* out) {
  if (!v) return;
  out->append(key);
  AppendDouble(*v, out);
}

// ---------------------------------------------------------------------------------------------
// Decoding

// A copy of the input followed by SIMDJSON_PADDING bytes, reused across messages.
class PaddedBuffer {
 public:
  const char* Copy(std::string_view s) {
    const size_t need = s.size() + simdjson::SIMDJSON_PADDING;
    if (need > capacity_) {
      capacity_ = std::max(need, capacity_ * 2);
      data_ = std::make_unique<char[]>(capacity_);
    }
    if (!s.empty()) std::memcpy(data_.get(), s.data(), s.size());
    std::memset(data_.get() + s.size(), 0, simdjson::SIMDJSON_PADDING);
    return data_.get();
  }

 private:
  std::unique_ptr<char[]> data_;
  size_t capacity_ = 0;
};

enum Field : int {
  kEventId,
  kEventType,
  kEventTime,
  kSchemaVersionField,
  kUserId,
  kSessionId,
  kProductId,
  kQuantity,
  kPrice,
  kCurrency,
  kOrderId,
  kQuery,
  kPage,
  kReferrer,
  kDevice,
  kRecId,
  kPosition,
  kModel,
  kModelVersion,
  kVariant,
  kItems,
  kRating,
  kAttributes,
  kFieldCount,
};

constexpr std::string_view kFieldNames[kFieldCount] = {
    "event_id",      "event_type", "event_time", "schema_version", "user_id",    "session_id",
    "product_id",    "quantity",   "price",      "currency",       "order_id",   "query",
    "page",          "referrer",   "device",     "rec_id",         "position",   "model",
    "model_version", "variant",    "items",      "rating",         "attributes",
};

constexpr double kMaxRating = 10;

int LookupField(std::string_view key) {
  for (int f = 0; f < kFieldCount; ++f) {
    if (kFieldNames[f] == key) return f;
  }
  return -1;
}

enum AttributeField : int {
  kCountry,
  kCity,
  kAgeBand,
  kGender,
  kSignupChannel,
  kEmail,
  kTitle,
  kDescription,
  kCategory,
  kBrand,
  kAttrPrice,
  kAttrCurrency,
  kStock,
  kTags,
  kAttributeCount,
};

constexpr std::string_view kAttributeNames[kAttributeCount] = {
    "country",     "city",     "age_band", "gender", "signup_channel", "email", "title",
    "description", "category", "brand",    "price",  "currency",       "stock", "tags",
};

int LookupAttribute(std::string_view key) {
  for (int f = 0; f < kAttributeCount; ++f) {
    if (kAttributeNames[f] == key) return f;
  }
  return -1;
}

// A quoted excerpt of untrusted input for a rejection message, cut at a UTF-8 boundary.
std::string Quote(std::string_view s) {
  constexpr size_t kMax = 64;
  std::string q = "\"";
  if (s.size() <= kMax) {
    q.append(s);
  } else {
    size_t n = kMax;
    while (n > 0 && (static_cast<unsigned char>(s[n]) & 0xC0) == 0x80) --n;
    q.append(s.substr(0, n));
    q.append("...");
  }
  q.push_back('"');
  return q;
}

std::string DoubleText(double v) {
  char buf[32];
  auto res = std::to_chars(buf, buf + sizeof(buf), v);
  return std::string(buf, res.ptr);
}

std::optional<Rejection> Reject(RejectReason reason, std::string message) {
  return Rejection{reason, std::move(message)};
}

std::string_view JsonTypeName(simdjson::dom::element_type t) {
  using T = simdjson::dom::element_type;
  switch (t) {
    case T::ARRAY:
      return "an array";
    case T::OBJECT:
      return "an object";
    case T::INT64:
    case T::UINT64:
    case T::DOUBLE:
      return "a number";
    case T::STRING:
      return "a string";
    case T::BOOL:
      return "a boolean";
    case T::NULL_VALUE:
      return "null";
  }
  return "unknown";
}

std::optional<Rejection> WrongType(std::string_view name, std::string_view expected,
                                   simdjson::dom::element v) {
  std::string msg(name);
  msg.append(" must be ").append(expected).append(", not ").append(JsonTypeName(v.type()));
  return Reject(RejectReason::kWrongType, std::move(msg));
}

std::optional<Rejection> GetString(std::string_view name, simdjson::dom::element v,
                                   std::string* out) {
  std::string_view s;
  if (v.get_string().get(s)) return WrongType(name, "a string", v);
  out->assign(s);
  return std::nullopt;
}

std::optional<Rejection> GetOptString(std::string_view name, simdjson::dom::element v,
                                      std::optional<std::string>* out) {
  std::string_view s;
  if (v.get_string().get(s)) return WrongType(name, "a string", v);
  out->emplace(s);
  return std::nullopt;
}

// A JSON integer that is >= 0 and fits int64_t.
std::optional<Rejection> GetCount(std::string_view name, simdjson::dom::element v, int64_t* out) {
  using T = simdjson::dom::element_type;
  switch (v.type()) {
    case T::INT64: {
      int64_t i = v.get_int64().value_unsafe();
      if (i < 0) {
        return Reject(RejectReason::kNegativeValue,
                      std::string(name) + " is negative (" + std::to_string(i) + ")");
      }
      *out = i;
      return std::nullopt;
    }
    case T::UINT64:
      return Reject(RejectReason::kWrongType, std::string(name) + " is too large");
    default:
      return WrongType(name, "an integer", v);
  }
}

// A JSON number that is >= 0.
std::optional<Rejection> GetAmount(std::string_view name, simdjson::dom::element v, double* out) {
  double d;
  if (v.get_double().get(d)) return WrongType(name, "a number", v);
  if (d < 0) {
    return Reject(RejectReason::kNegativeValue,
                  std::string(name) + " is negative (" + DoubleText(d) + ")");
  }
  *out = d;
  return std::nullopt;
}

std::optional<Rejection> ParseAttributes(simdjson::dom::element v, Event* out) {
  simdjson::dom::object obj;
  if (v.get_object().get(obj)) return WrongType("attributes", "an object", v);
  UserAttributes& u = out->user;
  ProductAttributes& p = out->product;
  for (simdjson::dom::key_value_pair kv : obj) {
    const int f = LookupAttribute(kv.key);
    if (f < 0) continue;
    std::string name = "attributes.";
    name.append(kAttributeNames[f]);
    std::optional<Rejection> r;
    switch (f) {
      case kCountry:
        r = GetOptString(name, kv.value, &u.country);
        break;
      case kCity:
        r = GetOptString(name, kv.value, &u.city);
        break;
      case kAgeBand:
        r = GetOptString(name, kv.value, &u.age_band);
        break;
      case kGender:
        r = GetOptString(name, kv.value, &u.gender);
        break;
      case kSignupChannel:
        r = GetOptString(name, kv.value, &u.signup_channel);
        break;
      case kEmail:
        r = GetOptString(name, kv.value, &u.email);
        break;
      case kTitle:
        r = GetOptString(name, kv.value, &p.title);
        break;
      case kDescription:
        r = GetOptString(name, kv.value, &p.description);
        break;
      case kCategory:
        r = GetOptString(name, kv.value, &p.category);
        break;
      case kBrand:
        r = GetOptString(name, kv.value, &p.brand);
        break;
      case kAttrCurrency:
        r = GetOptString(name, kv.value, &p.currency);
        break;
      case kAttrPrice: {
        double d = 0;
        r = GetAmount(name, kv.value, &d);
        if (!r) p.price = d;
        break;
      }
      case kStock: {
        int64_t i = 0;
        r = GetCount(name, kv.value, &i);
        if (!r) p.stock = i;
        break;
      }
      case kTags: {
        simdjson::dom::array arr;
        if (kv.value.get_array().get(arr)) {
          r = WrongType(name, "an array of strings", kv.value);
          break;
        }
        std::vector<std::string> tags;
        tags.reserve(arr.size());
        size_t index = 0;
        for (simdjson::dom::element t : arr) {
          std::string_view s;
          if (t.get_string().get(s)) {
            r = WrongType(name + "[" + std::to_string(index) + "]", "a string", t);
            break;
          }
          tags.emplace_back(s);
          ++index;
        }
        if (!r) p.tags = std::move(tags);
        break;
      }
    }
    if (r) return r;
  }
  return std::nullopt;
}

// The items of a served list: an array of at most Event::kMaxItems non-empty strings.
std::optional<Rejection> ParseItems(simdjson::dom::element v, std::vector<std::string>* out) {
  simdjson::dom::array arr;
  if (v.get_array().get(arr)) return WrongType("items", "an array of strings", v);
  if (arr.size() > Event::kMaxItems) {
    return Reject(RejectReason::kWrongType, "items has " + std::to_string(arr.size()) +
                                                " entries, more than " +
                                                std::to_string(Event::kMaxItems));
  }
  out->reserve(arr.size());
  size_t index = 0;
  for (simdjson::dom::element item : arr) {
    std::string_view s;
    if (item.get_string().get(s)) {
      return WrongType("items[" + std::to_string(index) + "]", "a string", item);
    }
    if (s.empty()) {
      return Reject(RejectReason::kWrongType,
                    "items[" + std::to_string(index) + "] is an empty string");
    }
    out->emplace_back(s);
    ++index;
  }
  return std::nullopt;
}

// Clears *e for reuse, keeping the capacity of its strings.
void ResetEvent(Event* e) {
  e->event_id.clear();
  e->type = EventType::kPageView;
  e->event_time_ms = 0;
  e->schema_version = kSchemaVersion;
  for (std::string* s : {&e->user_id, &e->session_id, &e->product_id, &e->currency, &e->order_id,
                         &e->query, &e->page, &e->referrer, &e->device, &e->rec_id, &e->model,
                         &e->model_version, &e->variant}) {
    s->clear();
  }
  e->items.clear();
  e->quantity.reset();
  e->price.reset();
  e->position.reset();
  e->rating.reset();
  e->user = UserAttributes{};
  e->product = ProductAttributes{};
}

bool NeedsProduct(EventType t) {
  switch (t) {
    case EventType::kProductView:
    case EventType::kAddToCart:
    case EventType::kRemoveFromCart:
    case EventType::kPurchase:
    case EventType::kRecommendationClick:
      return true;
    default:
      return TopicOf(t) == Topic::kProductEvents;
  }
}

std::optional<Rejection> Missing(std::string_view name) {
  return Reject(RejectReason::kMissingField, std::string(name) + " is missing");
}

// Inputs above this size are parsed with a parser of their own, so that the thread's parser
// does not keep a large allocation after one huge message.
constexpr size_t kMaxThreadLocalBytes = 1 << 20;

std::optional<int64_t> ExtractWith(simdjson::dom::parser& parser, PaddedBuffer& buffer,
                                   std::string_view json) {
  const char* p = buffer.Copy(json);
  simdjson::dom::element root;
  if (parser.parse(p, json.size(), false).get(root)) return std::nullopt;
  simdjson::dom::object obj;
  if (root.get_object().get(obj)) return std::nullopt;
  // The whole object is walked so that, as in EventParser, the last of duplicate keys counts.
  std::optional<simdjson::dom::element> time;
  for (simdjson::dom::key_value_pair kv : obj) {
    if (kv.key == "event_time") time = kv.value;
  }
  std::string_view s;
  if (!time || time->get_string().get(s)) return std::nullopt;
  return ParseRfc3339(s);
}

}  // namespace

std::string_view TopicName(Topic topic) { return kTopicNames[static_cast<int>(topic)]; }

std::optional<Topic> ParseTopic(std::string_view name) {
  for (Topic t : kAllTopics) {
    if (TopicName(t) == name) return t;
  }
  return std::nullopt;
}

std::string_view EventTypeName(EventType type) { return kEventTypeNames[static_cast<int>(type)]; }

std::optional<EventType> ParseEventType(std::string_view name) {
  for (int i = 0; i < kEventTypeCount; ++i) {
    if (kEventTypeNames[i] == name) return static_cast<EventType>(i);
  }
  return std::nullopt;
}

Topic TopicOf(EventType type) {
  if (type <= EventType::kRecommendationClick) return Topic::kClickstream;
  if (type <= EventType::kProfileUpdate) return Topic::kUserEvents;
  return Topic::kProductEvents;
}

bool UserAttributes::empty() const {
  return !country && !city && !age_band && !gender && !signup_channel && !email;
}

bool ProductAttributes::empty() const {
  return !title && !description && !category && !brand && !currency && !price && !stock && !tags;
}

const std::string& Event::key() const {
  return topic() == Topic::kProductEvents ? product_id : user_id;
}

std::string_view RejectReasonCode(RejectReason reason) {
  return kRejectReasonCodes[static_cast<int>(reason)];
}

void AppendEventJson(const Event& e, std::string* out) {
  const size_t open = out->size();
  AppendStringField(",\"event_id\":", e.event_id, out);
  out->append(",\"event_type\":\"");
  out->append(EventTypeName(e.type));
  out->append("\",\"event_time\":\"");
  AppendRfc3339Millis(e.event_time_ms, out);
  out->append("\",\"schema_version\":");
  AppendInt(e.schema_version, out);
  (*out)[open] = '{';
  AppendStringField(",\"user_id\":", e.user_id, out);
  AppendStringField(",\"session_id\":", e.session_id, out);
  AppendStringField(",\"product_id\":", e.product_id, out);
  AppendOptInt(",\"quantity\":", e.quantity, out);
  AppendOptDouble(",\"price\":", e.price, out);
  AppendStringField(",\"currency\":", e.currency, out);
  AppendStringField(",\"order_id\":", e.order_id, out);
  AppendStringField(",\"query\":", e.query, out);
  AppendStringField(",\"page\":", e.page, out);
  AppendStringField(",\"referrer\":", e.referrer, out);
  AppendStringField(",\"device\":", e.device, out);
  AppendStringField(",\"rec_id\":", e.rec_id, out);
  AppendOptInt(",\"position\":", e.position, out);
  AppendStringField(",\"model\":", e.model, out);
  AppendStringField(",\"model_version\":", e.model_version, out);
  AppendStringField(",\"variant\":", e.variant, out);
  if (!e.items.empty()) {
    out->append(",\"items\":[");
    for (size_t i = 0; i < e.items.size(); ++i) {
      if (i > 0) out->push_back(',');
      AppendJsonString(e.items[i], out);
    }
    out->push_back(']');
  }
  AppendOptDouble(",\"rating\":", e.rating, out);
  if (!e.user.empty() || !e.product.empty()) {
    out->append(",\"attributes\":");
    const size_t attributes_open = out->size();
    const UserAttributes& u = e.user;
    AppendOptString(",\"country\":", u.country, out);
    AppendOptString(",\"city\":", u.city, out);
    AppendOptString(",\"age_band\":", u.age_band, out);
    AppendOptString(",\"gender\":", u.gender, out);
    AppendOptString(",\"signup_channel\":", u.signup_channel, out);
    AppendOptString(",\"email\":", u.email, out);
    const ProductAttributes& p = e.product;
    AppendOptString(",\"title\":", p.title, out);
    AppendOptString(",\"description\":", p.description, out);
    AppendOptString(",\"category\":", p.category, out);
    AppendOptString(",\"brand\":", p.brand, out);
    AppendOptDouble(",\"price\":", p.price, out);
    AppendOptString(",\"currency\":", p.currency, out);
    AppendOptInt(",\"stock\":", p.stock, out);
    if (p.tags) {
      out->append(",\"tags\":[");
      for (size_t i = 0; i < p.tags->size(); ++i) {
        if (i > 0) out->push_back(',');
        AppendJsonString((*p.tags)[i], out);
      }
      out->push_back(']');
    }
    (*out)[attributes_open] = '{';
    out->push_back('}');
  }
  out->push_back('}');
}

std::string EventToJson(const Event& e) {
  std::string s;
  s.reserve(512);
  AppendEventJson(e, &s);
  return s;
}

struct EventParser::Impl {
  simdjson::dom::parser parser;
  PaddedBuffer buffer;
};

EventParser::EventParser() : impl_(std::make_unique<Impl>()) {}
EventParser::~EventParser() = default;

std::optional<Rejection> EventParser::Parse(std::string_view json, const ValidationOptions& options,
                                            Event* out) {
  using simdjson::dom::element;
  if (json.size() > options.max_message_bytes) {
    return Reject(RejectReason::kOversized, "message is " + std::to_string(json.size()) +
                                                " bytes, over the limit of " +
                                                std::to_string(options.max_message_bytes));
  }
  const char* padded = impl_->buffer.Copy(json);
  element root;
  if (auto err = impl_->parser.parse(padded, json.size(), false).get(root)) {
    return Reject(RejectReason::kMalformedJson,
                  std::string("not valid JSON: ") + simdjson::error_message(err));
  }
  simdjson::dom::object obj;
  if (root.get_object().get(obj)) {
    return Reject(RejectReason::kMalformedJson, std::string("message is ") +
                                                    std::string(JsonTypeName(root.type())) +
                                                    ", not a JSON object");
  }

  std::array<element, kFieldCount> fields;
  std::array<bool, kFieldCount> present{};
  for (simdjson::dom::key_value_pair kv : obj) {
    const int f = LookupField(kv.key);
    if (f < 0) continue;
    fields[f] = kv.value;
    present[f] = true;
  }

  ResetEvent(out);
  std::optional<Rejection> r;

  // A newer schema may give fields another meaning, so the version is checked first.
  if (present[kSchemaVersionField]) {
    const element v = fields[kSchemaVersionField];
    if (v.type() == simdjson::dom::element_type::UINT64) {
      return Reject(RejectReason::kUnsupportedSchema,
                    "schema_version " + std::to_string(v.get_uint64().value_unsafe()) +
                        " is newer than " + std::to_string(kSchemaVersion));
    }
    int64_t version;
    if (v.get_int64().get(version)) return WrongType("schema_version", "an integer", v);
    if (version < 1) {
      return Reject(RejectReason::kWrongType,
                    "schema_version must be at least 1, not " + std::to_string(version));
    }
    if (version > kSchemaVersion) {
      return Reject(RejectReason::kUnsupportedSchema, "schema_version " + std::to_string(version) +
                                                          " is newer than " +
                                                          std::to_string(kSchemaVersion));
    }
    out->schema_version = static_cast<int>(version);
  }

  if (!present[kEventType]) return Missing("event_type");
  std::string_view type_name;
  if (fields[kEventType].get_string().get(type_name)) {
    return WrongType("event_type", "a string", fields[kEventType]);
  }
  if (type_name.empty()) return Missing("event_type");
  std::optional<EventType> type = ParseEventType(type_name);
  if (!type) {
    return Reject(RejectReason::kUnknownEventType,
                  "event_type " + Quote(type_name) + " is unknown");
  }
  out->type = *type;
  if (options.expected_topic && TopicOf(*type) != *options.expected_topic) {
    return Reject(RejectReason::kWrongTopic, "event_type " + std::string(type_name) +
                                                 " belongs to topic " +
                                                 std::string(TopicName(TopicOf(*type))) + ", not " +
                                                 std::string(TopicName(*options.expected_topic)));
  }

  if (!present[kEventId]) return Missing("event_id");
  if ((r = GetString("event_id", fields[kEventId], &out->event_id))) return r;
  if (out->event_id.empty()) return Missing("event_id");

  if (!present[kEventTime]) return Missing("event_time");
  std::string_view time_text;
  if (fields[kEventTime].get_string().get(time_text)) {
    return Reject(RejectReason::kBadTime, "event_time must be an RFC 3339 string, not " +
                                              std::string(JsonTypeName(fields[kEventTime].type())));
  }
  std::optional<int64_t> time = ParseRfc3339(time_text);
  if (!time) {
    return Reject(RejectReason::kBadTime, "event_time " + Quote(time_text) + " is not RFC 3339");
  }
  if (*time > options.now_ms + options.max_future_skew_ms) {
    return Reject(RejectReason::kFutureTime,
                  "event_time " + std::string(time_text) + " is more than " +
                      std::to_string(options.max_future_skew_ms) + " ms after now (" +
                      FormatRfc3339Millis(options.now_ms) + ")");
  }
  out->event_time_ms = *time;

  static constexpr std::pair<Field, std::string Event::*> kStrings[] = {
      {kUserId, &Event::user_id},
      {kSessionId, &Event::session_id},
      {kProductId, &Event::product_id},
      {kCurrency, &Event::currency},
      {kOrderId, &Event::order_id},
      {kQuery, &Event::query},
      {kPage, &Event::page},
      {kReferrer, &Event::referrer},
      {kDevice, &Event::device},
      {kRecId, &Event::rec_id},
      {kModel, &Event::model},
      {kModelVersion, &Event::model_version},
      {kVariant, &Event::variant},
  };
  for (const auto& [f, member] : kStrings) {
    if (!present[f]) continue;
    if ((r = GetString(kFieldNames[f], fields[f], &(out->*member)))) return r;
  }
  if (present[kQuantity]) {
    int64_t q = 0;
    if ((r = GetCount("quantity", fields[kQuantity], &q))) return r;
    out->quantity = q;
  }
  if (present[kPrice]) {
    double p = 0;
    if ((r = GetAmount("price", fields[kPrice], &p))) return r;
    out->price = p;
  }
  if (present[kPosition]) {
    int64_t pos = 0;
    if ((r = GetCount("position", fields[kPosition], &pos))) return r;
    out->position = pos;
  }
  if (present[kItems]) {
    if ((r = ParseItems(fields[kItems], &out->items))) return r;
  }
  if (present[kRating]) {
    double rating = 0;
    if ((r = GetAmount("rating", fields[kRating], &rating))) return r;
    if (rating > kMaxRating) {
      return Reject(RejectReason::kWrongType,
                    "rating must be at most 10, not " + DoubleText(rating));
    }
    out->rating = rating;
  }
  if (present[kAttributes]) {
    if ((r = ParseAttributes(fields[kAttributes], out))) return r;
  }

  const Topic topic = TopicOf(out->type);
  if (topic != Topic::kProductEvents && out->user_id.empty()) return Missing("user_id");
  if (topic == Topic::kClickstream && out->session_id.empty()) return Missing("session_id");
  if (NeedsProduct(out->type) && out->product_id.empty()) return Missing("product_id");
  switch (out->type) {
    case EventType::kPurchase:
      if (out->order_id.empty()) return Missing("order_id");
      break;
    case EventType::kPriceChanged:
      if (!out->product.price) return Missing("attributes.price");
      break;
    case EventType::kStockChanged:
      if (!out->product.stock) return Missing("attributes.stock");
      break;
    case EventType::kProductCreated:
      if (!out->product.title || out->product.title->empty()) return Missing("attributes.title");
      break;
    default:
      break;
  }
  return std::nullopt;
}

std::optional<int64_t> ExtractEventTime(std::string_view json) {
  if (json.size() > kMaxThreadLocalBytes) {
    simdjson::dom::parser parser;
    PaddedBuffer buffer;
    return ExtractWith(parser, buffer, json);
  }
  thread_local simdjson::dom::parser parser;
  thread_local PaddedBuffer buffer;
  return ExtractWith(parser, buffer, json);
}

}  // namespace recsys
