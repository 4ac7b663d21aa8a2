#include "serve/engine.h"

#include <gtest/gtest.h>

#include <random>
#include <set>
#include <string>
#include <vector>

#include "core/clock.h"
#include "core/temp_dir.h"
#include "ingest/embedded_log.h"
#include "models/registry.h"

namespace recsys {
namespace {

// 600 users x 3,000 items in three tastes: user u likes the items i with i % 3 == u % 3 and has
// 20 of them. Published as an ALS model into a lake without gold.
constexpr int32_t kUsers = 600, kItems = 3000, kTastes = 3;

std::string UserId(int32_t u) { return "u" + std::to_string(u); }
std::string ItemId(int32_t i) { return "p" + std::to_string(i); }
int TasteOf(const std::string& item) { return std::stoi(item.substr(1)) % kTastes; }

class EngineTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::mt19937 rng(7);
    std::vector<Triplet> t;
    for (int32_t u = 0; u < kUsers; ++u) {
      users_.GetOrAdd(UserId(u));
      std::set<int32_t> seen;
      while (seen.size() < 20) {
        const int32_t i = static_cast<int32_t>(rng() % (kItems / kTastes)) * kTastes + u % kTastes;
        seen.insert(i);
      }
      for (int32_t i : seen) t.push_back({u, i, 1.0f});
    }
    for (int32_t i = 0; i < kItems; ++i) items_.GetOrAdd(ItemId(i));
    matrix_ = CsrMatrix::FromTriplets(kUsers, kItems, t);
    Publish();
    auto log = OpenEmbeddedLog(dir_.path() + "/log", EmbeddedLogOptions());
    ASSERT_TRUE(log.ok()) << log.status().ToString();
    log_ = std::move(*log);
    live_ = std::make_unique<LiveEvents>(log_.get(), LiveEventsOptions());
    ASSERT_TRUE(live_->Start().ok());
  }
  void TearDown() override { live_->Stop(); }

  void Publish() {
    auto model = CreateRecommender("als:factors=16,iterations=10,regularization=0.1");
    ASSERT_TRUE(model.ok());
    FitOptions fit;
    fit.threads = 1;
    ASSERT_TRUE((*model)->Fit(matrix_, fit).ok());
    ModelManifest m;
    m.name = "als";
    m.spec = (*model)->spec();
    m.metric = "ndcg";
    m.metrics.ndcg = 0.5;
    ModelRegistry registry(dir_.path() + "/lake");
    auto published = registry.Publish(**model, users_, items_, m);
    ASSERT_TRUE(published.ok()) << published.status().ToString();
    ASSERT_TRUE(published->current);
  }

  std::unique_ptr<Engine> MakeEngine(int64_t ann_min_items) {
    EngineOptions o;
    o.lake_root = dir_.path() + "/lake";
    o.ann_min_items = ann_min_items;
    o.threads = 2;
    auto engine = std::make_unique<Engine>(o, live_.get());
    auto loaded = engine->Reload();
    EXPECT_TRUE(loaded.ok()) << loaded.status().ToString();
    EXPECT_TRUE(engine->ready());
    return engine;
  }

  RecResponse Recommend(Engine* engine, const std::string& user, int k = 10) {
    RecRequest request;
    request.user_id = user;
    request.k = k;
    auto r = engine->Recommend(request);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? *r : RecResponse();
  }

  void Click(const std::string& user, const std::string& item, int n) {
    Event e;
    e.event_id = user + "-" + item + "-" + std::to_string(n);
    e.type = EventType::kProductView;
    e.event_time_ms = SystemClock()->NowMillis();
    e.user_id = user;
    e.session_id = "s-" + user;
    e.product_id = item;
    live_->Apply(std::span<const Event>(&e, 1));
  }

  TempDir dir_;
  IdMap users_, items_;
  CsrMatrix matrix_;
  std::unique_ptr<EventLog> log_;
  std::unique_ptr<LiveEvents> live_;
};

