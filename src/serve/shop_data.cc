#include "serve/shop_data.h"

#include <algorithm>
#include <cctype>
#include <map>
#include <numeric>
#include <utility>

#include "core/clock.h"
#include "core/files.h"
#include "lake/duckdb.h"
#include "process/catalog.h"

namespace recsys {
namespace {

constexpr size_t kTrendingSize = 1000;
// Rows fetched per query when reading a large table, so a 200,000-row table never sits in one
// QueryResult (whose cells carry a string each).
constexpr int64_t kFetchRows = 50000;
// Separates the elements of a VARCHAR[] flattened to text.
constexpr char kListSeparator = '\x1f';

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

std::vector<std::string> Words(std::string_view text) {
  std::vector<std::string> words;
  size_t i = 0;
  while (i < text.size()) {
    while (i < text.size() && std::isspace(static_cast<unsigned char>(text[i]))) ++i;
    size_t j = i;
    while (j < text.size() && !std::isspace(static_cast<unsigned char>(text[j]))) ++j;
    if (j > i) words.push_back(Lower(text.substr(i, j - i)));
    i = j;
  }
  return words;
}

// The .parquet files of a folder (not temporaries: "<name>.tmp-<pid>-<n>"), sorted; empty if there
// are none.
std::vector<std::string> ParquetFiles(const std::string& dir) {
  std::vector<std::string> files;
  auto names = ListDir(dir);
  if (!names.ok()) return files;
  for (const std::string& name : *names) {
    if (name.size() > 8 && name.ends_with(".parquet") && name.find(".tmp-") == std::string::npos) {
      files.push_back(dir + "/" + name);
    }
  }
  std::sort(files.begin(), files.end());
  return files;
}

// read_parquet([...]) over files. REQUIRES: files is not empty.
std::string ReadParquet(const std::vector<std::string>& files, std::string_view more = "") {
  std::string sql = "read_parquet([";
  for (size_t i = 0; i < files.size(); ++i) {
    if (i > 0) sql += ", ";
    sql += DuckDb::Quote(files[i]);
  }
  sql += "]";
  sql += more;
  sql += ")";
  return sql;
}

// Runs select (which must not end in ORDER BY) ordered by order_by and hands its rows to fn in
// slices of kFetchRows, in order. fn(result, row) is called once per row.
template <typename Fn>
Status FetchInSlices(DuckDb* db, const std::string& select, const std::string& order_by, Fn&& fn) {
  RECSYS_RETURN_IF_ERROR(
      db->Execute("CREATE OR REPLACE TEMP TABLE shop_slice AS SELECT row_number() OVER (ORDER BY " +
                  order_by + ") AS shop_rn, * FROM (" + select + ")"));
  RECSYS_ASSIGN_OR_RETURN(int64_t rows, db->QueryInt64("SELECT count(*) FROM shop_slice"));
  for (int64_t from = 1; from <= rows; from += kFetchRows) {
    RECSYS_ASSIGN_OR_RETURN(
        QueryResult r, db->Query("SELECT * EXCLUDE (shop_rn) FROM shop_slice WHERE shop_rn >= " +
                                 std::to_string(from) + " AND shop_rn < " +
                                 std::to_string(from + kFetchRows) + " ORDER BY shop_rn"));
    for (size_t row = 0; row < r.rows(); ++row) fn(r, row);
  }
  return db->Execute("DROP TABLE shop_slice");
}

std::string TextOr(const QueryResult& r, size_t row, size_t col) {
  return r.IsNull(row, col) ? std::string() : r.GetString(row, col);
}
int64_t IntOr(const QueryResult& r, size_t row, size_t col) {
  return r.IsNull(row, col) ? 0 : r.GetInt64(row, col);
}
double DoubleOr(const QueryResult& r, size_t row, size_t col) {
  return r.IsNull(row, col) ? 0.0 : r.GetDouble(row, col);
}
std::string TimeOr(const QueryResult& r, size_t row, size_t col) {
  return r.IsNull(row, col) ? std::string() : FormatRfc3339Millis(r.GetInt64(row, col));
}

// a / b, or null when b is 0.
void WriteRatio(int64_t a, int64_t b, JsonWriter* w) {
  if (b == 0) {
    w->Null();
  } else {
    w->Double(static_cast<double>(a) / static_cast<double>(b));
  }
}

}  // namespace

// Builds a ShopData from the lake; a friend, so ShopData keeps only its read side public.
struct ShopDataLoader {
  std::string root;
  GoldCurrent current;
  std::unique_ptr<DuckDb> db;
  std::shared_ptr<ShopData> out = std::make_shared<ShopData>();

