#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
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

TEST(ItemKnnTest, RecommendsUnseenItemsOfTheUsersOwnHalfFirst) {
  CsrMatrix m = Checkerboard();
  for (const char* spec : {"itemknn", "itemknn:weighting=tfidf", "itemknn:weighting=bm25"}) {
    SCOPED_TRACE(spec);
    auto model = Fitted(spec, m);
    ASSERT_NE(model, nullptr);
    ExpectOwnHalfFirst(*model, m);
  }
}

TEST(ItemKnnTest, SimilarityIsCosineWithShrink) {
  // Items 0 and 1 share users 0 and 1; each has one more user of its own. Binary values, so
  // dot = 2 and |0| = |1| = sqrt(3).
  CsrMatrix m = CsrMatrix::FromTriplets(
      5, 3, {{0, 0, 1}, {0, 1, 1}, {1, 0, 1}, {1, 1, 1}, {2, 0, 1}, {3, 1, 1}, {4, 2, 1}});
  std::vector<std::vector<ItemScore>> out;
  const int32_t items[] = {0, 2};

  auto shrunk = Fitted("itemknn:shrink=1", m);
  ASSERT_NE(shrunk, nullptr);
  ASSERT_TRUE(shrunk->SimilarItems(items, 5, &out).ok());
  ASSERT_EQ(out[0].size(), 1u);  // item 2 shares no user with item 0
  EXPECT_EQ(out[0][0].item, 1);
  EXPECT_FLOAT_EQ(out[0][0].score, 2.0f / (3.0f + 1.0f));
  EXPECT_TRUE(out[1].empty());

  auto plain = Fitted("itemknn:shrink=0", m);
  ASSERT_NE(plain, nullptr);
  ASSERT_TRUE(plain->SimilarItems(items, 5, &out).ok());
  ASSERT_EQ(out[0].size(), 1u);
  EXPECT_FLOAT_EQ(out[0][0].score, 2.0f / 3.0f);

  // User 2 saw only item 0, so its score for item 1 is 1 * sim(0, 1); item 2 scores 0.
  const int32_t users[] = {2};
  ASSERT_TRUE(shrunk->Recommend(users, m, 5, RecommendOptions{}, &out).ok());
  ASSERT_EQ(out[0].size(), 2u);
  EXPECT_EQ(out[0][0].item, 1);
  EXPECT_FLOAT_EQ(out[0][0].score, 0.5f);
  EXPECT_EQ(out[0][1].item, 2);
  EXPECT_FLOAT_EQ(out[0][1].score, 0.0f);
}

TEST(ItemKnnTest, TfidfGivesNoWeightToUsersWhoSawMostItems) {
  // 4 items, so a user's idf is log(4 / (1 + items seen)). User 0 saw three items: idf 0, and its
  // co-occurrences count for nothing. Users 1 and 2 saw two items each: idf log(4 / 3).
  CsrMatrix m = CsrMatrix::FromTriplets(
      3, 4, {{0, 0, 1}, {0, 1, 1}, {0, 2, 1}, {1, 0, 1}, {1, 3, 1}, {2, 1, 1}, {2, 3, 1}});
  std::vector<std::vector<ItemScore>> out;
  const int32_t items[] = {0};

  auto none = Fitted("itemknn:shrink=0", m);
  ASSERT_NE(none, nullptr);
  ASSERT_TRUE(none->SimilarItems(items, 5, &out).ok());
  EXPECT_EQ(Items(out[0]), (std::vector<int32_t>{2, 1, 3}));  // 1/sqrt(2), 1/2, 1/2

  auto tfidf = Fitted("itemknn:shrink=0,weighting=tfidf", m);
  ASSERT_NE(tfidf, nullptr);
  ASSERT_TRUE(tfidf->SimilarItems(items, 5, &out).ok());
  ASSERT_EQ(Items(out[0]), (std::vector<int32_t>{3}));
  // Item 0 is (0, c, 0), item 3 is (0, c, c) over users 0-2: cosine 1 / sqrt(2).
  EXPECT_NEAR(out[0][0].score, 1.0 / std::sqrt(2.0), 1e-6);
}

