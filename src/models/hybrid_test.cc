#include "models/hybrid.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "core/temp_dir.h"

namespace recsys {
namespace {

// 40 users x 20 items in two halves: users 0-19 each saw 4 random items of 0-9, users 20-39 4 of
// 10-19. Item 19 is seen by everyone of the second half (the most popular item).
constexpr int32_t kUsers = 40, kItems = 20;
int Half(int32_t index, int32_t size) { return index < size / 2 ? 0 : 1; }

CsrMatrix Halves() {
  std::vector<Triplet> t;
  for (int32_t u = 0; u < kUsers; ++u) {
    const int32_t base = Half(u, kUsers) * kItems / 2;
    std::mt19937 rng(static_cast<uint32_t>(u));
    std::vector<int32_t> half(kItems / 2);
    for (int32_t j = 0; j < kItems / 2; ++j) half[static_cast<size_t>(j)] = base + j;
    std::shuffle(half.begin(), half.end(), rng);
    half.resize(4);
    if (base > 0 && std::find(half.begin(), half.end(), 19) == half.end()) half.push_back(19);
    for (int32_t j : half) t.push_back({u, j, 1.0f});
  }
  return CsrMatrix::FromTriplets(kUsers, kItems, std::move(t));
}

std::vector<int32_t> AllUsers() {
  std::vector<int32_t> users(kUsers);
  for (int32_t u = 0; u < kUsers; ++u) users[static_cast<size_t>(u)] = u;
  return users;
}

std::vector<std::vector<int32_t>> TopLists(const std::string& spec, int k,
                                           const ItemSideData* side = nullptr) {
  auto model = CreateRecommender(spec);
  EXPECT_TRUE(model.ok()) << model.status().ToString();
  if (!model.ok()) return {};
  const CsrMatrix m = Halves();
  FitOptions fit;
  fit.threads = 1;
  fit.side = side;
  EXPECT_TRUE((*model)->Fit(m, fit).ok());
  std::vector<std::vector<ItemScore>> out;
  const std::vector<int32_t> users = AllUsers();
  Status st = (*model)->Recommend(users, m, k, RecommendOptions{}, &out);
  EXPECT_TRUE(st.ok()) << st.ToString();
  std::vector<std::vector<int32_t>> lists;
  for (const auto& list : out) {
    lists.emplace_back();
    for (const ItemScore& s : list) lists.back().push_back(s.item);
  }
  return lists;
}

TEST(HybridTest, RecommendsItemsOfTheUsersOwnHalf) {
  auto lists = TopLists("hybrid:models=itemknn+popularity,weights=0.8+0.2", 3);
  ASSERT_EQ(lists.size(), static_cast<size_t>(kUsers));
  for (int32_t u = 0; u < kUsers; ++u) {
    ASSERT_EQ(lists[static_cast<size_t>(u)].size(), 3u);
    for (int32_t item : lists[static_cast<size_t>(u)]) {
      EXPECT_EQ(Half(item, kItems), Half(u, kUsers)) << "user " << u << " item " << item;
    }
  }
}

TEST(HybridTest, AComponentWithWeightZeroHasNoEffect) {
  EXPECT_EQ(TopLists("hybrid:models=itemknn+popularity,weights=1+0", 5), TopLists("itemknn", 5));
  EXPECT_EQ(TopLists("hybrid:models=itemknn+popularity,weights=0+1", 5), TopLists("popularity", 5));
  // Weighted towards popularity, the first half's users get the most popular item 19 first.
  auto first_of = [](const std::vector<std::vector<int32_t>>& lists, int32_t item) {
    int n = 0;
    for (int32_t u = 0; u < kUsers / 2; ++u) {
      n += !lists[static_cast<size_t>(u)].empty() && lists[static_cast<size_t>(u)][0] == item;
    }
    return n;
  };
  EXPECT_EQ(first_of(TopLists("hybrid:models=itemknn+popularity,weights=1+0", 1), 19), 0);
  EXPECT_EQ(first_of(TopLists("hybrid:models=itemknn+popularity,weights=0.2+0.8", 1), 19),
            kUsers / 2);
}

TEST(HybridTest, UnavailableItemsAreExcludedUnlessAskedNotTo) {
  ItemSideData side;
  side.available.assign(kItems, 1);
  side.available[3] = 0;  // out of stock
  side.available[4] = 0;  // discontinued
  auto count = [](const std::vector<std::vector<int32_t>>& lists, int32_t item) {
    int n = 0;
    for (const auto& list : lists)
      n += static_cast<int>(std::count(list.begin(), list.end(), item));
    return n;
  };
  auto excluded = TopLists("hybrid:models=itemknn+popularity,weights=0.8+0.2", 8, &side);
  EXPECT_EQ(count(excluded, 3), 0);
  EXPECT_EQ(count(excluded, 4), 0);
  auto kept = TopLists("hybrid:models=itemknn+popularity,weights=0.8+0.2,exclude_unavailable=false",
                       8, &side);
  EXPECT_GT(count(kept, 3) + count(kept, 4), 0);
}

TEST(HybridTest, BoostLiftsNewItems) {
  ItemSideData side;
  constexpr int64_t kDay = 86'400'000;
  side.created_ms.assign(kItems, 1 * kDay);
  side.created_ms[15] = 100 * kDay;  // new; nobody of the first half saw it
  side.now_ms = 101 * kDay;
  auto first_half_first = [](const std::vector<std::vector<int32_t>>& lists) {
    std::vector<int32_t> first;
    for (int32_t u = 0; u < kUsers / 2; ++u) first.push_back(lists[static_cast<size_t>(u)][0]);
    return first;
  };
  EXPECT_EQ(first_half_first(TopLists("hybrid:models=popularity,weights=1", 1, &side)),
            std::vector<int32_t>(kUsers / 2, 19));
  EXPECT_EQ(first_half_first(
                TopLists("hybrid:models=popularity,weights=1,boost_new_days=7,boost=50", 1, &side)),
            std::vector<int32_t>(kUsers / 2, 15));
}

TEST(HybridTest, ExplanationsNameAHistoryItemOrThePopularity) {
  auto made = CreateRecommender("hybrid:models=itemknn+popularity,weights=0.8+0.2");
  ASSERT_TRUE(made.ok());
  auto* hybrid = dynamic_cast<HybridRecommender*>(made->get());
  ASSERT_NE(hybrid, nullptr);
  ItemSideData side;
  side.category_names = {"shoes"};
  side.category.assign(kItems, -1);
  side.category[9] = 0;
  // Item 9 is nobody's: a matrix in which no user saw it.
  CsrMatrix m = Halves();
  std::vector<Triplet> t;
  for (int32_t u = 0; u < m.rows; ++u) {
    for (int32_t j : m.RowIndices(u)) {
      if (j != 9 && j != 8) t.push_back({u, j, 1.0f});
    }
  }
  m = CsrMatrix::FromTriplets(kUsers, kItems, std::move(t));
  FitOptions fit;
  fit.side = &side;
  ASSERT_TRUE(hybrid->Fit(m, fit).ok());
  std::vector<int32_t> users = {0};
  std::vector<std::vector<ItemScore>> out;
  ASSERT_TRUE(hybrid->Recommend(users, m, 2, RecommendOptions{}, &out).ok());
  ASSERT_EQ(out[0].size(), 2u);
  std::vector<int32_t> items = {out[0][0].item, 9, 8};
  std::vector<std::string> why;
  auto name = [](int32_t item) { return "P" + std::to_string(item); };
  ASSERT_TRUE(hybrid->Explain(0, m, items, name, &why).ok());
  ASSERT_EQ(why.size(), 3u);
  bool names_history = false;
  for (int32_t j : m.RowIndices(0))
    names_history |= why[0] == "because you viewed P" + std::to_string(j);
  EXPECT_TRUE(names_history) << why[0];
  EXPECT_EQ(why[1], "popular in shoes");
  EXPECT_EQ(why[2], "popular overall");

  TempDir dir;
  ASSERT_TRUE(hybrid->Save(dir.path() + "/h").ok());
  auto loaded = CreateRecommender(hybrid->spec());
  ASSERT_TRUE(loaded.ok());
  ASSERT_TRUE((*loaded)->Load(dir.path() + "/h").ok());
  std::vector<std::string> again;
  ASSERT_TRUE(
      dynamic_cast<HybridRecommender*>(loaded->get())->Explain(0, m, items, name, &again).ok());
  EXPECT_EQ(again, why);
}

TEST(HybridTest, BadSpecsAreRejectedNamingTheProblem) {
  auto mismatch = CreateRecommender("hybrid:models=als+itemknn,weights=1");
  ASSERT_FALSE(mismatch.ok());
  EXPECT_NE(mismatch.status().message().find("weights"), std::string::npos);
  auto unknown = CreateRecommender("hybrid:models=als+nope");
  ASSERT_FALSE(unknown.ok());
  EXPECT_NE(unknown.status().message().find("nope"), std::string::npos);
  auto spec = CreateRecommender("hybrid");
  ASSERT_TRUE(spec.ok());
  EXPECT_EQ((*spec)->spec(),
            "hybrid:models=als+itemknn+popularity,weights=0.5+0.3+0.2,exclude_unavailable=true,"
            "boost_new_days=0,boost=1.2");
}

}  // namespace
}  // namespace recsys

