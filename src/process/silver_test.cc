#include "process/silver.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "core/clock.h"
#include "core/event.h"
#include "core/temp_dir.h"
#include "generate/generator.h"
#include "lake/bronze_sink.h"
#include "lake/duckdb.h"
#include "lake/object_store.h"

namespace recsys {
namespace {

const int64_t kJan5 = FromCivil(2024, 1, 5);
constexpr int64_t kMinute = 60000;

Event Click(std::string id, EventType type, int64_t time_ms, std::string user = "u1") {
  Event e;
  e.event_id = std::move(id);
  e.type = type;
  e.event_time_ms = time_ms;
  e.user_id = std::move(user);
  e.session_id = "s-1";
  if (type != EventType::kPageView && type != EventType::kSearch) e.product_id = "p1";
  if (type == EventType::kPurchase) e.order_id = "o-1";
  return e;
}

class SilverTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_FALSE(dir_.path().empty());
    root_ = dir_.path() + "/lake";
    auto store = OpenLocalStore(root_);
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    store_ = std::move(*store);
    options_.clock = &clock_;
    auto db = DuckDb::Open("");
    ASSERT_TRUE(db.ok());
    db_ = std::move(*db);
  }

  LakeLocation Lake() { return {store_.get(), root_}; }

  // Writes a bronze file of topic under the sink's layout; name orders files within a topic.
  std::string PutBronze(std::string_view topic, std::string_view name,
                        const std::vector<std::string>& lines,
                        Compression compression = Compression::kNone) {
    std::string text;
    for (const std::string& l : lines) text += l + "\n";
    std::string key = "bronze/topics/" + std::string(topic) +
                      "/year=2024/month=01/day=05/hour=10/" + std::string(topic) + "+0+" +
                      std::string(name) + std::string(CompressionExtension(compression));
    auto data = Compress(compression, text);
    EXPECT_TRUE(data.ok());
    EXPECT_TRUE(store_->Put(key, *data).ok());
    return key;
  }

  SilverReport Run(const SilverOptions& options) {
    SilverReport report;
    Status st = RunSilver(Lake(), options, &report);
    EXPECT_TRUE(st.ok()) << st.ToString();
    return report;
  }
  SilverReport Run() { return Run(options_); }

  // read_parquet over a silver table; event_date comes from the folder names.
  std::string Table(std::string_view table) {
    bool partitioned = table == "clickstream" || table == "user_events" ||
                       table == "product_events" || table == "event_ids" || table == "sessions";
    std::string glob =
        root_ + "/silver/" + std::string(table) + (partitioned ? "/*/" : "/") + "*.parquet";
    if (table == "_quarantine") glob = root_ + "/silver/_quarantine/*/*.parquet";
    return "read_parquet(" + DuckDb::Quote(glob) +
           ", hive_partitioning = " + (partitioned ? "true" : "false") + ")";
  }

  QueryResult Query(const std::string& sql) {
    auto r = db_->Query(sql);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? std::move(*r) : QueryResult();
  }
  int64_t Count(std::string_view table) {
    auto r = db_->QueryInt64("SELECT count(*) FROM " + Table(table));
    return r.ok() ? *r : -1;
  }
  // Rows and an order-independent checksum of a table, leaving out the run that wrote them.
  std::string Checksum(std::string_view table) {
    auto r = db_->Query(
        "SELECT count(*), sum(hash(t)) FROM (SELECT COLUMNS(c -> c <> 'run_id') "
        "FROM " +
        Table(table) + ") t");
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    if (!r.ok()) return "";
    return std::string(table) + ":" + r->GetString(0, 0) + ":" + r->GetString(0, 1);
  }
  std::vector<std::string> SilverKeys() {
    std::vector<std::string> keys;
    auto list = store_->List("silver/");
    EXPECT_TRUE(list.ok());
    for (const ObjectInfo& o : *list) keys.push_back(o.key + " " + std::to_string(o.size));
    return keys;
  }

  TempDir dir_;
  std::string root_;
  std::unique_ptr<ObjectStore> store_;
  ManualClock clock_{FromCivil(2024, 1, 10)};
  SilverOptions options_;
  std::unique_ptr<DuckDb> db_;
};

TEST_F(SilverTest, EmptyLakeDoesNothing) {
  SilverReport report = Run();
  EXPECT_FALSE(report.run_id.empty());
  EXPECT_EQ(report.total.read, 0);
  EXPECT_EQ(report.files, 0);
  EXPECT_TRUE(SilverKeys().empty());
}

