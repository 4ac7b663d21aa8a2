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

}  // namespace recsys
