#include "serve/shop_data.h"

#include <gtest/gtest.h>
#include <simdjson.h>

#include <algorithm>
#include <cctype>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "core/clock.h"
#include "core/files.h"
#include "core/temp_dir.h"
#include "generate/generator.h"
#include "ingest/embedded_log.h"
#include "lake/duckdb.h"
#include "lake/object_store.h"
#include "process/catalog.h"
#include "process/gold.h"
#include "process/silver.h"
#include "serve/test_lake.h"

namespace recsys {
namespace {

std::string Lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

// A generated shop through the pipeline; its event log sits in the lake folder (under log/).
Status BuildLake(const std::string& root, const GeneratorOptions& g) {
  RECSYS_ASSIGN_OR_RETURN(std::unique_ptr<EventLog> log, OpenEmbeddedLog(root + "/log", {}));
  return BuildGeneratedLake(root, log.get(), g);
}

// One small generated lake for the whole suite (building it takes a few seconds).
class ShopDataTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new TempDir("shop-data-test");
    GeneratorOptions g;
    g.users = 300;
    g.products = 120;
    g.days = 4;
    Status st = BuildLake(dir_->path(), g);
    ASSERT_TRUE(st.ok()) << st.ToString();
    auto data = ShopData::Load(dir_->path());
    ASSERT_TRUE(data.ok()) << data.status().ToString();
    data_ = new std::shared_ptr<const ShopData>(*data);
  }
  static void TearDownTestSuite() {
    delete data_;
    data_ = nullptr;
    delete dir_;
    dir_ = nullptr;
  }

  void SetUp() override {
    ASSERT_NE(data_, nullptr);
    auto db = DuckDb::Open("");
    ASSERT_TRUE(db.ok());
    db_ = std::move(*db);
    auto views = RegisterLakeViews(db_.get(), root());
    ASSERT_TRUE(views.ok()) << views.status().ToString();
  }

  static const std::string& root() { return dir_->path(); }
  const ShopData& data() const { return **data_; }

  QueryResult Query(const std::string& sql) {
    auto r = db_->Query(sql);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? std::move(*r) : QueryResult();
  }
  std::vector<std::string> Strings(const std::string& sql) {
    QueryResult r = Query(sql);
    std::vector<std::string> out;
    for (size_t i = 0; i < r.rows(); ++i) out.push_back(r.GetString(i, 0));
    return out;
  }

  static TempDir* dir_;
  static std::shared_ptr<const ShopData>* data_;
  std::unique_ptr<DuckDb> db_;
};
TempDir* ShopDataTest::dir_ = nullptr;
std::shared_ptr<const ShopData>* ShopDataTest::data_ = nullptr;

std::vector<std::string> Ids(const ProductPage& page) {
  std::vector<std::string> ids;
  for (const ProductInfo* p : page.products) ids.push_back(p->product_id);
  return ids;
}

TEST(ShopDataEmptyTest, LakeWithoutGoldLoadsAsEmpty) {
  TempDir dir;
  auto data = ShopData::Load(dir.path());
  ASSERT_TRUE(data.ok()) << data.status().ToString();
  const ShopData& d = **data;
  EXPECT_EQ(d.snapshot(), "");
  EXPECT_EQ(d.as_of(), "");
  EXPECT_EQ(d.as_of_ms(), 0);
  EXPECT_EQ(d.product_count(), 0);
  EXPECT_EQ(d.FindProduct("p000001"), nullptr);
  EXPECT_EQ(d.FindUser("u000001"), nullptr);
  EXPECT_TRUE(d.Trending("").empty());
  EXPECT_TRUE(d.SearchUsers("u", 10).empty());
  EXPECT_EQ(d.ListProducts({}).total, 0);
  EXPECT_EQ(d.Title("p9"), "p9");
  JsonWriter w;
  d.WriteSegments(&w);
  EXPECT_EQ(w.str(), R"({"snapshot":"","segments":[],"clusters":[]})");
  EXPECT_EQ(ShopData::Empty()->product_count(), 0);
}

TEST_F(ShopDataTest, SnapshotAndAsOfAreGoldsCurrent) {
  auto current = ReadGoldCurrent(root());
  ASSERT_TRUE(current.ok());
  EXPECT_EQ(data().snapshot(), current->snapshot);
  QueryResult r = Query("SELECT epoch_ms(max(event_time)) FROM clickstream");
  ASSERT_EQ(r.rows(), 1u);
  // as_of is the latest event_time in silver: at least the latest click.
  EXPECT_GE(data().as_of_ms(), r.GetInt64(0, 0));
  EXPECT_EQ(data().as_of(), FormatRfc3339Millis(data().as_of_ms()));
  EXPECT_EQ(ParseRfc3339(current->as_of), data().as_of_ms());
}