TEST(ItemKnnTest, KeepsAtMostNeighborsPerItem) {
  CsrMatrix m = Checkerboard();
  auto model = Fitted("itemknn:neighbors=2", m);
  ASSERT_NE(model, nullptr);
  std::vector<std::vector<ItemScore>> out;
  const int32_t items[] = {0, 7};
  ASSERT_TRUE(model->SimilarItems(items, 10, &out).ok());
  ASSERT_EQ(out[0].size(), 2u);
  ASSERT_EQ(out[1].size(), 2u);
  for (const ItemScore& s : out[0]) EXPECT_LT(s.item, 5);
  for (const ItemScore& s : out[1]) EXPECT_GE(s.item, 5);
  EXPECT_GE(out[0][0].score, out[0][1].score);
}

TEST(ItemKnnTest, SimilarItemsComeFromTheSameHalf) {
  CsrMatrix m = Checkerboard();
  auto model = Fitted("itemknn", m);
  ASSERT_NE(model, nullptr);
  std::vector<std::vector<ItemScore>> out;
  std::vector<int32_t> items = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9};
  ASSERT_TRUE(model->SimilarItems(items, 4, &out).ok());
  for (int32_t i : items) {
    ASSERT_EQ(out[i].size(), 4u) << "item " << i;
    for (const ItemScore& s : out[i]) {
      EXPECT_TRUE(SameHalf(s.item, i)) << "item " << i << " similar " << s.item;
      EXPECT_NE(s.item, i);
      EXPECT_GT(s.score, 0);
    }
  }
  const int32_t bad[] = {10};
  EXPECT_FALSE(model->SimilarItems(bad, 4, &out).ok());
}

TEST(ItemKnnTest, ExclusionsAndFilter) {
  CsrMatrix m = Checkerboard();
  auto model = Fitted("itemknn", m);
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
  filtered.item_filter = [](int32_t item) { return item != 3; };
  ASSERT_TRUE(model->Recommend(users, m, 2, filtered, &out).ok());
  ASSERT_EQ(out[0].size(), 2u);
  EXPECT_EQ(out[0][0].item, 4);
  EXPECT_GE(out[0][1].item, 5);
}

TEST(ItemKnnTest, SaveLoadGivesIdenticalRecommendations) {
  CsrMatrix m = Checkerboard();
  const std::string spec = "itemknn:neighbors=3,shrink=2.5,weighting=bm25,bm25_k1=1.5,bm25_b=0.5";
  auto model = Fitted(spec, m);
  ASSERT_NE(model, nullptr);
  EXPECT_EQ(model->spec(), spec);
  TempDir dir;
  auto loaded = SavedAndLoaded(*model, dir.path() + "/knn");
  ASSERT_NE(loaded, nullptr);
  std::vector<int32_t> users = AllUsers(m);
  std::vector<std::vector<ItemScore>> a, b;
  ASSERT_TRUE(model->Recommend(users, m, 10, RecommendOptions{}, &a).ok());
  ASSERT_TRUE(loaded->Recommend(users, m, 10, RecommendOptions{}, &b).ok());
  ExpectSameLists(a, b);
  auto other = CreateRecommender("itemknn");
  ASSERT_TRUE(other.ok());
  EXPECT_FALSE((*other)->Load(dir.path() + "/knn").ok());
}

TEST(ItemKnnTest, SpecRoundTripsAndBadSpecsNameTheKey) {
  auto model = CreateRecommender("itemknn");
  ASSERT_TRUE(model.ok());
  EXPECT_EQ((*model)->spec(),
            "itemknn:neighbors=100,shrink=10,weighting=none,bm25_k1=1.2,bm25_b=0.75");
  for (const char* bad : {"itemknn:neighbors=0", "itemknn:shrink=-1", "itemknn:weighting=idf",
                          "itemknn:bm25_b=2", "itemknn:bm25_k1=x", "itemknn:alpha=1"}) {
    auto r = CreateRecommender(bad);
    ASSERT_FALSE(r.ok()) << bad;
    std::string key(bad + 8);
    key = key.substr(0, key.find('='));
    EXPECT_NE(r.status().message().find(key), std::string::npos) << r.status().ToString();
  }
}

}  // namespace
}  // namespace recsys
