#include "process/gold.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "core/files.h"
#include "core/temp_dir.h"
#include "lake/duckdb.h"
#include "lake/object_store.h"

namespace recsys {
namespace {

constexpr char kRun[] = "20240401T000000Z-0000000";  // + {i}: a silver run id

// The silver tables of docs/formats/lake-tables.md that gold reads.
const char* const kSilverSchemas[][2] = {
    {"clickstream",
     "event_id VARCHAR, event_type VARCHAR, event_time TIMESTAMP, user_id VARCHAR, "
     "session_id VARCHAR, product_id VARCHAR, quantity BIGINT, price DECIMAL(18,2), "
     "currency VARCHAR, order_id VARCHAR, query VARCHAR, page VARCHAR, referrer VARCHAR, "
     "device VARCHAR, rec_id VARCHAR, position BIGINT, rating DOUBLE, schema_version INTEGER, "
     "bronze_file VARCHAR, bronze_line BIGINT, run_id VARCHAR, event_date DATE"},
    {"user_events",
     "event_id VARCHAR, event_type VARCHAR, event_time TIMESTAMP, user_id VARCHAR, "
     "country VARCHAR, city VARCHAR, age_band VARCHAR, gender VARCHAR, signup_channel VARCHAR, "
     "email_hash VARCHAR, schema_version INTEGER, bronze_file VARCHAR, bronze_line BIGINT, "
     "run_id VARCHAR, event_date DATE"},
    {"product_events",
     "event_id VARCHAR, event_type VARCHAR, event_time TIMESTAMP, product_id VARCHAR, "
     "title VARCHAR, description VARCHAR, category VARCHAR, brand VARCHAR, "
     "price DECIMAL(18,2), currency VARCHAR, stock BIGINT, tags VARCHAR[], "
     "schema_version INTEGER, bronze_file VARCHAR, bronze_line BIGINT, run_id VARCHAR, "
     "event_date DATE"},
    {"sessions",
     "session_key VARCHAR, user_id VARCHAR, session_start TIMESTAMP, session_end TIMESTAMP, "
     "duration_s DOUBLE, events BIGINT, page_views BIGINT, product_views BIGINT, "
     "searches BIGINT, add_to_carts BIGINT, remove_from_carts BIGINT, purchases BIGINT, "
     "revenue DECIMAL(18,2), converted BOOLEAN, device VARCHAR, referrer VARCHAR, "
     "products_viewed BIGINT, event_date DATE"},
    {"users",
     "user_id VARCHAR, signup_time TIMESTAMP, country VARCHAR, city VARCHAR, age_band VARCHAR, "
     "gender VARCHAR, signup_channel VARCHAR, email_hash VARCHAR, last_login TIMESTAMP, "
     "logins BIGINT, profile_updates BIGINT, updated_at TIMESTAMP"},
    {"products",
     "product_id VARCHAR, title VARCHAR, description VARCHAR, category VARCHAR, "
     "brand VARCHAR, price DECIMAL(18,2), currency VARCHAR, stock BIGINT, tags VARCHAR[], "
     "created_at TIMESTAMP, updated_at TIMESTAMP, discontinued BOOLEAN"},
};

// `days` days before the as_of of the scenarios, 2024-03-31 00:00:00, as SQL.
std::string Ago(double days) {
  return "(TIMESTAMP '2024-03-31 00:00:00' - INTERVAL (" +
         std::to_string(static_cast<int64_t>(days * 86400)) + ") SECOND)";
}

// A silver lake in a TempDir, filled with DuckDB from hand-written rows, and gold read back.
class GoldTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_FALSE(dir_.path().empty());
    Result<std::unique_ptr<ObjectStore>> store = OpenLocalStore(dir_.path());
    ASSERT_TRUE(store.ok());
    store_ = std::move(store).value();
    Result<std::unique_ptr<DuckDb>> db = DuckDb::Open("");
    ASSERT_TRUE(db.ok());
    db_ = std::move(db).value();
    for (const auto& [name, columns] : kSilverSchemas) {
      Exec(std::string("CREATE TABLE ") + name + " (" + columns + ")");
    }
  }

  void Exec(const std::string& sql) {
    Status st = db_->Execute(sql);
    ASSERT_TRUE(st.ok()) << st.ToString();
  }

  // A clickstream event `days` before as_of.
  void Click(const std::string& user, const std::string& type, const std::string& product,
             double days, const std::string& more_columns = "",
             const std::string& more_values = "") {
    static int n = 0;
    Exec("INSERT INTO clickstream (event_id, event_type, event_time, user_id, product_id" +
         more_columns + ") VALUES ('e" + std::to_string(++n) + "', '" + type + "', " + Ago(days) +
         ", '" + user + "', " + (product.empty() ? "NULL" : "'" + product + "'") + more_values +
         ")");
  }
  void Purchase(const std::string& user, const std::string& product, double days, int quantity,
                const std::string& price, const std::string& order) {
    Click(user, "purchase", product, days, ", quantity, price, order_id",
          ", " + std::to_string(quantity) + ", " + price + ", '" + order + "'");
  }
  void View(const std::string& user, const std::string& product, double days,
            const std::string& device = "") {
    if (device.empty()) {
      Click(user, "product_view", product, days);
    } else {
      Click(user, "product_view", product, days, ", device", ", '" + device + "'");
    }
  }

