#include "models/tune.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <set>

#include "core/files.h"
#include "core/temp_dir.h"

namespace recsys {
namespace {

// 160 users x 60 items in three blocks of 20: each user interacts with 12 items of its own
// block, chosen by a fixed linear congruential sequence, so neighbours predict what is held out.
InteractionData BlockData() {
  InteractionData data;
  uint64_t x = 7;
  for (int u = 0; u < 160; ++u) {
    const int32_t user = data.users.GetOrAdd("u" + std::to_string(u));
    const int base = (u % 3) * 20;
    std::set<int> chosen;
    while (chosen.size() < 12) {
      x = x * 6364136223846793005ULL + 1442695040888963407ULL;
      chosen.insert(base + static_cast<int>((x >> 33) % 20));
    }
    for (int i : chosen) {
      data.entries.push_back({user, data.items.GetOrAdd("i" + std::to_string(i)), 1.0f});
      data.times_ms.push_back(static_cast<int64_t>(data.entries.size()));
    }
  }
  return data;
}

TuneOptions Options(const std::string& model, int trials) {
  TuneOptions o;
  o.model = model;
  o.max_trials = trials;
  o.budget_seconds = 1e6;
  o.seed = 42;
  o.split = *ParseSplit("random-per-user:0.75");
  o.evaluate.fit.threads = 1;
  return o;
}

std::vector<std::string> Specs(const TuneResult& r) {
  std::vector<std::string> out;
  for (const TuneTrial& t : r.trials) out.push_back(t.spec);
  return out;
}

TEST(TuneTest, TheSearchIsDeterministicForASeed) {
  const InteractionData data = BlockData();
  auto a = Tune(data, Options("itemknn", 6));
  auto b = Tune(data, Options("itemknn", 6));
  ASSERT_TRUE(a.ok()) << a.status().message();
  ASSERT_TRUE(b.ok()) << b.status().message();
  EXPECT_EQ(Specs(*a), Specs(*b));
  EXPECT_EQ(a->best_spec(), b->best_spec());
  for (size_t i = 0; i < a->trials.size(); ++i) {
    EXPECT_EQ(a->trials[i].value, b->trials[i].value) << a->trials[i].spec;
  }
  const std::vector<std::string> specs = Specs(*a);
  EXPECT_EQ(std::set<std::string>(specs.begin(), specs.end()).size(), 6u);

  TuneOptions other = Options("itemknn", 6);
  other.seed = 43;
  auto c = Tune(data, other);
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->trials[0].spec, a->trials[0].spec);  // the default spec, whatever the seed
  EXPECT_NE(c->trials[1].spec, a->trials[1].spec);
}

TEST(TuneTest, TheHeldOutPartIsNeverSeen) {
  const InteractionData data = BlockData();
  const TuneOptions options = Options("ease", 5);
  auto split = SplitInteractions(data, options.split, options.seed);
  ASSERT_TRUE(split.ok());
  // Every held-out interaction moves to an item the user has not seen, with another weight; the
  // split keeps the same positions, since it draws per entry, not per item.
  InteractionData garbage = data;
  std::vector<std::set<int32_t>> used(static_cast<size_t>(data.users.size()));
  for (const Triplet& t : data.entries) used[static_cast<size_t>(t.row)].insert(t.col);
  int changed = 0;
  for (Triplet& t : garbage.entries) {
    const std::vector<int32_t>& held = split->test_items[static_cast<size_t>(t.row)];
    if (!std::binary_search(held.begin(), held.end(), t.col)) continue;
    std::set<int32_t>& mine = used[static_cast<size_t>(t.row)];
    int32_t col = t.col;
    while (mine.count(col) > 0) col = (col + 1) % data.items.size();
    mine.insert(col);
    t.col = col;
    t.value = 9;
    ++changed;
  }
  ASSERT_GT(changed, 100);

  auto clean = Tune(data, options);
  auto dirty = Tune(garbage, options);
  ASSERT_TRUE(clean.ok()) << clean.status().message();
  ASSERT_TRUE(dirty.ok()) << dirty.status().message();
  EXPECT_EQ(clean->best_spec(), dirty->best_spec());
  ASSERT_EQ(Specs(*clean), Specs(*dirty));
  for (size_t i = 0; i < clean->trials.size(); ++i) {
    EXPECT_EQ(clean->trials[i].value, dirty->trials[i].value) << clean->trials[i].spec;
  }
  // The blocks are learnable: tuning finds a model that ranks the validation part well.
  EXPECT_GT(clean->trials[clean->best].value, 0.3);
}

TEST(TuneTest, StopsAtTheTrialCountOrTheBudgetAndStartsWithTheDefault) {
  const InteractionData data = BlockData();
  auto r = Tune(data, Options("ease", 4));
  ASSERT_TRUE(r.ok()) << r.status().message();
  ASSERT_EQ(r->trials.size(), 4u);
  EXPECT_EQ(r->stopped_by, TuneStop::kTrials);
  auto ease = CreateRecommender("ease");
  ASSERT_TRUE(ease.ok());
  EXPECT_EQ(r->trials[0].spec, (*ease)->spec());
  for (const TuneTrial& t : r->trials) EXPECT_LE(t.value, r->trials[r->best].value);

  TuneOptions no_time = Options("ease", 50);
  no_time.budget_seconds = 0;
  r = Tune(data, no_time);
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r->trials.size(), 1u);
  EXPECT_EQ(r->trials[0].spec, (*ease)->spec());
  EXPECT_EQ(r->stopped_by, TuneStop::kBudget);