TEST_F(SilverTest, EveryKindOfBadRecordIsQuarantinedWithItsReasonRawTextAndLine) {
  Event good = Click("e-good", EventType::kPageView, kJan5);
  const std::string good_json = EventToJson(good);
  Event missing = Click("e-missing", EventType::kPageView, kJan5);
  missing.session_id.clear();
  Event negative = Click("e-negative", EventType::kAddToCart, kJan5);
  negative.price = -3.5;
  Event oversized = Click("e-oversized", EventType::kSearch, kJan5);
  oversized.query = std::string(3000, 'q');
  Event future = Click("e-future", EventType::kPageView, FromCivil(2025, 1, 1));
  Event blank = Click("e-blank", EventType::kPageView, kJan5);
  blank.user_id = "   ";
  Event currency = Click("e-currency", EventType::kAddToCart, kJan5);
  currency.price = 3;
  currency.currency = "euro";
  // line number -> (raw text, reason code)
  const std::vector<std::pair<std::string, std::string>> lines = {
      {good_json, ""},
      {"{\"event_id\": \"x\", \"event_type\": ", "malformed_json"},
      {EventToJson(missing), "missing_field"},
      {R"({"event_id":"e-type","event_type":"page_view","event_time":"2024-01-05T00:00:00.000Z",)"
       R"("user_id":"u1","session_id":"s1","price":"12"})",
       "wrong_type"},
      {R"({"event_id":"e-unknown","event_type":"wishlist_add",)"
       R"("event_time":"2024-01-05T00:00:00.000Z","user_id":"u1","session_id":"s1"})",
       "unknown_event_type"},
      {R"({"event_id":"e-topic","event_type":"signup","event_time":"2024-01-05T00:00:00.000Z",)"
       R"("user_id":"u1"})",
       "wrong_topic"},
      {R"({"event_id":"e-time","event_type":"page_view","event_time":"yesterday",)"
       R"("user_id":"u1","session_id":"s1"})",
       "bad_time"},
      {EventToJson(future), "future_time"},
      {EventToJson(negative), "negative_value"},
      {EventToJson(oversized), "oversized"},
      {R"({"event_id":"e-schema","event_type":"page_view","schema_version":7,)"
       R"("event_time":"2024-01-05T00:00:00.000Z","user_id":"u1","session_id":"s1"})",
       "unsupported_schema"},
      {EventToJson(blank), "missing_field"},
      {EventToJson(currency), "wrong_type"},
      {"\xff\xfe not text", "malformed_json"},
  };
  std::vector<std::string> text;
  for (const auto& l : lines) text.push_back(l.first);
  const std::string key = PutBronze("clickstream", "0000000000", text);
  options_.max_message_bytes = 2048;

  SilverReport report = Run();
  EXPECT_EQ(report.total.read, 14);
  EXPECT_EQ(report.total.written, 1);
  EXPECT_EQ(report.total.quarantined, 13);
  EXPECT_EQ(report.total.duplicates, 0);
  const std::map<std::string, int64_t> expected_reasons = {
      {"malformed_json", 2},     {"missing_field", 2},  {"wrong_type", 2},
      {"unknown_event_type", 1}, {"wrong_topic", 1},    {"bad_time", 1},
      {"future_time", 1},        {"negative_value", 1}, {"oversized", 1},
      {"unsupported_schema", 1}};
  EXPECT_EQ(report.quarantined_by_reason, expected_reasons);

  QueryResult q = Query(
      "SELECT bronze_line, reason, raw, bronze_file, topic, message, run_id, quarantined_at FROM " +
      Table("_quarantine") + " ORDER BY bronze_line");
  ASSERT_EQ(q.rows(), 13u);
  for (size_t i = 0; i < q.rows(); ++i) {
    const int64_t line = q.GetInt64(i, 0);
    ASSERT_GE(line, 2);
    ASSERT_LE(line, 14);
    SCOPED_TRACE("line " + std::to_string(line));
    EXPECT_EQ(q.GetString(i, 1), lines[line - 1].second);
    if (line != 14) {
      EXPECT_EQ(q.GetString(i, 2), lines[line - 1].first);
    }
    EXPECT_EQ(q.GetString(i, 3), key);
    EXPECT_EQ(q.GetString(i, 4), "clickstream");
    EXPECT_FALSE(q.GetString(i, 5).empty());
    EXPECT_EQ(q.GetString(i, 6), report.run_id);
    EXPECT_EQ(q.GetString(i, 7), "2024-01-10 00:00:00");
  }
  // Invalid UTF-8 cannot be a VARCHAR: each bad byte reads as U+FFFD.
  EXPECT_EQ(q.GetString(12, 2), "\xEF\xBF\xBD\xEF\xBF\xBD not text");
  EXPECT_NE(q.GetString(1, 5).find("session_id"), std::string::npos) << q.GetString(1, 5);

  QueryResult c = Query("SELECT event_id, bronze_file, bronze_line FROM " + Table("clickstream"));
  ASSERT_EQ(c.rows(), 1u);
  EXPECT_EQ(c.GetString(0, 0), "e-good");
  EXPECT_EQ(c.GetString(0, 1), key);
  EXPECT_EQ(c.GetInt64(0, 2), 1);
}

TEST_F(SilverTest, ReadsGzipAndZstdBronze) {
  PutBronze("clickstream", "0000000000",
            {EventToJson(Click("a", EventType::kPageView, kJan5)),
             EventToJson(Click("b", EventType::kPageView, kJan5 + 1000))},
            Compression::kGzip);
  const std::string zst =
      PutBronze("clickstream", "0000000002",
                {EventToJson(Click("c", EventType::kPageView, kJan5 + 2000)), "not json"},
                Compression::kZstd);
  SilverReport report = Run();
  EXPECT_EQ(report.files, 2);
  EXPECT_EQ(report.total.read, 4);
  EXPECT_EQ(report.total.written, 3);
  EXPECT_EQ(report.total.quarantined, 1);
  QueryResult q = Query("SELECT bronze_file, bronze_line FROM " + Table("_quarantine"));
  ASSERT_EQ(q.rows(), 1u);
  EXPECT_EQ(q.GetString(0, 0), zst);
  EXPECT_EQ(q.GetInt64(0, 1), 2);
  EXPECT_EQ(Count("clickstream"), 3);
}