  // The gold table's files in the current snapshot; empty when it has none.
  std::vector<std::string> Gold(const std::string& table) const {
    return ParquetFiles(root + "/gold/" + table + "/snapshot=" + current.snapshot);
  }

  // A null or unreadable as_of leaves the time unknown; nothing else depends on it.
  void ReadAsOf() {
    if (std::optional<int64_t> ms = ParseRfc3339(current.as_of)) {
      out->as_of_ms_ = *ms;
      out->as_of_ = FormatRfc3339Millis(*ms);
    }
  }

  Status LoadProducts() {
    const std::vector<std::string> analytics = Gold("product_analytics");
    const std::vector<std::string> hybrid = Gold("hybrid_features");
    const std::vector<std::string> silver = ParquetFiles(root + "/silver/products");
    // One relation per source, empty with the same columns when the source has no files.
    std::string pa =
        analytics.empty()
            ? "SELECT NULL::VARCHAR AS product_id, 0::BIGINT AS views, 0::BIGINT AS carts, "
              "0::BIGINT AS purchases, 0::BIGINT AS units, 0::DOUBLE AS revenue, 0::DOUBLE AS "
              "trending_score, NULL::VARCHAR AS category, NULL::VARCHAR AS brand, NULL::DOUBLE "
              "AS price WHERE false"
            : "SELECT product_id, views, carts, purchases, units, revenue, trending_score, "
              "category, brand, price FROM " +
                  ReadParquet(analytics);
    std::string hf =
        hybrid.empty()
            ? "SELECT NULL::VARCHAR AS product_id, NULL::VARCHAR AS category, NULL::VARCHAR AS "
              "top_category, NULL::VARCHAR AS brand, NULL::DOUBLE AS price, NULL::BOOLEAN AS "
              "in_stock, NULL::BOOLEAN AS discontinued, 0::DOUBLE AS popularity, 0::DOUBLE AS "
              "trending_score, NULL::TIMESTAMP AS created_at WHERE false"
            : "SELECT product_id, category, top_category, brand, price, in_stock, discontinued, "
              "popularity, trending_score, created_at FROM " +
                  ReadParquet(hybrid);
    // Silver products is rebuilt whole by each run; should two generations lie there (a crash
    // between writing and cleaning up), the latest update of each product wins.
    std::string sp =
        silver.empty()
            ? "SELECT NULL::VARCHAR AS product_id, NULL::VARCHAR AS title, NULL::VARCHAR AS "
              "description, NULL::VARCHAR AS category, NULL::VARCHAR AS brand, NULL::DOUBLE AS "
              "price, NULL::VARCHAR AS currency, NULL::TIMESTAMP AS created_at, NULL::BOOLEAN AS "
              "discontinued WHERE false"
            : "SELECT product_id, title, description, category, brand, price, currency, "
              "created_at, discontinued FROM " +
                  ReadParquet(silver, ", union_by_name = true, filename = true") +
                  " WHERE product_id IS NOT NULL QUALIFY row_number() OVER (PARTITION BY "
                  "product_id ORDER BY updated_at DESC NULLS LAST, filename DESC) = 1";
    const std::string select =
        "WITH pa AS (" + pa + "), hf AS (" + hf + "), sp AS (" + sp +
        "), ids AS (SELECT product_id FROM pa UNION SELECT product_id FROM hf UNION SELECT "
        "product_id FROM sp) "
        "SELECT ids.product_id, sp.title, sp.description, "
        "coalesce(sp.category, hf.category, pa.category) AS category, hf.top_category, "
        "coalesce(sp.brand, hf.brand, pa.brand) AS brand, sp.currency, "
        "CAST(coalesce(sp.price, hf.price, pa.price) AS DOUBLE) AS price, hf.in_stock, "
        "coalesce(hf.discontinued, sp.discontinued, false) AS discontinued, "
        "epoch_ms(coalesce(sp.created_at, hf.created_at)) AS created_at, pa.views, pa.carts, "
        "pa.purchases, pa.units, CAST(pa.revenue AS DOUBLE) AS revenue, "
        "coalesce(pa.trending_score, hf.trending_score) AS trending_score, hf.popularity "
        "FROM ids LEFT JOIN pa USING (product_id) LEFT JOIN hf USING (product_id) "
        "LEFT JOIN sp USING (product_id) WHERE ids.product_id IS NOT NULL";
    out->products_.reserve(100000);
    Status st =
        FetchInSlices(db.get(), select, "product_id", [&](const QueryResult& r, size_t row) {
          ProductInfo& p = out->products_.emplace_back();
          p.product_id = r.GetString(row, 0);
          p.title = TextOr(r, row, 1);
          p.description = TextOr(r, row, 2);
          p.category = TextOr(r, row, 3);
          p.top_category = TextOr(r, row, 4);
          if (p.top_category.empty() && !p.category.empty()) {
            p.top_category = std::string(
                Trim(std::string_view(p.category)
                         .substr(0, std::min(p.category.size(), p.category.find('>')))));
          }
          p.brand = TextOr(r, row, 5);
          p.currency = TextOr(r, row, 6);
          if (!r.IsNull(row, 7)) p.price = r.GetDouble(row, 7);
          p.in_stock = r.IsNull(row, 8) || r.GetInt64(row, 8) != 0;
          p.discontinued = !r.IsNull(row, 9) && r.GetInt64(row, 9) != 0;
          p.created_at = TimeOr(r, row, 10);
          p.views = IntOr(r, row, 11);
          p.carts = IntOr(r, row, 12);
          p.purchases = IntOr(r, row, 13);
          p.units = IntOr(r, row, 14);
          p.revenue = DoubleOr(r, row, 15);
          p.trending_score = DoubleOr(r, row, 16);
          p.popularity = DoubleOr(r, row, 17);
        });
    if (!st.ok()) return st.WithContext("lake " + root + ": reading products");
    out->products_.shrink_to_fit();
    return Status::OK();
  }

