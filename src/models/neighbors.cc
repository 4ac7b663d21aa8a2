#include "models/neighbors.h"

#include <algorithm>
#include <climits>
#include <utility>

#include "models/artifact.h"

namespace recsys {

void AccumulateNeighborScores(const std::vector<int64_t>& indptr,
                              const std::vector<int32_t>& neighbor,
                              const std::vector<float>& similarity, std::span<const int32_t> seen,
                              std::span<const float> values, std::span<float> scores) {
  for (size_t m = 0; m < seen.size(); ++m) {
    const int32_t j = seen[m];
    for (int64_t e = indptr[j]; e < indptr[j + 1]; ++e) {
      scores[neighbor[e]] += values[m] * similarity[e];
    }
  }
}

void AppendNeighbors(const std::vector<int64_t>& indptr, const std::vector<int32_t>& neighbor,
                     const std::vector<float>& similarity, int32_t item, int k,
                     std::vector<ItemScore>* out) {
  const int64_t begin = indptr[item];
  const int64_t end = std::min(indptr[item + 1], begin + std::max(k, 0));
  for (int64_t e = begin; e < end; ++e) out->push_back({neighbor[e], similarity[e]});
}

Status WriteNeighborLists(const std::string& dir, const std::vector<int64_t>& indptr,
                          const std::vector<int32_t>& neighbor,
                          const std::vector<float>& similarity) {
  const int64_t nnz = static_cast<int64_t>(neighbor.size());
  RECSYS_RETURN_IF_ERROR(
      WriteArray(dir + "/neighbor_indptr.i64",
                 DenseArray<int64_t>{static_cast<int64_t>(indptr.size()), 1, indptr}));
  RECSYS_RETURN_IF_ERROR(
      WriteArray(dir + "/neighbor_items.i32", DenseArray<int32_t>{nnz, 1, neighbor}));
  return WriteArray(dir + "/neighbor_similarity.f32", DenseArray<float>{nnz, 1, similarity});
}

Status ReadNeighborLists(const std::string& dir, std::vector<int64_t>* indptr,
                         std::vector<int32_t>* neighbor, std::vector<float>* similarity) {
  RECSYS_ASSIGN_OR_RETURN(DenseArray<int64_t> read_indptr,
                          ReadInt64Array(dir + "/neighbor_indptr.i64"));
  RECSYS_ASSIGN_OR_RETURN(DenseArray<int32_t> read_neighbor,
                          ReadInt32Array(dir + "/neighbor_items.i32"));
  RECSYS_ASSIGN_OR_RETURN(DenseArray<float> read_similarity,
                          ReadFloatArray(dir + "/neighbor_similarity.f32"));
  const std::vector<int64_t>& p = read_indptr.values;
  const std::vector<int32_t>& nb = read_neighbor.values;
  const int64_t nnz = static_cast<int64_t>(nb.size());
  const int64_t items = static_cast<int64_t>(p.size()) - 1;
  bool valid = items >= 0 && items <= INT32_MAX && read_similarity.values.size() == nb.size() &&
               p.front() == 0 && p.back() == nnz;
  for (int64_t i = 0; valid && i < items; ++i) valid = p[i] <= p[i + 1];
  for (int64_t e = 0; valid && e < nnz; ++e) valid = nb[e] >= 0 && nb[e] < items;
  if (!valid) return Status::Corruption(dir + ": neighbour lists are inconsistent");
  *indptr = std::move(read_indptr.values);
  *neighbor = std::move(read_neighbor.values);
  *similarity = std::move(read_similarity.values);
  return Status::OK();
}

Status NeighborListModel::Recommend(std::span<const int32_t> users, const CsrMatrix& history, int k,
                                    const RecommendOptions& options,
                                    std::vector<std::vector<ItemScore>>* out) const {
  const std::string n = name();
  if (!fitted()) return Status::InvalidArgument(n + ": Recommend before Fit or Load");
  RECSYS_RETURN_IF_ERROR(CheckRecommendInput(n, users, history, items()));
  out->assign(users.size(), {});
  const int64_t count = static_cast<int64_t>(users.size());
#pragma omp parallel if (count > 64)
  {
    std::vector<float> scores(static_cast<size_t>(items()));
#pragma omp for schedule(dynamic, 16)
    for (int64_t i = 0; i < count; ++i) {
      const int32_t u = users[i];
      std::fill(scores.begin(), scores.end(), 0.0f);
      std::span<const int32_t> seen = history.RowIndices(u);
      std::span<const float> values = history.RowData(u);
      AccumulateNeighborScores(indptr_, neighbor_, similarity_, seen, values, scores);
      TopK(scores, k, options.exclude_history ? seen : std::span<const int32_t>(),
           options.item_filter, &(*out)[i]);
    }
  }
  return Status::OK();
}

Status NeighborListModel::SimilarItems(std::span<const int32_t> items_in, int k,
                                       std::vector<std::vector<ItemScore>>* out) const {
  if (!fitted()) return Status::InvalidArgument(name() + ": SimilarItems before Fit or Load");
  out->assign(items_in.size(), {});
  for (size_t n = 0; n < items_in.size(); ++n) {
    const int32_t item = items_in[n];
    if (item < 0 || item >= items()) {
      return Status::InvalidArgument(name() + ": item " + std::to_string(item) +
                                     " is not in the model (" + std::to_string(items()) +
                                     " items)");
    }
    AppendNeighbors(indptr_, neighbor_, similarity_, item, k, &(*out)[n]);
  }
  return Status::OK();
}

Status NeighborListModel::Save(const std::string& dir) const {
  if (!fitted()) return Status::InvalidArgument(name() + ": Save before Fit or Load");
  RECSYS_RETURN_IF_ERROR(WriteModelSpec(dir, spec()));
  return WriteNeighborLists(dir, indptr_, neighbor_, similarity_);
}

Status NeighborListModel::Load(const std::string& dir) {
  RECSYS_RETURN_IF_ERROR(CheckModelSpec(dir, spec()));
  return ReadNeighborLists(dir, &indptr_, &neighbor_, &similarity_);
}

void NeighborListModel::ClearLists() {
  indptr_.assign(1, 0);
  neighbor_.clear();
  similarity_.clear();
}

void KeepBest(std::vector<ItemScore>* candidates, size_t keep) {
  keep = std::min(keep, candidates->size());
  std::partial_sort(candidates->begin(), candidates->begin() + static_cast<int64_t>(keep),
                    candidates->end(), [](const ItemScore& x, const ItemScore& y) {
                      return x.score > y.score || (x.score == y.score && x.item < y.item);
                    });
  candidates->resize(keep);
}

void NeighborListModel::AddList(std::vector<ItemScore>* candidates, size_t keep) {
  KeepBest(candidates, keep);
  for (const ItemScore& s : *candidates) {
    neighbor_.push_back(s.item);
    similarity_.push_back(s.score);
  }
  indptr_.push_back(static_cast<int64_t>(neighbor_.size()));
}

}  // namespace recsys
