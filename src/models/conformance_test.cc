// The one suite every model passes (STYLE.md, after implicit's): known answers on a tiny
// checkerboard matrix, save and load, exclusions and filters, and learning a generated shop's
// hidden tastes better than popularity. Run for every name of RecommenderNames().
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <random>
#include <sstream>
#include <unordered_map>

#include "core/files.h"
#include "core/temp_dir.h"
#include "generate/generator.h"
#include "models/recommender.h"

namespace recsys {
namespace {

// Small, fast parameters per model; the plain name is the fallback.
const std::map<std::string, std::string>& FastSpecs() {
  static const auto* specs = new std::map<std::string, std::string>{
      // Regularised enough that 8 factors learn the halves, not each user's random picks.
      {"als", "als:factors=8,iterations=10,regularization=5"},
      {"bpr", "bpr:factors=16"},
      {"content", "content:neighbors=50"},
      {"ease", "ease:lambda=10"},
      {"hybrid", "hybrid:models=itemknn+content+popularity,weights=0.5+0.4+0.1"},
      {"itemknn", "itemknn:neighbors=50"},
      {"popularity", "popularity"},
  };
  return *specs;
}

// Only popularity ranks the same items for everyone.
bool Personalised(const std::string& name) { return name != "popularity"; }

// How much more of the hidden taste a personalised top 10 must hold than popularity's. Measured
// on this shop: popularity 0.06; als 0.49, ease 0.51, itemknn 0.60, bpr 0.60 (fast specs).
constexpr double kTasteMargin = 0.2;

// The model of `name` with its fast spec, or the reason there is none (a missing model, a
// factory that is still a stub).
Result<std::unique_ptr<Recommender>> Make(const std::string& name) {
  auto it = FastSpecs().find(name);
  if (it != FastSpecs().end()) {
    auto fast = CreateRecommender(it->second);
    if (fast.ok()) return fast;
  }
  return CreateRecommender(name);
}

// 100 users x 40 items. Users 0-49 each saw 8 random items of 0-19, users 50-99 8 of 20-39.
// Large enough that a factor model cannot memorise each user's row, and with no structure
// inside a half for it to find instead.
constexpr int32_t kUsers = 100, kItems = 40, kSeen = 8;
int Half(int32_t index, int32_t size) { return index < size / 2 ? 0 : 1; }

CsrMatrix Checkerboard() {
  std::vector<Triplet> t;
  for (int32_t u = 0; u < kUsers; ++u) {
    const int32_t base = Half(u, kUsers) * kItems / 2;
    std::mt19937 rng(static_cast<uint32_t>(u));
    std::vector<int32_t> half(kItems / 2);
    for (int32_t j = 0; j < kItems / 2; ++j) half[static_cast<size_t>(j)] = base + j;
    for (int32_t j = 0; j < kSeen; ++j) {  // a partial Fisher-Yates shuffle
      std::swap(half[static_cast<size_t>(j)],
                half[static_cast<size_t>(j + static_cast<int32_t>(rng() % (kItems / 2 - j)))]);
      t.push_back({u, half[static_cast<size_t>(j)], 1.0f});
    }
  }
  return CsrMatrix::FromTriplets(kUsers, kItems, std::move(t));
}

// Item side data for the models that need it (content): each item has its half as a term and
// category, and a term of its own.
ItemSideData CheckerboardSide() {
  ItemSideData side;
  side.category_names = {"half0", "half1"};
  for (int32_t i = 0; i < kItems; ++i) {
    const int32_t half = Half(i, kItems);
    side.terms.push_back(
        {{"half" + std::to_string(half), 1.0f}, {"sku" + std::to_string(i), 1.0f}});
    side.category.push_back(half);
    side.available.push_back(1);
  }
  return side;
}

std::vector<int32_t> AllUsers() {
  std::vector<int32_t> users(kUsers);
  for (int32_t u = 0; u < kUsers; ++u) users[static_cast<size_t>(u)] = u;
  return users;
}

bool Contains(std::span<const int32_t> sorted, int32_t x) {
  return std::binary_search(sorted.begin(), sorted.end(), x);
}

class ConformanceTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    auto model = Make(GetParam());
    if (!model.ok()) GTEST_SKIP() << GetParam() << " unavailable: " << model.status().message();
    model_ = std::move(*model);
    matrix_ = Checkerboard();
    side_ = CheckerboardSide();
    FitOptions fit;
    fit.threads = 1;
    fit.seed = 42;
    fit.side = &side_;
    Status st = model_->Fit(matrix_, fit);
    if (!st.ok()) GTEST_SKIP() << model_->spec() << " fit failed: " << st.message();
  }