  Status LoadUsers() {
    const std::vector<std::string> features = Gold("user_features");
    if (features.empty()) return Status::OK();
    const std::vector<std::string> clusters = Gold("user_clusters");
    const std::string uc = clusters.empty()
                               ? "SELECT NULL::VARCHAR AS user_id, NULL::INTEGER AS cluster, "
                                 "NULL::DOUBLE AS distance WHERE false"
                               : "SELECT user_id, cluster, distance FROM " + ReadParquet(clusters);
    const std::string select =
        "SELECT f.user_id, epoch_ms(f.first_seen), epoch_ms(f.last_seen), f.recency_days, "
        "f.frequency, CAST(f.monetary AS DOUBLE), f.r_score, f.f_score, f.m_score, f.rfm_score, "
        "f.segment, f.sessions, f.product_views, f.add_to_carts, f.purchases, "
        "CAST(f.avg_order_value AS DOUBLE), array_to_string(f.top_categories, chr(31)), "
        "f.country, f.age_band, c.cluster, c.distance FROM " +
        ReadParquet(features) + " f LEFT JOIN (" + uc +
        ") c USING (user_id) WHERE f.user_id IS NOT NULL";
    out->users_.reserve(200000);
    Status st = FetchInSlices(db.get(), select, "user_id", [&](const QueryResult& r, size_t row) {
      UserProfile& u = out->users_.emplace_back();
      u.user_id = r.GetString(row, 0);
      u.first_seen = TimeOr(r, row, 1);
      u.last_seen = TimeOr(r, row, 2);
      u.recency_days = DoubleOr(r, row, 3);
      u.frequency = IntOr(r, row, 4);
      u.monetary = DoubleOr(r, row, 5);
      u.r_score = static_cast<int>(IntOr(r, row, 6));
      u.f_score = static_cast<int>(IntOr(r, row, 7));
      u.m_score = static_cast<int>(IntOr(r, row, 8));
      u.rfm_score = TextOr(r, row, 9);
      u.segment = TextOr(r, row, 10);
      u.sessions = IntOr(r, row, 11);
      u.product_views = IntOr(r, row, 12);
      u.add_to_carts = IntOr(r, row, 13);
      u.purchases = IntOr(r, row, 14);
      u.avg_order_value = DoubleOr(r, row, 15);
      if (!r.IsNull(row, 16)) {
        std::string_view rest = r.GetString(row, 16);
        while (!rest.empty()) {
          const size_t at = rest.find(kListSeparator);
          if (at > 0) u.top_categories.emplace_back(rest.substr(0, at));
          if (at == std::string_view::npos) break;
          rest.remove_prefix(at + 1);
        }
      }
      u.country = TextOr(r, row, 17);
      u.age_band = TextOr(r, row, 18);
      if (!r.IsNull(row, 19)) u.cluster = static_cast<int>(r.GetInt64(row, 19));
      out->user_distance_.push_back(DoubleOr(r, row, 20));
    });
    if (!st.ok()) return st.WithContext("lake " + root + ": reading user_features");
    out->users_.shrink_to_fit();
    return Status::OK();
  }

