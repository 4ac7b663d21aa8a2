// Popularity: every user gets the most popular eligible items. The baseline every model is
// reported against (DESIGN.md §5) and the fallback for users without history.
#include <memory>
#include <string>
#include <vector>

#include "models/artifact.h"
#include "models/model_factories.h"
#include "models/recommender.h"

namespace recsys {
namespace {

enum class PopularityMode { kCount, kWeight };

class PopularityRecommender : public Recommender {
 public:
  explicit PopularityRecommender(PopularityMode mode) : mode_(mode) {}

  std::string name() const override { return "popularity"; }
  std::string spec() const override {
    return std::string("popularity:mode=") + (mode_ == PopularityMode::kCount ? "count" : "weight");
  }

  Status Fit(const CsrMatrix& user_items, const FitOptions& options) override {
    scores_.assign(static_cast<size_t>(user_items.cols), 0.0f);
    for (int64_t j = 0; j < user_items.nnz(); ++j) {
      scores_[static_cast<size_t>(user_items.indices[j])] +=
          mode_ == PopularityMode::kCount ? 1.0f : user_items.data[j];
    }
    fitted_ = true;
    return Status::OK();
  }

  Status Recommend(std::span<const int32_t> users, const CsrMatrix& history, int k,
                   const RecommendOptions& options,
                   std::vector<std::vector<ItemScore>>* out) const override {
    if (!fitted_) return Status::InvalidArgument("popularity: Recommend before Fit or Load");
    if (history.cols != static_cast<int32_t>(scores_.size())) {
      return Status::InvalidArgument("popularity: history has " + std::to_string(history.cols) +
                                     " items, the model " + std::to_string(scores_.size()));
    }
    out->assign(users.size(), {});
    for (size_t n = 0; n < users.size(); ++n) {
      int32_t u = users[n];
      if (u < 0 || u >= history.rows) {
        return Status::InvalidArgument("popularity: user " + std::to_string(u) +
                                       " is not a row of the history (" +
                                       std::to_string(history.rows) + " rows)");
      }
      std::span<const int32_t> excluded;
      if (options.exclude_history) excluded = history.RowIndices(u);
      TopK(scores_, k, excluded, options.item_filter, &(*out)[n]);
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
    return WriteArray(dir + "/item_scores.f32", a);
  }

  Status Load(const std::string& dir) override {
    RECSYS_ASSIGN_OR_RETURN(std::string saved, ReadModelSpec(dir));
    if (saved != spec()) {
      return Status::InvalidArgument(dir + " holds model '" + saved + "', not '" + spec() + "'");
    }
    RECSYS_ASSIGN_OR_RETURN(DenseArray<float> a, ReadFloatArray(dir + "/item_scores.f32"));
    if (a.cols != 1) return Status::Corruption(dir + "/item_scores.f32: not one column");
    scores_ = std::move(a.values);
    fitted_ = true;
    return Status::OK();
  }

 private:
  PopularityMode mode_;
  bool fitted_ = false;
  std::vector<float> scores_;  // per item: users (count) or summed weights (weight)
};

}  // namespace

Result<std::unique_ptr<Recommender>> MakePopularity(const ModelSpec& spec) {
  RECSYS_ASSIGN_OR_RETURN(std::string mode, spec.String("mode", "count", {"count", "weight"}));
  return std::unique_ptr<Recommender>(std::make_unique<PopularityRecommender>(
      mode == "count" ? PopularityMode::kCount : PopularityMode::kWeight));
}

}  // namespace recsys
