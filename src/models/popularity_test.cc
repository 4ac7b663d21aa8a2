#include <gtest/gtest.h>

#include <memory>
#include <vector>

#include "core/temp_dir.h"
#include "models/recommender.h"

namespace recsys {
namespace {

// 5 users x 4 items. Users per item: 3, 1, 2, 0; weights per item: 3, 9, 2.5, 0.
CsrMatrix SmallMatrix() {
  return CsrMatrix::FromTriplets(
      5, 4, {{0, 0, 1}, {1, 0, 1}, {2, 0, 1}, {0, 1, 9}, {1, 2, 2}, {3, 2, 0.5}});
}

std::unique_ptr<Recommender> Fitted(const std::string& spec, const CsrMatrix& m) {
  auto model = CreateRecommender(spec);
  EXPECT_TRUE(model.ok()) << model.status().ToString();
  if (!model.ok()) return nullptr;
  EXPECT_TRUE((*model)->Fit(m, FitOptions{}).ok());
  return std::move(model).value();
}

std::vector<int32_t> Items(const std::vector<ItemScore>& list) {
  std::vector<int32_t> items;
  for (const ItemScore& s : list) items.push_back(s.item);
  return items;
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
  ASSERT_TRUE(model->Save(dir.path() + "/pop").ok());
  auto loaded = CreateRecommender("popularity:mode=weight");
  ASSERT_TRUE(loaded.ok());
  ASSERT_TRUE((*loaded)->Load(dir.path() + "/pop").ok());
  const int32_t users[] = {0, 1, 2, 3, 4};
  std::vector<std::vector<ItemScore>> a, b;
  ASSERT_TRUE(model->Recommend(users, m, 4, RecommendOptions{}, &a).ok());
  ASSERT_TRUE((*loaded)->Recommend(users, m, 4, RecommendOptions{}, &b).ok());
  ASSERT_EQ(a.size(), b.size());
  for (size_t u = 0; u < a.size(); ++u) {
    ASSERT_EQ(Items(a[u]), Items(b[u]));
    for (size_t n = 0; n < a[u].size(); ++n) EXPECT_EQ(a[u][n].score, b[u][n].score);
  }

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

}  // namespace
}  // namespace recsys