  Status LoadSegmentTrending() {
    const std::vector<std::string> interactions = Gold("interactions");
    const std::vector<std::string> features = Gold("user_features");
    if (interactions.empty() || features.empty()) return Status::OK();
    const std::string sql =
        "SELECT segment, product_id FROM (SELECT f.segment, i.product_id, row_number() OVER "
        "(PARTITION BY f.segment ORDER BY sum(i.weight) DESC, i.product_id) AS rank FROM " +
        ReadParquet(interactions) + " i JOIN (SELECT user_id, segment FROM " +
        ReadParquet(features) +
        ") f USING (user_id) WHERE f.segment IS NOT NULL AND i.product_id IS NOT NULL GROUP BY "
        "f.segment, i.product_id) WHERE rank <= " +
        std::to_string(kTrendingSize) + " ORDER BY segment, rank";
    Result<QueryResult> r = db->Query(sql);
    if (!r.ok()) return r.status().WithContext("lake " + root + ": segment trending");
    for (size_t row = 0; row < r->rows(); ++row) {
      out->segment_trending_[r->GetString(row, 0)].push_back(r->GetString(row, 1));
    }
    return Status::OK();
  }

  // The indexes, overall trending and the segment and cluster summaries, from what was read.
  void Derive() {
    ShopData& d = *out;
    d.product_index_.reserve(d.products_.size());
    d.search_text_.reserve(d.products_.size());
    d.category_lower_.reserve(d.products_.size());
    for (size_t i = 0; i < d.products_.size(); ++i) {
      const ProductInfo& p = d.products_[i];
      d.product_index_.emplace(p.product_id, i);
      // Fields apart, so a word never matches across two of them.
      d.search_text_.push_back(Lower(p.title) + '\n' + Lower(p.brand) + '\n' + Lower(p.category));
      d.category_lower_.emplace_back(Lower(p.category), Lower(p.top_category));
    }
    d.user_index_.reserve(d.users_.size());
    d.user_id_lower_.reserve(d.users_.size());
    for (size_t i = 0; i < d.users_.size(); ++i) {
      d.user_index_.emplace(d.users_[i].user_id, i);
      d.user_id_lower_.push_back(Lower(d.users_[i].user_id));
    }

    std::vector<size_t> order(d.products_.size());
    std::iota(order.begin(), order.end(), size_t{0});
    const size_t n = std::min(kTrendingSize, order.size());
    // products_ is in product_id order, so the index breaks ties by product_id.
    std::partial_sort(order.begin(), order.begin() + static_cast<std::ptrdiff_t>(n), order.end(),
                      [&](size_t a, size_t b) {
                        const double x = d.products_[a].trending_score;
                        const double y = d.products_[b].trending_score;
                        return x != y ? x > y : a < b;
                      });
    for (size_t k = 0; k < n; ++k) d.trending_.push_back(d.products_[order[k]].product_id);

    std::map<std::string, ShopData::SegmentSummary> segments;
    std::map<int, ShopData::ClusterSummary> clusters;
    std::map<int, std::map<std::string, int64_t>> cluster_segments;
    for (size_t i = 0; i < d.users_.size(); ++i) {
      const UserProfile& u = d.users_[i];
      ShopData::SegmentSummary& s = segments[u.segment];
      s.segment = u.segment;
      ++s.users;
      if (u.frequency > 0) ++s.buyers;
      s.revenue += u.monetary;
      s.avg_recency_days += u.recency_days;
      s.avg_frequency += static_cast<double>(u.frequency);
      s.avg_monetary += u.monetary;
      if (u.cluster) {
        ShopData::ClusterSummary& c = clusters[*u.cluster];
        c.cluster = *u.cluster;
        ++c.users;
        c.avg_distance += d.user_distance_[i];
        ++cluster_segments[*u.cluster][u.segment];
      }
    }
    for (auto& [name, s] : segments) {
      const double users = static_cast<double>(s.users);
      s.avg_recency_days /= users;
      s.avg_frequency /= users;
      s.avg_monetary /= users;
      d.segments_.push_back(s);
    }
    std::stable_sort(d.segments_.begin(), d.segments_.end(),
                     [](const ShopData::SegmentSummary& a, const ShopData::SegmentSummary& b) {
                       return a.users > b.users;
                     });
    for (auto& [k, c] : clusters) {
      c.avg_distance /= static_cast<double>(c.users);
      int64_t best = -1;
      for (const auto& [segment, count] : cluster_segments[k]) {
        if (count > best) {
          best = count;
          c.top_segment = segment;
        }
      }
      d.clusters_.push_back(c);
    }
    d.user_distance_.clear();
    d.user_distance_.shrink_to_fit();
  }
};

Result<std::shared_ptr<const ShopData>> ShopData::Load(const std::string& lake_root) {
  ShopDataLoader loader;
  loader.root = lake_root;
  Result<GoldCurrent> current = ReadGoldCurrent(lake_root);
  if (current.status().code() == StatusCode::kNotFound) return Empty();
  if (!current.ok()) return current.status();
  loader.current = std::move(current).value();
  loader.out->snapshot_ = loader.current.snapshot;
  loader.ReadAsOf();
  RECSYS_ASSIGN_OR_RETURN(loader.db, DuckDb::Open(""));
  RECSYS_RETURN_IF_ERROR(loader.LoadProducts());
  RECSYS_RETURN_IF_ERROR(loader.LoadUsers());
  RECSYS_RETURN_IF_ERROR(loader.LoadSegmentTrending());
  loader.db.reset();
  loader.Derive();
  return std::shared_ptr<const ShopData>(std::move(loader.out));
}

std::shared_ptr<const ShopData> ShopData::Empty() {
  static const std::shared_ptr<const ShopData> empty = std::make_shared<ShopData>();
  return empty;
}

const ProductInfo* ShopData::FindProduct(std::string_view product_id) const {
  auto it = product_index_.find(product_id);
  return it == product_index_.end() ? nullptr : &products_[it->second];
}

ProductPage ShopData::ListProducts(const ProductQuery& query) const {
  const std::string category = Lower(Trim(query.category));
  const std::string prefix = category + " > ";
  const std::vector<std::string> words = Words(query.text);
  const int64_t offset = std::max<int64_t>(query.offset, 0);
  const int64_t limit = std::clamp<int64_t>(query.limit, 1, 1000);
  ProductPage page;
  for (size_t i = 0; i < products_.size(); ++i) {
    if (!category.empty()) {
      const auto& [path, top] = category_lower_[i];
      if (path != category && top != category && !path.starts_with(prefix)) continue;
    }
    bool all = true;
    for (const std::string& word : words) {
      if (search_text_[i].find(word) == std::string::npos) {
        all = false;
        break;
      }
    }
    if (!all) continue;
    if (page.total >= offset && page.total < offset + limit) {
      page.products.push_back(&products_[i]);
    }
    ++page.total;
  }
  return page;
}

std::string_view ShopData::Title(std::string_view product_id) const {
  const ProductInfo* p = FindProduct(product_id);
  return p != nullptr && !p->title.empty() ? std::string_view(p->title) : product_id;
}

const UserProfile* ShopData::FindUser(std::string_view user_id) const {
  auto it = user_index_.find(user_id);
  return it == user_index_.end() ? nullptr : &users_[it->second];
}

std::vector<const UserProfile*> ShopData::SearchUsers(std::string_view query, size_t limit) const {
  const std::string needle = Lower(query);
  std::vector<const UserProfile*> found;
  for (size_t i = 0; i < users_.size() && found.size() < limit; ++i) {
    if (user_id_lower_[i].find(needle) != std::string::npos) found.push_back(&users_[i]);
  }
  return found;
}

std::span<const std::string> ShopData::Trending(std::string_view segment) const {
  if (!segment.empty()) {
    auto it = segment_trending_.find(std::string(segment));
    if (it != segment_trending_.end() && !it->second.empty()) return it->second;
  }
  return trending_;
}

void ShopData::WriteProduct(const ProductInfo& p, JsonWriter* w) const {
  w->BeginObject();
  w->Key("product_id");
  w->String(p.product_id);
  w->Key("title");
  w->String(p.title);
  w->Key("description");
  w->String(p.description);
  w->Key("category");
  w->String(p.category);
  w->Key("top_category");
  w->String(p.top_category);
  w->Key("brand");
  w->String(p.brand);
  w->Key("price");
  if (p.price) {
    w->Double(*p.price);
  } else {
    w->Null();
  }
  w->Key("currency");
  w->String(p.currency);
  w->Key("in_stock");
  w->Bool(p.in_stock);
  w->Key("discontinued");
  w->Bool(p.discontinued);
  w->Key("available");
  w->Bool(p.available());
  w->Key("created_at");
  w->String(p.created_at);
  w->Key("views");
  w->Int(p.views);
  w->Key("carts");
  w->Int(p.carts);
  w->Key("purchases");
  w->Int(p.purchases);
  w->Key("units");
  w->Int(p.units);
  w->Key("revenue");
  w->Double(p.revenue);
  w->Key("trending_score");
  w->Double(p.trending_score);
  w->Key("popularity");
  w->Double(p.popularity);
  w->EndObject();
}

void ShopData::WriteProfile(const UserProfile& u, JsonWriter* w) const {
  w->BeginObject();
  w->Key("user_id");
  w->String(u.user_id);
  w->Key("first_seen");
  w->String(u.first_seen);
  w->Key("last_seen");
  w->String(u.last_seen);
  w->Key("recency_days");
  w->Double(u.recency_days);
  w->Key("frequency");
  w->Int(u.frequency);
  w->Key("monetary");
  w->Double(u.monetary);
  w->Key("r_score");
  w->Int(u.r_score);
  w->Key("f_score");
  w->Int(u.f_score);
  w->Key("m_score");
  w->Int(u.m_score);
  w->Key("rfm_score");
  w->String(u.rfm_score);
  w->Key("segment");
  w->String(u.segment);
  w->Key("sessions");
  w->Int(u.sessions);
  w->Key("product_views");
  w->Int(u.product_views);
  w->Key("add_to_carts");
  w->Int(u.add_to_carts);
  w->Key("purchases");
  w->Int(u.purchases);
  w->Key("avg_order_value");
  w->Double(u.avg_order_value);
  w->Key("top_categories");
  w->BeginArray();
  for (const std::string& c : u.top_categories) w->String(c);
  w->EndArray();
  w->Key("country");
  w->String(u.country);
  w->Key("age_band");
  w->String(u.age_band);
  w->Key("cluster");
  if (u.cluster) {
    w->Int(*u.cluster);
  } else {
    w->Null();
  }
  w->EndObject();
}

void ShopData::WriteSegments(JsonWriter* w) const {
  w->BeginObject();
  w->Key("snapshot");
  w->String(snapshot_);
  w->Key("segments");
  w->BeginArray();
  for (const SegmentSummary& s : segments_) {
    w->BeginObject();
    w->Key("segment");
    w->String(s.segment);
    w->Key("users");
    w->Int(s.users);
    w->Key("buyers");
    w->Int(s.buyers);
    w->Key("revenue");
    w->Double(s.revenue);
    w->Key("avg_recency_days");
    w->Double(s.avg_recency_days);
    w->Key("avg_frequency");
    w->Double(s.avg_frequency);
    w->Key("avg_monetary");
    w->Double(s.avg_monetary);
    w->EndObject();
  }
  w->EndArray();
  w->Key("clusters");
  w->BeginArray();
  for (const ClusterSummary& c : clusters_) {
    w->BeginObject();
    w->Key("cluster");
    w->Int(c.cluster);
    w->Key("users");
    w->Int(c.users);
    w->Key("avg_distance");
    w->Double(c.avg_distance);
    w->Key("top_segment");
    w->String(c.top_segment);
    w->EndObject();
  }
  w->EndArray();
  w->EndObject();
}

void ShopData::WriteProductAnalytics(std::string_view sort, size_t limit, JsonWriter* w) const {
  auto key = [&](const ProductInfo& p) -> double {
    if (sort == "revenue") return p.revenue;
    if (sort == "views") return static_cast<double>(p.views);
    if (sort == "purchases") return static_cast<double>(p.purchases);
    return p.trending_score;
  };
  std::vector<size_t> order(products_.size());
  std::iota(order.begin(), order.end(), size_t{0});
  const size_t n = std::min(limit, order.size());
  std::partial_sort(order.begin(), order.begin() + static_cast<std::ptrdiff_t>(n), order.end(),
                    [&](size_t a, size_t b) {
                      const double x = key(products_[a]), y = key(products_[b]);
                      return x != y ? x > y : a < b;
                    });
  w->BeginObject();
  w->Key("snapshot");
  w->String(snapshot_);
  w->Key("sort");
  w->String(sort);
  w->Key("products");
  w->BeginArray();
  for (size_t k = 0; k < n; ++k) {
    const ProductInfo& p = products_[order[k]];
    w->BeginObject();
    w->Key("product_id");
    w->String(p.product_id);
    w->Key("title");
    w->String(p.title);
    w->Key("category");
    w->String(p.category);
    w->Key("views");
    w->Int(p.views);
    w->Key("carts");
    w->Int(p.carts);
    w->Key("purchases");
    w->Int(p.purchases);
    w->Key("revenue");
    w->Double(p.revenue);
    w->Key("view_to_cart");
    WriteRatio(p.carts, p.views, w);
    w->Key("cart_to_purchase");
    WriteRatio(p.purchases, p.carts, w);
    w->Key("view_to_purchase");
    WriteRatio(p.purchases, p.views, w);
    w->Key("trending_score");
    w->Double(p.trending_score);
    w->EndObject();
  }
  w->EndArray();
  w->EndObject();
}

}  // namespace recsys
