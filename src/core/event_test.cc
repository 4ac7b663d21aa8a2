#include "core/event.h"

#include <gtest/gtest.h>

#include <cfloat>
#include <cmath>
#include <limits>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "core/clock.h"

namespace recsys {
namespace {

const int64_t kNow = FromCivil(2024, 3, 1, 12, 0, 0);
const int64_t kTime = FromCivil(2024, 3, 1, 11, 22, 33) + 456;

ValidationOptions Options() {
  ValidationOptions o;
  o.now_ms = kNow;
  return o;
}

std::vector<EventType> AllTypes() {
  std::vector<EventType> types;
  types.reserve(kEventTypeCount);
  for (int i = 0; i < kEventTypeCount; ++i) types.push_back(static_cast<EventType>(i));
  return types;
}

// Every field set, with text that needs escaping and non-ASCII text.
Event FullEvent(EventType type) {
  Event e;
  e.event_id = "evt-\"quoted\"-\\back\\slash/";
  e.type = type;
  e.event_time_ms = kTime;
  e.user_id = "user\n42";
  e.session_id = "sess\t1\r\b\f";
  e.product_id = "prod-\xC3\xA9-\xE6\x97\xA5\xE6\x9C\xAC-\xF0\x9F\x98\x80";  // é 日本 😀
  e.quantity = 3;
  e.price = 19.99;
  e.currency = "EUR";
  e.order_id = "o-1";
  e.query = std::string("red \"shoes\" \001\x1f\x7f ") + '\0' + "end";
  e.page = "/p?a=1&b=<2>";
  e.referrer = "https://example.com/\xE2\x80\xA8";  // U+2028 is valid inside JSON strings
  e.device = "mobile";
  e.rec_id = "rec-7";
  e.position = 0;
  e.model = "als \"v\"";
  e.model_version = "2024-03-01T00:00:00Z";
  e.variant = "b\xC3\xA9";
  e.items = {"p1", "p\"2\"", "\xE6\x97\xA5"};
  e.rating = 4.5;
  e.user.country = "DE";
  e.user.city = "K\xC3\xB6ln";
  e.user.age_band = "25-34";
  e.user.gender = "f";
  e.user.signup_channel = "email";
  e.user.email = "a.b+c@example.com";
  e.product.title = "Chef's \"Knife\"";
  e.product.description = "Line 1\nLine 2\\";
  e.product.category = "Home > Kitchen > Knives";
  e.product.brand = "";
  e.product.currency = "EUR";
  e.product.price = 1234.5;
  e.product.stock = 0;
  e.product.tags = std::vector<std::string>{"steel", "b\"c", ""};
  return e;
}

// Only the fields the type requires.
Event MinimalEvent(EventType type) {
  Event e;
  e.event_id = "e1";
  e.type = type;
  e.event_time_ms = kTime;
  switch (TopicOf(type)) {
    case Topic::kClickstream:
      e.user_id = "u1";
      e.session_id = "s1";
      break;
    case Topic::kUserEvents:
      e.user_id = "u1";
      break;
    case Topic::kProductEvents:
      e.product_id = "p1";
      break;
  }
  if (type == EventType::kProductView || type == EventType::kAddToCart ||
      type == EventType::kRemoveFromCart || type == EventType::kPurchase ||
      type == EventType::kRecommendationClick) {
    e.product_id = "p1";
  }
  if (type == EventType::kPurchase) e.order_id = "o1";
  if (type == EventType::kPriceChanged) e.product.price = 9.5;
  if (type == EventType::kStockChanged) e.product.stock = 12;
  if (type == EventType::kProductCreated) e.product.title = "Knife";
  return e;
}

TEST(EventNamesTest, TopicNamesRoundTrip) {
  EXPECT_EQ(TopicName(Topic::kClickstream), "clickstream");
  EXPECT_EQ(TopicName(Topic::kUserEvents), "user-events");
  EXPECT_EQ(TopicName(Topic::kProductEvents), "product-events");
  for (Topic t : kAllTopics) EXPECT_EQ(ParseTopic(TopicName(t)), t);
  EXPECT_EQ(ParseTopic("user_events"), std::nullopt);
  EXPECT_EQ(ParseTopic(""), std::nullopt);
}

TEST(EventNamesTest, EventTypeNamesRoundTripAndBelongToTopics) {
  std::set<std::string_view> names;
  for (EventType t : AllTypes()) {
    EXPECT_EQ(ParseEventType(EventTypeName(t)), t);
    names.insert(EventTypeName(t));
  }
  EXPECT_EQ(names.size(), static_cast<size_t>(kEventTypeCount));
  EXPECT_EQ(EventTypeName(EventType::kAddToCart), "add_to_cart");
  EXPECT_EQ(EventTypeName(EventType::kRecommendationImpression), "recommendation_impression");
  EXPECT_EQ(EventTypeName(EventType::kProductDiscontinued), "product_discontinued");
  EXPECT_EQ(ParseEventType("Page_View"), std::nullopt);
  EXPECT_EQ(TopicOf(EventType::kPageView), Topic::kClickstream);
  EXPECT_EQ(TopicOf(EventType::kRecommendationClick), Topic::kClickstream);
  EXPECT_EQ(TopicOf(EventType::kSignup), Topic::kUserEvents);
  EXPECT_EQ(TopicOf(EventType::kProfileUpdate), Topic::kUserEvents);
  EXPECT_EQ(TopicOf(EventType::kProductCreated), Topic::kProductEvents);
  EXPECT_EQ(TopicOf(EventType::kProductDiscontinued), Topic::kProductEvents);
}

TEST(EventNamesTest, RejectReasonCodes) {
  EXPECT_EQ(RejectReasonCode(RejectReason::kMalformedJson), "malformed_json");
  EXPECT_EQ(RejectReasonCode(RejectReason::kMissingField), "missing_field");
  EXPECT_EQ(RejectReasonCode(RejectReason::kWrongType), "wrong_type");
  EXPECT_EQ(RejectReasonCode(RejectReason::kUnknownEventType), "unknown_event_type");
  EXPECT_EQ(RejectReasonCode(RejectReason::kWrongTopic), "wrong_topic");
  EXPECT_EQ(RejectReasonCode(RejectReason::kBadTime), "bad_time");
  EXPECT_EQ(RejectReasonCode(RejectReason::kFutureTime), "future_time");
  EXPECT_EQ(RejectReasonCode(RejectReason::kNegativeValue), "negative_value");
  EXPECT_EQ(RejectReasonCode(RejectReason::kOversized), "oversized");
  EXPECT_EQ(RejectReasonCode(RejectReason::kUnsupportedSchema), "unsupported_schema");
  EXPECT_EQ(RejectReasonCode(RejectReason::kDuplicate), "duplicate");
}

TEST(EventTest, KeyIsProductForProductEventsAndUserOtherwise) {
  Event e = FullEvent(EventType::kPageView);
  EXPECT_EQ(e.key(), e.user_id);
  e.type = EventType::kLogin;
  EXPECT_EQ(e.key(), e.user_id);
  e.type = EventType::kStockChanged;
  EXPECT_EQ(e.key(), e.product_id);
  EXPECT_EQ(e.topic(), Topic::kProductEvents);
}

TEST(EventTest, AttributesEmpty) {
  EXPECT_TRUE(UserAttributes{}.empty());
  EXPECT_TRUE(ProductAttributes{}.empty());
  UserAttributes u;
  u.email = "";
  EXPECT_FALSE(u.empty());
  ProductAttributes p;
  p.stock = 0;
  EXPECT_FALSE(p.empty());
  ProductAttributes q;
  q.tags = std::vector<std::string>{};
  EXPECT_FALSE(q.empty());
}

TEST(EventJsonTest, ClickstreamEncodingHasFixedFieldOrder) {
  Event e;
  e.event_id = "e1";
  e.type = EventType::kAddToCart;
  e.event_time_ms = FromCivil(2024, 3, 1, 11, 0, 0) + 5;
  e.user_id = "u1";
  e.session_id = "s1";
  e.product_id = "p1";
  e.quantity = 2;
  e.price = 12.5;
  e.currency = "USD";
  e.position = 3;
  EXPECT_EQ(
      EventToJson(e),
      R"({"event_id":"e1","event_type":"add_to_cart","event_time":"2024-03-01T11:00:00.005Z",)"
      R"("schema_version":1,"user_id":"u1","session_id":"s1","product_id":"p1","quantity":2,)"
      R"("price":12.5,"currency":"USD","position":3})");
}

TEST(EventJsonTest, ProductEncodingWritesAttributesObject) {
  Event e;
  e.event_id = "e2";
  e.type = EventType::kProductCreated;
  e.event_time_ms = FromCivil(2024, 3, 1, 11, 0, 0);
  e.product_id = "p9";
  e.product.title = "Knife";
  e.product.category = "Home > Kitchen > Knives";
  e.product.price = 100;
  e.product.stock = 7;
  e.product.tags = std::vector<std::string>{"steel", "chef"};
  EXPECT_EQ(EventToJson(e),
            R"({"event_id":"e2","event_type":"product_created","event_time":)"
            R"("2024-03-01T11:00:00.000Z","schema_version":1,"product_id":"p9","attributes":)"
            R"({"title":"Knife","category":"Home > Kitchen > Knives","price":100,"stock":7,)"
            R"("tags":["steel","chef"]}})");
}

TEST(EventJsonTest, UserEncodingWritesAttributesObject) {
  Event e = MinimalEvent(EventType::kSignup);
  e.user.country = "FR";
  e.user.email = "x@y.fr";
  EXPECT_EQ(EventToJson(e),
            R"({"event_id":"e1","event_type":"signup","event_time":"2024-03-01T11:22:33.456Z",)"
            R"("schema_version":1,"user_id":"u1","attributes":{"country":"FR","email":"x@y.fr"}})");
}

TEST(EventJsonTest, EscapesStrings) {
  Event e = MinimalEvent(EventType::kSearch);
  e.query = "a\"b\\c\nd\001e\x7f\x1f\t/\xC3\xA9\xF0\x9F\x98\x80";
  const std::string json = EventToJson(e);
  EXPECT_NE(
      json.find("\"query\":\"a\\\"b\\\\c\\nd\\u0001e\x7f\\u001f\\t/\xC3\xA9\xF0\x9F\x98\x80\""),
      std::string::npos)
      << json;
}

TEST(EventJsonTest, EveryByteValueAtEveryOffsetSurvivesEncoding) {
  // Bytes are checked 8 at a time on the fast path, so each value is tried at each position.
  EventParser parser;
  Event e = MinimalEvent(EventType::kSearch);
  Event back;
  for (int c = 0; c < 256; ++c) {
    for (size_t pos = 0; pos < 17; ++pos) {
      e.query = std::string(17, 'x');
      e.query[pos] = static_cast<char>(c);
      const std::string json = EventToJson(e);
      auto r = parser.Parse(json, Options(), &back);
      ASSERT_FALSE(r) << "byte " << c << " at " << pos << ": " << r->message;
      std::string expected = e.query;
      if (c >= 0x80) expected.replace(pos, 1, "\xEF\xBF\xBD");  // a lone byte is not UTF-8
      ASSERT_EQ(back.query, expected) << "byte " << c << " at " << pos;
    }
  }
}

TEST(EventJsonTest, ReplacesInvalidUtf8SoOutputStaysValid) {
  Event e = MinimalEvent(EventType::kSearch);
  // A lone continuation byte, a truncated 2-byte sequence, an overlong '/', a UTF-16 surrogate.
  e.query = "a\x80_\xC3_\xC0\xAF_\xED\xA0\x80_";
  const std::string json = EventToJson(e);
  EventParser parser;
  Event back;
  auto rejection = parser.Parse(json, Options(), &back);
  ASSERT_FALSE(rejection) << rejection->message << "\n" << json;
  const std::string r = "\xEF\xBF\xBD";
  EXPECT_EQ(back.query, "a" + r + "_" + r + "_" + r + r + "_" + r + r + r + "_");
}

TEST(EventJsonTest, NumbersAreShortest) {
  Event e = MinimalEvent(EventType::kPurchase);
  auto price_text = [&](double p) {
    e.price = p;
    const std::string json = EventToJson(e);
    const size_t start = json.find("\"price\":") + 8;
    return json.substr(start, json.find(',', start) - start);
  };
  EXPECT_EQ(price_text(12.5), "12.5");
  EXPECT_EQ(price_text(19.99), "19.99");
  EXPECT_EQ(price_text(0.1), "0.1");
  EXPECT_EQ(price_text(100), "100");
  EXPECT_EQ(price_text(0), "0");
  EXPECT_EQ(price_text(1234.567891), "1234.567891");
  e.quantity = -7;  // the encoder writes what it is given; the parser rejects it
  const std::string json = EventToJson(e);
  EXPECT_NE(json.find("\"quantity\":-7,"), std::string::npos) << json;
}

TEST(EventJsonTest, AppendKeepsExistingContent) {
  std::string out = "prefix\n";
  AppendEventJson(MinimalEvent(EventType::kLogin), &out);
  EXPECT_EQ(out, "prefix\n" + EventToJson(MinimalEvent(EventType::kLogin)));
}

TEST(EventJsonTest, EmptyStringsAndUnsetOptionalsAreOmitted) {
  const std::string json = EventToJson(MinimalEvent(EventType::kPageView));
  for (const char* absent :
       {"product_id", "quantity", "price", "currency", "order_id", "query", "page", "referrer",
        "device", "rec_id", "position", "rating", "attributes"}) {
    EXPECT_EQ(json.find(std::string("\"") + absent + "\""), std::string::npos) << absent;
  }
}

TEST(EventJsonTest, NonFinitePriceIsWrittenAsNullAndRejected) {
  Event e = MinimalEvent(EventType::kPurchase);
  e.price = std::numeric_limits<double>::quiet_NaN();
  const std::string json = EventToJson(e);
  EXPECT_NE(json.find("\"price\":null"), std::string::npos) << json;
  EventParser parser;
  Event back;
  auto r = parser.Parse(json, Options(), &back);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->reason, RejectReason::kWrongType);
  e.price = std::numeric_limits<double>::infinity();
  EXPECT_NE(EventToJson(e).find("\"price\":null"), std::string::npos);
}

void ExpectRoundTrip(EventParser& parser, const Event& e) {
  const std::string json = EventToJson(e);
  Event back = FullEvent(EventType::kPageView);  // stale content must not leak through
  auto rejection = parser.Parse(json, Options(), &back);
  ASSERT_FALSE(rejection) << RejectReasonCode(rejection->reason) << ": " << rejection->message
                          << "\n"
                          << json;
  EXPECT_EQ(back, e) << json;
  EXPECT_EQ(EventToJson(back), json);
}

TEST(EventRoundTripTest, FullEventOfEveryType) {
  EventParser parser;
  for (EventType t : AllTypes()) {
    SCOPED_TRACE(EventTypeName(t));
    ExpectRoundTrip(parser, FullEvent(t));
  }
}

TEST(EventRoundTripTest, MinimalEventOfEveryType) {
  EventParser parser;
  for (EventType t : AllTypes()) {
    SCOPED_TRACE(EventTypeName(t));
    ExpectRoundTrip(parser, MinimalEvent(t));
  }
}

TEST(EventRoundTripTest, PricesAndTimesRoundTripExactly) {
  EventParser parser;
  Event e = MinimalEvent(EventType::kPriceChanged);
  for (double p : {0.0, 0.1, 0.3, 19.99, 1e-6, 123456.789012, 1e21, 5e-324, DBL_MAX, 4.35, 2.675}) {
    SCOPED_TRACE(p);
    e.product.price = p;
    e.price = p;
    ExpectRoundTrip(parser, e);
  }
  for (int64_t t : {int64_t{0}, int64_t{-1}, int64_t{1}, kNow, kNow - 999}) {
    e.event_time_ms = t;
    ExpectRoundTrip(parser, e);
  }
  e.quantity = std::numeric_limits<int64_t>::max();
  e.position = 0;
  e.product.stock = std::numeric_limits<int64_t>::max();
  ExpectRoundTrip(parser, e);
}

TEST(EventRoundTripTest, RatingIsWrittenAfterPositionAndReadBack) {
  EventParser parser;
  Event e = MinimalEvent(EventType::kProductView);
  e.position = 2;
  e.rating = 3.5;
  EXPECT_EQ(
      EventToJson(e),
      R"({"event_id":"e1","event_type":"product_view","event_time":"2024-03-01T11:22:33.456Z",)"
      R"("schema_version":1,"user_id":"u1","session_id":"s1","product_id":"p1","position":2,)"
      R"("rating":3.5})");
  for (double rating : {0.0, 0.5, 3.5, 5.0, 10.0}) {
    SCOPED_TRACE(rating);
    e.rating = rating;
    ExpectRoundTrip(parser, e);
  }
}

TEST(EventRoundTripTest, ServedListFieldsAreWrittenAfterPositionAndReadBack) {
  EventParser parser;
  Event e = MinimalEvent(EventType::kRecommendationImpression);
  e.rec_id = "r1";
  e.position = 1;
  e.model = "als";
  e.model_version = "v3";
  e.variant = "b";
  e.items = {"p1", "p2"};
  e.rating = 2;
  EXPECT_EQ(EventToJson(e),
            R"({"event_id":"e1","event_type":"recommendation_impression",)"
            R"("event_time":"2024-03-01T11:22:33.456Z","schema_version":1,"user_id":"u1",)"
            R"("session_id":"s1","rec_id":"r1","position":1,"model":"als","model_version":"v3",)"
            R"("variant":"b","items":["p1","p2"],"rating":2})");
  ExpectRoundTrip(parser, e);
  // Each field alone, on every clickstream type.
  for (EventType t : AllTypes()) {
    if (TopicOf(t) != Topic::kClickstream) continue;
    SCOPED_TRACE(EventTypeName(t));
    Event only = MinimalEvent(t);
    only.model = "m";
    ExpectRoundTrip(parser, only);
    only = MinimalEvent(t);
    only.model_version = "v";
    ExpectRoundTrip(parser, only);
    only = MinimalEvent(t);
    only.variant = "control";
    ExpectRoundTrip(parser, only);
    only = MinimalEvent(t);
    only.items = {"p9"};
    ExpectRoundTrip(parser, only);
  }
  // The longest list allowed.
  e.items.clear();
  for (size_t i = 0; i < Event::kMaxItems; ++i) e.items.push_back("p" + std::to_string(i));
  ExpectRoundTrip(parser, e);
}

TEST(EventRoundTripTest, EmptyItemsAreOmittedAndAnEmptyArrayReadsAsNone) {
  EventParser parser;
  Event e = MinimalEvent(EventType::kRecommendationImpression);
  EXPECT_EQ(EventToJson(e).find("items"), std::string::npos);
  Event back;
  auto r = parser.Parse(
      R"({"event_id":"e","event_type":"recommendation_impression",)"
      R"("event_time":"2024-03-01T10:00:00Z","user_id":"u","session_id":"s","items":[]})",
      Options(), &back);
  ASSERT_FALSE(r) << r->message;
  EXPECT_TRUE(back.items.empty());
}

TEST(EventParserTest, ServedListFieldsOfWrongTypeAreRejectedNamingTheField) {
  const std::string head = R"({"event_id":"e","event_type":"recommendation_impression",)"
                           R"("event_time":"2024-03-01T10:00:00Z","user_id":"u","session_id":"s",)";
  std::string too_many = R"("items":[)";
  for (size_t i = 0; i <= Event::kMaxItems; ++i)
    too_many += (i > 0 ? ",\"p" : "\"p") + std::to_string(i) + "\"";
  too_many += "]";
  const std::pair<std::string, std::string> cases[] = {
      {R"("model":3)", "model must be a string"},
      {R"("model":null)", "model must be a string"},
      {R"("model_version":["v1"])", "model_version must be a string"},
      {R"("variant":{"a":1})", "variant must be a string"},
      {R"("variant":true)", "variant must be a string"},
      {R"("items":"p1")", "items must be an array"},
      {R"("items":{"p1":1})", "items must be an array"},
      {R"("items":["p1",2])", "items[1] must be a string"},
      {R"("items":["p1",null])", "items[1] must be a string"},
      {R"("items":[["p1"]])", "items[0] must be a string"},
      {R"("items":["p1",""])", "items[1] is an empty string"},
      {too_many, "items has 1001 entries"},
  };
  EventParser parser;
  for (const auto& [field, message] : cases) {
    const std::string json = head + field + "}";
    SCOPED_TRACE(json.substr(0, 200));
    Event e;
    auto r = parser.Parse(json, Options(), &e);
    ASSERT_TRUE(r);
    EXPECT_EQ(RejectReasonCode(r->reason), "wrong_type") << r->message;
    EXPECT_NE(r->message.find(message), std::string::npos) << r->message;
  }
}

TEST(EventParserTest, AcceptsWhatOtherProducersWrite) {
  EventParser parser;
  Event e;
  auto r = parser.Parse(
      R"( { "event_type" : "purchase", "event_id" : "e\u0031", "future_field": {"x": [1, {"y": 2}]},
            "event_time" : "2024-03-01T13:00:00+02:00", "user_id":"u\u00e9", "session_id":"s",
            "product_id":"p", "order_id":"o", "price": 12, "quantity": 0, "position": 4,
            "attributes": {"unknown": true} } )",
      Options(), &e);
  ASSERT_FALSE(r) << r->message;
  EXPECT_EQ(e.event_id, "e1");
  EXPECT_EQ(e.type, EventType::kPurchase);
  EXPECT_EQ(e.event_time_ms, FromCivil(2024, 3, 1, 11, 0, 0));
  EXPECT_EQ(e.schema_version, 1);
  EXPECT_EQ(e.user_id, "u\xC3\xA9");
  EXPECT_EQ(e.price, 12.0);
  EXPECT_EQ(e.quantity, 0);
  EXPECT_EQ(e.position, 4);
  EXPECT_TRUE(e.user.empty());
  EXPECT_TRUE(e.product.empty());
}