  // Writes every non-empty table as silver does: partitioned tables by event_date.
  void WriteSilver() {
    for (const auto& [name, columns] : kSilverSchemas) {
      Result<int64_t> rows = db_->QueryInt64(std::string("SELECT count(*) FROM ") + name);
      ASSERT_TRUE(rows.ok());
      if (*rows == 0) continue;
      const std::string table = name;
      const std::string dir = dir_.path() + "/silver/" + table;
      ASSERT_TRUE(CreateDirs(dir).ok());
      if (std::string(columns).find("event_date") != std::string::npos) {
        const std::string time = table == "sessions" ? "session_start" : "event_time";
        Exec("UPDATE " + table + " SET event_date = CAST(" + time + " AS DATE)");
        Exec("COPY " + table + " TO " + DuckDb::Quote(dir) +
             " (FORMAT parquet, PARTITION_BY (event_date), OVERWRITE_OR_IGNORE, "
             "FILENAME_PATTERN 'part-" +
             kRun + "{i}')");
      } else {
        Exec("COPY " + table + " TO " + DuckDb::Quote(dir + "/part-" + kRun + "0.parquet") +
             " (FORMAT parquet)");
      }
    }
  }

  GoldReport Run(const GoldOptions& options = {}) {
    GoldReport report;
    Status st = RunGold(LakeLocation{store_.get(), dir_.path()}, options, &report);
    EXPECT_TRUE(st.ok()) << st.ToString();
    return report;
  }

  // Rows of a gold table of the snapshot, as query() over a view `t` of its file.
  QueryResult Gold(const GoldReport& report, const std::string& table, const std::string& query) {
    const std::string path =
        dir_.path() + "/gold/" + table + "/snapshot=" + report.snapshot + "/part-0.parquet";
    Result<QueryResult> r =
        db_->Query("WITH t AS (SELECT * FROM read_parquet(" + DuckDb::Quote(path) +
                   ", hive_partitioning = false)) " + query);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? std::move(r).value() : QueryResult();
  }

  // Every gold table of a snapshot as text, sorted, for comparing whole snapshots.
  std::map<std::string, std::vector<std::string>> AllRows(const GoldReport& report) {
    std::map<std::string, std::vector<std::string>> out;
    for (const GoldTable& t : report.tables) {
      QueryResult r = Gold(report, t.name, "SELECT CAST(t AS VARCHAR) FROM t ORDER BY 1");
      for (size_t i = 0; i < r.rows(); ++i) out[t.name].push_back(r.GetString(i, 0));
    }
    return out;
  }

  // The scenario of the golden tests below; expected values are worked out next to each test.
  // as_of = 2024-03-31 00:00:00 (the rated view and b2's events).
  void Shop() {
    Exec(
        "INSERT INTO products (product_id, title, category, brand, price, stock, discontinued, "
        "created_at) VALUES "
        "('p1', 'Phone', 'Electronics > Phones', 'Acme', 100, 5, false, " +
        Ago(90) +
        "), "
        "('p2', 'Pan', 'Home > Kitchen', 'Cook', 50, 2, false, " +
        Ago(90) +
        "), "
        "('p3', 'Novel', 'Books > Fiction', 'Pub', 20, 1, false, " +
        Ago(90) +
        "), "
        "('p4', 'Puzzle', 'Toys > Puzzles', 'Fun', 10, 3, true, " +
        Ago(90) +
        "), "
        "('p5', 'Laptop', 'Electronics > Computers', 'Acme', 300, 0, false, " +
        Ago(90) +
        "), "
        "('p6', 'Tablet', 'Electronics > Tablets', 'Acme', 100, NULL, false, " +
        Ago(90) + ")");
    Exec(
        "INSERT INTO product_events (event_id, event_type, event_time, product_id) VALUES "
        "('pe1', 'product_created', " +
        Ago(90) + ", 'p1')");
    Exec("INSERT INTO users (user_id, country, age_band) VALUES ('u1', 'DE', '25-34')");
    Exec(
        "INSERT INTO user_events (event_id, event_type, event_time, user_id) VALUES "
        "('ue1', 'signup', " +
        Ago(100) + ", 'u1')");
    Exec(
        "INSERT INTO sessions (session_key, user_id, session_start) VALUES "
        "('u1:1', 'u1', " +
        Ago(50) + "), ('u1:2', 'u1', " + Ago(2) +
        "), "
        "('u2:1', 'u2', " +
        Ago(5) + ")");
    // u1: 3 orders worth 300 (the last one of two lines), last 1 day ago; views of 4 devices.
    Purchase("u1", "p1", 20, 1, "100.00", "o1a");
    Purchase("u1", "p2", 10, 2, "50.00", "o1b");
    Purchase("u1", "p3", 1, 1, "40.00", "o1c");
    Purchase("u1", "p1", 1, 1, "60.00", "o1c");
    View("u1", "p3", 2, "mobile");
    View("u1", "p3", 2, "mobile");
    View("u1", "p3", 2, "desktop");
    View("u1", "p3", 2, "tablet");
    View("u1", "p4", 50);
    // u2: 2 orders worth 100, last 5 days ago.
    Purchase("u2", "p2", 30, 1, "60.00", "o2a");
    Purchase("u2", "p1", 5, 1, "40.00", "o2b");
    // u3: 1 order worth 50, 10 days ago; a cart before it; a rated view at as_of.
    Click("u3", "add_to_cart", "p3", 15, ", quantity, price", ", 1, 50.00");
    Purchase("u3", "p3", 10, 1, "50.00", "o3a");
    Click("u3", "product_view", "p1", 0, ", rating", ", 4.0");
    // u4: 1 order worth 500, 20 days ago.
    Purchase("u4", "p2", 20, 2, "250.00", "o4a");
    // u5: 2 orders worth 80, last 40 days ago.
    Purchase("u5", "p1", 60, 1, "50.00", "o5a");
    Purchase("u5", "p3", 40, 1, "30.00", "o5b");
    // Browsers: b1 last seen 3 days ago, b2 at as_of.
    View("b1", "p1", 3);
    Click("b1", "add_to_cart", "p1", 3, ", quantity, price", ", 1, 100.00");
    Click("b1", "recommendation_click", "p2", 3);
    View("b2", "p2", 0);
    Click("b2", "page_view", "", 0);
    WriteSilver();
  }