TEST_F(SilverTest, DuplicatesWithinAndAcrossRunsAreDroppedAndTheFirstIsKept) {
  Event first = Click("dup", EventType::kPageView, kJan5);
  first.page = "/first";
  Event again = first;
  again.page = "/again";
  const std::string a = PutBronze("clickstream", "0000000000",
                                  {EventToJson(Click("x", EventType::kPageView, kJan5)),
                                   EventToJson(first), EventToJson(again)});
  PutBronze("clickstream", "0000000003", {EventToJson(again)});
  Event user;
  user.event_id = "dup";  // ids are unique across topics
  user.type = EventType::kLogin;
  user.event_time_ms = kJan5;
  user.user_id = "u1";
  PutBronze("user-events", "0000000000", {EventToJson(user)});

  SilverReport report = Run();
  EXPECT_EQ(report.total.read, 5);
  EXPECT_EQ(report.total.written, 2);
  EXPECT_EQ(report.total.duplicates, 3);
  EXPECT_EQ(report.per_topic["clickstream"].duplicates, 2);
  EXPECT_EQ(report.per_topic["user-events"].duplicates, 1);
  QueryResult q = Query("SELECT page, bronze_file, bronze_line FROM " + Table("clickstream") +
                        " WHERE event_id = 'dup'");
  ASSERT_EQ(q.rows(), 1u);
  EXPECT_EQ(q.GetString(0, 0), "/first");
  EXPECT_EQ(q.GetString(0, 1), a);
  EXPECT_EQ(q.GetInt64(0, 2), 2);

  // A later run: the ids already in silver are duplicates too.
  PutBronze("clickstream", "0000000004",
            {EventToJson(again), EventToJson(Click("y", EventType::kPageView, kJan5))});
  report = Run();
  EXPECT_EQ(report.total.read, 2);
  EXPECT_EQ(report.total.written, 1);
  EXPECT_EQ(report.total.duplicates, 1);
  EXPECT_EQ(Count("clickstream"), 3);
  EXPECT_EQ(Count("event_ids"), 3);
  q = Query("SELECT page FROM " + Table("clickstream") + " WHERE event_id = 'dup'");
  ASSERT_EQ(q.rows(), 1u);
  EXPECT_EQ(q.GetString(0, 0), "/first");

  // The same bronze again under another name: only duplicates, and no data file.
  auto copy = store_->Get(a);
  ASSERT_TRUE(copy.ok());
  ASSERT_TRUE(
      store_->Put("bronze/topics/clickstream/copy/clickstream+0+0000000000.json", *copy).ok());
  const std::vector<std::string> before = SilverKeys();
  report = Run();
  EXPECT_EQ(report.total.read, 3);
  EXPECT_EQ(report.total.written, 0);
  EXPECT_EQ(report.total.duplicates, 3);
  EXPECT_EQ(SilverKeys().size(), before.size() + 2) << "only the report and the manifest";
  EXPECT_EQ(Count("clickstream"), 3);
}

// Writes a generated shop's records as bronze files, one per topic and hour, cycling through
// the three compressions. Returns the generator's stats.
GeneratorStats WriteGeneratedBronze(ObjectStore* store, const GeneratorOptions& options) {
  Generator generator(options);
  std::map<std::string, std::string> files;  // key without extension -> lines
  std::map<std::string, int64_t> offsets;
  Status st = generator.Run([&](const GeneratedRecord& r) {
    const std::string topic(TopicName(r.topic));
    CivilTime c = ToCivil(r.time_ms);
    char folder[96];
    std::snprintf(folder, sizeof(folder),
                  "bronze/topics/%s/year=%04d/month=%02d/day=%02d/hour=%02d/", topic.c_str(),
                  c.year, c.month, c.day, c.hour);
    std::string& text = files[folder];
    if (text.empty()) {
      char name[64];
      std::snprintf(name, sizeof(name), "%s+0+%010lld", topic.c_str(),
                    static_cast<long long>(offsets[topic]));
      text = std::string(name) + "\n";  // the file name rides on the first line until written
    }
    text.append(r.json).push_back('\n');
    ++offsets[topic];
    return Status::OK();
  });
  EXPECT_TRUE(st.ok()) << st.ToString();
  int i = 0;
  for (const auto& [folder, text] : files) {
    const size_t nl = text.find('\n');
    const Compression c = static_cast<Compression>(i++ % 3);
    auto data = Compress(c, std::string_view(text).substr(nl + 1));
    EXPECT_TRUE(data.ok());
    EXPECT_TRUE(
        store->Put(folder + text.substr(0, nl) + std::string(CompressionExtension(c)), *data).ok());
  }
  return generator.stats();
}