TEST(EventParserTest, LastDuplicateKeyCounts) {
  EventParser parser;
  Event e;
  auto r = parser.Parse(R"({"event_id":"a","event_id":"b","event_type":"login",)"
                        R"("event_time":"2020-01-01T00:00:00Z","user_id":"u",)"
                        R"("event_time":"2024-03-01T00:00:00Z"})",
                        Options(), &e);
  ASSERT_FALSE(r) << r->message;
  EXPECT_EQ(e.event_id, "b");
  EXPECT_EQ(e.event_time_ms, FromCivil(2024, 3, 1));
  EXPECT_EQ(ExtractEventTime(R"({"event_time":"2020-01-01T00:00:00Z",)"
                             R"("event_time":"2024-03-01T00:00:00Z"})"),
            FromCivil(2024, 3, 1));
}

TEST(EventParserTest, ReusedParserAndEventCarryNothingOver) {
  EventParser parser;
  Event e;
  ASSERT_FALSE(parser.Parse(EventToJson(FullEvent(EventType::kPurchase)), Options(), &e));
  ASSERT_FALSE(parser.Parse(EventToJson(MinimalEvent(EventType::kLogin)), Options(), &e));
  EXPECT_EQ(e, MinimalEvent(EventType::kLogin));
  // A rejection in between does not disturb the next message.
  ASSERT_TRUE(parser.Parse("{\"event_id\":", Options(), &e));
  ASSERT_FALSE(parser.Parse(EventToJson(MinimalEvent(EventType::kSignup)), Options(), &e));
  EXPECT_EQ(e, MinimalEvent(EventType::kSignup));
}