  TempDir dir_{"recsys-gold-test"};
  std::unique_ptr<ObjectStore> store_;
  std::unique_ptr<DuckDb> db_;
};

TEST_F(GoldTest, RfmScoresAndSegments) {
  Shop();
  GoldReport report = Run();
  // Buyers, with ntile(5) over 5 buyers giving one buyer per score:
  //   recency (desc): u5 40d -> 1, u4 20d -> 2, u3 10d -> 3, u2 5d -> 4, u1 1d -> 5
  //   frequency: u3 1, u4 1 | u2 2, u5 2 | u1 3 -> tiles 1,2 | 3,4 | 5; ties take the lowest:
  //              u3 1, u4 1, u2 3, u5 3, u1 5
  //   monetary: u3 50 -> 1, u5 80 -> 2, u2 100 -> 3, u1 300 -> 4, u4 500 -> 5
  //   fm = (f + m) / 2: u1 4.5, u2 3, u3 1, u4 3, u5 2.5
  //   u1 r5 fm4.5 Champions; u2 r4 fm3 Loyal; u3 r3 fm1 Need Attention; u4 r2 fm3 At Risk;
  //   u5 r1 fm2.5 Lost.
  // Browsers, ranked among themselves by last activity: b1 3d -> 1, b2 0d -> 2.
  QueryResult r = Gold(report, "user_features",
                       "SELECT user_id, recency_days, frequency, monetary, r_score, f_score, "
                       "m_score, rfm_score, segment FROM t ORDER BY user_id");
  struct Want {
    const char* user;
    double recency;
    int64_t frequency;
    double monetary;
    int64_t r, f, m;
    const char* rfm;
    const char* segment;
  };
  const Want want[] = {
      {"b1", 3, 0, 0, 1, 1, 1, "111", "Browsers"},
      {"b2", 0, 0, 0, 2, 1, 1, "211", "Browsers"},
      {"u1", 1, 3, 300, 5, 5, 4, "554", "Champions"},
      {"u2", 5, 2, 100, 4, 3, 3, "433", "Loyal"},
      {"u3", 10, 1, 50, 3, 1, 1, "311", "Need Attention"},
      {"u4", 20, 1, 500, 2, 1, 5, "215", "At Risk"},
      {"u5", 40, 2, 80, 1, 3, 2, "132", "Lost"},
  };
  ASSERT_EQ(r.rows(), std::size(want));
  for (size_t i = 0; i < r.rows(); ++i) {
    SCOPED_TRACE(want[i].user);
    EXPECT_EQ(r.GetString(i, 0), want[i].user);
    EXPECT_DOUBLE_EQ(r.GetDouble(i, 1), want[i].recency);
    EXPECT_EQ(r.GetInt64(i, 2), want[i].frequency);
    EXPECT_DOUBLE_EQ(r.GetDouble(i, 3), want[i].monetary);
    EXPECT_EQ(r.GetInt64(i, 4), want[i].r);
    EXPECT_EQ(r.GetInt64(i, 5), want[i].f);
    EXPECT_EQ(r.GetInt64(i, 6), want[i].m);
    EXPECT_EQ(r.GetString(i, 7), want[i].rfm);
    EXPECT_EQ(r.GetString(i, 8), want[i].segment);
  }
}

