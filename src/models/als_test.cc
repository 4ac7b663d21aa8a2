#include <gtest/gtest.h>

#include <Eigen/Dense>
#include <random>
#include <set>

#include "core/temp_dir.h"
#include "models/artifact.h"
#include "models/recommender.h"
#include "models/test_support.h"

namespace recsys {
namespace {

using test_support::Items;

std::unique_ptr<Recommender> MakeModel(const std::string& spec) {
  auto model = CreateRecommender(spec);
  EXPECT_TRUE(model.ok()) << model.status().ToString();
  return model.ok() ? std::move(model).value() : nullptr;
}

std::vector<std::vector<ItemScore>> RecommendAll(const Recommender& model, const CsrMatrix& m,
                                                 int k, const RecommendOptions& options = {}) {
  std::vector<int32_t> users(static_cast<size_t>(m.rows));
  for (int32_t u = 0; u < m.rows; ++u) users[static_cast<size_t>(u)] = u;
  std::vector<std::vector<ItemScore>> out;
  Status st = model.Recommend(users, m, k, options, &out);
  EXPECT_TRUE(st.ok()) << st.ToString();
  return out;
}

// Two groups of users; group g likes items [g * half, (g + 1) * half). Each user has seen all of
// its half except a few items that depend on the user.
CsrMatrix Checkerboard(int users, int items, int unseen_per_user) {
  std::vector<Triplet> t;
  const int half = items / 2;
  for (int u = 0; u < users; ++u) {
    const int g = u % 2;
    for (int j = 0; j < half; ++j) {
      bool unseen = false;
      for (int s = 0; s < unseen_per_user; ++s) unseen |= (j == (u / 2 * 3 + s * 5) % half);
      if (!unseen) t.push_back({u, g * half + j, 1.0f});
    }
  }
  return CsrMatrix::FromTriplets(users, items, std::move(t));
}

TEST(AlsTest, CholeskyMatchesDenseNormalEquationsOnATinyMatrix) {
  // 5 users x 4 items with graded weights.
  const CsrMatrix m = CsrMatrix::FromTriplets(
      5, 4,
      {{0, 0, 1}, {0, 1, 2}, {1, 1, 1}, {1, 2, 3}, {2, 0, 4}, {2, 3, 1}, {3, 2, 2}, {4, 3, 5}});
  const int f = 3;
  const float reg = 0.1f, alpha = 2.0f;
  auto model = MakeModel("als:factors=3,iterations=4,regularization=0.1,alpha=2,solver=cholesky");
  ASSERT_NE(model, nullptr);
  ASSERT_TRUE(model->Fit(m, {.threads = 1, .seed = 7, .verbose = false}).ok());
  TempDir dir;
  ASSERT_TRUE(model->Save(dir.path()).ok());
  auto users = ReadFloatArray(dir.path() + "/user_factors.f32");
  auto items = ReadFloatArray(dir.path() + "/item_factors.f32");
  ASSERT_TRUE(users.ok() && items.ok());
  ASSERT_EQ(users->rows, 5);
  ASSERT_EQ(items->rows, 4);
  ASSERT_EQ(users->cols, f);
  using Mat = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
  Eigen::Map<const Mat> x(users->values.data(), 5, f);
  Eigen::Map<const Mat> y(items->values.data(), 4, f);
  // The last half-step solved the items against the final user factors, so each item row must
  // solve its dense normal equations (X' C_i X + reg I) y_i = X' C_i p_i exactly.
  for (int i = 0; i < 4; ++i) {
    Eigen::VectorXf c = Eigen::VectorXf::Ones(5), p = Eigen::VectorXf::Zero(5);
    for (int u = 0; u < 5; ++u) {
      for (int64_t j = m.indptr[u]; j < m.indptr[u + 1]; ++j) {
        if (m.indices[j] == i) {
          c(u) = 1 + alpha * m.data[j];
          p(u) = 1;
        }
      }
    }
    Eigen::MatrixXf a = x.transpose() * c.asDiagonal() * x;
    a += reg * Eigen::MatrixXf::Identity(f, f);
    Eigen::VectorXf b = x.transpose() * (c.array() * p.array()).matrix();
    Eigen::VectorXf expected = a.ldlt().solve(b);
    for (int k = 0; k < f; ++k) EXPECT_NEAR(y(i, k), expected(k), 1e-4) << "item " << i;
  }
}

TEST(AlsTest, ConjugateGradientReachesTheCholeskyRecommendations) {
  // Three taste groups over 60 items; each user picks 10 items, mostly from its group's third.
  std::mt19937 rng(11);
  std::vector<Triplet> t;
  for (int u = 0; u < 90; ++u) {
    for (int j = 0; j < 10; ++j) {
      const int item =
          rng() % 4 == 0 ? static_cast<int>(rng() % 60) : u % 3 * 20 + static_cast<int>(rng() % 20);
      t.push_back({u, item, 1.0f + static_cast<float>(rng() % 3)});
    }
  }
  const CsrMatrix m = CsrMatrix::FromTriplets(90, 60, std::move(t));
  auto cg = MakeModel("als:factors=8,iterations=15,regularization=1,cg_steps=3,seed=3");
  auto exact = MakeModel("als:factors=8,iterations=15,regularization=1,solver=cholesky,seed=3");
  ASSERT_TRUE(cg->Fit(m, {}).ok());
  ASSERT_TRUE(exact->Fit(m, {}).ok());
  auto a = RecommendAll(*cg, m, 5), b = RecommendAll(*exact, m, 5);
  int same = 0, total = 0;
  for (size_t u = 0; u < a.size(); ++u) {
    const std::vector<int32_t> items = Items(a[u]);
    const std::set<int32_t> sa(items.begin(), items.end());
    for (const ItemScore& s : b[u]) same += static_cast<int>(sa.count(s.item));
    total += static_cast<int>(b[u].size());
  }
  EXPECT_EQ(total, 90 * 5);
  EXPECT_GE(same, total * 9 / 10);
}

TEST(AlsTest, CheckerboardRecommendsTheUnseenItemsOfTheUsersOwnHalf) {
  const CsrMatrix m = Checkerboard(20, 16, 2);
  for (const char* spec : {"als:factors=4,iterations=10,regularization=1,seed=1",
                           "als:factors=4,iterations=10,regularization=1,solver=cholesky,seed=1"}) {
    auto model = MakeModel(spec);
    ASSERT_TRUE(model->Fit(m, {}).ok());
    auto recs = RecommendAll(*model, m, 2);
    for (int32_t u = 0; u < m.rows; ++u) {
      std::set<int32_t> unseen;
      const int g = u % 2;
      std::set<int32_t> seen(m.RowIndices(u).begin(), m.RowIndices(u).end());
      for (int32_t i = g * 8; i < g * 8 + 8; ++i) {
        if (!seen.count(i)) unseen.insert(i);
      }
      ASSERT_EQ(recs[u].size(), 2u) << spec;
      const std::vector<int32_t> items = Items(recs[u]);
      const std::set<int32_t> got(items.begin(), items.end());
      EXPECT_EQ(got, unseen) << spec << " user " << u;
      EXPECT_GE(recs[u][0].score, recs[u][1].score);
    }
  }
}

TEST(AlsTest, SavedModelLoadsAndRecommendsTheSame) {
  const CsrMatrix m = Checkerboard(20, 16, 2);
  auto model = MakeModel("als:factors=5,iterations=3,seed=9");
  ASSERT_TRUE(model->Fit(m, {}).ok());
  TempDir dir;
  ASSERT_TRUE(model->Save(dir.path() + "/als").ok());
  auto loaded = MakeModel("als:factors=5,iterations=3,seed=9");
  ASSERT_TRUE(loaded->Load(dir.path() + "/als").ok());
  auto a = RecommendAll(*model, m, 5), b = RecommendAll(*loaded, m, 5);
  for (size_t u = 0; u < a.size(); ++u) {
    ASSERT_EQ(a[u].size(), b[u].size());
    for (size_t j = 0; j < a[u].size(); ++j) {
      EXPECT_EQ(a[u][j].item, b[u][j].item);
      EXPECT_EQ(a[u][j].score, b[u][j].score);
    }
  }
  std::vector<std::vector<ItemScore>> sa, sb;
  const std::vector<int32_t> items = {0, 9};
  ASSERT_TRUE(model->SimilarItems(items, 3, &sa).ok());
  ASSERT_TRUE(loaded->SimilarItems(items, 3, &sb).ok());
  for (size_t j = 0; j < sa.size(); ++j) EXPECT_EQ(Items(sa[j]), Items(sb[j]));

  // Another spec or a damaged file is refused, naming the folder.
  auto other = MakeModel("als:factors=6,iterations=3,seed=9");
  Status st = other->Load(dir.path() + "/als");
  EXPECT_FALSE(st.ok());
  EXPECT_NE(st.message().find(dir.path()), std::string::npos) << st.ToString();
  ASSERT_TRUE(
      WriteArray(dir.path() + "/als/item_factors.f32", DenseArray<float>{1, 3, {1, 2, 3}}).ok());
  EXPECT_FALSE(loaded->Load(dir.path() + "/als").ok());
}

TEST(AlsTest, RecommendedScoresAreDotProductsOfTheSavedFactors) {
  // 37 items (not a multiple of any vector width) and 10 factors, users with random histories.
  std::mt19937 rng(5);
  std::vector<Triplet> t;
  for (int u = 0; u < 30; ++u) {
    for (int j = 0; j < 6; ++j) t.push_back({u, static_cast<int32_t>(rng() % 37), 1.0f});
  }
  const CsrMatrix m = CsrMatrix::FromTriplets(30, 37, std::move(t));
  auto model = MakeModel("als:factors=10,iterations=5,seed=8");
  ASSERT_TRUE(model->Fit(m, {}).ok());
  TempDir dir;
  ASSERT_TRUE(model->Save(dir.path()).ok());
  auto users = ReadFloatArray(dir.path() + "/user_factors.f32");
  auto items = ReadFloatArray(dir.path() + "/item_factors.f32");
  ASSERT_TRUE(users.ok() && items.ok());
  RecommendOptions options;
  options.item_filter = [](int32_t item) { return item % 3 != 0; };
  auto recs = RecommendAll(*model, m, 8, options);
  for (int32_t u = 0; u < m.rows; ++u) {
    std::vector<float> dense(37);
    for (int i = 0; i < 37; ++i) {
      for (int k = 0; k < 10; ++k)
        dense[i] += users->values[u * 10 + k] * items->values[i * 10 + k];
    }
    std::vector<ItemScore> expected;
    TopK(dense, 8, m.RowIndices(u), options.item_filter, &expected);
    ASSERT_EQ(recs[u].size(), expected.size()) << "user " << u;
    for (size_t j = 0; j < expected.size(); ++j) {
      // Equal up to rounding; an item may swap places only with a near tie.
      EXPECT_NEAR(recs[u][j].score, expected[j].score, 1e-5f) << "user " << u;
      EXPECT_NEAR(dense[recs[u][j].item], expected[j].score, 1e-5f) << "user " << u;
    }
  }
}

TEST(AlsTest, HonoursExclusionsAndFilters) {
  const CsrMatrix m = Checkerboard(20, 16, 2);
  auto model = MakeModel("als:factors=4,iterations=8,regularization=1,seed=2");
  ASSERT_TRUE(model->Fit(m, {}).ok());
  RecommendOptions keep_history;
  keep_history.exclude_history = false;
  auto all = RecommendAll(*model, m, 16, keep_history);
  auto excluded = RecommendAll(*model, m, 16);
  for (int32_t u = 0; u < m.rows; ++u) {
    ASSERT_EQ(all[u].size(), 16u);
    // Without exclusions the whole half of the user's group comes first.
    for (size_t j = 0; j < 8; ++j) EXPECT_EQ(all[u][j].item / 8, u % 2) << "user " << u;
    EXPECT_EQ(excluded[u].size(), 16u - m.RowIndices(u).size());
    for (const ItemScore& s : excluded[u]) {
      for (int32_t seen : m.RowIndices(u)) EXPECT_NE(s.item, seen);
    }
  }
  RecommendOptions odd_only;
  odd_only.item_filter = [](int32_t item) { return item % 2 == 1; };
  auto filtered = RecommendAll(*model, m, 4, odd_only);
  for (int32_t u = 0; u < m.rows; ++u) {
    for (const ItemScore& s : filtered[u]) EXPECT_EQ(s.item % 2, 1);
  }
}

TEST(AlsTest, FoldsInANewUserFromTheHistory) {
  const CsrMatrix m = Checkerboard(20, 16, 2);
  auto model = MakeModel("als:factors=4,iterations=10,regularization=1,seed=4");
  ASSERT_TRUE(model->Fit(m, {}).ok());
  // Rows 20 and 21 are new: one with two items of the upper half, one with no history.
  std::vector<Triplet> t;
  for (int32_t u = 0; u < m.rows; ++u) {
    for (int32_t i : m.RowIndices(u)) t.push_back({u, i, 1.0f});
  }
  t.push_back({20, 9, 1.0f});
  t.push_back({20, 12, 1.0f});
  const CsrMatrix history = CsrMatrix::FromTriplets(22, 16, std::move(t));
  std::vector<std::vector<ItemScore>> out;
  const std::vector<int32_t> users = {20, 21, 0};
  ASSERT_TRUE(model->Recommend(users, history, 4, {}, &out).ok());
  ASSERT_EQ(out.size(), 3u);
  ASSERT_EQ(out[0].size(), 4u);
  for (const ItemScore& s : out[0]) {
    EXPECT_GE(s.item, 8);
    EXPECT_NE(s.item, 9);
    EXPECT_NE(s.item, 12);
  }
  EXPECT_TRUE(out[1].empty());
  // User 0 was fitted: its two unseen items of the lower half come first.
  ASSERT_EQ(out[2].size(), 4u);
  EXPECT_LT(out[2][0].item, 8);
  EXPECT_LT(out[2][1].item, 8);

  const std::vector<int32_t> outside = {22};
  Status st = model->Recommend(outside, history, 4, {}, &out);
  EXPECT_FALSE(st.ok());
  EXPECT_NE(st.message().find("22"), std::string::npos);
}

TEST(AlsTest, SimilarItemsComeFromTheSameHalf) {
  const CsrMatrix m = Checkerboard(20, 16, 2);
  auto model = MakeModel("als:factors=4,iterations=10,regularization=1,seed=5");
  ASSERT_TRUE(model->Fit(m, {}).ok());
  std::vector<std::vector<ItemScore>> out;
  const std::vector<int32_t> items = {2, 13};
  ASSERT_TRUE(model->SimilarItems(items, 5, &out).ok());
  for (const ItemScore& s : out[0]) {
    EXPECT_LT(s.item, 8);
    EXPECT_NE(s.item, 2);
    EXPECT_LE(s.score, 1.0001f);
  }
  for (const ItemScore& s : out[1]) {
    EXPECT_GE(s.item, 8);
    EXPECT_NE(s.item, 13);
  }
}

TEST(AlsTest, RejectsBadSpecsAndInputs) {
  for (const char* spec :
       {"als:factors=0", "als:factors=abc", "als:iterations=-1", "als:regularization=-0.1",
        "als:alpha=x", "als:cg_steps=0", "als:solver=lu", "als:learning_rate=0.1", "als:seed=-3"}) {
    auto model = CreateRecommender(spec);
    EXPECT_FALSE(model.ok()) << spec;
    EXPECT_EQ(model.status().code(), StatusCode::kInvalidArgument) << spec;
  }
  auto bad_key = CreateRecommender("als:factor=8");
  EXPECT_NE(bad_key.status().message().find("factor"), std::string::npos);

  auto model = MakeModel("als:factors=4,iterations=2");
  EXPECT_EQ(model->spec(),
            "als:factors=4,iterations=2,regularization=0.01,alpha=1,cg_steps=3,"
            "solver=cg");
  std::vector<std::vector<ItemScore>> out;
  const std::vector<int32_t> users = {0};
  EXPECT_FALSE(model->Recommend(users, CsrMatrix{}, 3, {}, &out).ok());  // not fitted
  EXPECT_FALSE(model->Fit(CsrMatrix{}, {}).ok());
  EXPECT_FALSE(model->Fit(CsrMatrix::FromTriplets(2, 2, {{0, 1, -1.0f}}), {}).ok());
  const CsrMatrix m = Checkerboard(4, 4, 0);
  ASSERT_TRUE(model->Fit(m, {}).ok());
  EXPECT_FALSE(model->Recommend(users, Checkerboard(4, 6, 0), 3, {}, &out).ok());
  const std::vector<int32_t> items = {4};
  EXPECT_FALSE(model->SimilarItems(items, 3, &out).ok());
}

}  // namespace
}  // namespace recsys
