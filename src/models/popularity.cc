// Popularity: every user gets the most popular eligible items. The baseline every model is
// reported against (DESIGN.md §5) and the fallback for users without history.
//
// mode=count counts users, weight sums interaction weights, trending sums weights decayed by age
// (halved every half_life_days before FitOptions::side's now_ms; without entry times it is
// weight). scope=category puts the items of the user's top category (by summed history weight,
// from side data categories) before all others; without categories it is scope=all.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "models/artifact.h"
#include "models/model_factories.h"
#include "models/recommender.h"

namespace recsys {
namespace {

enum class PopularityMode { kCount, kWeight, kTrending };

class PopularityRecommender : public Recommender {
 public:
  PopularityRecommender(PopularityMode mode, double half_life_days, bool by_category)
      : mode_(mode), half_life_days_(half_life_days), by_category_(by_category) {}

  std::string name() const override { return "popularity"; }
  std::string spec() const override {
    // Parameters that only matter in some modes are listed only there, so that the specs of
    // plain count and weight popularity stay as they always were.
    std::string s =
        std::string("popularity:mode=") + (mode_ == PopularityMode::kCount    ? "count"
                                           : mode_ == PopularityMode::kWeight ? "weight"
                                                                              : "trending");
    if (mode_ == PopularityMode::kTrending) {
      char buf[32];
      std::snprintf(buf, sizeof(buf), "%g", half_life_days_);
      s += std::string(",half_life_days=") + buf;
    }
    if (by_category_) s += ",scope=category";
    return s;
  }

  Status Fit(const CsrMatrix& user_items, const FitOptions& options) override {
    const ItemSideData* side = options.side;
    const bool timed = mode_ == PopularityMode::kTrending && side != nullptr &&
                       static_cast<int64_t>(side->entry_time_ms.size()) == user_items.nnz();
    int64_t now = timed ? side->now_ms : 0;
    if (timed && now == 0) {
      for (int64_t t : side->entry_time_ms) now = std::max(now, t);
    }
    constexpr double kMsPerDay = 86'400'000.0;
    scores_.assign(static_cast<size_t>(user_items.cols), 0.0f);
    for (int64_t j = 0; j < user_items.nnz(); ++j) {
      double v = mode_ == PopularityMode::kCount ? 1.0 : user_items.data[j];
      if (timed) {
        const double age_days =
            std::max<double>(0, static_cast<double>(now - side->entry_time_ms[j]) / kMsPerDay);
        v *= std::exp2(-age_days / half_life_days_);
      }
      scores_[static_cast<size_t>(user_items.indices[j])] += static_cast<float>(v);
    }
    category_.clear();
    if (by_category_ && side != nullptr &&
        static_cast<int64_t>(side->category.size()) == user_items.cols) {
      category_ = side->category;
    }
    fitted_ = true;
    return Status::OK();
  }

  Status Recommend(std::span<const int32_t> users, const CsrMatrix& history, int k,
                   const RecommendOptions& options,
                   std::vector<std::vector<ItemScore>>* out) const override {
    if (!fitted_) return Status::InvalidArgument("popularity: Recommend before Fit or Load");
    RECSYS_RETURN_IF_ERROR(
        CheckRecommendInput("popularity", users, history, static_cast<int64_t>(scores_.size())));
    out->assign(users.size(), {});
    std::vector<float> boosted;
    const float offset =
        category_.empty() ? 0.0f : *std::max_element(scores_.begin(), scores_.end()) + 1.0f;
    for (size_t n = 0; n < users.size(); ++n) {
      int32_t u = users[n];
      std::span<const int32_t> excluded;
      if (options.exclude_history) excluded = history.RowIndices(u);
      const int32_t top = TopCategory(history, u);
      if (top < 0) {
        TopK(scores_, k, excluded, options.item_filter, &(*out)[n]);
        continue;
      }
      // Items of the user's top category first: their scores are lifted above every other's.
      boosted = scores_;
      for (size_t i = 0; i < boosted.size(); ++i) {
        if (category_[i] == top) boosted[i] += offset;
      }
      TopK(boosted, k, excluded, options.item_filter, &(*out)[n]);
    }
    return Status::OK();
  }