TEST(EventParserTest, FutureSkewBoundary) {
  EventParser parser;
  Event e = MinimalEvent(EventType::kLogin);
  ValidationOptions o = Options();
  o.max_future_skew_ms = 1000;
  e.event_time_ms = kNow + 1000;
  Event back;
  EXPECT_FALSE(parser.Parse(EventToJson(e), o, &back));
  e.event_time_ms = kNow + 1001;
  auto r = parser.Parse(EventToJson(e), o, &back);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->reason, RejectReason::kFutureTime);
  EXPECT_NE(r->message.find("event_time"), std::string::npos);
  // Old events are fine: late data is normal.
  e.event_time_ms = kNow - 365LL * 86400000;
  EXPECT_FALSE(parser.Parse(EventToJson(e), o, &back));
}

TEST(EventParserTest, ExpectedTopicAcceptsItsOwnTypes) {
  EventParser parser;
  for (EventType t : AllTypes()) {
    for (Topic topic : kAllTopics) {
      ValidationOptions o = Options();
      o.expected_topic = topic;
      Event back;
      auto r = parser.Parse(EventToJson(MinimalEvent(t)), o, &back);
      if (TopicOf(t) == topic) {
        EXPECT_FALSE(r) << EventTypeName(t);
      } else {
        ASSERT_TRUE(r) << EventTypeName(t);
        EXPECT_EQ(r->reason, RejectReason::kWrongTopic);
        EXPECT_NE(r->message.find(TopicName(topic)), std::string::npos) << r->message;
      }
    }
  }
}

