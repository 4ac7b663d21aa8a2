#include "models/sparse.h"

#include <algorithm>

namespace recsys {

CsrMatrix CsrMatrix::FromTriplets(int32_t rows, int32_t cols, std::vector<Triplet> t) {
  std::sort(t.begin(), t.end(), [](const Triplet& a, const Triplet& b) {
    return a.row != b.row ? a.row < b.row : a.col < b.col;
  });
  CsrMatrix m;
  m.rows = rows;
  m.cols = cols;
  m.indptr.assign(static_cast<size_t>(rows) + 1, 0);
  m.indices.reserve(t.size());
  m.data.reserve(t.size());
  for (size_t i = 0; i < t.size(); ++i) {
    if (!m.indices.empty() && i > 0 && t[i].row == t[i - 1].row && t[i].col == t[i - 1].col) {
      m.data.back() += t[i].value;
      continue;
    }
    m.indices.push_back(t[i].col);
    m.data.push_back(t[i].value);
    ++m.indptr[static_cast<size_t>(t[i].row) + 1];
  }
  for (int32_t r = 0; r < rows; ++r) m.indptr[r + 1] += m.indptr[r];
  return m;
}

CsrMatrix CsrMatrix::Transpose() const {
  CsrMatrix t;
  t.rows = cols;
  t.cols = rows;
  t.indptr.assign(static_cast<size_t>(cols) + 1, 0);
  for (int32_t c : indices) ++t.indptr[static_cast<size_t>(c) + 1];
  for (int32_t c = 0; c < cols; ++c) t.indptr[c + 1] += t.indptr[c];
  t.indices.resize(indices.size());
  t.data.resize(data.size());
  std::vector<int64_t> next(t.indptr.begin(), t.indptr.end() - 1);
  for (int32_t r = 0; r < rows; ++r) {
    for (int64_t j = indptr[r]; j < indptr[r + 1]; ++j) {
      int64_t at = next[static_cast<size_t>(indices[j])]++;
      t.indices[at] = r;  // rows are visited in order, so each column's list stays sorted
      t.data[at] = data[j];
    }
  }
  return t;
}

int32_t IdMap::GetOrAdd(std::string_view id) {
  auto [it, added] = index_.try_emplace(std::string(id), static_cast<int32_t>(names_.size()));
  if (added) names_.emplace_back(id);
  return it->second;
}

int32_t IdMap::Find(std::string_view id) const {
  auto it = index_.find(std::string(id));
  return it == index_.end() ? -1 : it->second;
}

}  // namespace recsys
