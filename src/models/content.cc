// Content: item-item cosine similarity over the items' TF-IDF term vectors (gold item_content,
// handed in as FitOptions::side), keeping the `neighbors` most similar items per item. New items
// without interactions still have neighbours. A user's score for item i is the sum over their
// history items j of value(u, j) * sim(j, i), as in item-kNN.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "models/model_factories.h"
#include "models/neighbors.h"
#include "models/recommender.h"

namespace recsys {
namespace {

class ContentRecommender : public NeighborListModel {
 public:
  explicit ContentRecommender(int64_t neighbors) : neighbors_(neighbors) {}

  std::string name() const override { return "content"; }
  std::string spec() const override { return "content:neighbors=" + std::to_string(neighbors_); }

  Status Fit(const CsrMatrix& user_items, const FitOptions& options) override {
    if (options.side == nullptr || options.side->terms.empty()) {
      return Status::InvalidArgument("content needs item_content (FitOptions::side terms)");
    }
    const auto& terms = options.side->terms;
    const int32_t items = user_items.cols;
    if (static_cast<int64_t>(terms.size()) != items) {
      return Status::InvalidArgument("content: side data has terms for " +
                                     std::to_string(terms.size()) + " items, the matrix " +
                                     std::to_string(items));
    }
    // Items x terms, each row L2-normalised, so a dot product is the cosine.
    std::unordered_map<std::string, int32_t> term_index;
    std::vector<Triplet> t;
    for (int32_t i = 0; i < items; ++i) {
      double norm = 0;
      for (const auto& [term, w] : terms[static_cast<size_t>(i)]) norm += double{w} * w;
      norm = std::sqrt(norm);
      if (norm == 0) continue;
      for (const auto& [term, w] : terms[static_cast<size_t>(i)]) {
        auto [it, added] = term_index.emplace(term, static_cast<int32_t>(term_index.size()));
        if (w > 0) t.push_back({i, it->second, static_cast<float>(w / norm)});
      }
    }
    const CsrMatrix it =
        CsrMatrix::FromTriplets(items, static_cast<int32_t>(term_index.size()), std::move(t));
    const CsrMatrix ti = it.Transpose();
    ClearLists();
    std::vector<double> acc(static_cast<size_t>(items), 0.0);
    std::vector<int32_t> touched;
    std::vector<ItemScore> candidates;
    for (int32_t a = 0; a < items; ++a) {
      touched.clear();
      std::span<const int32_t> row = it.RowIndices(a);
      std::span<const float> values = it.RowData(a);
      for (size_t n = 0; n < row.size(); ++n) {
        std::span<const int32_t> others = ti.RowIndices(row[n]);
        std::span<const float> other_values = ti.RowData(row[n]);
        for (size_t m = 0; m < others.size(); ++m) {
          if (acc[others[m]] == 0.0) touched.push_back(others[m]);
          acc[others[m]] += double{values[n]} * other_values[m];
        }
      }
      candidates.clear();
      for (int32_t b : touched) {
        if (b != a && acc[b] > 0.0) candidates.push_back({b, static_cast<float>(acc[b])});
        acc[b] = 0.0;
      }
      AddList(&candidates, static_cast<size_t>(neighbors_));
    }
    return Status::OK();
  }

 private:
  int64_t neighbors_;
};

}  // namespace

Result<std::unique_ptr<Recommender>> MakeContent(const ModelSpec& spec) {
  RECSYS_ASSIGN_OR_RETURN(int64_t neighbors, spec.Int("neighbors", 100, 1, 1'000'000));
  return std::unique_ptr<Recommender>(std::make_unique<ContentRecommender>(neighbors));
}

}  // namespace recsys
