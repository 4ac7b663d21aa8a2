#include <gtest/gtest.h>

#include <memory>
#include <vector>

#include "core/temp_dir.h"
#include "models/recommender.h"
#include "models/test_support.h"

namespace recsys {
namespace {

using test_support::ExpectSameLists;
using test_support::Fitted;
using test_support::Items;
using test_support::SavedAndLoaded;

// 5 users x 4 items. Users per item: 3, 1, 2, 0; weights per item: 3, 9, 2.5, 0.
CsrMatrix SmallMatrix() {
  return CsrMatrix::FromTriplets(
      5, 4, {{0, 0, 1}, {1, 0, 1}, {2, 0, 1}, {0, 1, 9}, {1, 2, 2}, {3, 2, 0.5}});
}

TEST(PopularityTest, CountsUsersPerItem) {
  CsrMatrix m = SmallMatrix();
  auto model = Fitted("popularity", m);
  ASSERT_NE(model, nullptr);
  std::vector<std::vector<ItemScore>> out;
  const int32_t users[] = {4};  // no history
  ASSERT_TRUE(model->Recommend(users, m, 10, RecommendOptions{}, &out).ok());
  ASSERT_EQ(out.size(), 1u);
  ASSERT_EQ(out[0].size(), 4u);
  EXPECT_EQ(Items(out[0]), (std::vector<int32_t>{0, 2, 1, 3}));
  EXPECT_FLOAT_EQ(out[0][0].score, 3);
  EXPECT_FLOAT_EQ(out[0][1].score, 2);
  EXPECT_FLOAT_EQ(out[0][2].score, 1);
  EXPECT_FLOAT_EQ(out[0][3].score, 0);
}

TEST(PopularityTest, WeightModeSumsWeights) {
  CsrMatrix m = SmallMatrix();
  auto model = Fitted("popularity:mode=weight", m);
  ASSERT_NE(model, nullptr);
  EXPECT_EQ(model->spec(), "popularity:mode=weight");
  std::vector<std::vector<ItemScore>> out;
  const int32_t users[] = {4};
  ASSERT_TRUE(model->Recommend(users, m, 3, RecommendOptions{}, &out).ok());
  EXPECT_EQ(Items(out[0]), (std::vector<int32_t>{1, 0, 2}));
  EXPECT_FLOAT_EQ(out[0][0].score, 9);
  EXPECT_FLOAT_EQ(out[0][2].score, 2.5);
}

TEST(PopularityTest, ExcludesHistoryUnlessAskedAndHonoursFilter) {
  CsrMatrix m = SmallMatrix();
  auto model = Fitted("popularity", m);
  ASSERT_NE(model, nullptr);
  std::vector<std::vector<ItemScore>> out;
  const int32_t users[] = {0, 1};  // user 0 saw items 0 and 1, user 1 saw 0 and 2
  ASSERT_TRUE(model->Recommend(users, m, 2, RecommendOptions{}, &out).ok());
  EXPECT_EQ(Items(out[0]), (std::vector<int32_t>{2, 3}));
  EXPECT_EQ(Items(out[1]), (std::vector<int32_t>{1, 3}));

  RecommendOptions keep;
  keep.exclude_history = false;
  ASSERT_TRUE(model->Recommend(users, m, 2, keep, &out).ok());
  EXPECT_EQ(Items(out[0]), (std::vector<int32_t>{0, 2}));

  RecommendOptions filtered;
  filtered.item_filter = [](int32_t item) { return item != 2; };
  ASSERT_TRUE(model->Recommend(users, m, 5, filtered, &out).ok());
  EXPECT_EQ(Items(out[0]), (std::vector<int32_t>{3}));
  EXPECT_EQ(Items(out[1]), (std::vector<int32_t>{1, 3}));
}

TEST(PopularityTest, SimilarItemsAreTheMostPopularOthers) {
  CsrMatrix m = SmallMatrix();
  auto model = Fitted("popularity", m);
  ASSERT_NE(model, nullptr);
  std::vector<std::vector<ItemScore>> out;
  const int32_t items[] = {0, 2};
  ASSERT_TRUE(model->SimilarItems(items, 2, &out).ok());
  EXPECT_EQ(Items(out[0]), (std::vector<int32_t>{2, 1}));
  EXPECT_EQ(Items(out[1]), (std::vector<int32_t>{0, 1}));
  const int32_t bad[] = {4};
  EXPECT_FALSE(model->SimilarItems(bad, 2, &out).ok());
}

TEST(PopularityTest, SaveLoadGivesIdenticalRecommendations) {
  CsrMatrix m = SmallMatrix();
  auto model = Fitted("popularity:mode=weight", m);
  ASSERT_NE(model, nullptr);
  TempDir dir;
  auto loaded = SavedAndLoaded(*model, dir.path() + "/pop");
  ASSERT_NE(loaded, nullptr);
  const int32_t users[] = {0, 1, 2, 3, 4};
  std::vector<std::vector<ItemScore>> a, b;
  ASSERT_TRUE(model->Recommend(users, m, 4, RecommendOptions{}, &a).ok());
  ASSERT_TRUE(loaded->Recommend(users, m, 4, RecommendOptions{}, &b).ok());
  ExpectSameLists(a, b);

  auto other = CreateRecommender("popularity:mode=count");
  ASSERT_TRUE(other.ok());
  Status st = (*other)->Load(dir.path() + "/pop");
  EXPECT_FALSE(st.ok());
  EXPECT_NE(st.message().find("mode=weight"), std::string::npos) << st.ToString();
}

TEST(PopularityTest, RejectsBadSpecsNamingTheKey) {
  auto bad_mode = CreateRecommender("popularity:mode=loud");
  ASSERT_FALSE(bad_mode.ok());
  EXPECT_NE(bad_mode.status().message().find("mode"), std::string::npos);
  auto unknown = CreateRecommender("popularity:window=7");
  ASSERT_FALSE(unknown.ok());
  EXPECT_NE(unknown.status().message().find("window"), std::string::npos);
}

TEST(PopularityTest, RejectsUsersOutsideTheHistory) {
  CsrMatrix m = SmallMatrix();
  auto model = Fitted("popularity", m);
  ASSERT_NE(model, nullptr);
  std::vector<std::vector<ItemScore>> out;
  const int32_t users[] = {5};
  EXPECT_FALSE(model->Recommend(users, m, 2, RecommendOptions{}, &out).ok());
}

std::vector<int32_t> TopFor(Recommender* model, const CsrMatrix& m, int32_t user, int k,
                            const ItemSideData* side) {
  FitOptions fit;
  fit.side = side;
  EXPECT_TRUE(model->Fit(m, fit).ok());
  std::vector<int32_t> users = {user};
  std::vector<std::vector<ItemScore>> out;
  EXPECT_TRUE(model->Recommend(users, m, k, RecommendOptions{}, &out).ok());
  return out.empty() ? std::vector<int32_t>{} : Items(out[0]);
}

TEST(PopularityTest, TrendingRanksRecentInteractionsAboveOldOnes) {
  // Item 0: two users 60 days ago; item 1: one user today. User 3 saw nothing.
  const CsrMatrix m = CsrMatrix::FromTriplets(4, 2, {{0, 0, 1}, {1, 0, 1}, {2, 1, 1}});
  constexpr int64_t kDay = 86'400'000;
  ItemSideData side;
  side.now_ms = 100 * kDay;
  side.entry_time_ms = {40 * kDay, 40 * kDay, 100 * kDay};  // CSR order: (0,0) (1,0) (2,1)

  auto weight = CreateRecommender("popularity:mode=weight");
  ASSERT_TRUE(weight.ok());
  EXPECT_EQ(TopFor(weight->get(), m, 3, 2, &side), (std::vector<int32_t>{0, 1}));

  auto trending = CreateRecommender("popularity:mode=trending,half_life_days=7");
  ASSERT_TRUE(trending.ok()) << trending.status().ToString();
  EXPECT_EQ((*trending)->spec(), "popularity:mode=trending,half_life_days=7");
  EXPECT_EQ(TopFor(trending->get(), m, 3, 2, &side), (std::vector<int32_t>{1, 0}));
  // Without times trending is weight.
  EXPECT_EQ(TopFor(trending->get(), m, 3, 2, nullptr), (std::vector<int32_t>{0, 1}));
}

TEST(PopularityTest, CategoryScopeRecommendsThePopularItemsOfTheUsersTopCategory) {
  // Items 0, 1 are shoes, 2, 3 hats; item 2 is the most popular. User 0 saw shoe 0.
  const CsrMatrix m = CsrMatrix::FromTriplets(
      4, 4, {{0, 0, 1}, {1, 2, 1}, {2, 2, 1}, {3, 2, 1}, {1, 3, 1}, {2, 1, 1}});
  ItemSideData side;
  side.category_names = {"shoes", "hats"};
  side.category = {0, 0, 1, 1};
  auto model = CreateRecommender("popularity:scope=category");
  ASSERT_TRUE(model.ok()) << model.status().ToString();
  EXPECT_EQ(TopFor(model->get(), m, 0, 2, &side), (std::vector<int32_t>{1, 2}));
  auto all = CreateRecommender("popularity");
  ASSERT_TRUE(all.ok());
  EXPECT_EQ(TopFor(all->get(), m, 0, 2, &side), (std::vector<int32_t>{2, 1}));

  TempDir dir;
  ASSERT_TRUE((*model)->Save(dir.path() + "/m").ok());
  auto loaded = CreateRecommender((*model)->spec());
  ASSERT_TRUE(loaded.ok());
  ASSERT_TRUE((*loaded)->Load(dir.path() + "/m").ok());
  std::vector<int32_t> users = {0};
  std::vector<std::vector<ItemScore>> out;
  ASSERT_TRUE((*loaded)->Recommend(users, m, 2, RecommendOptions{}, &out).ok());
  EXPECT_EQ(Items(out[0]), (std::vector<int32_t>{1, 2}));
}

TEST(PopularityTest, RejectsAnUnknownModeNamingIt) {
  auto model = CreateRecommender("popularity:mode=hot");
  ASSERT_FALSE(model.ok());
  EXPECT_NE(model.status().message().find("hot"), std::string::npos);
}

}  // namespace
}  // namespace recsys
