#include <gtest/gtest.h>

#include <algorithm>
#include <memory>
#include <string>
#include <vector>

#include "core/files.h"
#include "core/temp_dir.h"
#include "lake/duckdb.h"
#include "models/data.h"
#include "models/recommender.h"
#include "models/test_support.h"

namespace recsys {
namespace {

using test_support::Items;

// Items 0, 1 and the brand-new 4 are red shirts; 2, 3 blue jeans; nobody has seen item 4.
ItemSideData Clothes() {
  ItemSideData side;
  side.terms = {{{"red", 0.6f}, {"shirt", 0.8f}},
                {{"red", 0.5f}, {"shirt", 0.7f}, {"cotton", 0.5f}},
                {{"blue", 0.6f}, {"jeans", 0.8f}},
                {{"blue", 0.5f}, {"jeans", 0.7f}, {"denim", 0.5f}},
                {{"red", 0.6f}, {"shirt", 0.7f}, {"linen", 0.4f}}};
  return side;
}

CsrMatrix Views() {
  return CsrMatrix::FromTriplets(3, 5, {{0, 0, 1}, {1, 2, 1}, {1, 3, 1}, {2, 1, 1}, {2, 2, 1}});
}

std::unique_ptr<Recommender> FittedContent(const ItemSideData& side) {
  auto model = CreateRecommender("content");
  EXPECT_TRUE(model.ok()) << model.status().ToString();
  if (!model.ok()) return nullptr;
  FitOptions fit;
  fit.side = &side;
  Status st = (*model)->Fit(Views(), fit);
  EXPECT_TRUE(st.ok()) << st.ToString();
  return std::move(model).value();
}

TEST(ContentTest, RecommendsItemsSharingTermsWithTheHistory) {
  const ItemSideData side = Clothes();
  auto model = FittedContent(side);
  ASSERT_NE(model, nullptr);
  std::vector<int32_t> users = {0};
  std::vector<std::vector<ItemScore>> out;
  ASSERT_TRUE(model->Recommend(users, Views(), 2, RecommendOptions{}, &out).ok());
  // User 0 saw a red shirt: the other red shirts, the unseen new one included.
  std::vector<int32_t> top = Items(out[0]);
  std::sort(top.begin(), top.end());
  EXPECT_EQ(top, (std::vector<int32_t>{1, 4}));
}

TEST(ContentTest, ABrandNewItemHasNeighbours) {
  const ItemSideData side = Clothes();
  auto model = FittedContent(side);
  ASSERT_NE(model, nullptr);
  std::vector<int32_t> items = {4};
  std::vector<std::vector<ItemScore>> out;
  ASSERT_TRUE(model->SimilarItems(items, 4, &out).ok());
  std::vector<int32_t> similar = Items(out[0]);
  std::sort(similar.begin(), similar.end());
  EXPECT_EQ(similar, (std::vector<int32_t>{0, 1})) << "jeans share no term with a shirt";
}

TEST(ContentTest, FitWithoutItemContentSaysWhatIsMissing) {
  auto model = CreateRecommender("content:neighbors=10");
  ASSERT_TRUE(model.ok());
  Status st = (*model)->Fit(Views(), FitOptions{});
  EXPECT_EQ(st.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(st.message().find("item_content"), std::string::npos) << st.ToString();

  ItemSideData too_few = Clothes();
  too_few.terms.pop_back();
  FitOptions fit;
  fit.side = &too_few;
  EXPECT_FALSE((*model)->Fit(Views(), fit).ok());
}

TEST(LoadItemSideDataTest, ReadsGoldItemContentAndFeaturesForTheModelsItems) {
  TempDir lake;
  IdMap items;
  items.GetOrAdd("p1");
  items.GetOrAdd("p2");
  items.GetOrAdd("p3");  // in neither table
  auto missing = LoadItemSideData(lake.path(), items, 1);
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().code(), StatusCode::kNotFound);

  auto db = DuckDb::Open("");
  ASSERT_TRUE(db.ok());
  const std::string content = lake.path() + "/gold/item_content/snapshot=abc";
  const std::string features = lake.path() + "/gold/hybrid_features/snapshot=abc";
  ASSERT_TRUE(CreateDirs(content).ok());
  ASSERT_TRUE(CreateDirs(features).ok());
  ASSERT_TRUE((*db)
                  ->Execute("COPY (SELECT * FROM (VALUES ('p1', 'shirt', 0.8), ('p1', 'red', "
                            "0.6), ('p2', 'jeans', 1.0), ('p9', 'hat', 1.0)) t(product_id, term, "
                            "weight)) TO " +
                            DuckDb::Quote(content + "/part-0.parquet") + " (FORMAT parquet)")
                  .ok());
  ASSERT_TRUE((*db)
                  ->Execute("COPY (SELECT * FROM (VALUES "
                            "('p1', 'Clothing > Shirts', 'Clothing', true, false, "
                            "TIMESTAMP '2024-01-02 00:00:00'), "
                            "('p2', 'Clothing > Jeans', 'Clothing', false, false, "
                            "TIMESTAMP '2024-01-01 00:00:00')) "
                            "t(product_id, category, top_category, in_stock, discontinued, "
                            "created_at)) TO " +
                            DuckDb::Quote(features + "/part-0.parquet") + " (FORMAT parquet)")
                  .ok());
  ASSERT_TRUE(WriteFileAtomic(lake.path() + "/gold/_current.json", "{\"snapshot\": \"abc\"}").ok());

  auto side = LoadItemSideData(lake.path(), items, 1);
  ASSERT_TRUE(side.ok()) << side.status().ToString();
  ASSERT_EQ(side->terms.size(), 3u);
  EXPECT_EQ(side->terms[0].size(), 2u);
  ASSERT_EQ(side->terms[1].size(), 1u);
  EXPECT_EQ(side->terms[1][0].first, "jeans");
  EXPECT_TRUE(side->terms[2].empty());
  EXPECT_EQ(side->category_names, std::vector<std::string>{"Clothing"});
  EXPECT_EQ(side->category, (std::vector<int32_t>{0, 0, -1}));
  EXPECT_EQ(side->available, (std::vector<uint8_t>{1, 0, 1})) << "p2 is out of stock";
  EXPECT_EQ(side->created_ms[0], 1704067200000 + 86400000);
  EXPECT_EQ(side->now_ms, 1704067200000 + 86400000);
}

TEST(EntryTimesTest, FollowTheMatrixOrder) {
  InteractionData data;
  data.users.GetOrAdd("u1");
  data.users.GetOrAdd("u0");
  data.items.GetOrAdd("a");
  data.items.GetOrAdd("b");
  data.entries = {{1, 1, 1}, {0, 1, 1}, {1, 0, 1}};
  data.times_ms = {30, 10, 20};
  EXPECT_EQ(EntryTimesInCsrOrder(data), (std::vector<int64_t>{10, 20, 30}));
}

}  // namespace
}  // namespace recsys
