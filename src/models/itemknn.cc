// Item-kNN: item-item cosine similarity with shrinkage over the (optionally TF-IDF or BM25
// weighted) user x item matrix, keeping the `neighbors` most similar items per item. A user's
// score for item i is the sum over their history items j of value(u, j) * sim(j, i).
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "models/model_factories.h"
#include "models/neighbors.h"
#include "models/recommender.h"

namespace recsys {
namespace {

enum class Weighting { kNone, kTfidf, kBm25 };

struct ItemKnnParams {
  int64_t neighbors = 100;
  double shrink = 10;
  Weighting weighting = Weighting::kNone;
  double bm25_k1 = 1.2;
  double bm25_b = 0.75;
};

// The weighting of implicit's nearest_neighbours (tfidf_weight, bm25_weight), applied as implicit
// applies it: items are the documents and users the terms, so N is the number of items, a user's
// idf is log(N / (1 + items they touched)) and BM25's length is an item's summed weight.
CsrMatrix Weighted(const CsrMatrix& user_items, const ItemKnnParams& p) {
  CsrMatrix w = user_items;
  if (p.weighting == Weighting::kNone) return w;
  const double n = user_items.cols;
  std::vector<double> idf(static_cast<size_t>(user_items.rows));
  for (int32_t u = 0; u < user_items.rows; ++u) {
    idf[u] =
        std::log(n / (1.0 + static_cast<double>(user_items.indptr[u + 1] - user_items.indptr[u])));
  }
  if (p.weighting == Weighting::kTfidf) {
    for (int32_t u = 0; u < w.rows; ++u) {
      for (int64_t j = w.indptr[u]; j < w.indptr[u + 1]; ++j) {
        w.data[j] = static_cast<float>(std::sqrt(static_cast<double>(w.data[j])) * idf[u]);
      }
    }
    return w;
  }
  std::vector<double> item_sum(static_cast<size_t>(w.cols), 0.0);
  double total = 0;
  for (int64_t j = 0; j < w.nnz(); ++j) {
    item_sum[static_cast<size_t>(w.indices[j])] += w.data[j];
    total += w.data[j];
  }
  const double average = w.cols > 0 ? total / w.cols : 0;
  for (int32_t u = 0; u < w.rows; ++u) {
    for (int64_t j = w.indptr[u]; j < w.indptr[u + 1]; ++j) {
      const double x = w.data[j];
      const double length_norm =
          (1.0 - p.bm25_b) + p.bm25_b * item_sum[static_cast<size_t>(w.indices[j])] / average;
      w.data[j] =
          static_cast<float>(x * (p.bm25_k1 + 1.0) / (p.bm25_k1 * length_norm + x) * idf[u]);
    }
  }
  return w;
}

class ItemKnnRecommender : public NeighborListModel {
 public:
  explicit ItemKnnRecommender(const ItemKnnParams& params) : p_(params) {}

  std::string name() const override { return "itemknn"; }
  std::string spec() const override {
    const char* weighting = p_.weighting == Weighting::kNone    ? "none"
                            : p_.weighting == Weighting::kTfidf ? "tfidf"
                                                                : "bm25";
    return "itemknn:neighbors=" + std::to_string(p_.neighbors) +
           ",shrink=" + FormatSpecDouble(p_.shrink) + ",weighting=" + weighting +
           ",bm25_k1=" + FormatSpecDouble(p_.bm25_k1) + ",bm25_b=" + FormatSpecDouble(p_.bm25_b);
  }

  Status Fit(const CsrMatrix& user_items, const FitOptions& options) override {
    const CsrMatrix w = Weighted(user_items, p_);
    const CsrMatrix wt = w.Transpose();  // items x users
    const int32_t items = w.cols;
    std::vector<double> norm(static_cast<size_t>(items), 0.0);
    for (int32_t i = 0; i < items; ++i) {
      for (float v : wt.RowData(i)) norm[i] += static_cast<double>(v) * v;
      norm[i] = std::sqrt(norm[i]);
    }
    std::vector<std::vector<ItemScore>> lists(static_cast<size_t>(items));
    const int threads = options.threads > 0 ? options.threads : omp_get_max_threads();
#pragma omp parallel num_threads(threads)
    {
      // Dense accumulator over items, reset through the list of touched entries.
      std::vector<double> acc(static_cast<size_t>(items), 0.0);
      std::vector<int32_t> touched;
      std::vector<ItemScore> candidates;
#pragma omp for schedule(dynamic, 64)
      for (int32_t a = 0; a < items; ++a) {
        touched.clear();
        std::span<const int32_t> users = wt.RowIndices(a);
        std::span<const float> values = wt.RowData(a);
        for (size_t n = 0; n < users.size(); ++n) {
          std::span<const int32_t> row = w.RowIndices(users[n]);
          std::span<const float> row_values = w.RowData(users[n]);
          for (size_t m = 0; m < row.size(); ++m) {
            if (acc[row[m]] == 0.0) touched.push_back(row[m]);
            acc[row[m]] += static_cast<double>(values[n]) * row_values[m];
          }
        }
        candidates.clear();
        for (int32_t b : touched) {
          // A sum that cancels back to exactly 0 may be listed twice; the second sees acc == 0.
          if (b != a && acc[b] != 0.0) {
            candidates.push_back({b, static_cast<float>(acc[b] / (norm[a] * norm[b] + p_.shrink))});
          }
          acc[b] = 0.0;
        }
        KeepBest(&candidates, static_cast<size_t>(p_.neighbors));
        lists[a] = candidates;
      }
    }
    ClearLists();
    for (std::vector<ItemScore>& list : lists) AddList(&list, static_cast<size_t>(p_.neighbors));
    return Status::OK();
  }

 private:
  ItemKnnParams p_;
};

}  // namespace

Result<std::unique_ptr<Recommender>> MakeItemKnn(const ModelSpec& spec) {
  ItemKnnParams p;
  RECSYS_ASSIGN_OR_RETURN(p.neighbors, spec.Int("neighbors", p.neighbors, 1, 1'000'000));
  RECSYS_ASSIGN_OR_RETURN(p.shrink, spec.Double("shrink", p.shrink, 0, 1e12));
  RECSYS_ASSIGN_OR_RETURN(std::string weighting,
                          spec.String("weighting", "none", {"none", "tfidf", "bm25"}));
  p.weighting = weighting == "none"    ? Weighting::kNone
                : weighting == "tfidf" ? Weighting::kTfidf
                                       : Weighting::kBm25;
  RECSYS_ASSIGN_OR_RETURN(p.bm25_k1, spec.Double("bm25_k1", p.bm25_k1, 0, 1e6));
  RECSYS_ASSIGN_OR_RETURN(p.bm25_b, spec.Double("bm25_b", p.bm25_b, 0, 1));
  return std::unique_ptr<Recommender>(std::make_unique<ItemKnnRecommender>(p));
}

}  // namespace recsys
