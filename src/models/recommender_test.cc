#include "models/recommender.h"

#include <gtest/gtest.h>

#include <vector>

namespace recsys {
namespace {

std::vector<int32_t> Items(const std::vector<ItemScore>& list) {
  std::vector<int32_t> items;
  for (const ItemScore& s : list) items.push_back(s.item);
  return items;
}

TEST(ModelSpecTest, ParsesNameAndParameters) {
  auto spec = ParseModelSpec(" als: factors=8 , alpha=2.5,,solver=cg ");
  ASSERT_TRUE(spec.ok()) << spec.status().ToString();
  EXPECT_EQ(spec->name, "als");
  EXPECT_EQ(spec->params.size(), 3u);
  EXPECT_EQ(spec->params.at("factors"), "8");
  EXPECT_EQ(spec->params.at("alpha"), "2.5");

  auto bare = ParseModelSpec("popularity");
  ASSERT_TRUE(bare.ok());
  EXPECT_EQ(bare->name, "popularity");
  EXPECT_TRUE(bare->params.empty());
}

TEST(ModelSpecTest, RejectsMalformedSpecsNamingThePart) {
  EXPECT_FALSE(ParseModelSpec("").ok());
  EXPECT_FALSE(ParseModelSpec(":factors=3").ok());
  auto no_value = ParseModelSpec("als:factors");
  ASSERT_FALSE(no_value.ok());
  EXPECT_NE(no_value.status().message().find("factors"), std::string::npos);
  auto twice = ParseModelSpec("als:alpha=1,alpha=2");
  ASSERT_FALSE(twice.ok());
  EXPECT_NE(twice.status().message().find("alpha"), std::string::npos);
}

TEST(ModelSpecTest, TypedAccessChecksFormatAndRange) {
  auto spec = ParseModelSpec("m:a=3,b=0.5,c=x,d=1e3,e=cg");
  ASSERT_TRUE(spec.ok());
  EXPECT_EQ(spec->Int("a", 1, 0, 10).value(), 3);
  EXPECT_EQ(spec->Int("missing", 7, 0, 10).value(), 7);
  EXPECT_FALSE(spec->Int("a", 1, 4, 10).ok());  // out of range
  EXPECT_FALSE(spec->Int("b", 1, 0, 10).ok());  // not an integer
  EXPECT_DOUBLE_EQ(spec->Double("b", 0, 0, 1).value(), 0.5);
  EXPECT_DOUBLE_EQ(spec->Double("d", 0, 0, 1e4).value(), 1000);
  auto bad = spec->Double("c", 0, 0, 1);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(bad.status().message().find("c=x"), std::string::npos);
  EXPECT_EQ(spec->String("e", "cholesky", {"cg", "cholesky"}).value(), "cg");
  EXPECT_FALSE(spec->String("c", "cg", {"cg", "cholesky"}).ok());
  EXPECT_TRUE(spec->CheckAllUsed().ok());

  auto unused = ParseModelSpec("m:a=1,zzz=2");
  ASSERT_TRUE(unused.ok());
  (void)unused->Int("a", 0, 0, 5);
  Status st = unused->CheckAllUsed();
  EXPECT_FALSE(st.ok());
  EXPECT_NE(st.message().find("zzz"), std::string::npos);
}

TEST(CreateRecommenderTest, RejectsUnknownModelsAndKeys) {
  auto unknown = CreateRecommender("svdpp:factors=3");
  ASSERT_FALSE(unknown.ok());
  EXPECT_EQ(unknown.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(unknown.status().message().find("svdpp"), std::string::npos);
  EXPECT_NE(unknown.status().message().find("als"), std::string::npos);  // lists the models

  auto bad_key = CreateRecommender("als:factors=4,learning_rate=0.1");
  ASSERT_FALSE(bad_key.ok());
  EXPECT_NE(bad_key.status().message().find("learning_rate"), std::string::npos);
}

TEST(CreateRecommenderTest, SpecRoundTripsThroughTheFactory) {
  auto model = CreateRecommender("als:factors=16,alpha=4");
  ASSERT_TRUE(model.ok()) << model.status().ToString();
  EXPECT_EQ((*model)->name(), "als");
  auto again = CreateRecommender((*model)->spec());
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  EXPECT_EQ((*again)->spec(), (*model)->spec());
}

TEST(RecommenderNamesTest, AreSortedAndIncludeAls) {
  const std::vector<std::string> names = RecommenderNames();
  EXPECT_TRUE(std::is_sorted(names.begin(), names.end()));
  EXPECT_NE(std::find(names.begin(), names.end(), "als"), names.end());
  EXPECT_NE(std::find(names.begin(), names.end(), "popularity"), names.end());
}

TEST(TopKTest, ReturnsBestFirstWithTiesByLowerIndex) {
  const std::vector<float> scores = {0.5f, 2.0f, 1.0f, 2.0f, -1.0f, 1.0f};
  std::vector<ItemScore> out;
  TopK(scores, 4, {}, nullptr, &out);
  EXPECT_EQ(Items(out), (std::vector<int32_t>{1, 3, 2, 5}));
  EXPECT_EQ(out[0].score, 2.0f);
  EXPECT_EQ(out[3].score, 1.0f);
}

TEST(TopKTest, SkipsExcludedAndFilteredItems) {
  const std::vector<float> scores = {5, 4, 3, 2, 1, 0};
  const std::vector<int32_t> excluded = {0, 2};
  std::vector<ItemScore> out;
  TopK(scores, 3, excluded, nullptr, &out);
  EXPECT_EQ(Items(out), (std::vector<int32_t>{1, 3, 4}));
  TopK(
      scores, 3, excluded, [](int32_t item) { return item != 3; }, &out);
  EXPECT_EQ(Items(out), (std::vector<int32_t>{1, 4, 5}));
}

TEST(TopKTest, ReturnsFewerWhenFewerAreEligible) {
  const std::vector<float> scores = {1, 2, 3};
  const std::vector<int32_t> excluded = {1};
  std::vector<ItemScore> out = {{9, 9.0f}};  // replaced, not appended to
  TopK(scores, 10, excluded, nullptr, &out);
  EXPECT_EQ(Items(out), (std::vector<int32_t>{2, 0}));
  TopK(scores, 0, {}, nullptr, &out);
  EXPECT_TRUE(out.empty());
  TopK({}, 5, {}, nullptr, &out);
  EXPECT_TRUE(out.empty());
}

}  // namespace
}  // namespace recsys
