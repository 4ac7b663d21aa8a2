#include "ingest/csv_import.h"

#include <gtest/gtest.h>

#include <map>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "core/clock.h"
#include "core/files.h"
#include "core/temp_dir.h"

namespace recsys {
namespace {

const std::string kFixtures = std::string(RECSYS_FIXTURES_DIR) + "/import";

struct Refused {
  std::string file;
  int64_t line;
  std::string reason, message, raw;
};

class CollectingSink : public ImportSink {
 public:
  Status Emit(const Event& e) override {
    events.push_back(e);
    return Status::OK();
  }
  Status Quarantine(const QuarantinedRow& r) override {
    refused.push_back(Refused{std::string(r.file), r.line, std::string(r.reason),
                              std::string(r.message), std::string(r.raw)});
    return Status::OK();
  }

  std::vector<const Event*> OfType(EventType type) const {
    std::vector<const Event*> out;
    for (const Event& e : events) {
      if (e.type == type) out.push_back(&e);
    }
    return out;
  }
  const Event* Find(EventType type, std::string_view key) const {
    for (const Event& e : events) {
      if (e.type == type && e.key() == key) return &e;
    }
    return nullptr;
  }
  const Refused* RefusedAt(int64_t line) const {
    for (const Refused& r : refused) {
      if (r.line == line) return &r;
    }
    return nullptr;
  }