TEST_F(SilverTest, AccountingHoldsOnAGeneratedShopWithBadRecords) {
  GeneratorOptions g;
  g.users = 400;
  g.products = 150;
  g.days = 3;
  g.bad_rate = 0.05;
  GeneratorStats stats = WriteGeneratedBronze(store_.get(), g);
  ASSERT_GT(stats.bad, 100);
  clock_.Set(g.start_ms + (g.days + 1) * 86400000LL);

  SilverReport report = Run();
  const SilverCounts& t = report.total;
  EXPECT_EQ(t.read, stats.records);
  EXPECT_EQ(t.read, t.written + t.quarantined + t.duplicates);
  EXPECT_GT(t.duplicates, 0);
  EXPECT_EQ(t.quarantined + t.duplicates, stats.bad) << "every bad record is caught";
  for (const auto& [topic, c] : report.per_topic) {
    EXPECT_EQ(c.read, c.written + c.quarantined + c.duplicates) << topic;
  }
  for (const char* reason : {"malformed_json", "missing_field", "wrong_type", "unknown_event_type",
                             "bad_time", "future_time", "negative_value", "unsupported_schema"}) {
    EXPECT_GT(report.quarantined_by_reason[reason], 0) << reason;
  }
  EXPECT_EQ(Count("clickstream"), report.per_topic["clickstream"].written);
  EXPECT_EQ(Count("user_events"), report.per_topic["user-events"].written);
  EXPECT_EQ(Count("product_events"), report.per_topic["product-events"].written);
  EXPECT_EQ(Count("event_ids"), t.written);
  EXPECT_EQ(Count("_quarantine"), t.quarantined);
  EXPECT_EQ(Count("users"), 400 - 0) << "every registered user signed up";
  EXPECT_EQ(report.table_rows["sessions"], Count("sessions"));

  // The report is in the lake too.
  auto json = store_->Get("silver/_reports/" + report.run_id + ".json");
  ASSERT_TRUE(json.ok());
  EXPECT_EQ(*json, report.ToJson());
  EXPECT_NE(json->find("\"read\":" + std::to_string(t.read)), std::string::npos);
}

TEST_F(SilverTest, ValuesAreTypedAndNormalised) {
  Event add = Click("e1", EventType::kAddToCart, 0);
  add.quantity = 2;
  add.price = 12.345;
  add.currency = " eur ";
  add.page = " /home ";
  add.query = "   ";
  add.device = "Mobile";
  add.position = 3;
  add.rating = 4.5;
  std::string json = EventToJson(add);
  // A time with an offset: silver keeps UTC.
  const std::string epoch = "\"event_time\":\"1970-01-01T00:00:00.000Z\"";
  json.replace(json.find(epoch), epoch.size(), "\"event_time\":\"2024-01-05T00:30:00.123+01:00\"");
  PutBronze("clickstream", "0000000000", {json});
  Event product;
  product.event_id = "p-e1";
  product.type = EventType::kProductCreated;
  product.event_time_ms = kJan5;
  product.product_id = "p1";
  product.product.title = " Knife ";
  product.product.description = "";
  product.product.price = 19.999;
  product.product.currency = "usd";
  product.product.stock = 7;
  product.product.tags = std::vector<std::string>{" steel ", "", "kitchen"};
  PutBronze("product-events", "0000000000", {EventToJson(product)});

  SilverReport report = Run();
  ASSERT_EQ(report.total.written, 2);
  QueryResult c = Query("SELECT * FROM " + Table("clickstream"));
  ASSERT_EQ(c.rows(), 1u);
  const std::vector<std::string> columns = {
      "event_id",    "event_type",  "event_time", "user_id",   "session_id", "product_id",
      "quantity",    "price",       "currency",   "order_id",  "query",      "page",
      "referrer",    "device",      "rec_id",     "position",  "rating",     "schema_version",
      "bronze_file", "bronze_line", "run_id",     "event_date"};
  ASSERT_EQ(c.columns(), columns.size());
  for (size_t i = 0; i < columns.size(); ++i) EXPECT_EQ(c.column_name(i), columns[i]);
  auto col = [&](const char* name) { return *c.ColumnIndex(name); };
  EXPECT_EQ(c.type_name(col("event_time")), "TIMESTAMP");
  EXPECT_EQ(c.GetString(0, col("event_time")), "2024-01-04 23:30:00.123");
  EXPECT_EQ(c.type_name(col("event_date")), "DATE");
  EXPECT_EQ(c.GetString(0, col("event_date")), "2024-01-04");
  EXPECT_EQ(c.type_name(col("price")), "DECIMAL(18,2)");
  EXPECT_EQ(c.GetString(0, col("price")), "12.35");
  EXPECT_EQ(c.type_name(col("quantity")), "BIGINT");
  EXPECT_EQ(c.GetInt64(0, col("quantity")), 2);
  EXPECT_EQ(c.GetInt64(0, col("position")), 3);
  EXPECT_EQ(c.type_name(col("rating")), "DOUBLE");
  EXPECT_EQ(c.GetDouble(0, col("rating")), 4.5);
  EXPECT_EQ(c.GetString(0, col("currency")), "EUR");
  EXPECT_EQ(c.GetString(0, col("page")), "/home");
  EXPECT_TRUE(c.IsNull(0, col("query")));
  EXPECT_TRUE(c.IsNull(0, col("order_id")));
  EXPECT_EQ(c.GetString(0, col("device")), "mobile");
  EXPECT_EQ(c.GetInt64(0, col("schema_version")), 1);
  EXPECT_TRUE(
      store_->List("silver/clickstream/event_date=2024-01-04/part-" + report.run_id + ".parquet")
          ->size() == 1);

  QueryResult p = Query(
      "SELECT title, description, price, currency, stock, tags::VARCHAR, "
      "event_date FROM " +
      Table("product_events"));
  ASSERT_EQ(p.rows(), 1u);
  EXPECT_EQ(p.GetString(0, 0), "Knife");
  EXPECT_TRUE(p.IsNull(0, 1));
  EXPECT_EQ(p.GetString(0, 2), "20.00");
  EXPECT_EQ(p.GetString(0, 3), "USD");
  EXPECT_EQ(p.GetInt64(0, 4), 7);
  EXPECT_EQ(p.GetString(0, 5), "[steel, kitchen]");
  EXPECT_EQ(p.GetString(0, 6), "2024-01-05");
}

