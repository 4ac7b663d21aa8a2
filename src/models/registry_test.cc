#include "models/registry.h"

#include <gtest/gtest.h>

#include "core/files.h"
#include "core/temp_dir.h"

namespace recsys {
namespace {

// Three users, four items; item "i2" is the most popular.
struct Fixture {
  IdMap users, items;
  CsrMatrix matrix;
  Fixture() {
    for (const char* u : {"alice", "bob", "carol"}) users.GetOrAdd(u);
    for (const char* i : {"i0", "i1", "i2", "i3"}) items.GetOrAdd(i);
    matrix = CsrMatrix::FromTriplets(
        3, 4, {{0, 0, 1}, {0, 2, 1}, {1, 2, 1}, {1, 3, 1}, {2, 2, 1}, {2, 1, 1}});
  }
};

std::unique_ptr<Recommender> Fitted(const CsrMatrix& m) {
  auto model = CreateRecommender("popularity");
  EXPECT_TRUE(model.ok());
  EXPECT_TRUE((*model)->Fit(m, FitOptions{}).ok());
  return std::move(*model);
}

ModelManifest Manifest(double ndcg) {
  ModelManifest m;
  m.name = "popularity";
  m.spec = "popularity:mode=count";
  m.data_snapshot = "abc123";
  m.training_seconds = 0.5;
  m.users = 3;
  m.items = 4;
  m.interactions = 6;
  m.evaluation_split = "random-per-user:0.75";
  m.evaluation_seed = 42;
  m.metrics.k = 10;
  m.metrics.users = 3;
  m.metrics.ndcg = ndcg;
  m.metrics.precision = 0.25;
  m.metric = "ndcg";
  return m;
}

// A model whose Save writes a file, then fails, as a full disk would.
class FailingSave : public Recommender {
 public:
  explicit FailingSave(const Recommender* inner) : inner_(inner) {}
  std::string name() const override { return inner_->name(); }
  std::string spec() const override { return inner_->spec(); }
  Status Fit(const CsrMatrix&, const FitOptions&) override { return Status::OK(); }
  Status Recommend(std::span<const int32_t> users, const CsrMatrix& history, int k,
                   const RecommendOptions& options,
                   std::vector<std::vector<ItemScore>>* out) const override {
    return inner_->Recommend(users, history, k, options, out);
  }
  Status SimilarItems(std::span<const int32_t> items, int k,
                      std::vector<std::vector<ItemScore>>* out) const override {
    return inner_->SimilarItems(items, k, out);
  }
  Status Save(const std::string& dir) const override {
    RECSYS_RETURN_IF_ERROR(inner_->Save(dir));
    return Status::IOError(dir + ": no space left on device");
  }
  Status Load(const std::string&) override { return Status::OK(); }