TEST_F(ShopDataTest, ProductsCarrySilverTitlesAndPrices) {
  QueryResult r = Query(
      "SELECT product_id, title, CAST(price AS DOUBLE), currency, category, brand FROM products "
      "ORDER BY product_id");
  ASSERT_GT(r.rows(), 100u);
  EXPECT_EQ(data().product_count(), static_cast<int64_t>(r.rows()));
  for (size_t i = 0; i < r.rows(); ++i) {
    const ProductInfo* p = data().FindProduct(r.GetString(i, 0));
    ASSERT_NE(p, nullptr) << r.GetString(i, 0);
    EXPECT_EQ(p->title, r.GetString(i, 1));
    ASSERT_TRUE(p->price.has_value());
    EXPECT_DOUBLE_EQ(*p->price, r.GetDouble(i, 2));
    EXPECT_EQ(p->currency, r.GetString(i, 3));
    EXPECT_EQ(p->category, r.GetString(i, 4));
    EXPECT_EQ(p->brand, r.GetString(i, 5));
    EXPECT_EQ(data().Title(p->product_id), p->title);
  }
  // Analytics come from gold product_analytics.
  QueryResult a = Query(
      "SELECT product_id, views, purchases, CAST(revenue AS DOUBLE) FROM product_analytics "
      "ORDER BY views DESC, product_id LIMIT 1");
  ASSERT_EQ(a.rows(), 1u);
  const ProductInfo* top = data().FindProduct(a.GetString(0, 0));
  ASSERT_NE(top, nullptr);
  EXPECT_GT(top->views, 0);
  EXPECT_EQ(top->views, a.GetInt64(0, 1));
  EXPECT_EQ(top->purchases, a.GetInt64(0, 2));
  EXPECT_DOUBLE_EQ(top->revenue, a.GetDouble(0, 3));
  EXPECT_FALSE(top->top_category.empty());
  EXPECT_FALSE(top->created_at.empty());
}

TEST_F(ShopDataTest, UnknownProductIsNotFound) {
  EXPECT_EQ(data().FindProduct("no-such-product"), nullptr);
  EXPECT_EQ(data().FindProduct(""), nullptr);
  EXPECT_EQ(data().Title("no-such-product"), "no-such-product");
}

TEST_F(ShopDataTest, ListProductsPagesThroughTheCatalogInIdOrder) {
  std::vector<std::string> all = Strings("SELECT product_id FROM products ORDER BY product_id");
  std::vector<std::string> seen;
  ProductQuery q;
  q.limit = 7;
  for (q.offset = 0;; q.offset += q.limit) {
    ProductPage page = data().ListProducts(q);
    EXPECT_EQ(page.total, static_cast<int64_t>(all.size()));
    if (page.products.empty()) break;
    EXPECT_LE(page.products.size(), 7u);
    for (const std::string& id : Ids(page)) seen.push_back(id);
  }
  EXPECT_EQ(seen, all);
  q.offset = static_cast<int64_t>(all.size()) + 5;
  EXPECT_TRUE(data().ListProducts(q).products.empty());
}

TEST_F(ShopDataTest, CategoryFilterMatchesTopCategoryAndPathIgnoringCase) {
  QueryResult r = Query(
      "SELECT category, trim(split_part(category, '>', 1)) AS top FROM products "
      "WHERE category LIKE '%>%' ORDER BY product_id LIMIT 1");
  ASSERT_EQ(r.rows(), 1u) << "the generated catalog has category paths";
  const std::string path = r.GetString(0, 0), top = r.GetString(0, 1);

  ProductQuery q;
  q.limit = 1000;
  q.category = Lower(top);
  std::transform(q.category.begin(), q.category.begin() + 1, q.category.begin(), ::toupper);
  std::vector<std::string> want =
      Strings("SELECT product_id FROM products WHERE trim(split_part(category, '>', 1)) = " +
              DuckDb::Quote(top) + " ORDER BY product_id");
  ProductPage page = data().ListProducts(q);
  EXPECT_EQ(page.total, static_cast<int64_t>(want.size()));
  EXPECT_EQ(Ids(page), want);
  EXPECT_LT(page.total, data().product_count());

  q.category = path;
  for (char& c : q.category) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  want = Strings("SELECT product_id FROM products WHERE category = " + DuckDb::Quote(path) +
                 " ORDER BY product_id");
  page = data().ListProducts(q);
  EXPECT_EQ(Ids(page), want);
  EXPECT_GT(page.total, 0);

  q.category = "No Such Category";
  EXPECT_EQ(data().ListProducts(q).total, 0);
}

