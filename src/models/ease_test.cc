#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <memory>
#include <vector>

#include "core/temp_dir.h"
#include "models/recommender.h"
#include "models/test_support.h"

namespace recsys {
namespace {

using test_support::AllUsers;
using test_support::Checkerboard;
using test_support::ExpectOwnHalfFirst;
using test_support::ExpectSameLists;
using test_support::Fitted;
using test_support::Items;
using test_support::SameHalf;
using test_support::SavedAndLoaded;

using Mat3 = std::array<std::array<double, 3>, 3>;

// B of EASE computed directly: G = X^T X + lambda I, P = G^-1 by cofactors, B = -P / diag(P).
Mat3 DirectB(const CsrMatrix& x, bool binary, double lambda) {
  Mat3 g{};
  for (int32_t u = 0; u < x.rows; ++u) {
    for (int64_t a = x.indptr[u]; a < x.indptr[u + 1]; ++a) {
      for (int64_t b = x.indptr[u]; b < x.indptr[u + 1]; ++b) {
        g[x.indices[a]][x.indices[b]] += binary ? 1.0 : double{x.data[a]} * x.data[b];
      }
    }
  }
  for (int i = 0; i < 3; ++i) g[i][i] += lambda;
  const double det = g[0][0] * (g[1][1] * g[2][2] - g[1][2] * g[2][1]) -
                     g[0][1] * (g[1][0] * g[2][2] - g[1][2] * g[2][0]) +
                     g[0][2] * (g[1][0] * g[2][1] - g[1][1] * g[2][0]);
  Mat3 p{};
  for (int i = 0; i < 3; ++i) {
    for (int j = 0; j < 3; ++j) {
      // Cofactor of g[j][i] (adjugate is the transposed cofactor matrix).
      const int r0 = (j + 1) % 3, r1 = (j + 2) % 3, c0 = (i + 1) % 3, c1 = (i + 2) % 3;
      p[i][j] = (g[r0][c0] * g[r1][c1] - g[r0][c1] * g[r1][c0]) / det;
    }
  }
  Mat3 b{};
  for (int i = 0; i < 3; ++i) {
    for (int j = 0; j < 3; ++j) b[i][j] = i == j ? 0.0 : -p[i][j] / p[j][j];
  }
  return b;
}

void ExpectMatchesDirect(const std::string& spec, const CsrMatrix& x, bool binary, double lambda) {
  SCOPED_TRACE(spec);
  const Mat3 want = DirectB(x, binary, lambda);
  auto model = Fitted(spec, x);
  ASSERT_NE(model, nullptr);
  std::vector<std::vector<ItemScore>> out;
  const int32_t items[] = {0, 1, 2};
  ASSERT_TRUE(model->SimilarItems(items, 5, &out).ok());
  for (int i = 0; i < 3; ++i) {
    ASSERT_EQ(out[i].size(), 2u);
    for (const ItemScore& s : out[i]) {
      EXPECT_NE(s.item, i);
      EXPECT_NEAR(s.score, want[i][s.item], 1e-5) << "B(" << i << ", " << s.item << ")";
    }
  }
  // User 2 saw all three items: its scores are x_2 B.
  RecommendOptions keep;
  keep.exclude_history = false;
  const int32_t users[] = {2};
  ASSERT_TRUE(model->Recommend(users, x, 3, keep, &out).ok());
  ASSERT_EQ(out[0].size(), 3u);
  for (const ItemScore& s : out[0]) {
    double score = 0;
    for (int64_t e = x.indptr[2]; e < x.indptr[3]; ++e) {
      score += (binary ? 1.0 : x.data[e]) * want[x.indices[e]][s.item];
    }
    EXPECT_NEAR(s.score, score, 1e-5) << "item " << s.item;
  }
}

TEST(EaseTest, WeightsMatchADirectDenseComputation) {
  CsrMatrix x = CsrMatrix::FromTriplets(
      4, 3,
      {{0, 0, 2}, {0, 1, 1}, {1, 1, 3}, {1, 2, 1}, {2, 0, 1}, {2, 1, 2}, {2, 2, 1}, {3, 2, 4}});
  ExpectMatchesDirect("ease:lambda=1", x, true, 1);
  ExpectMatchesDirect("ease:lambda=0.5,binary=false", x, false, 0.5);
}

TEST(EaseTest, RecommendsUnseenItemsOfTheUsersOwnHalfFirst) {
  CsrMatrix m = Checkerboard();
  auto model = Fitted("ease:lambda=10", m);
  ASSERT_NE(model, nullptr);
  ExpectOwnHalfFirst(*model, m);
}

TEST(EaseTest, SimilarItemsComeFromTheSameHalf) {
  CsrMatrix m = Checkerboard();
  auto model = Fitted("ease:lambda=10", m);
  ASSERT_NE(model, nullptr);
  std::vector<std::vector<ItemScore>> out;
  const int32_t items[] = {0, 6};
  ASSERT_TRUE(model->SimilarItems(items, 4, &out).ok());
  // Each item co-occurs with all four others of its half.
  for (size_t n = 0; n < 2; ++n) {
    ASSERT_EQ(out[n].size(), 4u);
    for (const ItemScore& s : out[n]) {
      EXPECT_TRUE(SameHalf(s.item, items[n])) << items[n] << " -> " << s.item;
      EXPECT_NE(s.item, items[n]);
    }
  }
}

TEST(EaseTest, ExclusionsAndFilter) {
  CsrMatrix m = Checkerboard();
  auto model = Fitted("ease:lambda=10", m);
  ASSERT_NE(model, nullptr);
  std::vector<std::vector<ItemScore>> out;
  const int32_t users[] = {0};  // saw items 0, 1, 2
  RecommendOptions keep;
  keep.exclude_history = false;
  ASSERT_TRUE(model->Recommend(users, m, 10, keep, &out).ok());
  EXPECT_EQ(out[0].size(), 10u);

  RecommendOptions filtered;
  filtered.item_filter = [](int32_t item) { return item != 3 && item != 4; };
  ASSERT_TRUE(model->Recommend(users, m, 10, filtered, &out).ok());
  std::vector<int32_t> got = Items(out[0]);
  std::sort(got.begin(), got.end());
  EXPECT_EQ(got, (std::vector<int32_t>{5, 6, 7, 8, 9}));
}

TEST(EaseTest, SaveLoadGivesIdenticalRecommendations) {
  CsrMatrix m = Checkerboard();
  auto model = Fitted("ease:lambda=20,binary=false", m);
  ASSERT_NE(model, nullptr);
  TempDir dir;
  auto loaded = SavedAndLoaded(*model, dir.path() + "/ease");
  ASSERT_NE(loaded, nullptr);
  std::vector<int32_t> users = AllUsers(m);
  std::vector<std::vector<ItemScore>> a, b;
  ASSERT_TRUE(model->Recommend(users, m, 10, RecommendOptions{}, &a).ok());
  ASSERT_TRUE(loaded->Recommend(users, m, 10, RecommendOptions{}, &b).ok());
  ExpectSameLists(a, b);
  auto other = CreateRecommender("ease:lambda=20");
  ASSERT_TRUE(other.ok());
  EXPECT_FALSE((*other)->Load(dir.path() + "/ease").ok());
}

TEST(EaseTest, RefusesCatalogsAboveMaxItems) {
  CsrMatrix m = Checkerboard();
  auto model = CreateRecommender("ease:max_items=9");
  ASSERT_TRUE(model.ok());
  Status st = (*model)->Fit(m, FitOptions{});
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(st.message().find("max_items=9"), std::string::npos) << st.ToString();
  EXPECT_NE(st.message().find("10 items"), std::string::npos) << st.ToString();
}

TEST(EaseTest, ReportsASingularSystemInsteadOfReturningGarbage) {
  // Item 2 has no interactions: with lambda=0 its row and column of X^T X are zero.
  CsrMatrix m = CsrMatrix::FromTriplets(2, 3, {{0, 0, 1}, {1, 1, 1}});
  auto model = CreateRecommender("ease:lambda=0");
  ASSERT_TRUE(model.ok());
  Status st = (*model)->Fit(m, FitOptions{});
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.message().find("lambda"), std::string::npos) << st.ToString();
  EXPECT_TRUE(Fitted("ease:lambda=0.1", m) != nullptr);
}

TEST(EaseTest, SpecRoundTripsAndBadSpecsNameTheKey) {
  auto model = CreateRecommender("ease");
  ASSERT_TRUE(model.ok());
  EXPECT_EQ((*model)->spec(), "ease:lambda=500,max_items=20000,binary=true");
  for (const char* bad :
       {"ease:lambda=-1", "ease:lambda=big", "ease:max_items=0", "ease:binary=yes", "ease:k=3"}) {
    auto r = CreateRecommender(bad);
    ASSERT_FALSE(r.ok()) << bad;
    std::string key(bad + 5);
    key = key.substr(0, key.find('='));
    EXPECT_NE(r.status().message().find(key), std::string::npos) << r.status().ToString();
  }
}

}  // namespace
}  // namespace recsys
