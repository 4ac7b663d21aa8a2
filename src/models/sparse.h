// Sparse user x item matrices (CSR) and the id maps that tie rows and columns to shop ids.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

#include "core/status.h"

namespace recsys {

struct Triplet {
  int32_t row;
  int32_t col;
  float value;
};

// Compressed sparse rows. Within a row, column indices are strictly increasing.
struct CsrMatrix {
  int32_t rows = 0;
  int32_t cols = 0;
  std::vector<int64_t> indptr = {0};  // rows + 1 entries
  std::vector<int32_t> indices;
  std::vector<float> data;

  int64_t nnz() const { return static_cast<int64_t>(indices.size()); }
  std::span<const int32_t> RowIndices(int32_t r) const {
    return {indices.data() + indptr[r], static_cast<size_t>(indptr[r + 1] - indptr[r])};
  }
  std::span<const float> RowData(int32_t r) const {
    return {data.data() + indptr[r], static_cast<size_t>(indptr[r + 1] - indptr[r])};
  }
  // Builds from triplets; entries at the same (row, col) are summed. REQUIRES: indices in range.
  static CsrMatrix FromTriplets(int32_t rows, int32_t cols, std::vector<Triplet> triplets);
  CsrMatrix Transpose() const;
};

// Dense ids for string ids, in order of first sight.
class IdMap {
 public:
  int32_t GetOrAdd(std::string_view id);
  // -1 if unknown.
  int32_t Find(std::string_view id) const;
  const std::string& Name(int32_t index) const { return names_[static_cast<size_t>(index)]; }
  int32_t size() const { return static_cast<int32_t>(names_.size()); }
  const std::vector<std::string>& names() const { return names_; }

 private:
  std::unordered_map<std::string, int32_t> index_;
  std::vector<std::string> names_;
};

// Interactions as read from gold (or a ratings file): one entry per user and item.
struct InteractionData {
  IdMap users, items;
  std::vector<Triplet> entries;   // row = user index, col = item index, value = weight
  std::vector<int64_t> times_ms;  // per entry, the last interaction time (0 if unknown)
  CsrMatrix ToMatrix() const {
    return CsrMatrix::FromTriplets(users.size(), items.size(), entries);
  }
};

}  // namespace recsys