  Status SimilarItems(std::span<const int32_t> items, int k,
                      std::vector<std::vector<ItemScore>>* out) const override {
    if (!fitted_) return Status::InvalidArgument("popularity: SimilarItems before Fit or Load");
    out->assign(items.size(), {});
    for (size_t n = 0; n < items.size(); ++n) {
      int32_t item = items[n];
      if (item < 0 || item >= static_cast<int32_t>(scores_.size())) {
        return Status::InvalidArgument("popularity: item " + std::to_string(item) +
                                       " is not in the model (" + std::to_string(scores_.size()) +
                                       " items)");
      }
      const int32_t self[1] = {item};
      TopK(scores_, k, self, nullptr, &(*out)[n]);
    }
    return Status::OK();
  }

  Status Save(const std::string& dir) const override {
    if (!fitted_) return Status::InvalidArgument("popularity: Save before Fit or Load");
    RECSYS_RETURN_IF_ERROR(WriteModelSpec(dir, spec()));
    DenseArray<float> a;
    a.rows = static_cast<int64_t>(scores_.size());
    a.cols = 1;
    a.values = scores_;
    RECSYS_RETURN_IF_ERROR(WriteArray(dir + "/item_scores.f32", a));
    if (!by_category_) return Status::OK();
    return WriteArray(dir + "/item_category.i32",
                      DenseArray<int32_t>{static_cast<int64_t>(category_.size()), 1, category_});
  }

  Status Load(const std::string& dir) override {
    RECSYS_RETURN_IF_ERROR(CheckModelSpec(dir, spec()));
    RECSYS_ASSIGN_OR_RETURN(DenseArray<float> a, ReadFloatArray(dir + "/item_scores.f32"));
    if (a.cols != 1) return Status::Corruption(dir + "/item_scores.f32: not one column");
    category_.clear();
    if (by_category_) {
      RECSYS_ASSIGN_OR_RETURN(DenseArray<int32_t> c, ReadInt32Array(dir + "/item_category.i32"));
      if (!c.values.empty() && c.values.size() != a.values.size()) {
        return Status::Corruption(dir + "/item_category.i32: not one entry per item");
      }
      category_ = std::move(c.values);
    }
    scores_ = std::move(a.values);
    fitted_ = true;
    return Status::OK();
  }

 private:
  // The category with the most history weight of user u, -1 when unknown or not by category.
  int32_t TopCategory(const CsrMatrix& history, int32_t u) const {
    if (category_.empty()) return -1;
    std::vector<std::pair<int32_t, double>> sums;
    std::span<const int32_t> seen = history.RowIndices(u);
    std::span<const float> values = history.RowData(u);
    for (size_t m = 0; m < seen.size(); ++m) {
      const int32_t c = category_[static_cast<size_t>(seen[m])];
      if (c < 0) continue;
      auto it = std::find_if(sums.begin(), sums.end(), [c](const auto& p) { return p.first == c; });
      if (it == sums.end()) {
        sums.push_back({c, values[m]});
      } else {
        it->second += values[m];
      }
    }
    int32_t best = -1;
    double best_sum = 0;
    for (const auto& [c, sum] : sums) {
      if (best < 0 || sum > best_sum || (sum == best_sum && c < best)) {
        best = c;
        best_sum = sum;
      }
    }
    return best;
  }

  PopularityMode mode_;
  double half_life_days_;
  bool by_category_;
  bool fitted_ = false;
  // Per item: users (count), summed weights (weight) or summed decayed weights (trending).
  std::vector<float> scores_;
  std::vector<int32_t> category_;  // per item, with scope=category and known categories
};

}  // namespace

Result<std::unique_ptr<Recommender>> MakePopularity(const ModelSpec& spec) {
  RECSYS_ASSIGN_OR_RETURN(std::string mode,
                          spec.String("mode", "count", {"count", "weight", "trending"}));
  RECSYS_ASSIGN_OR_RETURN(double half_life_days, spec.Double("half_life_days", 7, 1e-3, 1e6));
  RECSYS_ASSIGN_OR_RETURN(std::string scope, spec.String("scope", "all", {"all", "category"}));
  const PopularityMode m = mode == "count"    ? PopularityMode::kCount
                           : mode == "weight" ? PopularityMode::kWeight
                                              : PopularityMode::kTrending;
  return std::unique_ptr<Recommender>(
      std::make_unique<PopularityRecommender>(m, half_life_days, scope == "category"));
}

}  // namespace recsys