  std::vector<std::vector<ItemScore>> Recommend(int k, const RecommendOptions& options) {
    std::vector<int32_t> users = AllUsers();
    std::vector<std::vector<ItemScore>> out;
    Status st = model_->Recommend(users, matrix_, k, options, &out);
    EXPECT_TRUE(st.ok()) << st.ToString();
    EXPECT_EQ(out.size(), users.size());
    return out;
  }

  std::unique_ptr<Recommender> model_;
  CsrMatrix matrix_;
  ItemSideData side_;
};

TEST_P(ConformanceTest, RecommendsUnseenItemsOfTheUsersOwnHalf) {
  const int k = 5;  // of the 12 unseen items of the user's half
  auto lists = Recommend(k, RecommendOptions());
  for (int32_t u = 0; u < kUsers; ++u) {
    const auto& list = lists[static_cast<size_t>(u)];
    ASSERT_EQ(static_cast<int>(list.size()), k) << "user " << u;
    for (size_t r = 0; r < list.size(); ++r) {
      EXPECT_FALSE(Contains(matrix_.RowIndices(u), list[r].item))
          << model_->spec() << ": user " << u << " was recommended seen item " << list[r].item;
      if (r > 0) {
        EXPECT_GE(list[r - 1].score, list[r].score) << "lists are best first";
      }
      if (Personalised(GetParam())) {
        EXPECT_EQ(Half(list[r].item, kItems), Half(u, kUsers))
            << model_->spec() << ": user " << u << " got item " << list[r].item
            << " of the other half at rank " << r + 1;
      }
    }
  }
  if (!Personalised(GetParam())) {
    // Without the history removed, everyone gets the same list.
    RecommendOptions keep;
    keep.exclude_history = false;
    auto same = Recommend(k, keep);
    for (int32_t u = 1; u < kUsers; ++u) {
      ASSERT_EQ(same[static_cast<size_t>(u)].size(), same[0].size());
      for (size_t r = 0; r < same[0].size(); ++r) {
        EXPECT_EQ(same[static_cast<size_t>(u)][r].item, same[0][r].item);
      }
    }
  }
}

// Serving scores a one-row history built per request (RecommendOptions::fold_in): a user's own
// row alone, as row 0 of a one-row matrix, must still give items of the user's half.
TEST_P(ConformanceTest, FoldInFromAOneRowHistoryStaysInTheUsersHalf) {
  for (int32_t u : {0, kUsers - 1}) {
    CsrMatrix row;
    row.rows = 1;
    row.cols = matrix_.cols;
    row.indices.assign(matrix_.RowIndices(u).begin(), matrix_.RowIndices(u).end());
    row.data.assign(matrix_.RowData(u).begin(), matrix_.RowData(u).end());
    row.indptr = {0, static_cast<int64_t>(row.indices.size())};
    RecommendOptions options;
    options.fold_in = true;
    std::vector<std::vector<ItemScore>> out;
    const int32_t zero = 0;
    Status st = model_->Recommend(std::span<const int32_t>(&zero, 1), row, 5, options, &out);
    ASSERT_TRUE(st.ok()) << model_->spec() << ": " << st.ToString();
    ASSERT_EQ(out.size(), 1u);
    ASSERT_EQ(out[0].size(), 5u) << model_->spec();
    for (const ItemScore& s : out[0]) {
      EXPECT_FALSE(Contains(row.RowIndices(0), s.item)) << model_->spec();
      if (Personalised(GetParam())) {
        EXPECT_EQ(Half(s.item, kItems), Half(u, kUsers))
            << model_->spec() << ": folded-in user " << u << " got item " << s.item;
      }
    }
  }
}

