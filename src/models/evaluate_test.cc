#include "models/evaluate.h"

#include <gtest/gtest.h>

#include <cmath>

#include "core/files.h"
#include "core/temp_dir.h"
#include "lake/duckdb.h"
#include "models/data.h"

namespace recsys {
namespace {

// One user per row of `items_per_user`, whose items are listed in entry order.
InteractionData MakeData(const std::vector<std::vector<std::string>>& items_per_user) {
  InteractionData data;
  for (size_t u = 0; u < items_per_user.size(); ++u) {
    int32_t user = data.users.GetOrAdd("u" + std::to_string(u));
    for (const std::string& item : items_per_user[u]) {
      data.entries.push_back({user, data.items.GetOrAdd(item), 1.0f});
      data.times_ms.push_back(static_cast<int64_t>(data.entries.size()) * 1000);
    }
  }
  return data;
}

std::vector<std::string> HeldOut(const InteractionData& data, const Split& split, int32_t user) {
  std::vector<std::string> out;
  for (int32_t i : split.test_items[static_cast<size_t>(user)]) out.push_back(data.items.Name(i));
  return out;
}

TEST(ParseSplitTest, KnowsTheThreeKindsAndNamesBadInput) {
  auto r = ParseSplit("random-per-user:0.8");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->kind, SplitKind::kRandomPerUser);
  EXPECT_DOUBLE_EQ(r->ratio, 0.8);
  r = ParseSplit("time:2024-01-20");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->kind, SplitKind::kTime);
  EXPECT_EQ(r->cutoff_ms, 1705708800000);
  r = ParseSplit("time:2024-01-20T12:00:00Z");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->cutoff_ms, 1705708800000 + 12 * 3600 * 1000);
  r = ParseSplit("leave-last:2");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->leave_last, 2);
  for (const char* bad : {"random-per-user:1.5", "time:yesterday", "leave-last:0", "shuffle"}) {
    auto b = ParseSplit(bad);
    ASSERT_FALSE(b.ok()) << bad;
    EXPECT_NE(b.status().message().find(bad), std::string::npos) << b.status().message();
  }
}

// numpy: np.random.seed(42); np.random.rand(4) = [0.3745, 0.9507, 0.7320, 0.5987]. Ordered by
// draw the entries are a, d, c, b, and ranks 1/4, 2/4, 3/4 are <= 0.75: b is held out, as
// python_stratified_split(df, 0.75, seed=42) holds it out.
TEST(SplitTest, RandomPerUserMatchesMicrosoftRecommendersDraws) {
  InteractionData data = MakeData({{"a", "b", "c", "d"}});
  auto split = SplitInteractions(data, *ParseSplit("random-per-user:0.75"), 42);
  ASSERT_TRUE(split.ok()) << split.status().ToString();
  EXPECT_EQ(HeldOut(data, *split, 0), std::vector<std::string>{"b"});
  EXPECT_EQ(split->train_entries, 3);
  EXPECT_EQ(split->test_entries, 1);
}

TEST(SplitTest, RandomPerUserKeepsFloorOfRatioForTrainingAndDependsOnSeed) {
  std::vector<std::vector<std::string>> users;
  for (int n : {1, 2, 3, 10, 20}) {
    users.emplace_back();
    for (int i = 0; i < n; ++i) users.back().push_back("i" + std::to_string(i));
  }
  InteractionData data = MakeData(users);
  auto a = SplitInteractions(data, *ParseSplit("random-per-user:0.75"), 42);
  ASSERT_TRUE(a.ok());
  // n -> floor(0.75 n) training: 1 -> 0, 2 -> 1, 3 -> 2, 10 -> 7, 20 -> 15.
  const int expected_test[] = {1, 1, 1, 3, 5};
  for (int u = 0; u < 5; ++u) {
    EXPECT_EQ(static_cast<int>(a->test_items[static_cast<size_t>(u)].size()), expected_test[u])
        << "user " << u;
  }
  EXPECT_EQ(a->train.RowIndices(0).size(), 0u);
  EXPECT_EQ(a->train.nnz() + 11, data.entries.size());

  auto b = SplitInteractions(data, *ParseSplit("random-per-user:0.75"), 7);
  ASSERT_TRUE(b.ok());
  EXPECT_NE(a->test_items, b->test_items);
  auto again = SplitInteractions(data, *ParseSplit("random-per-user:0.75"), 42);
  EXPECT_EQ(a->test_items, again->test_items);
}