TEST_F(ShopDataTest, TextSearchNeedsEveryWordInTitleBrandOrCategory) {
  const ProductInfo* p = data().FindProduct(
      Strings("SELECT product_id FROM products ORDER BY product_id LIMIT 1 OFFSET 10")[0]);
  ASSERT_NE(p, nullptr);
  // One word from the title and the brand, upper-cased: both must occur, in any field.
  const std::string title_word = p->title.substr(p->title.rfind(' ') + 1);
  const std::string brand_word = p->brand.substr(0, p->brand.find(' '));
  ProductQuery q;
  q.limit = 1000;
  q.text = "  " + title_word + " \t" + brand_word + " ";
  for (char& c : q.text) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  auto has = [](const std::string& w) {
    const std::string like = DuckDb::Quote("%" + Lower(w) + "%");
    return "(lower(title) LIKE " + like + " OR lower(brand) LIKE " + like +
           " OR lower(category) LIKE " + like + ")";
  };
  std::vector<std::string> want =
      Strings("SELECT product_id FROM products WHERE " + has(title_word) + " AND " +
              has(brand_word) + " ORDER BY product_id");
  ProductPage page = data().ListProducts(q);
  EXPECT_EQ(Ids(page), want);
  EXPECT_EQ(page.total, static_cast<int64_t>(want.size()));
  EXPECT_NE(std::find(want.begin(), want.end(), p->product_id), want.end());

  q.text = title_word + " zzqqxx";
  EXPECT_EQ(data().ListProducts(q).total, 0);
}

TEST_F(ShopDataTest, UserProfilesAreGoldUserFeaturesAndClusters) {
  QueryResult r = Query(
      "SELECT f.user_id, segment, rfm_score, r_score, f_score, m_score, frequency, "
      "CAST(monetary AS DOUBLE), len(top_categories), c.cluster FROM user_features f "
      "LEFT JOIN user_clusters c USING (user_id) ORDER BY user_id");
  ASSERT_GT(r.rows(), 100u);
  std::set<std::string> segments;
  int clustered = 0;
  for (size_t i = 0; i < r.rows(); ++i) {
    const UserProfile* u = data().FindUser(r.GetString(i, 0));
    ASSERT_NE(u, nullptr) << r.GetString(i, 0);
    EXPECT_EQ(u->segment, r.GetString(i, 1));
    EXPECT_EQ(u->rfm_score, r.GetString(i, 2));
    EXPECT_EQ(u->r_score, r.GetInt64(i, 3));
    EXPECT_EQ(u->f_score, r.GetInt64(i, 4));
    EXPECT_EQ(u->m_score, r.GetInt64(i, 5));
    EXPECT_EQ(u->frequency, r.GetInt64(i, 6));
    EXPECT_DOUBLE_EQ(u->monetary, r.GetDouble(i, 7));
    EXPECT_EQ(static_cast<int64_t>(u->top_categories.size()), r.GetInt64(i, 8));
    ASSERT_EQ(u->cluster.has_value(), !r.IsNull(i, 9));
    if (u->cluster) {
      EXPECT_EQ(*u->cluster, r.GetInt64(i, 9));
      ++clustered;
    }
    EXPECT_FALSE(u->last_seen.empty());
    segments.insert(u->segment);
  }
  EXPECT_GT(clustered, 0);
  EXPECT_GE(segments.size(), 2u);  // buyers and browsers at least
  EXPECT_EQ(data().FindUser("nobody"), nullptr);

  JsonWriter w;
  data().WriteProfile(*data().FindUser(r.GetString(0, 0)), &w);
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  ASSERT_FALSE(parser.parse(w.str()).get(doc)) << w.str();
  EXPECT_EQ(std::string(doc["segment"].get_string().value()), r.GetString(0, 1));
  EXPECT_TRUE(doc["top_categories"].is_array());
}