TEST_F(EngineTest, HnswCandidatesAgreeWithAFullScan) {
  auto ann = MakeEngine(1);
  auto scan = MakeEngine(1000000);
  ASSERT_TRUE(ann->Models().at(0).ann);
  ASSERT_FALSE(scan->Models().at(0).ann);
  double overlap = 0, own_taste = 0;
  const int users = 100;
  for (int32_t u = 0; u < users; ++u) {
    RecResponse a = Recommend(ann.get(), UserId(u));
    RecResponse b = Recommend(scan.get(), UserId(u));
    ASSERT_EQ(a.items.size(), 10u);
    ASSERT_EQ(b.items.size(), 10u);
    EXPECT_EQ(a.source, "model");
    std::set<std::string> exact;
    for (const RecItem& it : b.items) exact.insert(it.product_id);
    for (const RecItem& it : a.items) overlap += exact.count(it.product_id);
    for (const RecItem& it : a.items) own_taste += TasteOf(it.product_id) == u % kTastes;
  }
  EXPECT_GE(overlap / (users * 10), 0.9) << "HNSW recall at 10";
  EXPECT_GE(own_taste / (users * 10), 0.95) << "items of the users' own taste";
}

TEST_F(EngineTest, CachedCandidatesGiveTheListsOfALiveSearch) {
  for (int64_t ann_min_items : {int64_t{1}, int64_t{1000000}}) {
    auto cached = MakeEngine(ann_min_items);
    EngineOptions o;
    o.lake_root = dir_.path() + "/lake";
    o.ann_min_items = ann_min_items;
    o.candidate_cache_items = 0;
    Engine live(o, live_.get());
    ASSERT_TRUE(live.Reload().ok());
    for (int round = 0; round < 2; ++round) {
      for (int32_t u = 0; u < 50; ++u) {
        RecResponse a = Recommend(cached.get(), UserId(u));
        RecResponse b = Recommend(&live, UserId(u));
        ASSERT_EQ(a.items.size(), 10u);
        ASSERT_EQ(b.items.size(), 10u);
        int same = 0;
        for (size_t r = 0; r < a.items.size(); ++r)
          same += a.items[r].product_id == b.items[r].product_id;
        EXPECT_GE(same, 8) << "user " << u << " round " << round;
      }
    }
    EXPECT_EQ(cached->candidate_cache().misses, 50);
    EXPECT_EQ(cached->candidate_cache().hits, 50);
    EXPECT_EQ(live.candidate_cache().hits + live.candidate_cache().misses, 0);
    // Exclusions still apply to cached candidates.
    RecResponse first = Recommend(cached.get(), UserId(7));
    RecRequest request;
    request.user_id = UserId(7);
    for (size_t r = 0; r < 5; ++r) request.exclude.push_back(first.items[r].product_id);
    auto second = cached->Recommend(request);
    ASSERT_TRUE(second.ok());
    ASSERT_EQ(second->items.size(), 10u);
    for (const RecItem& it : second->items) {
      for (const std::string& gone : request.exclude) EXPECT_NE(it.product_id, gone);
    }
    EXPECT_EQ(second->items[0].product_id, first.items[5].product_id);
  }
}

TEST_F(EngineTest, AClickChangesTheNextListAndANewUserWithTwoClicksGetsPersonalResults) {
  for (int64_t ann_min_items : {int64_t{1}, int64_t{1000000}}) {
    auto engine = MakeEngine(ann_min_items);
    const std::string user = ann_min_items == 1 ? "u0" : "u3";  // both of taste 0
    RecResponse before = Recommend(engine.get(), user);
    EXPECT_EQ(before.source, "model");
    for (int n = 0; n < 6; ++n) Click(user, ItemId(2 + 3 * n), n);  // taste 2
    RecResponse after = Recommend(engine.get(), user);
    EXPECT_EQ(after.source, "fold_in");
    std::vector<std::string> a, b;
    for (const RecItem& it : before.items) a.push_back(it.product_id);
    for (const RecItem& it : after.items) b.push_back(it.product_id);
    EXPECT_NE(a, b) << "six clicks of another taste changed nothing";
    int taste2 = 0;
    for (const RecItem& it : after.items) {
      taste2 += TasteOf(it.product_id) == 2;
      for (int n = 0; n < 6; ++n) EXPECT_NE(it.product_id, ItemId(2 + 3 * n)) << "seen";
    }
    EXPECT_GT(taste2, 0) << "the clicked taste is in the list";

    const std::string fresh = "newcomer-" + std::to_string(ann_min_items);
    RecResponse unknown = Recommend(engine.get(), fresh);
    EXPECT_NE(unknown.source, "fold_in");
    Click(fresh, ItemId(1), 0);
    Click(fresh, ItemId(4), 1);
    RecResponse personal = Recommend(engine.get(), fresh);
    EXPECT_EQ(personal.source, "fold_in");
    ASSERT_EQ(personal.items.size(), 10u);
    int taste1 = 0;
    for (const RecItem& it : personal.items) taste1 += TasteOf(it.product_id) == 1;
    EXPECT_GE(taste1, 9) << "two clicks of taste 1";
    EXPECT_NE(personal.rec_id, unknown.rec_id);
    EXPECT_FALSE(personal.items[0].reason.empty());
  }
}