TEST_F(GoldTest, UserActivityCategoriesAndDevices) {
  Shop();
  GoldReport report = Run();
  QueryResult r = Gold(report, "user_features",
                       "SELECT user_id, sessions, product_views, add_to_carts, purchases, "
                       "avg_order_value, CAST(top_categories AS VARCHAR), mobile_share, "
                       "desktop_share, tablet_share, country, age_band, first_seen, last_seen "
                       "FROM t WHERE user_id IN ('u1', 'b1') ORDER BY user_id");
  ASSERT_EQ(r.rows(), 2u);
  // b1: no session rows, no purchase; p1 (view + cart, 4 x decay) outweighs p2 (click, 2 x).
  EXPECT_EQ(r.GetString(0, 0), "b1");
  EXPECT_EQ(r.GetInt64(0, 1), 0);
  EXPECT_EQ(r.GetInt64(0, 2), 1);
  EXPECT_EQ(r.GetInt64(0, 3), 1);
  EXPECT_EQ(r.GetInt64(0, 4), 0);
  EXPECT_DOUBLE_EQ(r.GetDouble(0, 5), 0);
  EXPECT_EQ(r.GetString(0, 6), "[Electronics, Home]");
  EXPECT_DOUBLE_EQ(r.GetDouble(0, 7), 0);  // no device known
  EXPECT_TRUE(r.IsNull(0, 10));            // not in users
  // u1: 4 purchase lines in 3 orders (300 / 3 = 100 per order), 5 views. Categories by
  // decayed weight: Books 5*2^(-1/30) + 4*2^(-2/30) = 8.71 > Electronics 5*2^(-20/30) +
  // 5*2^(-1/30) = 8.04 > Home 5*2^(-10/30) = 3.97 > Toys 2^(-50/30) = 0.31 (only 3 kept).
  // Devices: 2 of 4 known events on mobile.
  EXPECT_EQ(r.GetString(1, 0), "u1");
  EXPECT_EQ(r.GetInt64(1, 1), 2);
  EXPECT_EQ(r.GetInt64(1, 2), 5);
  EXPECT_EQ(r.GetInt64(1, 3), 0);
  EXPECT_EQ(r.GetInt64(1, 4), 4);
  EXPECT_DOUBLE_EQ(r.GetDouble(1, 5), 100);
  EXPECT_EQ(r.GetString(1, 6), "[Books, Electronics, Home]");
  EXPECT_DOUBLE_EQ(r.GetDouble(1, 7), 0.5);
  EXPECT_DOUBLE_EQ(r.GetDouble(1, 8), 0.25);
  EXPECT_DOUBLE_EQ(r.GetDouble(1, 9), 0.25);
  EXPECT_EQ(r.GetString(1, 10), "DE");
  EXPECT_EQ(r.GetString(1, 11), "25-34");
  EXPECT_EQ(r.GetString(1, 12), "2024-02-10 00:00:00");
  EXPECT_EQ(r.GetString(1, 13), "2024-03-30 00:00:00");
}