TEST_F(ShopDataTest, SearchUsersIsCaseInsensitiveSubstringInIdOrder) {
  std::vector<std::string> want =
      Strings("SELECT user_id FROM user_features WHERE user_id LIKE '%u0000%' ORDER BY user_id");
  ASSERT_GT(want.size(), 5u);
  std::vector<std::string> got;
  for (const UserProfile* u : data().SearchUsers("U0000", 1000)) got.push_back(u->user_id);
  EXPECT_EQ(got, want);
  auto few = data().SearchUsers("u0000", 3);
  ASSERT_EQ(few.size(), 3u);
  EXPECT_EQ(few[0]->user_id, want[0]);
  EXPECT_TRUE(data().SearchUsers("no-such-user", 10).empty());
}

TEST_F(ShopDataTest, TrendingOverallFollowsProductAnalytics) {
  std::vector<std::string> want = Strings(
      "SELECT product_id FROM product_analytics ORDER BY trending_score DESC, product_id "
      "LIMIT 1000");
  auto got = data().Trending("");
  EXPECT_EQ(std::vector<std::string>(got.begin(), got.end()), want);
  auto unknown = data().Trending("No Such Segment");
  EXPECT_EQ(std::vector<std::string>(unknown.begin(), unknown.end()), want);
}

TEST_F(ShopDataTest, SegmentTrendingListsWhatThatSegmentsUsersInteractedWith) {
  std::vector<std::string> segments =
      Strings("SELECT DISTINCT segment FROM user_features ORDER BY segment");
  ASSERT_GE(segments.size(), 2u);
  for (const std::string& segment : segments) {
    QueryResult r = Query(
        "SELECT i.product_id, sum(i.weight) AS w FROM interactions i JOIN user_features f "
        "USING (user_id) WHERE f.segment = " +
        DuckDb::Quote(segment) + " GROUP BY 1");
    std::map<std::string, double> weight;
    for (size_t i = 0; i < r.rows(); ++i) weight[r.GetString(i, 0)] = r.GetDouble(i, 1);
    auto got = data().Trending(segment);
    if (weight.empty()) continue;  // falls back to the overall list
    EXPECT_EQ(got.size(), std::min<size_t>(1000, weight.size())) << segment;
    for (size_t k = 0; k < got.size(); ++k) {
      ASSERT_TRUE(weight.count(got[k])) << segment << ": " << got[k];
      if (k > 0) {
        EXPECT_GE(weight[got[k - 1]] + 1e-9, weight[got[k]]) << segment;
      }
    }
  }
}

TEST_F(ShopDataTest, SegmentCountsAddUpToTheUsers) {
  JsonWriter w;
  data().WriteSegments(&w);
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  ASSERT_FALSE(parser.parse(w.str()).get(doc)) << w.str();
  EXPECT_EQ(std::string(doc["snapshot"].get_string().value()), data().snapshot());
  const int64_t users = Query("SELECT count(*) FROM user_features").GetInt64(0, 0);
  int64_t sum = 0, previous = INT64_MAX, buyers = 0;
  for (simdjson::dom::element s : doc["segments"].get_array()) {
    const int64_t n = s["users"].get_int64().value();
    EXPECT_LE(n, previous);
    previous = n;
    sum += n;
    buyers += s["buyers"].get_int64().value();
    EXPECT_LE(s["buyers"].get_int64().value(), n);
  }
  EXPECT_EQ(sum, users);
  EXPECT_EQ(buyers, Query("SELECT count(*) FROM user_features WHERE frequency > 0").GetInt64(0, 0));
  int64_t clustered = 0;
  for (simdjson::dom::element c : doc["clusters"].get_array()) {
    clustered += c["users"].get_int64().value();
    EXPECT_FALSE(std::string_view(c["top_segment"].get_string().value()).empty());
  }
  EXPECT_EQ(clustered, Query("SELECT count(*) FROM user_clusters").GetInt64(0, 0));
}