TEST_F(SilverTest, AValidRecordOfSeveralMegabytesIsWritten) {
  Event e = Click("big", EventType::kSearch, kJan5);
  e.query = std::string(3 << 20, 'q');
  // Characters that mean something to the CSV silver spools rows through.
  e.query.replace(100, 8, std::string("\t\"\n\r\0\\N,", 8));
  PutBronze("clickstream", "0000000000", {EventToJson(e)});
  options_.max_message_bytes = 8 << 20;
  SilverReport report = Run();
  EXPECT_EQ(report.total.written, 1);
  QueryResult q = Query("SELECT query FROM " + Table("clickstream"));
  ASSERT_EQ(q.rows(), 1u);
  EXPECT_EQ(q.GetString(0, 0), e.query);
}

TEST_F(SilverTest, EmailIsStoredOnlyAsASaltedHash) {
  Event signup;
  signup.event_id = "e1";
  signup.type = EventType::kSignup;
  signup.event_time_ms = kJan5;
  signup.user_id = "u1";
  signup.user.email = "  Alice@Example.COM ";
  signup.user.country = "DE";
  PutBronze("user-events", "0000000000", {EventToJson(signup)});
  SilverReport report = Run();
  ASSERT_EQ(report.total.written, 1);
  // printf 'recsysalice@example.com' | sha256sum
  const std::string hash = "e0e5c0b983804c14cc838bb4ec2e100cab306f3f13f4151a497db70d9d1cccc5";
  for (const char* table : {"user_events", "users", "users_history"}) {
    QueryResult q = Query(std::string("SELECT email_hash FROM ") + Table(table));
    ASSERT_EQ(q.rows(), 1u) << table;
    EXPECT_EQ(q.GetString(0, 0), hash) << table;
  }
  auto keys = store_->List("silver/");
  ASSERT_TRUE(keys.ok());
  for (const ObjectInfo& o : *keys) {
    std::string text;
    if (o.key.ends_with(".parquet")) {
      // Every value of every row, as text.
      QueryResult q = Query("SELECT string_agg(CAST(t AS VARCHAR), ' ') FROM read_parquet(" +
                            DuckDb::Quote(root_ + "/" + o.key) + ") t");
      text = q.GetString(0, 0);
    } else {
      text = *store_->Get(o.key);
    }
    EXPECT_EQ(text.find("lice@"), std::string::npos) << o.key;
    EXPECT_EQ(text.find("LICE@"), std::string::npos) << o.key;
  }

  SilverOptions salted = options_;
  salted.pii_salt = "pepper";
  signup.event_id = "e2";
  signup.user_id = "u2";
  PutBronze("user-events", "0000000001", {EventToJson(signup)});
  Run(salted);
  QueryResult q = Query("SELECT email_hash FROM " + Table("user_events") + " WHERE user_id = 'u2'");
  ASSERT_EQ(q.rows(), 1u);
  // printf 'pepperalice@example.com' | sha256sum
  EXPECT_EQ(q.GetString(0, 0), "8b8d9adc4875c0dca816e3e17b7ac87b45e40945b731fa02e3b42bf101589e21");
}

TEST_F(SilverTest, SessionsSplitAfterTheGapWithTheirMeasures) {
  const int64_t t0 = FromCivil(2024, 1, 5, 23, 0, 0);
  Event view = Click("1", EventType::kPageView, t0);
  view.device = "mobile";
  view.referrer = "search";
  Event later = Click("2", EventType::kProductView, t0 + 10 * kMinute);
  later.device = "desktop";
  // 45 minutes later: a new session, which crosses midnight.
  Event back = Click("3", EventType::kProductView, t0 + 55 * kMinute);
  back.device = "tablet";
  back.referrer = "email";
  Event again = Click("4", EventType::kProductView, t0 + 65 * kMinute);
  Event cart = Click("5", EventType::kAddToCart, t0 + 66 * kMinute);
  Event buy = Click("6", EventType::kPurchase, t0 + 67 * kMinute);
  buy.quantity = 2;
  buy.price = 5.5;
  Event other = Click("7", EventType::kPageView, t0 + 20 * kMinute, "u2");
  std::vector<std::string> lines;
  for (const Event* e : {&view, &later, &back, &again, &cart, &buy, &other}) {
    lines.push_back(EventToJson(*e));
  }
  PutBronze("clickstream", "0000000000", lines);
  Run();

  QueryResult s = Query(
      "SELECT session_key, session_start, session_end, duration_s, events, page_views, "
      "product_views, add_to_carts, purchases, revenue, converted, device, referrer, "
      "products_viewed, event_date FROM " +
      Table("sessions") + " WHERE user_id = 'u1' ORDER BY session_start");
  ASSERT_EQ(s.rows(), 2u);
  EXPECT_EQ(s.GetString(0, 0), "u1:" + std::to_string(t0));
  EXPECT_EQ(s.GetString(0, 1), "2024-01-05 23:00:00");
  EXPECT_EQ(s.GetString(0, 2), "2024-01-05 23:10:00");
  EXPECT_DOUBLE_EQ(s.GetDouble(0, 3), 600);
  EXPECT_EQ(s.GetInt64(0, 4), 2);
  EXPECT_EQ(s.GetInt64(0, 5), 1);
  EXPECT_EQ(s.GetInt64(0, 6), 1);
  EXPECT_EQ(s.GetInt64(0, 8), 0);
  EXPECT_EQ(s.GetString(0, 9), "0.00");
  EXPECT_EQ(s.GetInt64(0, 10), 0);
  EXPECT_EQ(s.GetString(0, 11), "mobile");
  EXPECT_EQ(s.GetString(0, 12), "search");

  EXPECT_EQ(s.GetString(1, 0), "u1:" + std::to_string(t0 + 55 * kMinute));
  EXPECT_EQ(s.GetString(1, 1), "2024-01-05 23:55:00");
  EXPECT_EQ(s.GetString(1, 2), "2024-01-06 00:07:00");
  EXPECT_DOUBLE_EQ(s.GetDouble(1, 3), 720);
  EXPECT_EQ(s.GetInt64(1, 4), 4);
  EXPECT_EQ(s.GetInt64(1, 6), 2);
  EXPECT_EQ(s.GetInt64(1, 7), 1);
  EXPECT_EQ(s.GetInt64(1, 8), 1);
  EXPECT_EQ(s.GetString(1, 9), "11.00");
  EXPECT_EQ(s.GetInt64(1, 10), 1);
  EXPECT_EQ(s.GetString(1, 11), "tablet");
  EXPECT_EQ(s.GetString(1, 12), "email");
  EXPECT_EQ(s.GetInt64(1, 13), 1) << "one distinct product viewed";
  EXPECT_EQ(s.GetString(1, 14), "2024-01-05") << "a session is dated by its start";
  EXPECT_EQ(Count("sessions"), 3);

  // With a longer gap the 45 minutes no longer split u1's visit.
  TempDir other_dir;
  auto other_store = OpenLocalStore(other_dir.path());
  ASSERT_TRUE(other_store.ok());
  std::string text;
  for (const std::string& l : lines) text += l + "\n";
  ASSERT_TRUE((*other_store)->Put("bronze/topics/clickstream/x+0+0000000000.json", text).ok());
  SilverOptions gap = options_;
  gap.session_gap_minutes = 50;
  SilverReport report;
  ASSERT_TRUE(RunSilver({other_store->get(), other_dir.path()}, gap, &report).ok());
  auto n = db_->QueryInt64("SELECT count(*) FROM read_parquet(" +
                           DuckDb::Quote(other_dir.path() + "/silver/sessions/*/*.parquet") +
                           ") WHERE user_id = 'u1'");
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(*n, 1);
}