TEST(EventParserTest, SizeLimitIsCheckedBeforeParsing) {
  EventParser parser;
  const std::string json = EventToJson(MinimalEvent(EventType::kLogin));
  ValidationOptions o = Options();
  o.max_message_bytes = json.size();
  Event e;
  EXPECT_FALSE(parser.Parse(json, o, &e));
  o.max_message_bytes = json.size() - 1;
  auto r = parser.Parse(json, o, &e);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->reason, RejectReason::kOversized);
  // Garbage that is too large is oversized, not malformed.
  r = parser.Parse(std::string(json.size(), '!'), o, &e);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->reason, RejectReason::kOversized);
}

TEST(EventParserTest, EveryTruncationIsMalformedAndNeverCrashes) {
  EventParser parser;
  const std::string json = EventToJson(FullEvent(EventType::kProductCreated));
  for (size_t n = 0; n < json.size(); ++n) {
    Event e;
    auto r = parser.Parse(std::string_view(json).substr(0, n), Options(), &e);
    ASSERT_TRUE(r) << n;
    EXPECT_EQ(r->reason, RejectReason::kMalformedJson) << json.substr(0, n);
    EXPECT_EQ(ExtractEventTime(std::string_view(json).substr(0, n)), std::nullopt) << n;
  }
}