TEST_F(GoldTest, ProductAnalyticsCountsRatesRevenueAndTrending) {
  Shop();
  GoldReport report = Run();
  QueryResult r = Gold(report, "product_analytics",
                       "SELECT product_id, views, carts, purchases, units, revenue, view_to_cart, "
                       "cart_to_purchase, view_to_purchase, trending_score, category, brand, "
                       "price FROM t ORDER BY product_id");
  ASSERT_EQ(r.rows(), 6u);  // every catalog product, p5 and p6 without events
  // p1: views u3 (rated), b1; cart b1; purchases u1 x2, u2, u5: 100 + 60 + 40 + 50.
  EXPECT_EQ(r.GetString(0, 0), "p1");
  EXPECT_EQ(r.GetInt64(0, 1), 2);
  EXPECT_EQ(r.GetInt64(0, 2), 1);
  EXPECT_EQ(r.GetInt64(0, 3), 4);
  EXPECT_EQ(r.GetInt64(0, 4), 4);
  EXPECT_EQ(r.GetString(0, 5), "250.00");
  EXPECT_DOUBLE_EQ(r.GetDouble(0, 6), 0.5);
  EXPECT_DOUBLE_EQ(r.GetDouble(0, 7), 4.0);
  EXPECT_DOUBLE_EQ(r.GetDouble(0, 8), 2.0);
  EXPECT_EQ(r.GetString(0, 10), "Electronics > Phones");
  // p2: one view (b2), no cart; purchases 2 x 50 + 60 + 2 x 250 = 660 in 5 units. Trending
  // (half-life 7 days): purchases 10, 30, 20 days old, a click 3 days old, a view at as_of.
  EXPECT_EQ(r.GetString(1, 0), "p2");
  EXPECT_EQ(r.GetInt64(1, 1), 1);
  EXPECT_EQ(r.GetInt64(1, 2), 0);
  EXPECT_EQ(r.GetInt64(1, 3), 3);
  EXPECT_EQ(r.GetInt64(1, 4), 5);
  EXPECT_EQ(r.GetString(1, 5), "660.00");
  EXPECT_DOUBLE_EQ(r.GetDouble(1, 6), 0);
  EXPECT_TRUE(r.IsNull(1, 7)) << "no carts: no cart_to_purchase";
  EXPECT_DOUBLE_EQ(r.GetDouble(1, 8), 3.0);
  const double p2_trending = 5 * std::pow(0.5, 10.0 / 7) + 5 * std::pow(0.5, 30.0 / 7) +
                             5 * std::pow(0.5, 20.0 / 7) + 2 * std::pow(0.5, 3.0 / 7) + 1;
  EXPECT_NEAR(r.GetDouble(1, 9), p2_trending, 1e-12);
  // p3: 4 views, 1 cart, 3 purchases (40 + 50 + 30).
  EXPECT_EQ(r.GetString(2, 5), "120.00");
  EXPECT_DOUBLE_EQ(r.GetDouble(2, 6), 0.25);
  EXPECT_DOUBLE_EQ(r.GetDouble(2, 7), 3.0);
  EXPECT_DOUBLE_EQ(r.GetDouble(2, 8), 0.75);
  // p5: in the catalog, never seen.
  EXPECT_EQ(r.GetString(4, 0), "p5");
  EXPECT_EQ(r.GetInt64(4, 1), 0);
  EXPECT_EQ(r.GetString(4, 5), "0.00");
  EXPECT_TRUE(r.IsNull(4, 6));
  EXPECT_DOUBLE_EQ(r.GetDouble(4, 9), 0);
  EXPECT_EQ(r.GetString(4, 12), "300.00");

  // Per day: p3's four views 2 days before as_of, and the totals add up to the all-time ones.
  QueryResult d = Gold(report, "product_analytics_daily",
                       "SELECT CAST(date AS VARCHAR), views, carts, purchases, revenue, "
                       "trending_score FROM t WHERE product_id = 'p3' ORDER BY date");
  ASSERT_EQ(d.rows(), 5u);  // days 40, 15, 10, 2, 1 before as_of
  EXPECT_EQ(d.GetString(3, 0), "2024-03-29");
  EXPECT_EQ(d.GetInt64(3, 1), 4);
  EXPECT_EQ(d.GetInt64(3, 3), 0);
  EXPECT_DOUBLE_EQ(d.GetDouble(3, 5), 4 * std::pow(0.5, 2.0 / 7));
  EXPECT_EQ(d.GetString(4, 4), "40.00");
  double sum = 0;
  for (size_t i = 0; i < d.rows(); ++i) sum += d.GetDouble(i, 5);
  EXPECT_NEAR(sum, r.GetDouble(2, 9), 1e-12);
}

TEST_F(GoldTest, InteractionWeightsDecayByAge) {
  Shop();
  GoldReport report = Run();
  QueryResult r = Gold(report, "interactions",
                       "SELECT user_id || '/' || product_id, weight, events, "
                       "CAST(last_time AS VARCHAR) FROM t ORDER BY 1");
  std::map<std::string, size_t> row;
  for (size_t i = 0; i < r.rows(); ++i) row[r.GetString(i, 0)] = i;
  // One row per user and product touched by a view, click, cart or purchase; b2's page view
  // has no product and is no interaction.
  ASSERT_EQ(r.rows(), 14u);
  // A purchase one half-life (30 days) old counts half of 5.
  EXPECT_DOUBLE_EQ(r.GetDouble(row.at("u2/p2"), 1), 2.5);
  EXPECT_EQ(r.GetInt64(row.at("u2/p2"), 2), 1);
  // A rated view at as_of counts its rating.
  EXPECT_DOUBLE_EQ(r.GetDouble(row.at("u3/p1"), 1), 4.0);
  // A cart 15 days old and a purchase 10 days old add up.
  const size_t u3p3 = row.at("u3/p3");
  EXPECT_NEAR(r.GetDouble(u3p3, 1), 3 * std::pow(0.5, 0.5) + 5 * std::pow(0.5, 1.0 / 3), 1e-12);
  EXPECT_EQ(r.GetInt64(u3p3, 2), 2);
  EXPECT_EQ(r.GetString(u3p3, 3), "2024-03-21 00:00:00");
  // A recommendation click 3 days old.
  EXPECT_NEAR(r.GetDouble(row.at("b1/p2"), 1), 2 * std::pow(0.5, 0.1), 1e-12);

  // Half-life and weights come from the options.
  GoldOptions options;
  options.interaction_half_life_days = 15;
  options.weight_purchase = 10;
  GoldReport other = Run(options);
  EXPECT_NE(other.snapshot, report.snapshot);
  QueryResult o = Gold(other, "interactions",
                       "SELECT weight FROM t WHERE user_id = 'u2' AND product_id = 'p2'");
  ASSERT_EQ(o.rows(), 1u);
  EXPECT_DOUBLE_EQ(o.GetDouble(0, 0), 2.5);  // 10 * 0.5^2
}

