// What the API tells about the shop beside recommendations, read once from the lake's current
// gold snapshot (and silver products for titles): the catalog with its analytics, user profiles
// with their RFM segment and cluster, segment summaries and trending items overall and per
// segment. Immutable after Load; serving swaps in a new instance when gold changes.
//
// Thread safety: const methods may be called from several threads at once.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "core/json_writer.h"
#include "core/status.h"

namespace recsys {

struct ProductInfo {
  std::string product_id;
  std::string title, description, category, top_category, brand, currency;
  std::optional<double> price;
  bool in_stock = true;  // false only when gold says in_stock = false
  bool discontinued = false;
  std::string created_at;  // RFC 3339 or ""
  // product_analytics, all time.
  int64_t views = 0, carts = 0, purchases = 0, units = 0;
  double revenue = 0;
  double trending_score = 0;
  double popularity = 0;  // hybrid_features.popularity
  bool available() const { return in_stock && !discontinued; }
};

struct UserProfile {
  std::string user_id;
  std::string first_seen, last_seen;  // RFC 3339
  double recency_days = 0;
  int64_t frequency = 0;
  double monetary = 0;
  int r_score = 0, f_score = 0, m_score = 0;
  std::string rfm_score, segment;
  int64_t sessions = 0, product_views = 0, add_to_carts = 0, purchases = 0;
  double avg_order_value = 0;
  std::vector<std::string> top_categories;
  std::string country, age_band;
  std::optional<int> cluster;  // user_clusters, when present
};

struct ProductQuery {
  int64_t offset = 0;
  int64_t limit = 20;    // REQUIRES: 1..1000
  std::string category;  // "" = all; else the product's category path or top category equals it,
                         // or its path starts with it followed by " > " (case-insensitive)
  std::string text;      // "" = all; else every word (case-insensitive) occurs in the title,
                         // brand or category
};

struct ProductPage {
  int64_t total = 0;                         // products matching, over all pages
  std::vector<const ProductInfo*> products;  // this page, in product_id order
};

class ShopData {
 public:
  // The current gold snapshot of the local lake at lake_root. With no gold yet, an empty
  // ShopData (snapshot() == "") rather than an error: the server answers what it can. Errors
  // name the file or table that could not be read.
  static Result<std::shared_ptr<const ShopData>> Load(const std::string& lake_root);
  // Nothing known (tests, and serving before gold exists).
  static std::shared_ptr<const ShopData> Empty();

  const std::string& snapshot() const { return snapshot_; }
  const std::string& as_of() const { return as_of_; }  // gold's as_of, RFC 3339, "" if none
  int64_t as_of_ms() const { return as_of_ms_; }       // 0 if none

  const ProductInfo* FindProduct(std::string_view product_id) const;
  ProductPage ListProducts(const ProductQuery& query) const;
  int64_t product_count() const { return static_cast<int64_t>(products_.size()); }
  // The product's title, or the id itself when it has none.
  std::string_view Title(std::string_view product_id) const;

  const UserProfile* FindUser(std::string_view user_id) const;
  // Users whose id contains query (case-insensitive), in user_id order, at most limit.
  std::vector<const UserProfile*> SearchUsers(std::string_view query, size_t limit) const;

  // Product ids by trending score, best first (at most 1000): overall when segment is "", else
  // among the interactions of that segment's users (gold interactions joined to user_features,
  // summing weights, ties by product_id); an unknown segment, or one whose users have no
  // interactions, gives the overall list.
  std::span<const std::string> Trending(std::string_view segment) const;

  // JSON for the routes (objects written into w, keys as in docs/api.md):
  // a product: every ProductInfo field (price null when unknown) and "available".
  void WriteProduct(const ProductInfo& p, JsonWriter* w) const;
  // a profile: every UserProfile field (cluster null when unknown).
  void WriteProfile(const UserProfile& u, JsonWriter* w) const;
  // {"snapshot", "segments": [{segment, users, buyers, revenue, avg_recency_days,
  //  avg_frequency, avg_monetary}], "clusters": [{cluster, users, avg_distance, top_segment}]},
  // segments by users descending.
  void WriteSegments(JsonWriter* w) const;
  // {"snapshot", "sort", "products": [{product_id, title, category, views, carts, purchases,
  //  revenue, view_to_cart, cart_to_purchase, view_to_purchase, trending_score}]}: the top
  // `limit` products by sort ("trending", "revenue", "views", "purchases"), ties by product_id.
  // REQUIRES: sort is one of those.
  void WriteProductAnalytics(std::string_view sort, size_t limit, JsonWriter* w) const;

 private:
  std::string snapshot_, as_of_;
  int64_t as_of_ms_ = 0;
  std::vector<ProductInfo> products_;  // by product_id
  std::unordered_map<std::string_view, size_t> product_index_;
  std::vector<UserProfile> users_;  // by user_id
  std::unordered_map<std::string_view, size_t> user_index_;
  std::vector<std::string> trending_;
  std::unordered_map<std::string, std::vector<std::string>> segment_trending_;

  // Derived at load, so requests only scan and compare.
  std::vector<std::string> search_text_;  // per product: lower-case title '\n' brand '\n' category
  std::vector<std::pair<std::string, std::string>> category_lower_;  // per product: path, top
  std::vector<std::string> user_id_lower_;                           // per user
  std::vector<double> user_distance_;  // per user, user_clusters.distance; only during Load
  struct SegmentSummary {
    std::string segment;
    int64_t users = 0, buyers = 0;  // buyers: frequency > 0
    double revenue = 0, avg_recency_days = 0, avg_frequency = 0, avg_monetary = 0;
  };
  struct ClusterSummary {
    int cluster = 0;
    int64_t users = 0;
    double avg_distance = 0;
    std::string top_segment;  // the most common segment; ties by name
  };
  std::vector<SegmentSummary> segments_;  // by users descending, ties by name
  std::vector<ClusterSummary> clusters_;  // by cluster
  friend struct ShopDataLoader;
};

}  // namespace recsys
