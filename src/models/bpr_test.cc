#include <gtest/gtest.h>

#include <algorithm>
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

// Small and quick to learn: 8 factors, a high learning rate.
constexpr char kSpec[] = "bpr:factors=8,learning_rate=0.05,iterations=300";

FitOptions OneThread(uint64_t seed = 42) {
  FitOptions options;
  options.threads = 1;
  options.seed = seed;
  return options;
}

std::vector<std::vector<ItemScore>> RecommendAll(const Recommender& model, const CsrMatrix& m) {
  std::vector<std::vector<ItemScore>> out;
  std::vector<int32_t> users = AllUsers(m);
  EXPECT_TRUE(model.Recommend(users, m, 10, RecommendOptions{}, &out).ok());
  return out;
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
  auto loaded = SavedAndLoaded(*model, dir.path() + "/bpr");
  ASSERT_NE(loaded, nullptr);
  ExpectSameLists(RecommendAll(*model, m), RecommendAll(*loaded, m));
  std::vector<std::vector<ItemScore>> sa, sb;
  const int32_t items[] = {3, 8};
  ASSERT_TRUE(model->SimilarItems(items, 5, &sa).ok());
  ASSERT_TRUE(loaded->SimilarItems(items, 5, &sb).ok());
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