TEST_F(GoldTest, HybridFeatures) {
  Shop();
  GoldReport report = Run();
  QueryResult r = Gold(report, "hybrid_features",
                       "SELECT product_id, top_category, price_band, in_stock, discontinued, "
                       "popularity, trending_score FROM t ORDER BY product_id");
  ASSERT_EQ(r.rows(), 6u);
  // Electronics prices p1 100, p6 100, p5 300: ntile 1, 2, 3; the tie p1 = p6 takes band 1.
  EXPECT_EQ(r.GetString(0, 1), "Electronics");
  EXPECT_EQ(r.GetInt64(0, 2), 1);
  EXPECT_EQ(r.GetInt64(5, 2), 1);
  EXPECT_EQ(r.GetInt64(4, 2), 3);
  EXPECT_EQ(r.GetString(0, 3), "true");
  EXPECT_EQ(r.GetString(4, 3), "false");  // stock 0
  EXPECT_TRUE(r.IsNull(5, 3));            // stock unknown
  EXPECT_EQ(r.GetString(3, 4), "true");
  // Users per product over the 14 user-product pairs: p1 5, p2 5, p3 3, p4 1, p5 0.
  EXPECT_DOUBLE_EQ(r.GetDouble(0, 5), 5.0 / 14);
  EXPECT_DOUBLE_EQ(r.GetDouble(2, 5), 3.0 / 14);
  EXPECT_DOUBLE_EQ(r.GetDouble(4, 5), 0);
  QueryResult pa =
      Gold(report, "product_analytics", "SELECT trending_score FROM t WHERE product_id = 'p2'");
  EXPECT_DOUBLE_EQ(r.GetDouble(1, 6), pa.GetDouble(0, 0));
}

TEST_F(GoldTest, TfIdfOfAToyCatalog) {
  Exec(
      "INSERT INTO products (product_id, title, description, category, brand) VALUES "
      "('a', 'Red Apple', 'A red fruit', 'Food > Fruit', 'Acme'), "
      "('b', 'Green Apple', 'The green fruit', 'Food > Fruit', 'Acme'), "
      "('c', 'Red Car', NULL, 'Toys', 'Zoom')");
  WriteSilver();
  GoldReport report = Run();
  // Documents after dropping 1-letter tokens and stop words ("a", "the"):
  //   a: red red apple fruit fruit food acme (7)   b: green green apple fruit fruit food acme (7)
  //   c: red car toys zoom (4)
  // idf = ln(3/2) for terms in two products, ln 3 for terms in one.
  const double i2 = std::log(1.5), i1 = std::log(3.0);
  std::map<std::string, double> want = {
      // a: every term has idf ln 1.5, so the weights are the counts (2,1,2,1,1) normalised.
      {"a/red", 2 / std::sqrt(11.0)},   {"a/apple", 1 / std::sqrt(11.0)},
      {"a/fruit", 2 / std::sqrt(11.0)}, {"a/food", 1 / std::sqrt(11.0)},
      {"a/acme", 1 / std::sqrt(11.0)},
  };
  const double nb = std::sqrt(std::pow(2 * i1, 2) + 7 * i2 * i2);  // tf's 1/7 cancels
  want["b/green"] = 2 * i1 / nb;
  for (const char* t : {"b/apple", "b/food", "b/acme"}) want[t] = i2 / nb;
  want["b/fruit"] = 2 * i2 / nb;
  const double nc = std::sqrt(i2 * i2 + 3 * i1 * i1);
  want["c/red"] = i2 / nc;
  for (const char* t : {"c/car", "c/toys", "c/zoom"}) want[t] = i1 / nc;

  QueryResult r =
      Gold(report, "item_content", "SELECT product_id || '/' || term, weight FROM t ORDER BY 1");
  std::map<std::string, double> got;
  for (size_t i = 0; i < r.rows(); ++i) got[r.GetString(i, 0)] = r.GetDouble(i, 1);
  ASSERT_EQ(got.size(), want.size());
  for (const auto& [key, weight] : want) {
    ASSERT_TRUE(got.contains(key)) << key;
    EXPECT_NEAR(got[key], weight, 1e-12) << key;
  }
  // No clickstream at all: the event tables are empty but there, and so are their products.
  for (const GoldTable& t : report.tables) {
    if (t.name == "user_features" || t.name == "interactions" || t.name == "user_clusters") {
      EXPECT_EQ(t.rows, 0) << t.name;
    }
  }
  EXPECT_EQ(report.chosen_clusters, 0);
}

TEST_F(GoldTest, UserClusters) {
  Shop();
  GoldOptions options;
  options.clusters = 3;
  GoldReport report = Run(options);
  EXPECT_EQ(report.chosen_clusters, 3);
  QueryResult r = Gold(report, "user_clusters",
                       "SELECT count(*), count(DISTINCT user_id), min(cluster), max(cluster), "
                       "count(DISTINCT cluster), min(distance) FROM t");
  EXPECT_EQ(r.GetInt64(0, 0), 7);  // every user of user_features, once
  EXPECT_EQ(r.GetInt64(0, 1), 7);
  EXPECT_EQ(r.GetInt64(0, 2), 0);
  EXPECT_EQ(r.GetInt64(0, 3), 2);
  EXPECT_EQ(r.GetInt64(0, 4), 3);
  EXPECT_GE(r.GetDouble(0, 5), 0);

  // k chosen by silhouette lies in [2, max_clusters] and is reported.
  options.clusters = 0;
  options.max_clusters = 4;
  GoldReport chosen = Run(options);
  EXPECT_GE(chosen.chosen_clusters, 2);
  EXPECT_LE(chosen.chosen_clusters, 4);
  QueryResult c = Gold(chosen, "user_clusters", "SELECT count(DISTINCT cluster) FROM t");
  EXPECT_EQ(c.GetInt64(0, 0), chosen.chosen_clusters);
}