TEST(SplitTest, TimeAndLeaveLastHoldOutTheLatest) {
  // Entries are timed 1 s, 2 s, ... in order.
  InteractionData data = MakeData({{"a", "b", "c"}, {"d", "e"}, {"f"}});
  SplitSpec time = *ParseSplit("time:2024-01-01");
  time.cutoff_ms = 4000;
  auto t = SplitInteractions(data, time, 42);
  ASSERT_TRUE(t.ok());
  EXPECT_TRUE(HeldOut(data, *t, 0).empty());
  EXPECT_EQ(HeldOut(data, *t, 1), (std::vector<std::string>{"d", "e"}));
  EXPECT_EQ(HeldOut(data, *t, 2), std::vector<std::string>{"f"});

  auto l = SplitInteractions(data, *ParseSplit("leave-last:1"), 42);
  ASSERT_TRUE(l.ok());
  EXPECT_EQ(HeldOut(data, *l, 0), std::vector<std::string>{"c"});
  EXPECT_EQ(HeldOut(data, *l, 1), std::vector<std::string>{"e"});
  EXPECT_TRUE(HeldOut(data, *l, 2).empty()) << "a user with one interaction keeps it to train";
  EXPECT_EQ(l->train.RowIndices(2).size(), 1u);
}

TEST(EvaluateRankingsTest, MatchesHandComputedMicrosoftDefinitions) {
  // k = 3. User 0: hit at rank 2 of 2 relevant. User 1: hit at rank 1 of 1 relevant. User 2:
  // nothing relevant, so not counted.
  std::vector<std::vector<int32_t>> lists = {{1, 2, 3}, {4, 5, 6}, {7, 8, 9}};
  std::vector<std::vector<int32_t>> relevant = {{2, 5}, {4}, {}};
  RankingMetrics m = EvaluateRankings(lists, relevant, 3, 12);
  EXPECT_EQ(m.users, 2);
  EXPECT_NEAR(m.precision, (1.0 / 3 + 1.0 / 3) / 2, 1e-12);
  EXPECT_NEAR(m.recall, (0.5 + 1.0) / 2, 1e-12);
  const double ndcg0 = (1 / std::log(3.0)) / (1 / std::log(2.0) + 1 / std::log(3.0));
  EXPECT_NEAR(m.ndcg, (ndcg0 + 1.0) / 2, 1e-12);
  EXPECT_NEAR(m.map, (0.5 / 2 + 1.0) / 2, 1e-12);
  EXPECT_NEAR(m.hit_rate, 1.0, 1e-12);
  EXPECT_NEAR(m.coverage, 6.0 / 12, 1e-12);
}

TEST(EvaluateRankingsTest, MapAtKNormalisesByKWhenMoreAreRelevant) {
  // Five relevant, k = 2, both listed items hit: map@k = (1/1 + 2/2) / min(5, 2) = 1, while the
  // older normalisation by every relevant item gives 2 / 5. Recall is 2 / 5, precision 1.
  std::vector<std::vector<int32_t>> lists = {{1, 2, 9}};
  std::vector<std::vector<int32_t>> relevant = {{1, 2, 3, 4, 5}};
  RankingMetrics m = EvaluateRankings(lists, relevant, 2, 0);
  EXPECT_NEAR(m.map, 1.0, 1e-12);
  EXPECT_NEAR(m.map_full, 0.4, 1e-12);
  EXPECT_NEAR(m.recall, 0.4, 1e-12);
  EXPECT_NEAR(m.precision, 1.0, 1e-12);
  EXPECT_NEAR(m.ndcg, 1.0, 1e-12);
  EXPECT_EQ(m.coverage, 0);
}

TEST(EvaluateRankingsTest, ShortListsStillDivideByK) {
  std::vector<std::vector<int32_t>> lists = {{1}};
  std::vector<std::vector<int32_t>> relevant = {{1}};
  RankingMetrics m = EvaluateRankings(lists, relevant, 10, 1);
  EXPECT_NEAR(m.precision, 0.1, 1e-12);
  EXPECT_NEAR(m.ndcg, 1.0, 1e-12);
}