struct RejectCase {
  const char* json;
  RejectReason reason;
  const char* message_part;  // usually the field's name
};

// Valid messages with one thing wrong each. Times are before kNow.
const RejectCase kRejectCases[] = {
    {"not json", RejectReason::kMalformedJson, "JSON"},
    {"", RejectReason::kMalformedJson, "JSON"},
    {"[1, 2]", RejectReason::kMalformedJson, "not a JSON object"},
    {R"("event")", RejectReason::kMalformedJson, "not a JSON object"},
    {R"({"event_id":"e1",})", RejectReason::kMalformedJson, "JSON"},
    {R"({"event_id":"e1"} {"event_id":"e2"})", RejectReason::kMalformedJson, "JSON"},
    {"{\"event_id\":\"e\xff\"}", RejectReason::kMalformedJson, "JSON"},
    // event_id
    {R"({"event_type":"login","event_time":"2024-03-01T10:00:00Z","user_id":"u"})",
     RejectReason::kMissingField, "event_id"},
    {R"({"event_id":"","event_type":"login","event_time":"2024-03-01T10:00:00Z","user_id":"u"})",
     RejectReason::kMissingField, "event_id"},
    {R"({"event_id":7,"event_type":"login","event_time":"2024-03-01T10:00:00Z","user_id":"u"})",
     RejectReason::kWrongType, "event_id"},
    // event_type
    {R"({"event_id":"e","event_time":"2024-03-01T10:00:00Z","user_id":"u"})",
     RejectReason::kMissingField, "event_type"},
    {R"({"event_id":"e","event_type":"logout","event_time":"2024-03-01T10:00:00Z","user_id":"u"})",
     RejectReason::kUnknownEventType, "logout"},
    {R"({"event_id":"e","event_type":3,"event_time":"2024-03-01T10:00:00Z","user_id":"u"})",
     RejectReason::kWrongType, "event_type"},
    // event_time
    {R"({"event_id":"e","event_type":"login","user_id":"u"})", RejectReason::kMissingField,
     "event_time"},
    {R"({"event_id":"e","event_type":"login","event_time":1709290800000,"user_id":"u"})",
     RejectReason::kBadTime, "event_time"},
    {R"({"event_id":"e","event_type":"login","event_time":"yesterday","user_id":"u"})",
     RejectReason::kBadTime, "yesterday"},
    {R"({"event_id":"e","event_type":"login","event_time":"2023-02-29T10:00:00Z","user_id":"u"})",
     RejectReason::kBadTime, "event_time"},
    {R"({"event_id":"e","event_type":"login","event_time":"2024-03-01T10:00:00","user_id":"u"})",
     RejectReason::kBadTime, "event_time"},
    {R"({"event_id":"e","event_type":"login","event_time":"2024-03-01T14:00:00Z","user_id":"u"})",
     RejectReason::kFutureTime, "event_time"},
    // schema_version
    {R"({"event_id":"e","event_type":"login","event_time":"2024-03-01T10:00:00Z","user_id":"u",)"
     R"("schema_version":"1"})",
     RejectReason::kWrongType, "schema_version"},
    {R"({"event_id":"e","event_type":"login","event_time":"2024-03-01T10:00:00Z","user_id":"u",)"
     R"("schema_version":1.5})",
     RejectReason::kWrongType, "schema_version"},
    {R"({"event_id":"e","event_type":"login","event_time":"2024-03-01T10:00:00Z","user_id":"u",)"
     R"("schema_version":0})",
     RejectReason::kWrongType, "schema_version"},
    {R"({"event_id":"e","event_type":"login","event_time":"2024-03-01T10:00:00Z","user_id":"u",)"
     R"("schema_version":2})",
     RejectReason::kUnsupportedSchema, "schema_version"},
    {R"({"event_id":"e","event_type":"login","event_time":"2024-03-01T10:00:00Z","user_id":"u",)"
     R"("schema_version":18446744073709551615})",
     RejectReason::kUnsupportedSchema, "schema_version"},
    // required ids
    {R"({"event_id":"e","event_type":"page_view","event_time":"2024-03-01T10:00:00Z",)"
     R"("session_id":"s"})",
     RejectReason::kMissingField, "user_id"},
    {R"({"event_id":"e","event_type":"page_view","event_time":"2024-03-01T10:00:00Z",)"
     R"("user_id":"","session_id":"s"})",
     RejectReason::kMissingField, "user_id"},
    {R"({"event_id":"e","event_type":"page_view","event_time":"2024-03-01T10:00:00Z",)"
     R"("user_id":"u"})",
     RejectReason::kMissingField, "session_id"},
    {R"({"event_id":"e","event_type":"signup","event_time":"2024-03-01T10:00:00Z"})",
     RejectReason::kMissingField, "user_id"},
    {R"({"event_id":"e","event_type":"product_view","event_time":"2024-03-01T10:00:00Z",)"
     R"("user_id":"u","session_id":"s"})",
     RejectReason::kMissingField, "product_id"},
    {R"({"event_id":"e","event_type":"add_to_cart","event_time":"2024-03-01T10:00:00Z",)"
     R"("user_id":"u","session_id":"s"})",
     RejectReason::kMissingField, "product_id"},
    {R"({"event_id":"e","event_type":"recommendation_click","event_time":"2024-03-01T10:00:00Z",)"
     R"("user_id":"u","session_id":"s"})",
     RejectReason::kMissingField, "product_id"},
    {R"({"event_id":"e","event_type":"purchase","event_time":"2024-03-01T10:00:00Z",)"
     R"("user_id":"u","session_id":"s","product_id":"p"})",
     RejectReason::kMissingField, "order_id"},
    {R"({"event_id":"e","event_type":"product_updated","event_time":"2024-03-01T10:00:00Z",)"
     R"("user_id":"u"})",
     RejectReason::kMissingField, "product_id"},
    // numbers
    {R"({"event_id":"e","event_type":"add_to_cart","event_time":"2024-03-01T10:00:00Z",)"
     R"("user_id":"u","session_id":"s","product_id":"p","quantity":-1})",
     RejectReason::kNegativeValue, "quantity"},
    {R"({"event_id":"e","event_type":"add_to_cart","event_time":"2024-03-01T10:00:00Z",)"
     R"("user_id":"u","session_id":"s","product_id":"p","quantity":1.5})",
     RejectReason::kWrongType, "quantity"},
    {R"({"event_id":"e","event_type":"add_to_cart","event_time":"2024-03-01T10:00:00Z",)"
     R"("user_id":"u","session_id":"s","product_id":"p","quantity":"2"})",
     RejectReason::kWrongType, "quantity"},
    {R"({"event_id":"e","event_type":"add_to_cart","event_time":"2024-03-01T10:00:00Z",)"
     R"("user_id":"u","session_id":"s","product_id":"p","price":-3.5})",
     RejectReason::kNegativeValue, "price is negative (-3.5)"},
    {R"({"event_id":"e","event_type":"add_to_cart","event_time":"2024-03-01T10:00:00Z",)"
     R"("user_id":"u","session_id":"s","product_id":"p","price":"12.5"})",
     RejectReason::kWrongType, "price"},
    {R"({"event_id":"e","event_type":"add_to_cart","event_time":"2024-03-01T10:00:00Z",)"
     R"("user_id":"u","session_id":"s","product_id":"p","price":null})",
     RejectReason::kWrongType, "price"},
    {R"({"event_id":"e","event_type":"recommendation_click","event_time":"2024-03-01T10:00:00Z",)"
     R"("user_id":"u","session_id":"s","product_id":"p","position":1.5})",
     RejectReason::kWrongType, "position"},
    {R"({"event_id":"e","event_type":"recommendation_click","event_time":"2024-03-01T10:00:00Z",)"
     R"("user_id":"u","session_id":"s","product_id":"p","position":"3"})",
     RejectReason::kWrongType, "position"},
    {R"({"event_id":"e","event_type":"product_view","event_time":"2024-03-01T10:00:00Z",)"
     R"("user_id":"u","session_id":"s","product_id":"p","rating":-0.5})",
     RejectReason::kNegativeValue, "rating is negative (-0.5)"},
    {R"({"event_id":"e","event_type":"product_view","event_time":"2024-03-01T10:00:00Z",)"
     R"("user_id":"u","session_id":"s","product_id":"p","rating":"4"})",
     RejectReason::kWrongType, "rating"},
    {R"({"event_id":"e","event_type":"product_view","event_time":"2024-03-01T10:00:00Z",)"
     R"("user_id":"u","session_id":"s","product_id":"p","rating":10.5})",
     RejectReason::kWrongType, "rating must be at most 10"},
    // string fields of the wrong type
    {R"({"event_id":"e","event_type":"login","event_time":"2024-03-01T10:00:00Z","user_id":42})",
     RejectReason::kWrongType, "user_id"},
    {R"({"event_id":"e","event_type":"page_view","event_time":"2024-03-01T10:00:00Z",)"
     R"("user_id":"u","session_id":"s","referrer":["a"]})",
     RejectReason::kWrongType, "referrer"},
    {R"({"event_id":"e","event_type":"search","event_time":"2024-03-01T10:00:00Z",)"
     R"("user_id":"u","session_id":"s","query":{"q":"x"}})",
     RejectReason::kWrongType, "query"},
    // attributes
    {R"({"event_id":"e","event_type":"signup","event_time":"2024-03-01T10:00:00Z",)"
     R"("user_id":"u","attributes":"DE"})",
     RejectReason::kWrongType, "attributes"},
    {R"({"event_id":"e","event_type":"signup","event_time":"2024-03-01T10:00:00Z",)"
     R"("user_id":"u","attributes":{"country":1}})",
     RejectReason::kWrongType, "attributes.country"},
    {R"({"event_id":"e","event_type":"price_changed","event_time":"2024-03-01T10:00:00Z",)"
     R"("product_id":"p","attributes":{"price":-1}})",
     RejectReason::kNegativeValue, "attributes.price"},
    {R"({"event_id":"e","event_type":"stock_changed","event_time":"2024-03-01T10:00:00Z",)"
     R"("product_id":"p","attributes":{"stock":-5}})",
     RejectReason::kNegativeValue, "attributes.stock"},
    {R"({"event_id":"e","event_type":"stock_changed","event_time":"2024-03-01T10:00:00Z",)"
     R"("product_id":"p","attributes":{"stock":2.5}})",
     RejectReason::kWrongType, "attributes.stock"},
    {R"({"event_id":"e","event_type":"product_updated","event_time":"2024-03-01T10:00:00Z",)"
     R"("product_id":"p","attributes":{"tags":"steel"}})",
     RejectReason::kWrongType, "attributes.tags"},
    {R"({"event_id":"e","event_type":"product_updated","event_time":"2024-03-01T10:00:00Z",)"
     R"("product_id":"p","attributes":{"tags":["a",1]}})",
     RejectReason::kWrongType, "attributes.tags[1]"},
    {R"({"event_id":"e","event_type":"product_updated","event_time":"2024-03-01T10:00:00Z",)"
     R"("product_id":"p","attributes":{"price":"9.99"}})",
     RejectReason::kWrongType, "attributes.price"},
    {R"({"event_id":"e","event_type":"price_changed","event_time":"2024-03-01T10:00:00Z",)"
     R"("product_id":"p","attributes":{"currency":"EUR"}})",
     RejectReason::kMissingField, "attributes.price"},
    {R"({"event_id":"e","event_type":"price_changed","event_time":"2024-03-01T10:00:00Z",)"
     R"("product_id":"p"})",
     RejectReason::kMissingField, "attributes.price"},
    {R"({"event_id":"e","event_type":"stock_changed","event_time":"2024-03-01T10:00:00Z",)"
     R"("product_id":"p","attributes":{"price":3}})",
     RejectReason::kMissingField, "attributes.stock"},
    {R"({"event_id":"e","event_type":"product_created","event_time":"2024-03-01T10:00:00Z",)"
     R"("product_id":"p","attributes":{"brand":"Acme"}})",
     RejectReason::kMissingField, "attributes.title"},
    {R"({"event_id":"e","event_type":"product_created","event_time":"2024-03-01T10:00:00Z",)"
     R"("product_id":"p","attributes":{"title":""}})",
     RejectReason::kMissingField, "attributes.title"},
};