  std::vector<Event> events;
  std::vector<Refused> refused;
};

struct Imported {
  CollectingSink sink;
  ImportStats stats;
};

ImportOptions Preset(const std::string& name) {
  ImportOptions o;
  o.preset = name;
  o.now_ms = FromCivil(2024, 6, 1);
  return o;
}

// Imports the paths and checks what every import must hold: each event passes the event parser
// of silver, ids are unique, and rows are accounted for (events + quarantined).
void Import(const ImportOptions& options, const std::vector<std::string>& paths, Imported* out) {
  auto importer = CsvImporter::Create(options, &out->sink);
  ASSERT_TRUE(importer.ok()) << importer.status().ToString();
  for (const std::string& p : paths) {
    Status st = (*importer)->ImportPath(p);
    ASSERT_TRUE(st.ok()) << st.ToString();
  }
  ASSERT_TRUE((*importer)->Finish().ok());
  out->stats = (*importer)->stats();

  EventParser parser;
  ValidationOptions v;
  v.now_ms = FromCivil(9000, 1, 1);
  std::set<std::string> ids;
  for (const Event& e : out->sink.events) {
    v.expected_topic = e.topic();
    Event back;
    const std::string json = EventToJson(e);
    auto rejection = parser.Parse(json, v, &back);
    EXPECT_FALSE(rejection) << RejectReasonCode(rejection->reason) << ": " << rejection->message
                            << "\n"
                            << json;
    EXPECT_EQ(e.event_id.rfind("imp-", 0), 0u) << e.event_id;
    EXPECT_TRUE(ids.insert(e.event_id).second) << "duplicate id " << e.event_id;
  }
  const ImportStats& s = out->stats;
  // Every data row is an event or quarantined (catalog files may quarantine rows of their own).
  int64_t catalog_refused = 0;
  for (const Refused& r : out->sink.refused) {
    for (const std::string& f : s.catalog_files) catalog_refused += r.file == f;
  }
  EXPECT_EQ(s.events[0] + s.quarantined - catalog_refused, s.rows);
  EXPECT_EQ(s.events[1], s.users);
  EXPECT_EQ(s.events[2], s.products);
  int64_t by_reason = 0;
  for (const auto& [reason, n] : s.quarantined_by_reason) by_reason += n;
  EXPECT_EQ(by_reason, s.quarantined);
  EXPECT_EQ(static_cast<int64_t>(out->sink.refused.size()), s.quarantined);
}

int64_t Time(const char* rfc3339) { return *ParseRfc3339(rfc3339); }

std::map<std::string, int64_t> Reasons(std::initializer_list<std::pair<const char*, int64_t>> l) {
  std::map<std::string, int64_t> m;
  for (const auto& [k, v] : l) m[k] = v;
  return m;
}

TEST(CsvImportTest, OnlineRetail) {
  Imported r;
  Import(Preset("online-retail"), {kFixtures + "/online-retail/orders.csv"}, &r);
  const ImportStats& s = r.stats;
  EXPECT_EQ(s.files, 1);
  EXPECT_EQ(s.rows, 10);
  EXPECT_EQ(s.events[0], 5);
  EXPECT_EQ(s.users, 2);
  EXPECT_EQ(s.products, 4);
  EXPECT_EQ(s.quarantined_by_reason,
            Reasons({{"cancelled_invoice", 1}, {"missing_user", 2}, {"bad_price", 2}}));

  const Refused* cancelled = r.sink.RefusedAt(5);
  ASSERT_NE(cancelled, nullptr);
  EXPECT_EQ(cancelled->reason, "cancelled_invoice");
  EXPECT_NE(cancelled->message.find("C700109"), std::string::npos) << cancelled->message;
  EXPECT_EQ(cancelled->raw, "C700109,D,Discount,-1,12/1/2010 9:41,27.5,31009,United Kingdom");
  EXPECT_EQ(cancelled->file, kFixtures + "/online-retail/orders.csv");
  EXPECT_EQ(r.sink.RefusedAt(6)->reason, "missing_user");  // also priced 0: the user comes first
  EXPECT_EQ(r.sink.RefusedAt(7)->reason, "missing_user");
  EXPECT_EQ(r.sink.RefusedAt(7)->message, "CustomerID is empty");
  EXPECT_EQ(r.sink.RefusedAt(10)->reason, "bad_price");
  EXPECT_EQ(r.sink.RefusedAt(11)->reason, "bad_price");
  EXPECT_EQ(r.sink.RefusedAt(11)->message, "UnitPrice '-2.5' is not a number above 0");

  std::vector<const Event*> purchases = r.sink.OfType(EventType::kPurchase);
  ASSERT_EQ(purchases.size(), 5u);
  const Event& first = *purchases[0];
  EXPECT_EQ(first.user_id, "31001");
  EXPECT_EQ(first.product_id, "40001A");
  EXPECT_EQ(first.order_id, "700101");
  EXPECT_EQ(first.session_id, "imp-700101");
  EXPECT_EQ(first.quantity, 6);
  EXPECT_EQ(first.price, 2.55);
  EXPECT_EQ(first.currency, "GBP");
  EXPECT_EQ(first.event_time_ms, Time("2010-12-01T08:26:00Z"));  // GMT in winter
  EXPECT_EQ(purchases[2]->user_id, "31001");                     // "31001.0" in the file
  // London summer time is an hour ahead of UTC.
  EXPECT_EQ(purchases[4]->event_time_ms, Time("2011-06-15T12:05:00Z"));
  EXPECT_EQ(purchases[4]->price, 2.95);

  const Event* user = r.sink.Find(EventType::kSignup, "31002");
  ASSERT_NE(user, nullptr);
  EXPECT_EQ(user->user.country, "France");
  EXPECT_EQ(user->event_time_ms, Time("2010-12-01T08:45:00Z"));
  EXPECT_EQ(r.sink.Find(EventType::kSignup, "31001")->event_time_ms, Time("2010-12-01T08:26:00Z"));
  EXPECT_EQ(r.sink.Find(EventType::kSignup, "31003"), nullptr);  // only refused rows

  const Event* towel = r.sink.Find(EventType::kProductCreated, "40001A");
  ASSERT_NE(towel, nullptr);
  EXPECT_EQ(towel->product.title, "LINEN TEA TOWEL STRIPED");
  EXPECT_EQ(towel->product.price, 2.55);  // as first seen, not the later 2.95
  EXPECT_EQ(towel->product.currency, "GBP");
  EXPECT_EQ(towel->event_time_ms, Time("2010-12-01T08:26:00Z"));
  EXPECT_EQ(r.sink.Find(EventType::kProductCreated, "40003")->product.title,
            "WOOL SCARF TARTAN, GREEN");
}

TEST(CsvImportTest, DunnhumbyWithProductsAndDemographics) {
  Imported r;
  Import(Preset("dunnhumby"), {kFixtures + "/dunnhumby/transactions.csv"}, &r);
  const ImportStats& s = r.stats;
  EXPECT_EQ(s.rows, 6);
  EXPECT_EQ(s.catalog_rows, 7);
  EXPECT_EQ(s.catalog_files.size(), 2u);
  EXPECT_EQ(s.events[0], 4);
  EXPECT_EQ(s.quarantined_by_reason, Reasons({{"bad_quantity", 1}, {"bad_price", 1}}));
  EXPECT_EQ(r.sink.RefusedAt(5)->reason, "bad_quantity");
  EXPECT_EQ(r.sink.RefusedAt(6)->reason, "bad_price");
  // Households 5001 and 5002 buy; 5009 only has demographics. 5003 and 5004 have only refused
  // rows.
  EXPECT_EQ(s.users, 3);
  // Four catalog products, and 699999 that the catalog lacks.
  EXPECT_EQ(s.products, 5);

  std::vector<const Event*> p = r.sink.OfType(EventType::kPurchase);
  ASSERT_EQ(p.size(), 4u);
  EXPECT_EQ(p[0]->event_time_ms, Time("2017-01-28T19:06:58Z"));  // EST, UTC-5
  EXPECT_EQ(p[0]->price, 3.86);
  EXPECT_EQ(p[0]->currency, "USD");
  EXPECT_EQ(p[0]->order_id, "90000000001");
  EXPECT_EQ(p[1]->quantity, 3);
  EXPECT_EQ(p[1]->price, 1.5);                                   // sales_value 4.5 for 3
  EXPECT_EQ(p[2]->event_time_ms, Time("2017-07-04T13:15:00Z"));  // EDT, UTC-4
  EXPECT_EQ(p[2]->price, 3.75);
  EXPECT_EQ(p[3]->event_time_ms, Time("2017-11-05T08:30:00Z"));  // back to EST that morning

  const Event* soup = r.sink.Find(EventType::kProductCreated, "600001");
  ASSERT_NE(soup, nullptr);
  EXPECT_EQ(soup->product.title, "TOMATO SOUP 12 OZ");
  EXPECT_EQ(soup->product.category, "GROCERY > SOUP > TOMATO SOUP");
  EXPECT_EQ(soup->product.brand, "Private");
  EXPECT_EQ(soup->product.price, 3.86);
  EXPECT_EQ(soup->event_time_ms, Time("2017-01-28T19:06:58Z"));
  const Event* misc = r.sink.Find(EventType::kProductCreated, "600003");
  ASSERT_NE(misc, nullptr);
  EXPECT_EQ(misc->product.title, "MISCELLANEOUS");
  EXPECT_EQ(misc->product.category, "MISCELLANEOUS");
  EXPECT_EQ(misc->event_time_ms, Time("2017-01-28T19:06:58Z"));  // unmentioned: the earliest row
  EXPECT_EQ(r.sink.Find(EventType::kProductCreated, "699999")->product.title, "699999");

  const Event* h5002 = r.sink.Find(EventType::kSignup, "5002");
  ASSERT_NE(h5002, nullptr);
  EXPECT_EQ(h5002->user.age_band, "25-34");
  EXPECT_EQ(h5002->event_time_ms, Time("2017-07-04T13:15:00Z"));
  EXPECT_EQ(r.sink.Find(EventType::kSignup, "5009")->user.age_band, "65+");
  EXPECT_EQ(r.sink.Find(EventType::kSignup, "5003"), nullptr);
}

TEST(CsvImportTest, DunnhumbyFolderAndOnlyMentionedEntities) {
  ImportOptions o = Preset("dunnhumby");
  o.whole_catalog = false;
  Imported r;
  Import(o, {kFixtures + "/dunnhumby"}, &r);
  EXPECT_EQ(r.stats.rows, 6);
  EXPECT_EQ(r.stats.users, 2);     // 5001, 5002
  EXPECT_EQ(r.stats.products, 3);  // 600001, 600002, 699999
  EXPECT_EQ(r.sink.Find(EventType::kSignup, "5009"), nullptr);
}

TEST(CsvImportTest, MovieLens100k) {
  Imported r;
  Import(Preset("movielens"), {kFixtures + "/movielens-tab/u.data"}, &r);
  const ImportStats& s = r.stats;
  EXPECT_EQ(s.rows, 6);
  EXPECT_EQ(s.events[0], 3);
  EXPECT_EQ(s.quarantined_by_reason,
            Reasons({{"bad_rating", 1}, {"bad_time", 1}, {"ragged_row", 1}}));
  EXPECT_EQ(r.sink.RefusedAt(4)->reason, "bad_rating");
  EXPECT_EQ(r.sink.RefusedAt(5)->reason, "bad_time");
  EXPECT_EQ(r.sink.RefusedAt(6)->reason, "ragged_row");
  EXPECT_EQ(r.sink.RefusedAt(6)->raw, "905\t7005");
  EXPECT_EQ(s.users, 3);
  EXPECT_EQ(s.products, 4);

  std::vector<const Event*> views = r.sink.OfType(EventType::kProductView);
  ASSERT_EQ(views.size(), 3u);
  EXPECT_EQ(views[0]->user_id, "901");
  EXPECT_EQ(views[0]->product_id, "7001");
  EXPECT_EQ(views[0]->rating, 3);
  EXPECT_EQ(views[0]->event_time_ms, Time("1997-12-05T05:33:20Z"));
  EXPECT_EQ(views[0]->session_id, "imp-901-19971205");
  EXPECT_EQ(views[0]->order_id, "");
  EXPECT_FALSE(views[0]->price);
  EXPECT_EQ(views[2]->rating, 5);

  const Event* city = r.sink.Find(EventType::kProductCreated, "7002");
  ASSERT_NE(city, nullptr);
  EXPECT_EQ(city->product.title, "City Confidential (1997)");
  EXPECT_EQ(city->product.category, "Crime");
  EXPECT_EQ(city->product.tags,
            (std::vector<std::string>{"Crime", "Film-Noir", "Mystery", "Thriller"}));
  EXPECT_EQ(city->event_time_ms, Time("1997-12-05T05:34:11Z"));  // its earliest rating
  const Event* pierre = r.sink.Find(EventType::kProductCreated, "7009");
  ASSERT_NE(pierre, nullptr);
  EXPECT_EQ(pierre->product.title,
            "\"Pierre de Provence\" \xC3\xA9t\xC3\xA9 (1986)");  // latin-1 in
  EXPECT_FALSE(pierre->product.category);                        // only the "unknown" genre
  EXPECT_EQ(pierre->event_time_ms, Time("1997-12-05T05:33:20Z"));

  const Event* u901 = r.sink.Find(EventType::kSignup, "901");
  ASSERT_NE(u901, nullptr);
  EXPECT_EQ(u901->user.age_band, "45-54");
  EXPECT_EQ(u901->user.gender, "male");
  EXPECT_EQ(r.sink.Find(EventType::kSignup, "902")->user.gender, "female");
  EXPECT_EQ(r.sink.Find(EventType::kSignup, "902")->user.age_band, "35-44");
}

TEST(CsvImportTest, MovieLensLatestRatingsAndMovies) {
  Imported r;
  Import(Preset("movielens"), {kFixtures + "/movielens-csv"}, &r);
  const ImportStats& s = r.stats;
  EXPECT_EQ(s.rows, 4);
  EXPECT_EQ(s.events[0], 4);
  EXPECT_EQ(s.quarantined, 0);
  EXPECT_EQ(s.users, 2);
  EXPECT_EQ(s.products, 5);  // four movies and 199999, which movies.csv lacks

  std::vector<const Event*> views = r.sink.OfType(EventType::kProductView);
  ASSERT_EQ(views.size(), 4u);
  EXPECT_EQ(views[1]->rating, 4.5);
  EXPECT_EQ(views[2]->rating, 0.5);
  EXPECT_EQ(views[2]->event_time_ms, Time("2015-10-24T20:53:20Z"));

  const Event* tin = r.sink.Find(EventType::kProductCreated, "101");
  ASSERT_NE(tin, nullptr);
  EXPECT_EQ(tin->product.title, "Tin Soldier Tales (1995)");
  EXPECT_EQ(tin->product.category, "Adventure");
  EXPECT_EQ(tin->product.tags,
            (std::vector<std::string>{"Adventure", "Animation", "Children", "Comedy", "Fantasy"}));
  EXPECT_EQ(tin->event_time_ms, Time("2000-07-30T20:46:40Z"));
  const Event* president = r.sink.Find(EventType::kProductCreated, "111");
  EXPECT_EQ(president->product.title, "Quiet President, The (1995)");
  EXPECT_EQ(president->event_time_ms, Time("2000-07-30T19:23:20Z"));  // the earliest rating
  const Event* strangers = r.sink.Find(EventType::kProductCreated, "150");
  EXPECT_FALSE(strangers->product.category);
  EXPECT_FALSE(strangers->product.tags);
  EXPECT_EQ(r.sink.Find(EventType::kSignup, "41")->event_time_ms, Time("2000-07-30T19:23:20Z"));
}

TEST(CsvImportTest, SameFileGivesSameEventIdsWhereverItLies) {
  Imported a, b, c;
  Import(Preset("online-retail"), {kFixtures + "/online-retail/orders.csv"}, &a);
  Import(Preset("online-retail"), {kFixtures + "/online-retail/orders.csv"}, &b);
  TempDir dir;
  auto text = ReadFile(kFixtures + "/online-retail/orders.csv");
  ASSERT_TRUE(text.ok());
  ASSERT_TRUE(WriteFileAtomic(dir.path() + "/orders.csv", *text).ok());
  Import(Preset("online-retail"), {dir.path() + "/orders.csv"}, &c);
  ASSERT_EQ(a.sink.events.size(), b.sink.events.size());
  ASSERT_EQ(a.sink.events.size(), c.sink.events.size());
  for (size_t i = 0; i < a.sink.events.size(); ++i) {
    EXPECT_EQ(a.sink.events[i], b.sink.events[i]);
    EXPECT_EQ(a.sink.events[i].event_id, c.sink.events[i].event_id);
  }
  // A file of the same name with one row changed: only that row's id changes.
  TempDir other;
  std::string changed = *text;
  const size_t pos = changed.find("ENAMEL MILK JUG,6,");
  ASSERT_NE(pos, std::string::npos);
  changed.replace(pos, 18, "ENAMEL MILK JUG,8,");
  ASSERT_TRUE(WriteFileAtomic(other.path() + "/orders.csv", changed).ok());
  Imported e;
  Import(Preset("online-retail"), {other.path() + "/orders.csv"}, &e);
  const std::vector<const Event*> before = a.sink.OfType(EventType::kPurchase);
  const std::vector<const Event*> after = e.sink.OfType(EventType::kPurchase);
  ASSERT_EQ(before.size(), after.size());
  for (size_t i = 0; i < before.size(); ++i) {
    EXPECT_EQ(before[i]->event_id == after[i]->event_id, i != 1) << i;
  }

  // Another source gives other ids.
  Imported d;
  Import(Preset("movielens"), {kFixtures + "/movielens-csv/ratings.csv"}, &d);
  std::set<std::string> ids;
  for (const Event& e : a.sink.events) ids.insert(e.event_id);
  for (const Event& e : d.sink.events) EXPECT_EQ(ids.count(e.event_id), 0u);
}

ImportOptions CustomOptions() {
  ImportOptions o;
  o.now_ms = FromCivil(2024, 6, 1);
  o.delimiter = ';';
  o.user_col = "kunde";
  o.item_col = "1";  // by position
  o.time_col = "zeit";
  o.time_format = "%d.%m.%Y %H:%M";
  o.utc_offset_minutes = 60;
  o.quantity_col = "menge";
  o.price_col = "preis";
  o.text_col = "name";
  o.category_col = "kategorie";
  o.currency = "EUR";
  return o;
}

TEST(CsvImportTest, GenericMapping) {
  Imported r;
  Import(CustomOptions(), {kFixtures + "/custom/orders.csv"}, &r);
  const ImportStats& s = r.stats;
  EXPECT_EQ(s.rows, 4);
  EXPECT_EQ(s.events[0], 2);
  EXPECT_EQ(s.quarantined_by_reason, Reasons({{"bad_quantity", 1}, {"future_time", 1}}));
  EXPECT_EQ(r.sink.RefusedAt(4)->message, "menge 'x' is not a whole number above 0");
  EXPECT_EQ(s.users, 2);
  EXPECT_EQ(s.products, 2);

  std::vector<const Event*> p = r.sink.OfType(EventType::kPurchase);
  ASSERT_EQ(p.size(), 2u);
  EXPECT_EQ(p[0]->user_id, "u1");
  EXPECT_EQ(p[0]->product_id, "p1");
  EXPECT_EQ(p[0]->event_time_ms, Time("2023-12-24T17:30:00Z"));
  EXPECT_EQ(p[0]->quantity, 2);
  EXPECT_EQ(p[0]->price, 19.99);
  EXPECT_EQ(p[0]->currency, "EUR");
  // No order column: one order (and session) per user and UTC day.
  EXPECT_EQ(p[0]->order_id, "imp-u1-20231224");
  EXPECT_EQ(p[0]->session_id, "imp-u1-20231224");
  EXPECT_EQ(p[1]->event_time_ms, Time("2023-12-31T23:15:00Z"));
  EXPECT_EQ(p[1]->order_id, "imp-u2-20231231");

  const Event* candle = r.sink.Find(EventType::kProductCreated, "p1");
  ASSERT_NE(candle, nullptr);
  EXPECT_EQ(candle->product.title, "Kerze");
  EXPECT_EQ(candle->product.category, "Home > Deko");
  EXPECT_EQ(candle->product.price, 19.99);
  EXPECT_EQ(candle->product.currency, "EUR");
  EXPECT_EQ(r.sink.Find(EventType::kProductCreated, "p2")->product.title, "Gl\xC3\xBChwein; rot");
}

TEST(CsvImportTest, GenericRatingsWithoutHeader) {
  TempDir dir;
  const std::string path = dir.path() + "/r.tsv";
  ASSERT_TRUE(WriteFileAtomic(path, "7\ta\t8.5\t1700000000123\n7\tb\t-1\t1700000000000\n").ok());
  ImportOptions o;
  o.now_ms = FromCivil(2024, 6, 1);
  o.delimiter = '\t';
  o.header = false;
  o.user_col = "0";
  o.item_col = "1";
  o.rating_col = "2";
  o.time_col = "3";
  o.time_format = "unix-ms";
  Imported r;
  Import(o, {path}, &r);
  ASSERT_EQ(r.sink.OfType(EventType::kProductView).size(), 1u);  // no price: product_view
  const Event& v = *r.sink.OfType(EventType::kProductView)[0];
  EXPECT_EQ(v.rating, 8.5);
  EXPECT_EQ(v.event_time_ms, 1700000000123);
  EXPECT_EQ(r.sink.RefusedAt(2)->reason, "bad_rating");
  EXPECT_EQ(r.sink.RefusedAt(2)->message, "column 2 '-1' is not a number from 0 to 10");
}

TEST(CsvImportTest, IsoTimesWithAndWithoutZone) {
  TempDir dir;
  const std::string path = dir.path() + "/t.csv";
  ASSERT_TRUE(WriteFileAtomic(path,
                              "u,i,t\n"
                              "a,x,2024-03-01T10:00:00+02:00\n"
                              "a,x,2024-03-01 10:00:00\n"
                              "a,x,2024-07-01\n"
                              "a,x,2024-02-30 10:00\n")
                  .ok());
  ImportOptions o;
  o.now_ms = FromCivil(2024, 8, 1);
  o.user_col = "u";
  o.item_col = "i";
  o.time_col = "t";
  o.timezone = "America/New_York";
  Imported r;
  Import(o, {path}, &r);
  std::vector<const Event*> v = r.sink.OfType(EventType::kProductView);
  ASSERT_EQ(v.size(), 3u);
  EXPECT_EQ(v[0]->event_time_ms, Time("2024-03-01T08:00:00Z"));  // its own zone wins
  EXPECT_EQ(v[1]->event_time_ms, Time("2024-03-01T15:00:00Z"));  // EST
  EXPECT_EQ(v[2]->event_time_ms, Time("2024-07-01T04:00:00Z"));  // EDT midnight
  EXPECT_EQ(r.sink.RefusedAt(5)->reason, "bad_time");
}

TEST(CsvImportTest, MissingColumnAndBadOptionsAreErrorsNamingThem) {
  ImportOptions o = CustomOptions();
  o.user_col = "customer";
  CollectingSink sink;
  auto importer = CsvImporter::Create(o, &sink);
  ASSERT_TRUE(importer.ok());
  Status st = (*importer)->ImportPath(kFixtures + "/custom/orders.csv");
  EXPECT_EQ(st.code(), StatusCode::kNotFound);
  EXPECT_NE(st.message().find("orders.csv"), std::string::npos) << st.message();
  EXPECT_NE(st.message().find("'customer'"), std::string::npos) << st.message();
  EXPECT_NE(st.message().find("kunde"), std::string::npos) << st.message();

  auto bad = [&](auto change) {
    ImportOptions b = CustomOptions();
    change(b);
    return CsvImporter::Create(b, &sink).status();
  };
  EXPECT_FALSE(bad([](ImportOptions& b) { b.preset = "amazon"; }).ok());
  EXPECT_FALSE(bad([](ImportOptions& b) { b.time_format = "%d.%m %Q"; }).ok());
  EXPECT_FALSE(bad([](ImportOptions& b) { b.time_format = "%d.%m"; }).ok());  // no year
  EXPECT_FALSE(bad([](ImportOptions& b) { b.timezone = "Mars/Olympus"; }).ok());
  EXPECT_FALSE(bad([](ImportOptions& b) { b.event_type = "add_to_cart"; }).ok());
  EXPECT_FALSE(bad([](ImportOptions& b) { b.encoding = "utf-16"; }).ok());
  EXPECT_FALSE(bad([](ImportOptions& b) { b.user_col.reset(); }).ok());
  EXPECT_TRUE(bad([](ImportOptions& b) {}).ok());

  auto folder = CsvImporter::Create(CustomOptions(), &sink);
  EXPECT_FALSE((*folder)->ImportPath(kFixtures + "/custom").ok());
  EXPECT_FALSE((*folder)->ImportPath(kFixtures + "/custom/absent.csv").ok());
}

// Random damage to a valid file: every row is an event or quarantined, the import never fails.
TEST(CsvImportTest, DamagedInputNeverStopsTheImport) {
  auto text = ReadFile(kFixtures + "/online-retail/orders.csv");
  ASSERT_TRUE(text.ok());
  const std::string header = text->substr(0, text->find('\n') + 1);
  const std::string body = text->substr(header.size());
  std::mt19937 rng(7);
  const std::string noise = ",,\"\"\n\r;|\t\xff\xc3-C.0 9";
  std::string damaged = header;
  for (int copy = 0; copy < 30; ++copy) {
    std::string b = body;
    for (int k = 0; k < 8; ++k) {
      const size_t at = rng() % b.size();
      switch (rng() % 3) {
        case 0:
          b[at] = noise[rng() % noise.size()];
          break;
        case 1:
          b.insert(at, 1, noise[rng() % noise.size()]);
          break;
        default:
          b.erase(at, 1 + rng() % 5);
      }
    }
    damaged += b;
  }
  TempDir dir;
  ASSERT_TRUE(WriteFileAtomic(dir.path() + "/damaged.csv", damaged).ok());
  for (const char* preset : {"online-retail", "dunnhumby", "movielens"}) {
    SCOPED_TRACE(preset);
    ImportOptions o = Preset(preset);
    o.chunk_bytes = 7;
    CollectingSink probe;
    auto importer = CsvImporter::Create(o, &probe);
    ASSERT_TRUE(importer.ok());
    Status st = (*importer)->ImportPath(dir.path() + "/damaged.csv");
    if (std::string(preset) != "online-retail") {
      // Other presets look for their own columns and say which are missing.
      EXPECT_EQ(st.code(), StatusCode::kNotFound) << st.ToString();
      continue;
    }
    ASSERT_TRUE(st.ok()) << st.ToString();
    Imported r;
    Import(o, {dir.path() + "/damaged.csv"}, &r);  // checks validity and accounting
    EXPECT_GT(r.stats.rows, 250);
    EXPECT_GT(r.stats.events[0], 0);
    EXPECT_GT(r.stats.quarantined, r.stats.quarantined_by_reason["cancelled_invoice"]);
  }
}

TEST(ParseLocalTimeTest, Patterns) {
  EXPECT_EQ(ParseLocalTime("12/1/2010 8:26", "%m/%d/%Y %H:%M"), FromCivil(2010, 12, 1, 8, 26));
  EXPECT_EQ(ParseLocalTime("01/02/2010 08:26", "%m/%d/%Y %H:%M"), FromCivil(2010, 1, 2, 8, 26));
  EXPECT_EQ(ParseLocalTime("2017-01-28 14:06:53.25", "%Y-%m-%d %H:%M:%S"),
            FromCivil(2017, 1, 28, 14, 6, 53) + 250);
  EXPECT_EQ(ParseLocalTime("5 Mar 2021 7:05 PM", "%d %b %Y %I:%M %p"),
            FromCivil(2021, 3, 5, 19, 5));
  EXPECT_EQ(ParseLocalTime("5 March 21 12:05 am", "%d %b %y %I:%M %p"),
            FromCivil(2021, 3, 5, 0, 5));
  EXPECT_EQ(ParseLocalTime("29.02.2024", "%d.%m.%Y"), FromCivil(2024, 2, 29));
  EXPECT_EQ(ParseLocalTime("29.02.2023", "%d.%m.%Y"), std::nullopt);
  EXPECT_EQ(ParseLocalTime("13/1/2010 8:26", "%m/%d/%Y %H:%M"), std::nullopt);
  EXPECT_EQ(ParseLocalTime("12/1/2010 8:26 extra", "%m/%d/%Y %H:%M"), std::nullopt);
  EXPECT_EQ(ParseLocalTime("12/1/2010", "%m/%d/%Y %H:%M"), std::nullopt);
  EXPECT_EQ(ParseLocalTime("1/1/0210 0:00", "%m/%d/%Y %H:%M"), std::nullopt);  // before 1900
}

}  // namespace
}  // namespace recsys