namespace recsys {
namespace {

// RecommendOptions::blend_weights replace the fitted weights for one call: all weight on
// popularity gives popularity's own lists; a wrong count is an error naming the counts.
TEST(HybridBlendWeights, OverrideTheFittedWeightsPerCall) {
  auto hybrid = CreateRecommender("hybrid:models=itemknn+popularity,weights=1+0");
  ASSERT_TRUE(hybrid.ok());
  const CsrMatrix m = Halves();
  FitOptions fit;
  fit.threads = 1;
  ASSERT_TRUE((*hybrid)->Fit(m, fit).ok());
  const std::vector<std::vector<int32_t>> popular = TopLists("popularity", 3);
  RecommendOptions options;
  options.blend_weights = {0, 1};
  std::vector<std::vector<ItemScore>> out;
  ASSERT_TRUE((*hybrid)->Recommend(AllUsers(), m, 3, options, &out).ok());
  for (int32_t u = 0; u < kUsers; ++u) {
    std::vector<int32_t> items;
    for (const ItemScore& s : out[static_cast<size_t>(u)]) items.push_back(s.item);
    EXPECT_EQ(items, popular[static_cast<size_t>(u)]) << "user " << u;
  }
  options.blend_weights = {1};
  Status st = (*hybrid)->Recommend(AllUsers(), m, 3, options, &out);
  EXPECT_EQ(st.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(st.message().find("1 blend weights given for 2 components"), std::string::npos)
      << st.message();
  const auto& h = dynamic_cast<const HybridRecommender&>(**hybrid);
  EXPECT_EQ(h.params().models, (std::vector<std::string>{"itemknn", "popularity"}));
}

}  // namespace
}  // namespace recsys
