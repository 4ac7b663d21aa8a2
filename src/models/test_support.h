// Fixtures shared by the model tests: a tiny matrix whose right answers are known, and helpers
// to fit a model and read its lists. Header-only; include it from *_test.cc files only.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "models/recommender.h"

namespace recsys::test_support {

// 20 users x 10 items: users 0-9 saw three of items 0-4, users 10-19 three of items 5-9.
inline CsrMatrix Checkerboard() {
  std::vector<Triplet> t;
  for (int32_t u = 0; u < 20; ++u) {
    const int32_t base = u < 10 ? 0 : 5;
    for (int32_t d = 0; d < 3; ++d) t.push_back({u, base + (u + d) % 5, 1.0f + (u % 3)});
  }
  return CsrMatrix::FromTriplets(20, 10, std::move(t));
}

// Whether items a and b lie in the same half of Checkerboard().
inline bool SameHalf(int32_t a, int32_t b) { return (a < 5) == (b < 5); }

// The model `spec` fitted on m; nullptr (and a failed expectation) when either step fails.
inline std::unique_ptr<Recommender> Fitted(const std::string& spec, const CsrMatrix& m,
                                           const FitOptions& options = FitOptions{}) {
  auto model = CreateRecommender(spec);
  EXPECT_TRUE(model.ok()) << model.status().ToString();
  if (!model.ok()) return nullptr;
  Status st = (*model)->Fit(m, options);
  EXPECT_TRUE(st.ok()) << st.ToString();
  return std::move(model).value();
}

inline std::vector<int32_t> Items(const std::vector<ItemScore>& list) {
  std::vector<int32_t> items;
  for (const ItemScore& s : list) items.push_back(s.item);
  return items;
}

// 0 .. m.rows - 1.
inline std::vector<int32_t> AllUsers(const CsrMatrix& m) {
  std::vector<int32_t> users(static_cast<size_t>(m.rows));
  for (int32_t u = 0; u < m.rows; ++u) users[u] = u;
  return users;
}

// Saves model under dir, then loads it into a new model made from its spec; nullptr (and a failed
// expectation) when a step fails.
inline std::unique_ptr<Recommender> SavedAndLoaded(const Recommender& model,
                                                   const std::string& dir) {
  Status st = model.Save(dir);
  EXPECT_TRUE(st.ok()) << st.ToString();
  if (!st.ok()) return nullptr;
  auto loaded = CreateRecommender(model.spec());
  EXPECT_TRUE(loaded.ok()) << loaded.status().ToString();
  if (!loaded.ok()) return nullptr;
  st = (*loaded)->Load(dir);
  EXPECT_TRUE(st.ok()) << st.ToString();
  if (!st.ok()) return nullptr;
  return std::move(loaded).value();
}

// The same items with exactly the same scores, list by list.
inline void ExpectSameLists(const std::vector<std::vector<ItemScore>>& a,
                            const std::vector<std::vector<ItemScore>>& b) {
  ASSERT_EQ(a.size(), b.size());
  for (size_t u = 0; u < a.size(); ++u) {
    ASSERT_EQ(Items(a[u]), Items(b[u])) << "list " << u;
    for (size_t n = 0; n < a[u].size(); ++n) EXPECT_EQ(a[u][n].score, b[u][n].score);
  }
}

// Every user of the checkerboard gets its two unseen own-half items first, then only
// other-half items, and never an item it has seen.
inline void ExpectOwnHalfFirst(const Recommender& model, const CsrMatrix& m) {
  std::vector<std::vector<ItemScore>> out;
  std::vector<int32_t> users = AllUsers(m);
  ASSERT_TRUE(model.Recommend(users, m, 7, RecommendOptions{}, &out).ok());
  ASSERT_EQ(out.size(), users.size());
  for (int32_t u : users) {
    const int32_t own = u < 10 ? 0 : 5;
    ASSERT_EQ(out[u].size(), 7u) << "user " << u;
    for (size_t n = 0; n < out[u].size(); ++n) {
      EXPECT_EQ(SameHalf(out[u][n].item, own), n < 2) << "user " << u << " rank " << n;
    }
    for (const ItemScore& s : out[u]) {
      for (int32_t seen : m.RowIndices(u)) EXPECT_NE(s.item, seen) << "user " << u;
    }
  }
}

}  // namespace recsys::test_support
