// Model folders written by an earlier version of the code (STYLE.md rule 8): tests/fixtures/
// models/v1/ holds an ALS and a popularity model saved by format version 1. This build must load
// them and serve the same lists; the expected values below were printed when they were written.
// The files are never regenerated: a format change adds a v2 folder beside them.
#include <gtest/gtest.h>

#include "models/artifact.h"
#include "models/recommender.h"

namespace recsys {
namespace {

const std::string kDir = std::string(RECSYS_FIXTURES_DIR) + "/models/v1";

// The matrix the fixtures were fitted on: 6 users x 6 items in two halves (users 0-2 like items
// 0-2, users 3-5 items 3-5), one item of each user's half missing, and three interactions
// across.
CsrMatrix TwoHalves() {
  std::vector<Triplet> t;
  for (int32_t u = 0; u < 6; ++u) {
    const int32_t base = u < 3 ? 0 : 3;
    for (int32_t j = 0; j < 3; ++j) {
      if (j != u % 3) t.push_back({u, base + j, 1.0f + static_cast<float>(j)});
    }
  }
  // Items 0 and 1 reach across the halves, so popularity has no ties at the top.
  t.push_back({3, 0, 1.0f});
  t.push_back({4, 0, 1.0f});
  t.push_back({5, 1, 1.0f});
  return CsrMatrix::FromTriplets(6, 6, std::move(t));
}

std::vector<std::vector<ItemScore>> RecommendAll(const Recommender& model, int k) {
  CsrMatrix m = TwoHalves();
  std::vector<int32_t> users = {0, 1, 2, 3, 4, 5};
  std::vector<std::vector<ItemScore>> out;
  EXPECT_TRUE(model.Recommend(users, m, k, RecommendOptions{}, &out).ok());
  return out;
}

// Wrote the v1 fixtures and printed the expected lists below (run by hand:
//   models_test --gtest_also_run_disabled_tests --gtest_filter='*DISABLED_WriteFixtures').
// A new format version gets its own folder: change kDir first, never rewrite v1.
TEST(ArtifactCompatTest, DISABLED_WriteFixtures) {
  FitOptions options;
  options.threads = 1;
  options.seed = 7;
  for (const char* spec : {"als:factors=4,iterations=8,regularization=0.1,seed=7", "popularity"}) {
    auto model = CreateRecommender(spec);
    ASSERT_TRUE(model.ok());
    ASSERT_TRUE((*model)->Fit(TwoHalves(), options).ok());
    const std::string dir = kDir + "/" + (*model)->name();
    ASSERT_TRUE((*model)->Save(dir).ok());
    for (const auto& list : RecommendAll(**model, 2)) {
      for (const ItemScore& s : list) std::printf("{%d, %.6ff}, ", s.item, s.score);
      std::printf("\n");
    }
  }
}

struct Expected {
  int32_t item;
  float score;
};

void ExpectLists(const Recommender& model, const std::vector<std::vector<Expected>>& expected) {
  auto got = RecommendAll(model, 2);
  ASSERT_EQ(got.size(), expected.size());
  for (size_t u = 0; u < got.size(); ++u) {
    ASSERT_EQ(got[u].size(), expected[u].size()) << "user " << u;
    for (size_t i = 0; i < got[u].size(); ++i) {
      EXPECT_EQ(got[u][i].item, expected[u][i].item) << "user " << u << " rank " << i;
      EXPECT_NEAR(got[u][i].score, expected[u][i].score, 1e-4) << "user " << u << " rank " << i;
    }
  }
}

TEST(ArtifactCompatTest, AlsVersion1Loads) {
  auto spec = ReadModelSpec(kDir + "/als");
  ASSERT_TRUE(spec.ok()) << spec.status().message();
  EXPECT_EQ(*spec,
            "als:factors=4,iterations=8,regularization=0.1,alpha=1,cg_steps=3,solver=cg,seed=7");
  auto model = CreateRecommender(*spec);
  ASSERT_TRUE(model.ok());
  Status st = (*model)->Load(kDir + "/als");
  ASSERT_TRUE(st.ok()) << st.message();
  ExpectLists(**model, {
                           {{0, 0.243331f}, {3, 0.203028f}},
                           {{5, 0.253299f}, {1, 0.229966f}},
                           {{4, 0.413512f}, {2, 0.394013f}},
                           {{3, 0.261278f}, {1, 0.146063f}},
                           {{4, 0.371327f}, {2, 0.271204f}},
                           {{5, 0.179653f}, {2, -0.021759f}},
                       });
}

TEST(ArtifactCompatTest, PopularityVersion1Loads) {
  auto spec = ReadModelSpec(kDir + "/popularity");
  ASSERT_TRUE(spec.ok()) << spec.status().message();
  EXPECT_EQ(*spec, "popularity:mode=count");
  auto model = CreateRecommender(*spec);
  ASSERT_TRUE(model.ok());
  Status st = (*model)->Load(kDir + "/popularity");
  ASSERT_TRUE(st.ok()) << st.message();
  // Most users first, ties by lower index, the user's own items left out.
  ExpectLists(**model, {
                           {{0, 4}, {3, 2}},
                           {{1, 3}, {3, 2}},
                           {{2, 2}, {3, 2}},
                           {{1, 3}, {2, 2}},
                           {{1, 3}, {2, 2}},
                           {{0, 4}, {2, 2}},
                       });
}

}  // namespace
}  // namespace recsys
