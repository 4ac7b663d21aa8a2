// The event model of DESIGN.md §3: three topics, their event types and fields; JSON encoding,
// decoding and validation.
//
// Wire format: one JSON object per message, UTF-8. Common fields: event_id, event_type,
// event_time (RFC 3339 UTC with milliseconds), schema_version. Clickstream and user events are
// keyed by user_id, product events by product_id.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace recsys {

inline constexpr int kSchemaVersion = 1;

enum class Topic { kClickstream = 0, kUserEvents = 1, kProductEvents = 2 };
inline constexpr Topic kAllTopics[] = {Topic::kClickstream, Topic::kUserEvents,
                                       Topic::kProductEvents};
// "clickstream", "user-events", "product-events".
std::string_view TopicName(Topic topic);
std::optional<Topic> ParseTopic(std::string_view name);

enum class EventType {
  // clickstream
  kPageView,
  kProductView,
  kSearch,
  kAddToCart,
  kRemoveFromCart,
  kPurchase,
  kRecommendationImpression,
  kRecommendationClick,
  // user-events
  kSignup,
  kLogin,
  kProfileUpdate,
  // product-events
  kProductCreated,
  kProductUpdated,
  kPriceChanged,
  kStockChanged,
  kProductDiscontinued,
};
inline constexpr int kEventTypeCount = 16;
// "page_view", "add_to_cart", "product_created", ...
std::string_view EventTypeName(EventType type);
std::optional<EventType> ParseEventType(std::string_view name);
Topic TopicOf(EventType type);

// Personal and demographic attributes of user events. Email is personal data: silver hashes it.
struct UserAttributes {
  std::optional<std::string> country, city, age_band, gender, signup_channel, email;
  bool empty() const;
  friend bool operator==(const UserAttributes&, const UserAttributes&) = default;
};

// Catalog attributes of product events. category is a path "Home > Kitchen > Knives".
struct ProductAttributes {
  std::optional<std::string> title, description, category, brand, currency;
  std::optional<double> price;
  std::optional<int64_t> stock;
  std::optional<std::vector<std::string>> tags;
  bool empty() const;
  friend bool operator==(const ProductAttributes&, const ProductAttributes&) = default;
};

struct Event {
  static constexpr size_t kMaxItems = 1000;  // longest items list EventParser accepts

  std::string event_id;
  EventType type = EventType::kPageView;
  int64_t event_time_ms = 0;
  int schema_version = kSchemaVersion;

  std::string user_id;     // clickstream, user-events
  std::string session_id;  // clickstream
  std::string product_id;  // clickstream (where a product is involved), product-events
  std::optional<int64_t> quantity;
  std::optional<double> price;
  std::string currency, order_id, query, page, referrer, device;
  std::string rec_id;  // which served recommendation list led here
  std::optional<int64_t> position;
  // The served list (clickstream, mostly recommendation_impression): the recommender that made
  // it, its version and the A/B variant it was served under. Empty = not given.
  std::string model, model_version, variant;
  // The product ids of the served list, position i + 1 at index i; each non-empty, at most
  // kMaxItems. Empty = not given.
  std::vector<std::string> items;
  // Explicit feedback, 0 to 10 (a source's own scale, e.g. MovieLens stars 0.5 to 5, kept as
  // is). Mostly on product_view events.
  std::optional<double> rating;

  UserAttributes user;        // user-events only
  ProductAttributes product;  // product-events only

  Topic topic() const { return TopicOf(type); }
  // The message key: product_id for product events, user_id otherwise.
  const std::string& key() const;

  friend bool operator==(const Event&, const Event&) = default;
};

// Appends the JSON object for e (no trailing newline). Empty strings and unset optionals are
// omitted; attributes are written as an "attributes" object. Field order is fixed, so the same
// event always encodes to the same bytes. Strings are written as UTF-8; a byte that is not part of
// valid UTF-8 is replaced by U+FFFD so the output is always valid JSON. A price that is NaN or
// infinite is written as null, which EventParser rejects (kWrongType).
void AppendEventJson(const Event& e, std::string* out);
std::string EventToJson(const Event& e);

// Why a record was rejected. The names are the reason codes stored in quarantine.
enum class RejectReason {
  kMalformedJson,      // "malformed_json": not a JSON object
  kMissingField,       // "missing_field": a required field is absent or empty
  kWrongType,          // "wrong_type": a field has the wrong JSON type or an unusable value
  kUnknownEventType,   // "unknown_event_type"
  kWrongTopic,         // "wrong_topic": a known type that belongs to another topic
  kBadTime,            // "bad_time": event_time is not RFC 3339
  kFutureTime,         // "future_time": event_time beyond now + the allowed skew
  kNegativeValue,      // "negative_value": negative price, quantity or stock
  kOversized,          // "oversized": the message exceeds the size limit
  kUnsupportedSchema,  // "unsupported_schema": schema_version newer than this build knows
  kDuplicate,          // "duplicate": event_id seen before (decided by silver, not here)
};
inline constexpr int kRejectReasonCount = 11;
std::string_view RejectReasonCode(RejectReason reason);

struct Rejection {
  RejectReason reason;
  std::string message;  // names the field: "price is negative (-3.5)"
};

struct ValidationOptions {
  int64_t now_ms = 0;                    // REQUIRES: set by the caller
  int64_t max_future_skew_ms = 3600000;  // event_time may be at most this far after now_ms
  size_t max_message_bytes = 65536;      // larger messages are kOversized
  std::optional<Topic> expected_topic;   // if set, types of other topics are kWrongTopic
};

// Parses and validates one message. Holds a reusable simdjson parser: create one per thread.
// Not thread-safe.
class EventParser {
 public:
  EventParser();
  ~EventParser();
  EventParser(const EventParser&) = delete;
  EventParser& operator=(const EventParser&) = delete;

  // On success fills *out and returns nullopt; otherwise returns why the message is rejected and
  // leaves *out in an unspecified (valid) state. Unknown extra fields are ignored (forward
  // compatibility). If a key appears twice, the last one counts.
  std::optional<Rejection> Parse(std::string_view json, const ValidationOptions& options,
                                 Event* out);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Fast path for the bronze sink: the event_time of a message, without full validation.
// nullopt if the message is not JSON or has no parseable event_time.
std::optional<int64_t> ExtractEventTime(std::string_view json);

}  // namespace recsys