TEST_F(EngineTest, ExperimentsSplitUsersByStableHashAndVariantsCanBeForced) {
  auto engine = MakeEngine(1000000);
  Experiment e;
  e.name = "exp";
  e.variants = {{"a", "", {}, 1}, {"b", "als", {}, 3}};
  ASSERT_TRUE(engine->SetExperiment(e).ok());
  int b = 0;
  for (int n = 0; n < 4000; ++n) b += engine->AssignVariant("user-" + std::to_string(n)) == "b";
  EXPECT_NEAR(b / 4000.0, 0.75, 0.04);
  for (int32_t u = 0; u < 20; ++u) {
    RecResponse r = Recommend(engine.get(), UserId(u));
    EXPECT_EQ(r.variant, engine->AssignVariant(UserId(u)));
    EXPECT_EQ(engine->AssignVariant(UserId(u)), engine->AssignVariant(UserId(u)));
  }
  RecRequest forced;
  forced.user_id = "u1";
  forced.variant = "a";
  EXPECT_EQ(engine->Recommend(forced)->variant, "a");
  forced.variant = "zzz";
  EXPECT_EQ(engine->Recommend(forced).status().code(), StatusCode::kNotFound);

  Experiment bad;
  bad.name = "bad";
  bad.variants = {{"x", "no-such-model", {}, 1}};
  EXPECT_EQ(engine->SetExperiment(bad).code(), StatusCode::kInvalidArgument);
  bad.variants = {{"x", "", {}, 0}};
  EXPECT_EQ(engine->SetExperiment(bad).code(), StatusCode::kInvalidArgument);
  bad.variants = {{"x", "", {{"als", 1.0}}, 1}};
  EXPECT_EQ(engine->SetExperiment(bad).code(), StatusCode::kInvalidArgument)
      << "weights on a model that is not a hybrid";
}

TEST_F(EngineTest, RulesAndExclusionsLeaveItemsOut) {
  auto engine = MakeEngine(1);
  RecResponse first = Recommend(engine.get(), "u3");
  ASSERT_EQ(first.items.size(), 10u);
  Rules rules;
  rules.exclude_products = {first.items[0].product_id};
  ASSERT_TRUE(engine->SetRules(rules).ok());
  RecRequest request;
  request.user_id = "u3";
  request.exclude = {first.items[1].product_id};
  auto second = engine->Recommend(request);
  ASSERT_TRUE(second.ok());
  ASSERT_EQ(second->items.size(), 10u);
  for (const RecItem& it : second->items) {
    EXPECT_NE(it.product_id, first.items[0].product_id);
    EXPECT_NE(it.product_id, first.items[1].product_id);
  }
  rules.boosts = {{"colour", "red", 2}};
  EXPECT_EQ(engine->SetRules(rules).code(), StatusCode::kInvalidArgument);
  request.k = 0;
  EXPECT_EQ(engine->Recommend(request).status().code(), StatusCode::kInvalidArgument);
}

TEST_F(EngineTest, ReloadPicksUpANewVersionAndKeepsServingTheOldUntilThen) {
  auto engine = MakeEngine(1);
  EXPECT_EQ(engine->Models().at(0).version, "v0001");
  EXPECT_FALSE(*engine->ReloadIfChanged());
  Publish();
  EXPECT_TRUE(*engine->ReloadIfChanged());
  EXPECT_EQ(engine->Models().at(0).version, "v0002");
  EXPECT_EQ(Recommend(engine.get(), "u5").model_version, "v0002");
  auto similar = engine->Similar(ItemId(5), 5);
  ASSERT_TRUE(similar.ok()) << similar.status().ToString();
  ASSERT_EQ(similar->items.size(), 5u);
  for (const RecItem& it : similar->items) EXPECT_NE(it.product_id, ItemId(5));
  EXPECT_EQ(engine->Similar("nope", 5).status().code(), StatusCode::kNotFound);
}

}  // namespace
}  // namespace recsys