Event UserEvent(std::string id, EventType type, int64_t time_ms, std::string user) {
  Event e;
  e.event_id = std::move(id);
  e.type = type;
  e.event_time_ms = time_ms;
  e.user_id = std::move(user);
  return e;
}

TEST_F(SilverTest, UsersKeepACurrentSnapshotAndATypeTwoHistory) {
  Event signup = UserEvent("1", EventType::kSignup, kJan5, "u1");
  signup.user.country = "DE";
  signup.user.city = "Berlin";
  signup.user.email = "a@example.com";
  Event login = UserEvent("2", EventType::kLogin, kJan5 + 10 * kMinute, "u1");
  Event move = UserEvent("3", EventType::kProfileUpdate, kJan5 + 20 * kMinute, "u1");
  move.user.city = "Munich";
  Event login2 = UserEvent("4", EventType::kLogin, kJan5 + 30 * kMinute, "u1");
  Event other = UserEvent("5", EventType::kSignup, kJan5, "u2");
  other.user.country = "FR";
  std::vector<std::string> lines;
  for (const Event* e : {&signup, &login, &move, &login2, &other}) lines.push_back(EventToJson(*e));
  PutBronze("user-events", "0000000000", lines);
  Run();

  QueryResult u = Query(
      "SELECT user_id, signup_time, country, city, last_login, logins, "
      "profile_updates, updated_at FROM " +
      Table("users") + " ORDER BY 1");
  ASSERT_EQ(u.rows(), 2u);
  EXPECT_EQ(u.GetString(0, 1), "2024-01-05 00:00:00");
  EXPECT_EQ(u.GetString(0, 2), "DE");
  EXPECT_EQ(u.GetString(0, 3), "Munich");
  EXPECT_EQ(u.GetString(0, 4), "2024-01-05 00:30:00");
  EXPECT_EQ(u.GetInt64(0, 5), 2);
  EXPECT_EQ(u.GetInt64(0, 6), 1);
  EXPECT_EQ(u.GetString(0, 7), "2024-01-05 00:30:00");
  EXPECT_EQ(u.GetString(1, 2), "FR");

  const std::string history = "SELECT city, country, valid_from, valid_to, is_current FROM " +
                              Table("users_history") + " WHERE user_id = 'u1' ORDER BY valid_from";
  QueryResult h = Query(history);
  ASSERT_EQ(h.rows(), 2u);
  EXPECT_EQ(h.GetString(0, 0), "Berlin");
  EXPECT_EQ(h.GetString(0, 2), "2024-01-05 00:00:00");
  EXPECT_EQ(h.GetString(0, 3), "2024-01-05 00:20:00");
  EXPECT_EQ(h.GetInt64(0, 4), 0);
  EXPECT_EQ(h.GetString(1, 0), "Munich");
  EXPECT_EQ(h.GetString(1, 1), "DE");
  EXPECT_TRUE(h.IsNull(1, 3));
  EXPECT_EQ(h.GetInt64(1, 4), 1);

  // A later run: the history grows, the snapshot moves, the old files are replaced.
  auto old_files = store_->List("silver/users/");
  ASSERT_TRUE(old_files.ok());
  ASSERT_EQ(old_files->size(), 1u);
  const std::string old_key = (*old_files)[0].key;
  auto old_bytes = store_->Get(old_key);
  ASSERT_TRUE(old_bytes.ok());
  Event moved_abroad = UserEvent("6", EventType::kProfileUpdate, kJan5 + 60 * kMinute, "u1");
  moved_abroad.user.country = "FR";
  PutBronze("user-events", "0000000005", {EventToJson(moved_abroad)});
  SilverReport second = Run();
  h = Query(history);
  ASSERT_EQ(h.rows(), 3u);
  EXPECT_EQ(h.GetString(1, 3), "2024-01-05 01:00:00");
  EXPECT_EQ(h.GetString(2, 1), "FR");
  EXPECT_EQ(h.GetString(2, 0), "Munich");
  EXPECT_EQ(h.GetInt64(2, 4), 1);
  u = Query("SELECT country FROM " + Table("users") + " WHERE user_id = 'u1'");
  ASSERT_EQ(u.rows(), 1u);
  EXPECT_EQ(u.GetString(0, 0), "FR");
  auto files = store_->List("silver/users/");
  ASSERT_TRUE(files.ok());
  ASSERT_EQ(files->size(), 1u);
  EXPECT_EQ((*files)[0].key, "silver/users/part-" + second.run_id + ".parquet");

  // A crash between a manifest and the removal of the older generation leaves both; the next
  // run keeps the newer one only.
  ASSERT_TRUE(store_->Put(old_key, *old_bytes).ok());
  SilverReport third = Run();
  EXPECT_EQ(third.orphan_files_removed, 1);
  files = store_->List("silver/users/");
  ASSERT_TRUE(files.ok());
  ASSERT_EQ(files->size(), 1u);
  EXPECT_EQ((*files)[0].key, "silver/users/part-" + second.run_id + ".parquet");
}