TEST(EventParserTest, RejectsEachProblemWithItsReasonAndField) {
  EventParser parser;
  std::set<RejectReason> seen;
  for (const RejectCase& c : kRejectCases) {
    SCOPED_TRACE(c.json);
    Event e;
    auto r = parser.Parse(c.json, Options(), &e);
    ASSERT_TRUE(r);
    EXPECT_EQ(RejectReasonCode(r->reason), RejectReasonCode(c.reason)) << r->message;
    EXPECT_NE(r->message.find(c.message_part), std::string::npos) << r->message;
    seen.insert(r->reason);
  }
  // Oversized and wrong_topic need options of their own (tested above); duplicates are silver's.
  EXPECT_EQ(seen.size(), static_cast<size_t>(kRejectReasonCount - 3));
}

TEST(EventParserTest, MinimalMessagesOfEveryTypeAreAccepted) {
  // The reject cases above differ from these by one field, so each rejection has one cause.
  EventParser parser;
  Event e;
  for (const char* json : {
           R"({"event_id":"e","event_type":"login","event_time":"2024-03-01T10:00:00Z",)"
           R"("user_id":"u"})",
           R"({"event_id":"e","event_type":"page_view","event_time":"2024-03-01T10:00:00Z",)"
           R"("user_id":"u","session_id":"s"})",
           R"({"event_id":"e","event_type":"purchase","event_time":"2024-03-01T10:00:00Z",)"
           R"("user_id":"u","session_id":"s","product_id":"p","order_id":"o"})",
           R"({"event_id":"e","event_type":"product_updated","event_time":"2024-03-01T10:00:00Z",)"
           R"("product_id":"p"})",
           R"({"event_id":"e","event_type":"stock_changed","event_time":"2024-03-01T10:00:00Z",)"
           R"("product_id":"p","attributes":{"stock":0}})",
       }) {
    auto r = parser.Parse(json, Options(), &e);
    EXPECT_FALSE(r) << json << ": " << r->message;
  }
}