TEST_F(GoldTest, SecondRunIsUnchangedAndRebuildsIdentically) {
  Shop();
  GoldReport first = Run();
  EXPECT_FALSE(first.unchanged);
  EXPECT_EQ(first.snapshot.size(), 16u);
  std::vector<std::string> names;
  for (const GoldTable& t : first.tables) names.push_back(t.name);
  EXPECT_EQ(names.back(), "user_clusters");
  EXPECT_EQ(std::set<std::string>(names.begin(), names.end()),
            (std::set<std::string>{"user_features", "user_clusters", "product_analytics_daily",
                                   "product_analytics", "interactions", "item_content",
                                   "hybrid_features"}));
  const auto rows = AllRows(first);
  Result<std::string> current = store_->Get("gold/_current.json");
  ASSERT_TRUE(current.ok());
  EXPECT_NE(current->find("\"snapshot\":\"" + first.snapshot + "\""), std::string::npos);
  EXPECT_NE(current->find("\"as_of\":\"2024-03-31T00:00:00.000Z\""), std::string::npos);

  GoldReport second = Run();
  EXPECT_TRUE(second.unchanged);
  EXPECT_EQ(second.snapshot, first.snapshot);
  ASSERT_EQ(second.tables.size(), first.tables.size());
  for (size_t i = 0; i < first.tables.size(); ++i) {
    EXPECT_EQ(second.tables[i].name, first.tables[i].name);
    EXPECT_EQ(second.tables[i].rows, first.tables[i].rows);
  }
  EXPECT_EQ(second.chosen_clusters, first.chosen_clusters);
  EXPECT_EQ(store_->Get("gold/_current.json").value(), *current) << "nothing rewritten";

  // Tables written but _current.json lost (a crash before it): made current, nothing rebuilt.
  ASSERT_TRUE(store_->Delete("gold/_current.json").ok());
  GoldReport resumed = Run();
  EXPECT_TRUE(resumed.unchanged);
  EXPECT_NE(store_->Get("gold/_current.json")->find(first.snapshot), std::string::npos);

  // Rebuilding from scratch gives the same id and the same rows.
  ASSERT_TRUE(RemoveAll(dir_.path() + "/gold").ok());
  GoldReport third = Run();
  EXPECT_FALSE(third.unchanged);
  EXPECT_EQ(third.snapshot, first.snapshot);
  const auto rebuilt = AllRows(third);
  ASSERT_EQ(rebuilt.size(), rows.size());
  for (const auto& [table, want] : rows) {
    const std::vector<std::string>& got = rebuilt.at(table);
    ASSERT_EQ(got.size(), want.size()) << table;
    for (size_t i = 0; i < want.size(); ++i) EXPECT_EQ(got[i], want[i]) << table;
  }
}

TEST_F(GoldTest, NewSilverMakesANewCurrentSnapshot) {
  Shop();
  GoldReport first = Run();
  // A later silver run adds a purchase by a new user on a new day.
  const std::string dir = dir_.path() + "/silver/clickstream/event_date=2024-04-01";
  ASSERT_TRUE(CreateDirs(dir).ok());
  Exec(
      "COPY (SELECT 'e-new' AS event_id, 'purchase' AS event_type, "
      "TIMESTAMP '2024-04-01 00:00:00' AS event_time, 'u9' AS user_id, 'p1' AS product_id, "
      "CAST(1 AS BIGINT) AS quantity, CAST(100 AS DECIMAL(18,2)) AS price, 'o9' AS order_id) "
      "TO " +
      DuckDb::Quote(dir + "/part-20240402T000000Z-00000000.parquet") + " (FORMAT parquet)");
  GoldReport second = Run();
  EXPECT_FALSE(second.unchanged);
  EXPECT_NE(second.snapshot, first.snapshot);
  EXPECT_NE(store_->Get("gold/_current.json")->find(second.snapshot), std::string::npos);
  QueryResult r = Gold(second, "user_features", "SELECT count(*), max(last_seen)::VARCHAR FROM t");
  EXPECT_EQ(r.GetInt64(0, 0), 8);
  EXPECT_EQ(r.GetString(0, 1), "2024-04-01 00:00:00");
  // as_of moved a day, so u2's 30-day-old purchase is now 31 days old.
  QueryResult w = Gold(second, "interactions",
                       "SELECT weight FROM t WHERE user_id = 'u2' AND product_id = 'p2'");
  EXPECT_DOUBLE_EQ(w.GetDouble(0, 0), 5 * std::pow(0.5, 31.0 / 30));
  // The earlier snapshot stays readable for whoever still uses it.
  EXPECT_TRUE(FileExists(dir_.path() + "/gold/interactions/snapshot=" + first.snapshot +
                         "/part-0.parquet"));
}