TEST_F(ShopDataTest, ProductAnalyticsAreSortedAsAsked) {
  for (const char* sort : {"trending", "revenue", "views", "purchases"}) {
    JsonWriter w;
    data().WriteProductAnalytics(sort, 25, &w);
    simdjson::dom::parser parser;
    simdjson::dom::element doc;
    ASSERT_FALSE(parser.parse(w.str()).get(doc)) << w.str();
    EXPECT_EQ(std::string(doc["sort"].get_string().value()), sort);
    const std::string field = std::string(sort) == "trending" ? "trending_score" : sort;
    std::vector<std::pair<double, std::string>> rows;
    for (simdjson::dom::element p : doc["products"].get_array()) {
      rows.emplace_back(p[field].get_double().value(),
                        std::string(p["product_id"].get_string().value()));
      if (p["views"].get_int64().value() == 0) {
        EXPECT_TRUE(p["view_to_cart"].is_null());
      }
    }
    ASSERT_EQ(rows.size(), 25u) << sort;
    for (size_t k = 1; k < rows.size(); ++k) {
      EXPECT_TRUE(rows[k - 1].first > rows[k].first ||
                  (rows[k - 1].first == rows[k].first && rows[k - 1].second < rows[k].second))
          << sort << " at " << k;
    }
    const std::string column = field == "trending_score" ? "trending_score" : field;
    std::vector<std::string> want = Strings("SELECT product_id FROM product_analytics ORDER BY " +
                                            column + " DESC, product_id LIMIT 25");
    std::vector<std::string> got;
    for (const auto& [value, id] : rows) got.push_back(id);
    EXPECT_EQ(got, want) << sort;
  }
}

TEST_F(ShopDataTest, ProductJsonHasEveryField) {
  JsonWriter w;
  data().WriteProduct(*data().FindProduct(data().Trending("")[0]), &w);
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  ASSERT_FALSE(parser.parse(w.str()).get(doc)) << w.str();
  for (const char* key :
       {"product_id", "title", "description", "category", "top_category", "brand", "price",
        "currency", "in_stock", "discontinued", "created_at", "views", "carts", "purchases",
        "units", "revenue", "trending_score", "popularity"}) {
    EXPECT_FALSE(doc[key].error()) << key;
  }
  ProductInfo unknown;
  unknown.product_id = "x";
  JsonWriter w2;
  data().WriteProduct(unknown, &w2);
  ASSERT_FALSE(parser.parse(w2.str()).get(doc));
  EXPECT_TRUE(doc["price"].is_null());
}

TEST_F(ShopDataTest, GoldWithoutUserClustersLeavesClustersEmpty) {
  TempDir copy("shop-data-copy");
  std::error_code ec;
  std::filesystem::copy(root(), copy.path(), std::filesystem::copy_options::recursive, ec);
  ASSERT_FALSE(ec) << ec.message();
  ASSERT_TRUE(RemoveAll(copy.path() + "/gold/user_clusters").ok());
  auto loaded = ShopData::Load(copy.path());
  ASSERT_TRUE(loaded.ok()) << loaded.status().ToString();
  const ShopData& d = **loaded;
  EXPECT_EQ(d.snapshot(), data().snapshot());
  const UserProfile* before = data().SearchUsers("", 1).at(0);
  ASSERT_TRUE(before->cluster.has_value());
  const UserProfile* u = d.FindUser(before->user_id);
  ASSERT_NE(u, nullptr);
  EXPECT_FALSE(u->cluster.has_value());
  EXPECT_EQ(u->segment, before->segment);
  EXPECT_EQ(d.SearchUsers("", SIZE_MAX).size(), data().SearchUsers("", SIZE_MAX).size());
  JsonWriter w;
  d.WriteSegments(&w);
  EXPECT_NE(w.str().find("\"clusters\":[]"), std::string::npos) << w.str();
}

// Load time of a large lake: RECSYS_SHOP_BENCH_USERS=200000 RECSYS_SHOP_BENCH_PRODUCTS=100000
// serve_test --gtest_also_run_disabled_tests --gtest_filter='*LargeLake*'.
TEST(ShopDataLargeTest, DISABLED_LargeLakeLoadsInSeconds) {
  const char* users = std::getenv("RECSYS_SHOP_BENCH_USERS");
  const char* products = std::getenv("RECSYS_SHOP_BENCH_PRODUCTS");
  GeneratorOptions g;
  g.users = users != nullptr ? std::atoll(users) : 200000;
  g.products = products != nullptr ? std::atoll(products) : 100000;
  g.days = 1;
  TempDir dir("shop-data-large");
  Status st = BuildLake(dir.path(), g);
  ASSERT_TRUE(st.ok()) << st.ToString();
  const int64_t start = SystemClock()->MonotonicNanos();
  auto data = ShopData::Load(dir.path());
  const double seconds = (SystemClock()->MonotonicNanos() - start) / 1e9;
  ASSERT_TRUE(data.ok()) << data.status().ToString();
  std::printf("loaded %lld products, %zu users' worth in %.2f s\n",
              static_cast<long long>((*data)->product_count()),
              (*data)->SearchUsers("", SIZE_MAX).size(), seconds);
  EXPECT_LT(seconds, 10.0);
}

}  // namespace
}  // namespace recsys