// Ranks items by index, best first: enough to check what EvaluateModel feeds the metrics.
class IndexOrderModel : public Recommender {
 public:
  std::string name() const override { return "index-order"; }
  std::string spec() const override { return "index-order"; }
  Status Fit(const CsrMatrix& m, const FitOptions&) override {
    items_ = m.cols;
    return Status::OK();
  }
  Status Recommend(std::span<const int32_t> users, const CsrMatrix& history, int k,
                   const RecommendOptions& options,
                   std::vector<std::vector<ItemScore>>* out) const override {
    out->clear();
    std::vector<float> scores(static_cast<size_t>(items_));
    for (int32_t i = 0; i < items_; ++i) scores[static_cast<size_t>(i)] = -static_cast<float>(i);
    for (int32_t u : users) {
      out->emplace_back();
      std::span<const int32_t> excluded;
      if (options.exclude_history) excluded = history.RowIndices(u);
      TopK(scores, k, excluded, options.item_filter, &out->back());
    }
    return Status::OK();
  }
  Status SimilarItems(std::span<const int32_t>, int,
                      std::vector<std::vector<ItemScore>>*) const override {
    return Status::OK();
  }
  Status Save(const std::string&) const override { return Status::OK(); }
  Status Load(const std::string&) override { return Status::OK(); }

 private:
  int32_t items_ = 0;
};

TEST(EvaluateModelTest, LeavesTrainingItemsOutUnlessAsked) {
  // Held out with leave-last:1: user 0 holds out "c" (index 2), user 1 holds out "a" (0)...
  InteractionData data = MakeData({{"a", "b", "c"}, {"b", "c", "a"}});
  auto split = SplitInteractions(data, *ParseSplit("leave-last:1"), 42);
  ASSERT_TRUE(split.ok());
  IndexOrderModel model;
  EvaluateOptions options;
  options.k = 1;
  auto e = EvaluateModel(&model, *split, options);
  ASSERT_TRUE(e.ok()) << e.status().ToString();
  // ... so with history excluded user 0 gets c (a hit) and user 1 gets a (a hit).
  EXPECT_EQ(e->metrics.users, 2);
  EXPECT_NEAR(e->metrics.precision, 1.0, 1e-12);
  options.exclude_history = false;
  e = EvaluateModel(&model, *split, options);
  ASSERT_TRUE(e.ok());
  // Now both get a: a hit for user 1 only.
  EXPECT_NEAR(e->metrics.precision, 0.5, 1e-12);
  EXPECT_NEAR(e->metrics.hit_rate, 0.5, 1e-12);
}

TEST(EvaluateModelTest, MinRelevantValueDropsLowHeldOutInteractions) {
  InteractionData data = MakeData({{"a", "b"}, {"a", "b"}});
  data.entries[1].value = 5;  // user 0 holds out b rated 5
  data.entries[3].value = 1;  // user 1 holds out b rated 1
  auto split = SplitInteractions(data, *ParseSplit("leave-last:1"), 42);
  ASSERT_TRUE(split.ok());
  IndexOrderModel model;
  EvaluateOptions options;
  options.min_relevant_value = 4;
  auto e = EvaluateModel(&model, *split, options);
  ASSERT_TRUE(e.ok());
  EXPECT_EQ(e->metrics.users, 1);
}

TEST(EvaluateSpecsTest, UnknownModelIsAnErrorNamingTheSpec) {
  InteractionData data = MakeData({{"a", "b"}});
  auto split = SplitInteractions(data, *ParseSplit("leave-last:1"), 42);
  ASSERT_TRUE(split.ok());
  std::vector<std::string> specs = {"no-such-model:x=1"};
  EvaluateOptions options;
  options.with_popularity = false;
  auto r = EvaluateSpecs(specs, *split, options);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("no-such-model"), std::string::npos);
}

TEST(EvaluateSpecsTest, PopularityComesFirstAsTheBaseline) {
  for (const char* name : {"popularity", "itemknn"}) {
    auto probe = CreateRecommender(name);
    if (!probe.ok()) GTEST_SKIP() << name << " model missing: " << probe.status().message();
  }
  InteractionData data = MakeData({{"a", "b", "c"}, {"a", "c", "b"}, {"a", "d", "b"}});
  auto split = SplitInteractions(data, *ParseSplit("leave-last:1"), 42);
  ASSERT_TRUE(split.ok());
  std::vector<std::string> specs = {"itemknn"};
  auto r = EvaluateSpecs(specs, *split, EvaluateOptions());
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ASSERT_EQ(r->size(), 2u);
  EXPECT_EQ((*r)[0].name, "popularity");
  EXPECT_EQ((*r)[1].name, "itemknn");
  // Training counts a 3, b, c, d 1 each; every user's best unseen item is its held-out one.
  EXPECT_NEAR((*r)[0].metrics.hit_rate, 1.0, 1e-12);
}

