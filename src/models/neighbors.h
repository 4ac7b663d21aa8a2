// Item-item neighbour lists in CSR form, shared by the models that keep them (item-kNN, content):
// item i's neighbours, best first, are neighbor[indptr[i] .. indptr[i + 1]) with their
// similarities in similarity[...] at the same positions.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "core/status.h"
#include "models/recommender.h"

namespace recsys {

// Adds values[m] * sim(seen[m], i) to scores[i] for every neighbour i of every history item
// seen[m]. REQUIRES: seen.size() == values.size(), scores.size() covers every neighbour index.
void AccumulateNeighborScores(const std::vector<int64_t>& indptr,
                              const std::vector<int32_t>& neighbor,
                              const std::vector<float>& similarity, std::span<const int32_t> seen,
                              std::span<const float> values, std::span<float> scores);

// Appends item's first min(k, its neighbour count) neighbours, best first, to *out.
// REQUIRES: 0 <= item < indptr.size() - 1.
void AppendNeighbors(const std::vector<int64_t>& indptr, const std::vector<int32_t>& neighbor,
                     const std::vector<float>& similarity, int32_t item, int k,
                     std::vector<ItemScore>* out);

// Writes dir/neighbor_indptr.i64, dir/neighbor_items.i32 and dir/neighbor_similarity.f32.
Status WriteNeighborLists(const std::string& dir, const std::vector<int64_t>& indptr,
                          const std::vector<int32_t>& neighbor,
                          const std::vector<float>& similarity);

// Reads the files WriteNeighborLists writes; Corruption when they do not form consistent lists.
// The outputs are changed only on success.
Status ReadNeighborLists(const std::string& dir, std::vector<int64_t>* indptr,
                         std::vector<int32_t>* neighbor, std::vector<float>* similarity);

}  // namespace recsys
