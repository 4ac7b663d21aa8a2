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

// Reorders candidates so that the best `keep` (by score, ties by lower item) come first, best
// first, and drops the rest.
void KeepBest(std::vector<ItemScore>* candidates, size_t keep);

// The models that score from item-item neighbour lists (item-kNN, content): everything but Fit.
// A user's score for item i is the sum over their history items j of value(u, j) * sim(j, i);
// SimilarItems are the lists themselves; Save and Load write the spec and the lists.
// Subclasses build the lists in Fit with ClearLists and AddList.
class NeighborListModel : public Recommender {
 public:
  Status Recommend(std::span<const int32_t> users, const CsrMatrix& history, int k,
                   const RecommendOptions& options,
                   std::vector<std::vector<ItemScore>>* out) const override;
  Status SimilarItems(std::span<const int32_t> items, int k,
                      std::vector<std::vector<ItemScore>>* out) const override;
  Status Save(const std::string& dir) const override;
  Status Load(const std::string& dir) override;

 protected:
  // Starts empty lists (an unfitted model has none at all).
  void ClearLists();
  // Appends the next item's list: the best `keep` of candidates (KeepBest).
  void AddList(std::vector<ItemScore>* candidates, size_t keep);

 private:
  bool fitted() const { return !indptr_.empty(); }
  int32_t items() const { return static_cast<int32_t>(indptr_.size()) - 1; }

  // Item i's neighbours, best first, are neighbor_[indptr_[i] .. indptr_[i + 1]) with their
  // similarities in similarity_. Empty until fitted.
  std::vector<int64_t> indptr_;
  std::vector<int32_t> neighbor_;
  std::vector<float> similarity_;
};

}  // namespace recsys