// Factor models expose vectors whose dot products are the model's scores.
TEST_P(ConformanceTest, FactorViewScoresAgreeWithRecommend) {
  const FactorModel* f = model_->factors();
  if (GetParam() != "als" && GetParam() != "bpr") {
    EXPECT_EQ(f, nullptr);
    return;
  }
  ASSERT_NE(f, nullptr);
  EXPECT_EQ(f->item_count(), matrix_.cols);
  auto lists = Recommend(3, RecommendOptions());
  std::vector<float> x(static_cast<size_t>(f->dims()));
  for (int32_t u = 0; u < kUsers; ++u) {
    ASSERT_TRUE(f->UserVector(u, {}, {}, x.data()));
    for (const ItemScore& s : lists[static_cast<size_t>(u)]) {
      float dot = 0;
      const float* y = f->ItemVector(s.item);
      for (int d = 0; d < f->dims(); ++d) dot += x[static_cast<size_t>(d)] * y[d];
      EXPECT_NEAR(dot, s.score, 1e-3 * std::max(1.0f, std::abs(s.score))) << model_->spec();
    }
  }
  EXPECT_FALSE(f->UserVector(kUsers + 5, {}, {}, x.data())) << "not a fitted user";
  // A folded-in vector from user 0's history prefers user 0's half.
  ASSERT_TRUE(f->UserVector(-1, matrix_.RowIndices(0), matrix_.RowData(0), x.data()));
  float own = 0, other = 0;
  for (int32_t i = 0; i < kItems; ++i) {
    float dot = 0;
    for (int d = 0; d < f->dims(); ++d) dot += x[static_cast<size_t>(d)] * f->ItemVector(i)[d];
    (Half(i, kItems) == 0 ? own : other) += dot;
  }
  EXPECT_GT(own, other) << model_->spec();
}

TEST_P(ConformanceTest, HistoryIsKeptWhenAskedAndFilterIsHonoured) {
  RecommendOptions keep;
  keep.exclude_history = false;
  auto lists = Recommend(kItems / 2, keep);
  int seen_listed = 0;
  for (int32_t u = 0; u < kUsers; ++u) {
    for (const ItemScore& s : lists[static_cast<size_t>(u)]) {
      seen_listed += Contains(matrix_.RowIndices(u), s.item) ? 1 : 0;
    }
  }
  EXPECT_GT(seen_listed, 0) << model_->spec() << " left history out though asked to keep it";

  RecommendOptions even;
  even.item_filter = [](int32_t item) { return item % 2 == 0; };
  lists = Recommend(3, even);
  for (int32_t u = 0; u < kUsers; ++u) {
    EXPECT_FALSE(lists[static_cast<size_t>(u)].empty());
    for (const ItemScore& s : lists[static_cast<size_t>(u)]) {
      EXPECT_EQ(s.item % 2, 0) << model_->spec() << " ignored the filter for user " << u;
      EXPECT_FALSE(Contains(matrix_.RowIndices(u), s.item));
    }
  }
}

TEST_P(ConformanceTest, SimilarItemsComeFromTheItemsOwnHalf) {
  std::vector<int32_t> items(kItems);
  for (int32_t i = 0; i < kItems; ++i) items[static_cast<size_t>(i)] = i;
  std::vector<std::vector<ItemScore>> similar;
  ASSERT_TRUE(model_->SimilarItems(items, 3, &similar).ok());
  ASSERT_EQ(similar.size(), items.size());
  for (int32_t i = 0; i < kItems; ++i) {
    const auto& list = similar[static_cast<size_t>(i)];
    EXPECT_EQ(list.size(), 3u) << "item " << i;
    for (const ItemScore& s : list) {
      EXPECT_NE(s.item, i) << model_->spec() << ": an item is not similar to itself";
      if (Personalised(GetParam())) {
        EXPECT_EQ(Half(s.item, kItems), Half(i, kItems))
            << model_->spec() << ": item " << i << " similar to " << s.item;
      }
    }
  }
}