TEST(ExtractEventTimeTest, FindsTopLevelEventTime) {
  const int64_t t = FromCivil(2024, 3, 1, 11, 0, 0);
  EXPECT_EQ(ExtractEventTime(R"({"event_time":"2024-03-01T11:00:00.000Z"})"), t);
  EXPECT_EQ(ExtractEventTime(EventToJson(FullEvent(EventType::kSearch))), kTime);
  EXPECT_EQ(ExtractEventTime(R"( {"a":1, "b":[1,2,{"c":null}], "event_time" : )"
                             R"("2024-03-01T13:00:00+02:00" } )"),
            t);
  EXPECT_EQ(ExtractEventTime(R"({"event_time":"2024-03-01T06:30:00.000-04:30"})"), t);
  EXPECT_EQ(ExtractEventTime(R"({"event\u005ftime":"2024-03-01T11:00:00Z"})"), t);
}

TEST(ExtractEventTimeTest, IgnoresNestedAndQuotedEventTime) {
  const int64_t t = FromCivil(2024, 3, 1, 11, 0, 0);
  EXPECT_EQ(ExtractEventTime(R"({"attributes":{"event_time":"2020-01-01T00:00:00Z"},)"
                             R"("event_time":"2024-03-01T11:00:00Z"})"),
            t);
  EXPECT_EQ(
      ExtractEventTime(R"({"event_id":"e","attributes":{"event_time":"2020-01-01T00:00:00Z"}})"),
      std::nullopt);
  EXPECT_EQ(ExtractEventTime(R"({"list":[{"event_time":"2020-01-01T00:00:00Z"}]})"), std::nullopt);
  EXPECT_EQ(ExtractEventTime(R"({"q":"\"event_time\":\"2020-01-01T00:00:00Z\""})"), std::nullopt);
  EXPECT_EQ(ExtractEventTime(R"({"q":"\"event_time\":\"2020-01-01T00:00:00Z\"",)"
                             R"("event_time":"2024-03-01T11:00:00Z"})"),
            t);
  EXPECT_EQ(ExtractEventTime(R"({"x":{"y":{"event_time":"2020-01-01T00:00:00Z"}},)"
                             R"("z":"event_time","event_time":"2024-03-01T11:00:00Z"})"),
            t);
  EXPECT_EQ(ExtractEventTime(R"([{"event_time":"2024-03-01T11:00:00Z"}])"), std::nullopt);
}