TEST_F(GoldTest, EmptyLakeBuildsEmptyTables) {
  GoldReport report = Run();
  EXPECT_FALSE(report.unchanged);
  EXPECT_EQ(report.tables.size(), 7u);
  for (const GoldTable& t : report.tables) EXPECT_EQ(t.rows, 0) << t.name;
  QueryResult r = Gold(report, "user_features", "SELECT * FROM t");
  EXPECT_EQ(r.columns(), 22u);
  EXPECT_EQ(r.column_name(10), "segment");
}

TEST_F(GoldTest, BadOptionsAreRejected) {
  GoldOptions options;
  options.interaction_half_life_days = 0;
  GoldReport report;
  Status st = RunGold(LakeLocation{store_.get(), dir_.path()}, options, &report);
  EXPECT_EQ(st.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(st.message().find("half-li"), std::string::npos) << st.message();
  options = GoldOptions();
  options.weight_cart = -1;
  st = RunGold(LakeLocation{store_.get(), dir_.path()}, options, &report);
  EXPECT_NE(st.message().find("weight_cart"), std::string::npos) << st.message();
  EXPECT_FALSE(FileExists(dir_.path() + "/gold/_current.json"));
}

TEST(GoldModelsTest, EmbeddedModelsComeInDependencyOrder) {
  std::vector<SqlModel> models = GoldModels();
  std::vector<std::string> names;
  for (const SqlModel& m : models) names.push_back(m.name);
  EXPECT_EQ(std::set<std::string>(names.begin(), names.end()),
            (std::set<std::string>{"user_features", "product_analytics_daily", "product_analytics",
                                   "interactions", "item_content", "hybrid_features"}));
  auto pos = [&](const std::string& n) { return std::find(names.begin(), names.end(), n); };
  for (const SqlModel& m : models) {
    for (const std::string& d : m.depends_on) {
      EXPECT_LT(pos(d), pos(m.name)) << m.name << " needs " << d;
    }
  }
  // The declared dependencies the SQL relies on.
  EXPECT_LT(pos("interactions"), pos("user_features"));
  EXPECT_LT(pos("product_analytics_daily"), pos("product_analytics"));
  EXPECT_LT(pos("product_analytics"), pos("hybrid_features"));
}

TEST(GoldModelsTest, ParsesDependsLines) {
  SqlModel m = ParseSqlModel("x",
                             "-- depends: a, b\n"
                             "  --depends:c  d,a\n"
                             "-- this depends: on nothing\n"
                             "SELECT 1 -- depends: e\n");
  EXPECT_EQ(m.name, "x");
  EXPECT_EQ(m.depends_on, (std::vector<std::string>{"a", "b", "c", "d"}));
  EXPECT_TRUE(ParseSqlModel("y", "SELECT 1").depends_on.empty());
}

TEST(GoldModelsTest, SortsByDependencies) {
  std::vector<SqlModel> models = {ParseSqlModel("c", "-- depends: b\nSELECT 1"),
                                  ParseSqlModel("b", "-- depends: a\nSELECT 1"),
                                  ParseSqlModel("d", "SELECT 1"), ParseSqlModel("a", "SELECT 1")};
  Result<std::vector<SqlModel>> sorted = SortSqlModels(models);
  ASSERT_TRUE(sorted.ok()) << sorted.status().ToString();
  std::vector<std::string> names;
  for (const SqlModel& m : *sorted) names.push_back(m.name);
  EXPECT_EQ(names, (std::vector<std::string>{"d", "a", "b", "c"}));
}

TEST(GoldModelsTest, CyclesUnknownAndDuplicateModelsAreErrors) {
  Result<std::vector<SqlModel>> cycle = SortSqlModels(
      {ParseSqlModel("z", "-- depends: a\nSELECT 1"), ParseSqlModel("a", "-- depends: b\nSELECT 1"),
       ParseSqlModel("b", "-- depends: a\nSELECT 1")});
  ASSERT_FALSE(cycle.ok());
  EXPECT_EQ(cycle.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(cycle.status().message().find("a -> b -> a"), std::string::npos)
      << cycle.status().message();

  Result<std::vector<SqlModel>> self = SortSqlModels({ParseSqlModel("s", "-- depends: s\n")});
  EXPECT_FALSE(self.ok());

  Result<std::vector<SqlModel>> unknown =
      SortSqlModels({ParseSqlModel("a", "-- depends: nope\nSELECT 1")});
  ASSERT_FALSE(unknown.ok());
  EXPECT_NE(unknown.status().message().find("a depends on unknown model nope"), std::string::npos)
      << unknown.status().message();

  Result<std::vector<SqlModel>> twice =
      SortSqlModels({ParseSqlModel("a", "SELECT 1"), ParseSqlModel("a", "SELECT 2")});
  EXPECT_FALSE(twice.ok());
}

}  // namespace
}  // namespace recsys