TEST_F(SilverTest, ProductsKeepTheLatestAttributesAndAPriceHistory) {
  auto product = [](std::string id, EventType type, int64_t minute, std::string product_id) {
    Event e;
    e.event_id = std::move(id);
    e.type = type;
    e.event_time_ms = kJan5 + minute * kMinute;
    e.product_id = std::move(product_id);
    return e;
  };
  Event created = product("1", EventType::kProductCreated, 0, "p1");
  created.product.title = "Knife";
  created.product.brand = "Acme";
  created.product.price = 10;
  created.product.currency = "EUR";
  created.product.stock = 5;
  Event cheaper = product("2", EventType::kPriceChanged, 10, "p1");
  cheaper.product.price = 8;
  Event stock = product("3", EventType::kStockChanged, 20, "p1");
  stock.product.stock = 3;
  Event same = product("4", EventType::kPriceChanged, 30, "p1");
  same.product.price = 8;
  Event dearer = product("5", EventType::kPriceChanged, 40, "p1");
  dearer.product.price = 12;
  Event other = product("6", EventType::kProductCreated, 0, "p2");
  other.product.title = "Fork";
  Event gone = product("7", EventType::kProductDiscontinued, 50, "p2");
  std::vector<std::string> lines;
  for (const Event* e : {&created, &cheaper, &stock, &same, &dearer, &other, &gone}) {
    lines.push_back(EventToJson(*e));
  }
  PutBronze("product-events", "0000000000", lines);
  Run();

  QueryResult p = Query(
      "SELECT product_id, title, brand, price, currency, stock, created_at, "
      "updated_at, discontinued FROM " +
      Table("products") + " ORDER BY 1");
  ASSERT_EQ(p.rows(), 2u);
  EXPECT_EQ(p.GetString(0, 1), "Knife");
  EXPECT_EQ(p.GetString(0, 2), "Acme");
  EXPECT_EQ(p.GetString(0, 3), "12.00");
  EXPECT_EQ(p.GetString(0, 4), "EUR");
  EXPECT_EQ(p.GetInt64(0, 5), 3);
  EXPECT_EQ(p.GetString(0, 6), "2024-01-05 00:00:00");
  EXPECT_EQ(p.GetString(0, 7), "2024-01-05 00:40:00");
  EXPECT_EQ(p.GetInt64(0, 8), 0);
  EXPECT_EQ(p.GetInt64(1, 8), 1);

  QueryResult h = Query("SELECT price, currency, valid_from, valid_to FROM " +
                        Table("product_prices") + " WHERE product_id = 'p1' ORDER BY valid_from");
  ASSERT_EQ(h.rows(), 3u);
  EXPECT_EQ(h.GetString(0, 0), "10.00");
  EXPECT_EQ(h.GetString(0, 1), "EUR");
  EXPECT_EQ(h.GetString(0, 3), "2024-01-05 00:10:00");
  EXPECT_EQ(h.GetString(1, 0), "8.00");
  EXPECT_EQ(h.GetString(1, 1), "EUR") << "the currency carries over";
  EXPECT_EQ(h.GetString(1, 3), "2024-01-05 00:40:00");
  EXPECT_EQ(h.GetString(2, 0), "12.00");
  EXPECT_TRUE(h.IsNull(2, 3));
}

const char* const kAllTables[] = {"clickstream",    "user_events", "product_events", "event_ids",
                                  "sessions",       "users",       "users_history",  "products",
                                  "product_prices", "_quarantine"};