TEST(ExtractEventTimeTest, ReturnsNulloptForBadInput) {
  for (const char* bad : {
           "",
           "garbage",
           "{",
           "}",
           "null",
           R"("event_time")",
           R"({"event_time":1709290800000})",
           R"({"event_time":null})",
           R"({"event_time":{"t":"2024-03-01T11:00:00Z"}})",
           R"({"event_time":"yesterday"})",
           R"({"event_time":"2024-03-01T11:00:00"})",
           R"({"event_time":"2024-02-30T11:00:00Z"})",
           R"({"event_time":"2024-03-01T11:00:00Z")",
           R"({"event_time":"2024-03-01T11:00:00Z",})",
           R"({"event_time":"2024-03-01T11:00:00Z","x":tru})",
           R"({"event_time":"2024-03-01T11:00:00Z"}})",
           R"({event_time:"2024-03-01T11:00:00Z"})",
       }) {
    EXPECT_EQ(ExtractEventTime(bad), std::nullopt) << bad;
  }
}

TEST(ExtractEventTimeTest, SurvivesRandomBytes) {
  std::mt19937 rng(7);
  const std::string base = EventToJson(FullEvent(EventType::kPurchase));
  for (int i = 0; i < 2000; ++i) {
    std::string s = base;
    // Flip a few bytes: some results stay valid JSON, so only the absence of a crash and the
    // agreement with the full parser are checked.
    for (int k = 0; k < 3; ++k) s[rng() % s.size()] = static_cast<char>(rng());
    auto t = ExtractEventTime(s);
    EventParser parser;
    Event e;
    if (!parser.Parse(s, Options(), &e)) {
      EXPECT_EQ(t, e.event_time_ms) << s;
    }
  }
}

TEST(ExtractEventTimeTest, HandlesLargeMessages) {
  std::string big =
      R"({"pad":")" + std::string(3 << 20, 'x') + R"(","event_time":"2024-03-01T11:00:00Z"})";
  EXPECT_EQ(ExtractEventTime(big), FromCivil(2024, 3, 1, 11, 0, 0));
  EXPECT_EQ(ExtractEventTime(R"({"event_time":"2024-03-01T12:00:00Z"})"), kNow);
}

}  // namespace
}  // namespace recsys