TEST(LoadMovieLensTest, ReadsCsvWithHeaderAndTabSeparatedUData) {
  TempDir dir;
  const std::string csv = dir.path() + "/ratings.csv";
  ASSERT_TRUE(WriteFileAtomic(csv,
                              "userId,movieId,rating,timestamp\r\n1,10,4.0,964982703\r\n"
                              "1,20,2.5,964982704\r\n2,10,5.0,964982705\r\n")
                  .ok());
  auto d = LoadMovieLensRatings(csv);
  ASSERT_TRUE(d.ok()) << d.status().ToString();
  ASSERT_EQ(d->entries.size(), 3u);
  EXPECT_EQ(d->users.size(), 2);
  EXPECT_EQ(d->items.size(), 2);
  EXPECT_EQ(d->items.Name(d->entries[1].col), "20");
  EXPECT_FLOAT_EQ(d->entries[1].value, 2.5f);
  EXPECT_EQ(d->times_ms[0], 964982703000);

  const std::string udata = dir.path() + "/u.data";
  ASSERT_TRUE(WriteFileAtomic(udata, "196\t242\t3\t881250949\n186\t302\t3\t891717742\n").ok());
  d = LoadMovieLensRatings(udata, /*binary=*/true);
  ASSERT_TRUE(d.ok()) << d.status().ToString();
  ASSERT_EQ(d->entries.size(), 2u);
  EXPECT_FLOAT_EQ(d->entries[0].value, 1.0f);
  EXPECT_EQ(d->users.Name(d->entries[1].row), "186");
}

TEST(LoadMovieLensTest, BadLineIsNamed) {
  TempDir dir;
  const std::string csv = dir.path() + "/ratings.csv";
  ASSERT_TRUE(
      WriteFileAtomic(csv, "userId,movieId,rating,timestamp\n1,10,4.0,1\n1,11,great,2\n").ok());
  auto d = LoadMovieLensRatings(csv);
  ASSERT_FALSE(d.ok());
  EXPECT_NE(d.status().message().find("ratings.csv line 3"), std::string::npos)
      << d.status().message();
  EXPECT_FALSE(LoadMovieLensRatings(dir.path() + "/missing.csv").ok());
}

TEST(LoadGoldTest, ReadsTheCurrentSnapshotsInteractions) {
  TempDir lake;
  auto missing = LoadGoldInteractions(lake.path(), 1);
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().code(), StatusCode::kNotFound);

  const std::string dir = lake.path() + "/gold/interactions/snapshot=abc";
  ASSERT_TRUE(CreateDirs(dir).ok());
  auto db = DuckDb::Open("");
  ASSERT_TRUE(db.ok());
  ASSERT_TRUE((*db)
                  ->Execute("COPY (SELECT * FROM (VALUES "
                            "('u2', 'p1', 3.0, 1, TIMESTAMP '2024-01-02 00:00:00'), "
                            "('u1', 'p2', 1.5, 2, TIMESTAMP '2024-01-01 00:00:00')) "
                            "t(user_id, product_id, weight, events, last_time)) TO " +
                            DuckDb::Quote(dir + "/part-0.parquet") + " (FORMAT parquet)")
                  .ok());
  ASSERT_TRUE(WriteFileAtomic(lake.path() + "/gold/_current.json",
                              "{\"snapshot\": \"abc\", \"tables\": [{\"name\": \"interactions\", "
                              "\"rows\": 2}]}")
                  .ok());
  auto d = LoadGoldInteractions(lake.path(), 1);
  ASSERT_TRUE(d.ok()) << d.status().ToString();
  ASSERT_EQ(d->entries.size(), 2u);
  EXPECT_EQ(d->users.Name(d->entries[0].row), "u1");
  EXPECT_EQ(d->items.Name(d->entries[0].col), "p2");
  EXPECT_FLOAT_EQ(d->entries[0].value, 1.5f);
  EXPECT_EQ(d->times_ms[0], 1704067200000);
  EXPECT_EQ(d->times_ms[1], 1704067200000 + 86400000);
}

}  // namespace
}  // namespace recsys
