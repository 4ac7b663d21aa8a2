// Hybrid: a weighted blend of other models with the shop's business rules (DESIGN.md §5).
//
// Spec: "hybrid:models=als+itemknn+popularity,weights=0.5+0.3+0.2,exclude_unavailable=true,
// boost_new_days=0,boost=1.2". Each component is built from its plain name (its defaults) and
// fitted on the same matrix and FitOptions. For a request each component with a non-zero weight
// proposes candidates (its top max(4k, 100)); each component's candidate scores are min-max
// normalised to [0.01, 1] (all 1 when equal), items it did not propose count 0, and the blend is
// the weighted sum. Rules from FitOptions::side, inactive without it: exclude_unavailable drops out
// of stock and discontinued items; items created within boost_new_days of side's now_ms have
// their blended score multiplied by boost. History exclusion and item_filter are honoured as
// RecommendOptions asks.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "models/recommender.h"

namespace recsys {

struct HybridParams {
  std::vector<std::string> models = {"als", "itemknn", "popularity"};
  std::vector<double> weights = {0.5, 0.3, 0.2};
  bool exclude_unavailable = true;
  double boost_new_days = 0;  // 0 = no boost
  double boost = 1.2;
};

class HybridRecommender : public Recommender {
 public:
  // REQUIRES: components.size() == params.models.size() == params.weights.size().
  HybridRecommender(HybridParams params, std::vector<std::unique_ptr<Recommender>> components);

  std::string name() const override { return "hybrid"; }
  std::string spec() const override;
  Status Fit(const CsrMatrix& user_items, const FitOptions& options) override;
  Status Recommend(std::span<const int32_t> users, const CsrMatrix& history, int k,
                   const RecommendOptions& options,
                   std::vector<std::vector<ItemScore>>* out) const override;
  Status SimilarItems(std::span<const int32_t> items, int k,
                      std::vector<std::vector<ItemScore>>* out) const override;
  // Format: docs/formats/model-artifacts.md, "hybrid"; each component i is saved in
  // dir/component-<i>-<name>.
  Status Save(const std::string& dir) const override;
  Status Load(const std::string& dir) override;
  // The components' names and the fitted blend weights (RecommendOptions::blend_weights
  // overrides them per call, in this order).
  const HybridParams& params() const { return p_; }

  // One line per item of `items`, why user (a row of history) might like it: "because you viewed
  // <name of the history item most similar to it by the itemknn or content component>", else
  // "popular in <its category>" when the category is known, else "popular overall". item_name
  // maps an item index to the text shown; default "item <index>". REQUIRES: fitted.
  Status Explain(int32_t user, const CsrMatrix& history, std::span<const int32_t> items,
                 const std::function<std::string(int32_t)>& item_name,
                 std::vector<std::string>* out) const;

 private:
  HybridParams p_;
  std::vector<std::unique_ptr<Recommender>> components_;
  bool fitted_ = false;
  int32_t items_ = 0;
  // From side data; empty when there was none.
  std::vector<int32_t> available_;  // per item 0/1
  std::vector<float> multiplier_;   // per item, the boost factor (1 when not new)
  std::vector<int32_t> category_;   // per item, index into category_names_, -1 unknown
  std::vector<std::string> category_names_;
};

}  // namespace recsys