TEST_P(ConformanceTest, SaveThenLoadGivesTheSameRecommendations) {
  TempDir dir;
  ASSERT_TRUE(model_->Save(dir.path() + "/model").ok());
  auto fresh = CreateRecommender(model_->spec());
  ASSERT_TRUE(fresh.ok()) << model_->spec() << ": " << fresh.status().ToString();
  Status st = (*fresh)->Load(dir.path() + "/model");
  ASSERT_TRUE(st.ok()) << st.ToString();
  EXPECT_EQ((*fresh)->spec(), model_->spec());
  auto before = Recommend(5, RecommendOptions());
  std::vector<int32_t> users = AllUsers();
  std::vector<std::vector<ItemScore>> after;
  ASSERT_TRUE((*fresh)->Recommend(users, matrix_, 5, RecommendOptions(), &after).ok());
  ASSERT_EQ(after.size(), before.size());
  for (size_t u = 0; u < before.size(); ++u) {
    ASSERT_EQ(after[u].size(), before[u].size());
    for (size_t r = 0; r < before[u].size(); ++r) {
      EXPECT_EQ(after[u][r].item, before[u][r].item) << "user " << u << " rank " << r + 1;
      EXPECT_NEAR(after[u][r].score, before[u][r].score, 1e-5);
    }
  }
}

// A generated shop: interactions from its events (view 1, cart 3, purchase 5) and its hidden
// tastes, made once for every model.
struct Shop {
  CsrMatrix matrix;
  std::vector<int32_t> users;             // rows with a known taste and some history
  std::vector<std::vector<float>> taste;  // per row: weight per top category (index)
  std::vector<int32_t> item_category;     // per column: top category index, -1 unknown
  ItemSideData side;                      // the top category as category and only term
  Status status;
};

std::vector<std::string> CsvFields(const std::string& line) {
  std::vector<std::string> out;
  std::stringstream ss(line);
  std::string f;
  while (std::getline(ss, f, ',')) out.push_back(f);
  return out;
}

const Shop& GeneratedShop() {
  static const Shop* shop = [] {
    auto* s = new Shop;
    GeneratorOptions options;
    options.users = 2000;
    options.products = 300;
    options.days = 14;
    options.seed = 7;
    Generator gen(options);
    IdMap users, items;
    std::unordered_map<uint64_t, float> weights;
    s->status = gen.Run([&](const GeneratedRecord& r) {
      if (r.event == nullptr || r.topic != Topic::kClickstream) return Status::OK();
      const Event& e = *r.event;
      float w = e.type == EventType::kProductView ? 1.0f
                : e.type == EventType::kAddToCart ? 3.0f
                : e.type == EventType::kPurchase  ? 5.0f
                                                  : 0.0f;
      if (w == 0 || e.user_id.empty() || e.product_id.empty()) return Status::OK();
      uint64_t key = (static_cast<uint64_t>(users.GetOrAdd(e.user_id)) << 32) |
                     static_cast<uint32_t>(items.GetOrAdd(e.product_id));
      weights[key] += w;
      return Status::OK();
    });
    if (!s->status.ok()) return s;
    TempDir dir;
    s->status = gen.WriteGroundTruth(dir.path());
    if (!s->status.ok()) return s;
    std::vector<Triplet> t;
    for (const auto& [key, w] : weights) {
      t.push_back({static_cast<int32_t>(key >> 32), static_cast<int32_t>(key & 0xffffffff), w});
    }
    s->matrix = CsrMatrix::FromTriplets(users.size(), items.size(), std::move(t));

    auto tastes = ReadFile(dir.path() + "/ground_truth/user_tastes.csv");
    auto products = ReadFile(dir.path() + "/ground_truth/products.csv");
    if (!tastes.ok() || !products.ok()) {
      s->status = tastes.ok() ? products.status() : tastes.status();
      return s;
    }
    std::stringstream ts(*tastes);
    std::string line;
    std::getline(ts, line);
    std::vector<std::string> header = CsvFields(line);
    std::map<std::string, int32_t> category;
    for (size_t c = 1; c < header.size(); ++c) category[header[c]] = static_cast<int32_t>(c - 1);
    s->taste.assign(static_cast<size_t>(users.size()), {});
    while (std::getline(ts, line)) {
      std::vector<std::string> f = CsvFields(line);
      int32_t row = users.Find(f[0]);
      if (row < 0 || s->matrix.RowIndices(row).empty()) continue;
      for (size_t c = 1; c < f.size(); ++c) {
        s->taste[static_cast<size_t>(row)].push_back(std::stof(f[c]));
      }
      s->users.push_back(row);
    }
    std::sort(s->users.begin(), s->users.end());
    s->item_category.assign(static_cast<size_t>(items.size()), -1);
    std::stringstream ps(*products);
    std::getline(ps, line);
    while (std::getline(ps, line)) {
      std::vector<std::string> f = CsvFields(line);
      int32_t col = items.Find(f[0]);
      if (col < 0) continue;
      std::string top = f[1].substr(0, f[1].find(" > "));
      auto it = category.find(top);
      if (it != category.end()) s->item_category[static_cast<size_t>(col)] = it->second;
    }
    for (const auto& [name, index] : category) {
      s->side.category_names.resize(
          std::max(s->side.category_names.size(), static_cast<size_t>(index) + 1));
      s->side.category_names[static_cast<size_t>(index)] = name;
    }
    s->side.category = s->item_category;
    for (int32_t c : s->item_category) {
      s->side.terms.push_back({});
      if (c >= 0) s->side.terms.back().push_back({"category" + std::to_string(c), 1.0f});
    }
    return s;
  }();
  return *shop;
}