  // Popularity has two specs: the search ends when they are tried.
  r = Tune(data, Options("popularity", 10));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->trials.size(), 2u);
  EXPECT_EQ(r->stopped_by, TuneStop::kSpaceExhausted);
}

TEST(TuneTest, SampledSpecsStayInTheirSpaceAndBuildModels) {
  for (const std::string model : {"als", "bpr", "itemknn", "ease", "popularity"}) {
    auto space = TuneSpace(model);
    ASSERT_TRUE(space.ok()) << model;
    uint64_t state = 1;
    for (int n = 0; n < 200; ++n) {
      const std::string spec = SampleSpec(model, *space, &state);
      auto parsed = ParseModelSpec(spec);
      ASSERT_TRUE(parsed.ok()) << spec;
      for (const TuneParam& p : *space) {
        const std::string& v = parsed->params.at(p.key);
        if (p.kind == TuneParam::Kind::kChoice) {
          EXPECT_NE(std::find(p.choices.begin(), p.choices.end(), v), p.choices.end()) << spec;
        } else {
          const double d = std::stod(v);
          // Three significant digits may round just past a bound.
          EXPECT_GE(d, p.min * 0.995) << spec;
          EXPECT_LE(d, p.max * 1.005) << spec;
        }
      }
      EXPECT_TRUE(CreateRecommender(spec).ok()) << spec;
    }
  }
}

TEST(TuneTest, BadInputIsNamed) {
  const InteractionData data = BlockData();
  auto r = Tune(data, Options("nosuch", 3));
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("nosuch"), std::string::npos);
  TuneOptions bad_metric = Options("ease", 3);
  bad_metric.metric = "auc";
  r = Tune(data, bad_metric);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("auc"), std::string::npos);
}

TEST(TuneTest, TunedSpecFilesRoundTrip) {
  TempDir dir;
  auto none = ReadTunedSpec(dir.path(), "als");
  ASSERT_TRUE(none.ok());
  EXPECT_EQ(*none, "");
  ASSERT_TRUE(WriteTunedSpec(dir.path(), "als", "als:factors=32,iterations=10").ok());
  auto read = ReadTunedSpec(dir.path(), "als");
  ASSERT_TRUE(read.ok()) << read.status().message();
  EXPECT_EQ(*read, "als:factors=32,iterations=10");
  ASSERT_TRUE(WriteFileAtomic(TunedSpecPath(dir.path(), "ease"), "als:factors=3\n").ok());
  auto wrong = ReadTunedSpec(dir.path(), "ease");
  ASSERT_FALSE(wrong.ok());
  EXPECT_NE(wrong.status().message().find("tuned/ease.txt"), std::string::npos);
}

}  // namespace
}  // namespace recsys