 private:
  const Recommender* inner_;
};

TEST(RegistryTest, VersionsIncreaseAndCurrentMovesOnlyWhenNotWorse) {
  TempDir dir;
  Fixture f;
  auto model = Fitted(f.matrix);
  ModelRegistry registry(dir.path());
  EXPECT_TRUE(registry.Names()->empty());
  EXPECT_EQ(registry.Current("popularity").status().code(), StatusCode::kNotFound);

  auto first = registry.Publish(*model, f.users, f.items, Manifest(0.30));
  ASSERT_TRUE(first.ok()) << first.status().message();
  EXPECT_EQ(first->version, "v0001");
  EXPECT_TRUE(first->current);
  EXPECT_EQ(*registry.Current("popularity"), "v0001");

  // Worse: kept, not current.
  auto worse = registry.Publish(*model, f.users, f.items, Manifest(0.20));
  ASSERT_TRUE(worse.ok()) << worse.status().message();
  EXPECT_EQ(worse->version, "v0002");
  EXPECT_FALSE(worse->current);
  EXPECT_EQ(worse->previous, "v0001");
  EXPECT_DOUBLE_EQ(worse->previous_value, 0.30);
  EXPECT_EQ(*registry.Current("popularity"), "v0001");

  // Equal to the current one: published.
  auto equal = registry.Publish(*model, f.users, f.items, Manifest(0.30));
  ASSERT_TRUE(equal.ok());
  EXPECT_EQ(equal->version, "v0003");
  EXPECT_TRUE(equal->current);
  EXPECT_EQ(*registry.Current("popularity"), "v0003");

  EXPECT_EQ(*registry.Versions("popularity"),
            (std::vector<std::string>{"v0001", "v0002", "v0003"}));
  EXPECT_EQ(*registry.Names(), std::vector<std::string>{"popularity"});
  EXPECT_EQ(ReadFile(dir.path() + "/models/popularity/CURRENT").value(), "v0003\n");
}

TEST(RegistryTest, ManifestAndIdMapsRoundTrip) {
  TempDir dir;
  Fixture f;
  auto model = Fitted(f.matrix);
  ModelRegistry registry(dir.path());
  ASSERT_TRUE(registry.Publish(*model, f.users, f.items, Manifest(0.4)).ok());

  auto manifest = registry.ReadManifest("popularity", "v0001");
  ASSERT_TRUE(manifest.ok()) << manifest.status().message();
  EXPECT_EQ(manifest->name, "popularity");
  EXPECT_EQ(manifest->version, "v0001");
  EXPECT_EQ(manifest->spec, "popularity:mode=count");
  EXPECT_EQ(manifest->data_snapshot, "abc123");
  EXPECT_EQ(manifest->trained_at.size(), 24u) << manifest->trained_at;  // 2026-01-01T00:00:00.000Z
  EXPECT_EQ(manifest->trained_at.back(), 'Z');
  EXPECT_DOUBLE_EQ(manifest->training_seconds, 0.5);
  EXPECT_EQ(manifest->interactions, 6);
  EXPECT_EQ(manifest->evaluation_split, "random-per-user:0.75");
  EXPECT_EQ(manifest->evaluation_seed, 42u);
  EXPECT_EQ(manifest->metrics.k, 10);
  EXPECT_DOUBLE_EQ(manifest->metrics.ndcg, 0.4);
  EXPECT_DOUBLE_EQ(manifest->metrics.precision, 0.25);
  EXPECT_EQ(manifest->metric, "ndcg");

  auto loaded = registry.Load("popularity", "v0001");
  ASSERT_TRUE(loaded.ok()) << loaded.status().message();
  EXPECT_EQ(loaded->users.names(), f.users.names());
  EXPECT_EQ(loaded->items.names(), f.items.names());
  std::vector<int32_t> users = {0};
  std::vector<std::vector<ItemScore>> out;
  ASSERT_TRUE(loaded->model->Recommend(users, f.matrix, 1, RecommendOptions{}, &out).ok());
  ASSERT_EQ(out[0].size(), 1u);
  // alice has i0 and i2; of the rest i1 and i3 tie at one user, the lower index wins.
  EXPECT_EQ(loaded->items.Name(out[0][0].item), "i1");
}

TEST(RegistryTest, AFailedSaveLeavesCurrentAndVersionsAsTheyWere) {
  TempDir dir;
  Fixture f;
  auto model = Fitted(f.matrix);
  ModelRegistry registry(dir.path());
  ASSERT_TRUE(registry.Publish(*model, f.users, f.items, Manifest(0.1)).ok());

  FailingSave failing(model.get());
  auto r = registry.Publish(failing, f.users, f.items, Manifest(0.9));
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("no space left"), std::string::npos);
  EXPECT_EQ(*registry.Current("popularity"), "v0001");
  EXPECT_EQ(*registry.Versions("popularity"), std::vector<std::string>{"v0001"});
  // Nothing half-written is left beside the versions.
  EXPECT_EQ(*ListDir(dir.path() + "/models/popularity"),
            (std::vector<std::string>{"CURRENT", "v0001"}));

  // The next good publication takes the next number.
  auto next = registry.Publish(*model, f.users, f.items, Manifest(0.2));
  ASSERT_TRUE(next.ok());
  EXPECT_EQ(next->version, "v0002");
  EXPECT_TRUE(next->current);
}

TEST(RegistryTest, BadInputIsNamed) {
  TempDir dir;
  Fixture f;
  auto model = Fitted(f.matrix);
  ModelRegistry registry(dir.path());
  ModelManifest m = Manifest(0.1);
  m.metric = "accuracy";
  auto r = registry.Publish(*model, f.users, f.items, m);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("accuracy"), std::string::npos);

  ASSERT_TRUE(CreateDirs(dir.path() + "/models/als").ok());
  ASSERT_TRUE(WriteFileAtomic(dir.path() + "/models/als/CURRENT", "v0007\n").ok());
  auto current = registry.Current("als");
  ASSERT_FALSE(current.ok());
  EXPECT_NE(current.status().message().find("v0007"), std::string::npos);

  EXPECT_EQ(CurrentGoldSnapshot(dir.path()).status().code(), StatusCode::kNotFound);
  ASSERT_TRUE(CreateDirs(dir.path() + "/gold").ok());
  ASSERT_TRUE(WriteFileAtomic(dir.path() + "/gold/_current.json", "{\"snapshot\": \"s1\"}\n").ok());
  EXPECT_EQ(*CurrentGoldSnapshot(dir.path()), "s1");
}

}  // namespace
}  // namespace recsys