// The mean, over users, of the hidden taste weight of the categories of their top 10.
Result<double> MeanTasteOfTop10(Recommender* model, const Shop& shop) {
  FitOptions fit;
  fit.seed = 42;
  fit.side = &shop.side;
  RECSYS_RETURN_IF_ERROR(model->Fit(shop.matrix, fit));
  std::vector<std::vector<ItemScore>> lists;
  RECSYS_RETURN_IF_ERROR(model->Recommend(shop.users, shop.matrix, 10, {}, &lists));
  double sum = 0;
  int64_t n = 0;
  for (size_t i = 0; i < shop.users.size(); ++i) {
    const std::vector<float>& taste = shop.taste[static_cast<size_t>(shop.users[i])];
    for (const ItemScore& s : lists[i]) {
      int32_t c = shop.item_category[static_cast<size_t>(s.item)];
      sum += c >= 0 && static_cast<size_t>(c) < taste.size() ? taste[static_cast<size_t>(c)] : 0;
      ++n;
    }
  }
  return n > 0 ? sum / static_cast<double>(n) : 0.0;
}

TEST_P(ConformanceTest, LearnsAGeneratedShopsTastesBetterThanPopularity) {
  const Shop& shop = GeneratedShop();
  ASSERT_TRUE(shop.status.ok()) << shop.status.ToString();
  ASSERT_GT(shop.users.size(), 1000u);
  auto popularity = CreateRecommender("popularity");
  if (!popularity.ok()) GTEST_SKIP() << "popularity unavailable: " << popularity.status().message();
  auto base = MeanTasteOfTop10(popularity->get(), shop);
  ASSERT_TRUE(base.ok()) << base.status().ToString();
  auto fresh = Make(GetParam());
  ASSERT_TRUE(fresh.ok());
  auto score = MeanTasteOfTop10(fresh->get(), shop);
  ASSERT_TRUE(score.ok()) << score.status().ToString();
  std::printf("[ shop     ] %-40s mean taste of top 10 %.4f (popularity %.4f)\n",
              (*fresh)->spec().c_str(), *score, *base);
  if (!Personalised(GetParam())) return;
  EXPECT_GT(*score, *base + kTasteMargin) << (*fresh)->spec();
}

INSTANTIATE_TEST_SUITE_P(EveryModel, ConformanceTest, ::testing::ValuesIn(RecommenderNames()),
                         [](const ::testing::TestParamInfo<std::string>& info) {
                           return info.param;
                         });

}  // namespace
}  // namespace recsys