TEST_F(SilverTest, RunningTwiceOverTheSameBronzeChangesNothing) {
  GeneratorOptions g;
  g.users = 150;
  g.products = 60;
  g.days = 2;
  g.bad_rate = 0.05;
  WriteGeneratedBronze(store_.get(), g);
  clock_.Set(g.start_ms + (g.days + 1) * 86400000LL);
  SilverReport first = Run();
  ASSERT_GT(first.total.written, 1000);
  std::vector<std::string> keys = SilverKeys();
  std::vector<std::string> sums;
  for (const char* t : kAllTables) sums.push_back(Checksum(t));

  SilverReport second = Run();
  EXPECT_EQ(second.files, 0);
  EXPECT_EQ(second.total.read, 0);
  EXPECT_EQ(second.total.written, 0);
  EXPECT_EQ(second.total.quarantined, 0);
  EXPECT_EQ(second.total.duplicates, 0);
  EXPECT_EQ(SilverKeys(), keys);
  for (size_t i = 0; i < std::size(kAllTables); ++i) EXPECT_EQ(Checksum(kAllTables[i]), sums[i]);

  // Losing the manifest makes the run uncommitted: its files are removed and the same bronze
  // processed again, to the same rows.
  ASSERT_TRUE(store_->Delete("silver/_manifest/" + first.run_id + ".jsonl").ok());
  SilverReport redo = Run();
  EXPECT_EQ(redo.total.read, first.total.read);
  EXPECT_EQ(redo.total.written, first.total.written);
  EXPECT_GT(redo.orphan_files_removed, 0);
  for (size_t i = 0; i < std::size(kAllTables); ++i) EXPECT_EQ(Checksum(kAllTables[i]), sums[i]);
  for (const std::string& key : SilverKeys()) {
    EXPECT_EQ(key.find(first.run_id), std::string::npos) << key;
  }
}

TEST_F(SilverTest, FilesOfACrashedRunAreRemovedAndNothingIsCountedTwice) {
  std::vector<std::string> a, b;
  for (int i = 0; i < 20; ++i) {
    char id[16];
    std::snprintf(id, sizeof(id), "a%d", i);
    a.push_back(EventToJson(Click(id, EventType::kPageView, kJan5 + i * kMinute)));
    std::snprintf(id, sizeof(id), "b%d", i);
    b.push_back(EventToJson(Click(id, EventType::kPageView, kJan5 + (100 + i) * kMinute, "u2")));
  }
  PutBronze("clickstream", "0000000000", a);
  SilverReport first = Run();

  PutBronze("clickstream", "0000000020", b);
  SilverOptions crash = options_;
  crash.testing_stop_before_manifest = true;
  SilverReport crashed;
  Status st = RunSilver(Lake(), crash, &crashed);
  ASSERT_FALSE(st.ok());
  ASSERT_FALSE(crashed.run_id.empty());
  int crashed_files = 0;
  for (const std::string& key : SilverKeys()) crashed_files += key.find(crashed.run_id) != key.npos;
  ASSERT_GT(crashed_files, 3) << "the crashed run left data files";

  SilverReport next = Run();
  EXPECT_EQ(next.orphan_files_removed, crashed_files);
  EXPECT_EQ(next.files, 1);
  EXPECT_EQ(next.total.read, 20);
  EXPECT_EQ(next.total.written, 20);
  EXPECT_EQ(next.total.duplicates, 0);
  for (const std::string& key : SilverKeys()) {
    EXPECT_EQ(key.find(crashed.run_id), std::string::npos) << key;
  }
  auto q = db_->QueryInt64("SELECT count(DISTINCT event_id) FROM " + Table("clickstream"));
  ASSERT_TRUE(q.ok());
  EXPECT_EQ(*q, 40);
  EXPECT_EQ(Count("clickstream"), 40);
  EXPECT_EQ(Count("event_ids"), 40);
  EXPECT_EQ(Count("sessions"), 2);
  auto sessions = store_->List("silver/sessions/");
  ASSERT_TRUE(sessions.ok());
  for (const ObjectInfo& o : *sessions) EXPECT_NE(o.key.find(next.run_id), std::string::npos);
  EXPECT_NE(first.run_id, next.run_id);
}

TEST_F(SilverTest, ACorruptCompressedFileFailsTheRunAndCommitsNothing) {
  PutBronze("clickstream", "0000000000", {EventToJson(Click("a", EventType::kPageView, kJan5))});
  const std::string bad =
      "bronze/topics/clickstream/year=2024/month=01/day=05/hour=10/"
      "clickstream+0+0000000001.json.gz";
  ASSERT_TRUE(store_->Put(bad, "not gzip at all").ok());
  SilverReport report;
  Status st = RunSilver(Lake(), options_, &report);
  EXPECT_EQ(st.code(), StatusCode::kCorruption);
  EXPECT_NE(st.message().find(bad), std::string::npos) << st.message();
  EXPECT_TRUE(SilverKeys().empty());
}

TEST_F(SilverTest, RunIdsAreCheckedAndNeverReused) {
  PutBronze("clickstream", "0000000000", {EventToJson(Click("a", EventType::kPageView, kJan5))});
  SilverOptions bad = options_;
  bad.run_id = "../x";
  SilverReport report;
  EXPECT_EQ(RunSilver(Lake(), bad, &report).code(), StatusCode::kInvalidArgument);
  SilverOptions named = options_;
  named.run_id = "run-1";
  EXPECT_EQ(Run(named).run_id, "run-1");
  PutBronze("clickstream", "0000000001", {EventToJson(Click("b", EventType::kPageView, kJan5))});
  EXPECT_EQ(RunSilver(Lake(), named, &report).code(), StatusCode::kAlreadyExists);
}

}  // namespace
}  // namespace recsys
