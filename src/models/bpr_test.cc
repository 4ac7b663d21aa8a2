#include <gtest/gtest.h>

#include <algorithm>
#include <memory>
#include <vector>

#include "core/temp_dir.h"
#include "models/recommender.h"

namespace recsys {
namespace {

// Small and quick to learn: 8 factors, a high learning rate.
constexpr char kSpec[] = "bpr:factors=8,learning_rate=0.05,iterations=300";

// 20 users x 10 items: users 0-9 saw three of items 0-4, users 10-19 three of items 5-9.
CsrMatrix Checkerboard() {
  std::vector<Triplet> t;
  for (int32_t u = 0; u < 20; ++u) {
    const int32_t base = u < 10 ? 0 : 5;
    for (int32_t d = 0; d < 3; ++d) t.push_back({u, base + (u + d) % 5, 1.0f + (u % 3)});
  }
  return CsrMatrix::FromTriplets(20, 10, std::move(t));
}

bool SameHalf(int32_t a, int32_t b) { return (a < 5) == (b < 5); }

FitOptions OneThread(uint64_t seed = 42) {
  FitOptions options;
  options.threads = 1;
  options.seed = seed;
  return options;
}

std::unique_ptr<Recommender> Fitted(const std::string& spec, const CsrMatrix& m,
                                    const FitOptions& options) {
  auto model = CreateRecommender(spec);
  EXPECT_TRUE(model.ok()) << model.status().ToString();
  if (!model.ok()) return nullptr;
  Status st = (*model)->Fit(m, options);
  EXPECT_TRUE(st.ok()) << st.ToString();
  return std::move(model).value();
}

std::vector<int32_t> Items(const std::vector<ItemScore>& list) {
  std::vector<int32_t> items;
  for (const ItemScore& s : list) items.push_back(s.item);
  return items;
}

std::vector<int32_t> AllUsers(const CsrMatrix& m) {
  std::vector<int32_t> users(static_cast<size_t>(m.rows));
  for (int32_t u = 0; u < m.rows; ++u) users[u] = u;
  return users;
}

std::vector<std::vector<ItemScore>> RecommendAll(const Recommender& model, const CsrMatrix& m) {
  std::vector<std::vector<ItemScore>> out;
  std::vector<int32_t> users = AllUsers(m);
  EXPECT_TRUE(model.Recommend(users, m, 10, RecommendOptions{}, &out).ok());
  return out;
}

void ExpectOwnHalfFirst(const Recommender& model, const CsrMatrix& m) {
  std::vector<std::vector<ItemScore>> out = RecommendAll(model, m);
  ASSERT_EQ(out.size(), 20u);
  for (int32_t u = 0; u < 20; ++u) {
    const int32_t own = u < 10 ? 0 : 5;
    ASSERT_EQ(out[u].size(), 7u) << "user " << u;
    for (size_t n = 0; n < out[u].size(); ++n) {
      EXPECT_EQ(SameHalf(out[u][n].item, own), n < 2) << "user " << u << " rank " << n;
    }
  }
}

TEST(BprTest, RanksOwnHalfItemsAboveTheOtherHalf) {
  CsrMatrix m = Checkerboard();
  auto model = Fitted(kSpec, m, OneThread());
  ASSERT_NE(model, nullptr);
  ExpectOwnHalfFirst(*model, m);
}

TEST(BprTest, LearnsWithSeveralThreads) {
  CsrMatrix m = Checkerboard();
  FitOptions options;
  options.threads = 2;
  auto model = Fitted(kSpec, m, options);
  ASSERT_NE(model, nullptr);
  ExpectOwnHalfFirst(*model, m);
}

TEST(BprTest, OneThreadFitsWithTheSameSeedAreIdentical) {
  CsrMatrix m = Checkerboard();
  auto a = Fitted(kSpec, m, OneThread());
  auto b = Fitted(kSpec, m, OneThread());
  auto c = Fitted(std::string(kSpec) + ",seed=7", m, OneThread());
  ASSERT_NE(a, nullptr);
  ASSERT_NE(b, nullptr);
  ASSERT_NE(c, nullptr);
  std::vector<std::vector<ItemScore>> ra = RecommendAll(*a, m), rb = RecommendAll(*b, m),
                                      rc = RecommendAll(*c, m);
  bool seed_matters = false;
  for (size_t u = 0; u < ra.size(); ++u) {
    ASSERT_EQ(Items(ra[u]), Items(rb[u]));
    for (size_t n = 0; n < ra[u].size(); ++n) {
      EXPECT_EQ(ra[u][n].score, rb[u][n].score);
      if (ra[u][n].score != rc[u][n].score) seed_matters = true;
    }
  }
  EXPECT_TRUE(seed_matters);
}

TEST(BprTest, SimilarItemsComeFromTheSameHalf) {
  CsrMatrix m = Checkerboard();
  auto model = Fitted(kSpec, m, OneThread());
  ASSERT_NE(model, nullptr);
  std::vector<std::vector<ItemScore>> out;
  std::vector<int32_t> items = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9};
  ASSERT_TRUE(model->SimilarItems(items, 4, &out).ok());
  for (int32_t i : items) {
    ASSERT_EQ(out[i].size(), 4u);
    for (const ItemScore& s : out[i]) {
      EXPECT_TRUE(SameHalf(s.item, i)) << "item " << i << " similar " << s.item;
    }
  }
}

TEST(BprTest, ExclusionsAndFilter) {
  CsrMatrix m = Checkerboard();
  auto model = Fitted(kSpec, m, OneThread());
  ASSERT_NE(model, nullptr);
  std::vector<std::vector<ItemScore>> out;
  const int32_t users[] = {0};  // saw items 0, 1, 2
  RecommendOptions keep;
  keep.exclude_history = false;
  ASSERT_TRUE(model->Recommend(users, m, 5, keep, &out).ok());
  std::vector<int32_t> got = Items(out[0]);
  std::sort(got.begin(), got.end());
  EXPECT_EQ(got, (std::vector<int32_t>{0, 1, 2, 3, 4}));

  RecommendOptions filtered;
  filtered.item_filter = [](int32_t item) { return item % 2 == 0; };
  ASSERT_TRUE(model->Recommend(users, m, 10, filtered, &out).ok());
  got = Items(out[0]);
  ASSERT_FALSE(got.empty());
  EXPECT_EQ(got[0], 4);
  std::sort(got.begin(), got.end());
  EXPECT_EQ(got, (std::vector<int32_t>{4, 6, 8}));

  const int32_t unknown[] = {20};
  EXPECT_FALSE(model->Recommend(unknown, m, 5, RecommendOptions{}, &out).ok());
}

TEST(BprTest, SaveLoadGivesIdenticalRecommendations) {
  CsrMatrix m = Checkerboard();
  auto model = Fitted(kSpec, m, FitOptions{});
  ASSERT_NE(model, nullptr);
  TempDir dir;
  ASSERT_TRUE(model->Save(dir.path() + "/bpr").ok());
  auto loaded = CreateRecommender(model->spec());
  ASSERT_TRUE(loaded.ok());
  Status st = (*loaded)->Load(dir.path() + "/bpr");
  ASSERT_TRUE(st.ok()) << st.ToString();
  std::vector<std::vector<ItemScore>> a = RecommendAll(*model, m), b = RecommendAll(**loaded, m);
  for (size_t u = 0; u < a.size(); ++u) {
    ASSERT_EQ(Items(a[u]), Items(b[u]));
    for (size_t n = 0; n < a[u].size(); ++n) EXPECT_EQ(a[u][n].score, b[u][n].score);
  }
  std::vector<std::vector<ItemScore>> sa, sb;
  const int32_t items[] = {3, 8};
  ASSERT_TRUE(model->SimilarItems(items, 5, &sa).ok());
  ASSERT_TRUE((*loaded)->SimilarItems(items, 5, &sb).ok());
  for (size_t n = 0; n < sa.size(); ++n) EXPECT_EQ(Items(sa[n]), Items(sb[n]));

  auto other = CreateRecommender("bpr:factors=16");
  ASSERT_TRUE(other.ok());
  EXPECT_FALSE((*other)->Load(dir.path() + "/bpr").ok());
}

TEST(BprTest, SpecRoundTripsAndBadSpecsNameTheKey) {
  auto model = CreateRecommender("bpr");
  ASSERT_TRUE(model.ok());
  EXPECT_EQ((*model)->spec(),
            "bpr:factors=64,learning_rate=0.01,regularization=0.01,iterations=100,seed=42,"
            "verify_negative_samples=true");
  for (const char* bad :
       {"bpr:factors=0", "bpr:learning_rate=-0.1", "bpr:regularization=x", "bpr:iterations=-1",
        "bpr:seed=-5", "bpr:verify_negative_samples=1", "bpr:alpha=2"}) {
    auto r = CreateRecommender(bad);
    ASSERT_FALSE(r.ok()) << bad;
    std::string key(bad + 4);
    key = key.substr(0, key.find('='));
    EXPECT_NE(r.status().message().find(key), std::string::npos) << r.status().ToString();
  }
}

}  // namespace
}  // namespace recsys
