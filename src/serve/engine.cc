#include "serve/engine.h"

// hnswlib 0.6.2 prefetches one link past the end of a full neighbour list (a read inside the
// same allocation's slack, never used): harmless, but AddressSanitizer reports it, so sanitized
// builds go without hnswlib's SSE paths. Its distances are not used here anyway (see
// InnerProductSpace below).
#if defined(__SANITIZE_ADDRESS__) && !defined(NO_MANUAL_VECTORIZATION)
#define NO_MANUAL_VECTORIZATION
#endif
#include <hnswlib/hnswlib.h>
#include <immintrin.h>
#include <omp.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <functional>
#include <set>
#include <thread>
#include <unordered_map>
#include <unordered_set>
#include <utility>

#include "core/clock.h"
#include "ingest/event_log.h"
#include "models/data.h"
#include "models/hybrid.h"
#include "process/catalog.h"

namespace recsys {
namespace {

// Extra candidates asked of the index beyond k and the items that will be filtered out, so
// the rules and the category filter usually leave k.
constexpr int kCandidateSlack = 10;
// History items looked at when explaining a list (the heaviest ones).
constexpr size_t kExplainHistory = 50;
// Neighbours of a listed item searched for a history item, for models without factors.
constexpr int32_t kExplainNeighbours = 100;
// Candidates cached per fitted user beyond the size of the user's history.
constexpr size_t kCachedCandidates = 40;

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// The category path equals filter, or starts with filter + " > ", or its top category equals
// it; case-insensitive. filter is lower-cased already.
bool CategoryMatches(const ProductInfo& p, const std::string& filter) {
  const std::string path = Lower(p.category);
  if (path == filter || Lower(p.top_category) == filter) return true;
  return path.size() > filter.size() + 3 && path.compare(0, filter.size(), filter) == 0 &&
         path.compare(filter.size(), 3, " > ") == 0;
}

float DotPortable(const float* a, const float* b, int n) {
  float s = 0;
  for (int i = 0; i < n; ++i) s += a[i] * b[i];
  return s;
}

__attribute__((target("avx2,fma"))) float DotAvx2(const float* a, const float* b, int n) {
  __m256 s0 = _mm256_setzero_ps(), s1 = _mm256_setzero_ps();
  int i = 0;
  for (; i + 16 <= n; i += 16) {
    s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), s0);
    s1 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 8), _mm256_loadu_ps(b + i + 8), s1);
  }
  for (; i + 8 <= n; i += 8)
    s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), s0);
  s0 = _mm256_add_ps(s0, s1);
  __m128 h = _mm_add_ps(_mm256_castps256_ps128(s0), _mm256_extractf128_ps(s0, 1));
  h = _mm_add_ps(h, _mm_movehl_ps(h, h));
  h = _mm_add_ss(h, _mm_shuffle_ps(h, h, 1));
  float s = _mm_cvtss_f32(h);
  for (; i < n; ++i) s += a[i] * b[i];
  return s;
}

using DotFn = float (*)(const float*, const float*, int);
// Chosen once, at start: AVX2 with FMA where the CPU has them (the binary stays portable).
const DotFn kDot =
    __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") ? &DotAvx2 : &DotPortable;

float Dot(const float* a, const float* b, int n) { return kDot(a, b, n); }

// hnswlib's inner-product space ("distance" 1 - dot), with the dot product chosen at run time
// instead of at compile time as hnswlib's own InnerProductSpace does.
class InnerProductSpace final : public hnswlib::SpaceInterface<float> {
 public:
  explicit InnerProductSpace(size_t dims) : dims_(dims) {}
  size_t get_data_size() override { return dims_ * sizeof(float); }
  hnswlib::DISTFUNC<float> get_dist_func() override { return &Distance; }
  void* get_dist_func_param() override { return &dims_; }

 private:
  static float Distance(const void* a, const void* b, const void* dims) {
    return 1.0f - kDot(static_cast<const float*>(a), static_cast<const float*>(b),
                       static_cast<int>(*static_cast<const size_t*>(dims)));
  }
  size_t dims_;
};

// One model version as loaded, shared by every state that serves it.
struct ServedModel {
  std::string name, version;
  LoadedModel lm;
  const FactorModel* factors = nullptr;
  const HybridRecommender* hybrid = nullptr;
  std::unique_ptr<InnerProductSpace> space;
  std::unique_ptr<hnswlib::HierarchicalNSW<float>> hnsw;

  // Per fitted user, the best items of the learned vector (unfiltered, best first), filled on
  // first use: the index search is most of a request's work and a learned vector only changes
  // with a new version. Null until filled; the budget caps the items held over all users.
  std::unique_ptr<std::atomic<const std::vector<ItemScore>*>[]> candidates;
  std::atomic<int64_t> candidate_budget{0};

  ~ServedModel() {
    if (candidates == nullptr) return;
    for (int32_t u = 0; u < lm.users.size(); ++u) delete candidates[static_cast<size_t>(u)].load();
  }
};

Result<std::shared_ptr<ServedModel>> LoadServedModel(const ModelRegistry& registry,
                                                     const std::string& name,
                                                     const std::string& version,
                                                     const EngineOptions& options) {
  auto m = std::make_shared<ServedModel>();
  m->name = name;
  m->version = version;
  RECSYS_ASSIGN_OR_RETURN(m->lm, registry.Load(name, version));
  m->factors = m->lm.model->factors();
  m->hybrid = dynamic_cast<const HybridRecommender*>(m->lm.model.get());
  if (m->factors != nullptr && options.candidate_cache_items > 0) {
    const size_t users = static_cast<size_t>(m->lm.users.size());
    m->candidates = std::make_unique<std::atomic<const std::vector<ItemScore>*>[]>(users);
    for (size_t u = 0; u < users; ++u) m->candidates[u].store(nullptr);
    m->candidate_budget = options.candidate_cache_items;
  }
  if (m->factors != nullptr && m->factors->item_count() >= options.ann_min_items) {
    const FactorModel& f = *m->factors;
    const int32_t n = f.item_count();
    m->space = std::make_unique<InnerProductSpace>(static_cast<size_t>(f.dims()));
    m->hnsw = std::make_unique<hnswlib::HierarchicalNSW<float>>(
        m->space.get(), static_cast<size_t>(n), static_cast<size_t>(options.hnsw_m),
        static_cast<size_t>(options.hnsw_ef_construction), 42);
    // The first point alone, then the rest in parallel (hnswlib's adds are thread-safe).
    m->hnsw->addPoint(f.ItemVector(0), 0);
    std::atomic<int32_t> next{1};
    int threads = options.threads > 0 ? options.threads
                                      : static_cast<int>(std::thread::hardware_concurrency());
    threads = std::max(1, threads);
    std::vector<std::thread> workers;
    for (int t = 0; t < threads; ++t) {
      workers.emplace_back([&] {
        for (int32_t i = next++; i < n; i = next++) {
          m->hnsw->addPoint(f.ItemVector(i), static_cast<hnswlib::labeltype>(i));
        }
      });
    }
    for (std::thread& w : workers) w.join();
    m->hnsw->setEf(static_cast<size_t>(options.hnsw_ef_search));
  }
  return m;
}

// The users' gold histories, as of one gold snapshot.
struct GoldHistory {
  std::string snapshot;
  IdMap users, items;
  CsrMatrix matrix;
  std::vector<int64_t> times_ms;  // per entry, CSR order
};

Result<std::shared_ptr<GoldHistory>> LoadGoldHistory(const std::string& root,
                                                     const std::string& snapshot) {
  auto g = std::make_shared<GoldHistory>();
  g->snapshot = snapshot;
  if (snapshot.empty()) return g;
  Result<InteractionData> data = LoadGoldInteractions(root);
  if (!data.ok()) {
    if (data.status().code() == StatusCode::kNotFound) return g;
    return data.status();
  }
  g->times_ms = EntryTimesInCsrOrder(*data);
  g->matrix = data->ToMatrix();
  g->users = std::move(data->users);
  g->items = std::move(data->items);
  return g;
}

// A served model tied to one gold history and shop data.
struct Slot {
  std::shared_ptr<ServedModel> model;
  std::vector<int32_t> gold_to_model;          // gold item index -> model item, -1 unknown
  std::vector<const ProductInfo*> product_of;  // model item -> catalog entry, null unknown

  // The item's title, or its id when the catalog has none.
  std::string_view Title(int32_t item) const {
    const ProductInfo* p = product_of[static_cast<size_t>(item)];
    if (p != nullptr && !p->title.empty()) return p->title;
    return model->lm.items.Name(item);
  }
};

struct VariantPlan {
  std::string name;
  size_t slot = 0;
  std::vector<double> blend_weights;  // hybrid components' weights; empty = the fitted ones
  double cumulative = 0;              // upper end of its hash range, in [0, 1]
};

}  // namespace

struct Engine::State {
  std::shared_ptr<const ShopData> shop;
  std::shared_ptr<GoldHistory> gold;
  std::vector<Slot> slots;  // slots[0] is the default model
  std::map<std::string, size_t> slot_of;
};

struct Engine::Impl {
  // The admin settings as requests use them, replaced whole by the admin calls.
  struct Settings {
    Rules rules;
    Experiment experiment;
    std::map<std::string, double> hybrid_weights;  // for the default model; empty = fitted
    // Derived from rules.
    std::vector<std::string> excluded_categories;  // lower-cased
    std::vector<std::string> excluded_products;
    std::vector<Rules::Boost> boosts;  // values lower-cased for category and brand
  };

  // What a request reads: one state, one settings, and what they make together, derived once.
  struct View {
    std::shared_ptr<const State> state;
    std::shared_ptr<const Settings> settings;
    std::vector<VariantPlan> plans;
    std::vector<std::vector<int32_t>> excluded_items;  // per slot: the rules' products, sorted
  };

  EngineOptions options;
  LiveEvents* live;
  ModelRegistry registry;

  std::mutex reload_mu;   // one state build (Reload, SetExperiment) at a time
  std::mutex publish_mu;  // one Publish at a time: each reads what the other half is
  mutable std::mutex view_mu;
  std::shared_ptr<const State> state;        // last published; null until a model loads
  std::shared_ptr<const Settings> settings;  // never null
  std::shared_ptr<const View> view;          // null until a model loads

  // Folded-in user vectors: (model name + version + user) -> (fresh version, vector).
  struct CacheShard {
    std::mutex mu;
    std::unordered_map<std::string, std::pair<uint64_t, std::vector<float>>> map;
  };
  std::array<CacheShard, 16> cache;
  std::atomic<int64_t> candidate_hits{0}, candidate_misses{0};

  Impl(EngineOptions o, LiveEvents* l)
      : options(std::move(o)),
        live(l),
        registry(options.lake_root),
        settings(std::make_shared<Settings>()) {}

  std::shared_ptr<const View> CurrentView() const {
    std::lock_guard<std::mutex> lock(view_mu);
    return view;
  }
  std::shared_ptr<const State> Current() const {
    std::lock_guard<std::mutex> lock(view_mu);
    return state;
  }
  std::shared_ptr<const Settings> CurrentSettings() const {
    std::lock_guard<std::mutex> lock(view_mu);
    return settings;
  }

  Result<std::string> DefaultModelName() const {
    if (!options.model.empty()) return options.model;
    RECSYS_ASSIGN_OR_RETURN(std::vector<std::string> names, registry.Names());
    std::string best_name;
    double best = -1;
    for (const std::string& n : names) {
      auto v = registry.Current(n);
      if (!v.ok()) continue;
      auto m = registry.ReadManifest(n, *v);
      if (!m.ok()) continue;
      auto value = MetricValue(m->metrics, options.metric);
      if (!value.ok()) return value.status();
      if (*value > best) {
        best = *value;
        best_name = n;
      }
    }
    if (best_name.empty()) {
      return Status::NotFound("no current model in " + options.lake_root +
                              "/models (run `recsys train`)");
    }
    return best_name;
  }

  // The model names a state must serve: the default first, then the experiment's.
  Result<std::vector<std::string>> NeededModels(const Experiment& exp) const {
    RECSYS_ASSIGN_OR_RETURN(std::string first, DefaultModelName());
    std::vector<std::string> names = {first};
    for (const Variant& v : exp.variants) {
      if (!v.model.empty() && std::find(names.begin(), names.end(), v.model) == names.end()) {
        names.push_back(v.model);
      }
    }
    return names;
  }

  // Builds a state for these models over the current gold; reuses what `old` has loaded.
  Result<std::shared_ptr<State>> Build(const std::vector<std::string>& names,
                                       const std::shared_ptr<const State>& old) {
    auto s = std::make_shared<State>();
    std::string snapshot;
    std::string as_of;
    auto current = ReadGoldCurrent(options.lake_root);
    if (current.ok()) {
      snapshot = current->snapshot;
    } else if (current.status().code() != StatusCode::kNotFound) {
      return current.status();
    }
    if (old != nullptr && old->gold->snapshot == snapshot) {
      s->gold = old->gold;
      s->shop = old->shop;
    } else {
      RECSYS_ASSIGN_OR_RETURN(s->gold, LoadGoldHistory(options.lake_root, snapshot));
      RECSYS_ASSIGN_OR_RETURN(s->shop, ShopData::Load(options.lake_root));
    }
    for (const std::string& name : names) {
      RECSYS_ASSIGN_OR_RETURN(std::string version, registry.Current(name));
      std::shared_ptr<ServedModel> model;
      if (old != nullptr) {
        for (const Slot& slot : old->slots) {
          if (slot.model->name == name && slot.model->version == version) model = slot.model;
        }
      }
      if (model == nullptr) {
        RECSYS_ASSIGN_OR_RETURN(model, LoadServedModel(registry, name, version, options));
      }
      Slot slot;
      slot.model = model;
      const IdMap& items = model->lm.items;
      slot.gold_to_model.resize(static_cast<size_t>(s->gold->items.size()));
      for (int32_t i = 0; i < s->gold->items.size(); ++i) {
        slot.gold_to_model[static_cast<size_t>(i)] = items.Find(s->gold->items.Name(i));
      }
      slot.product_of.resize(static_cast<size_t>(items.size()));
      for (int32_t i = 0; i < items.size(); ++i) {
        slot.product_of[static_cast<size_t>(i)] = s->shop->FindProduct(items.Name(i));
      }
      s->slot_of[name] = s->slots.size();
      s->slots.push_back(std::move(slot));
    }
    return s;
  }

  // Makes (s, st) what requests see, with the plans and item sets derived from them once here.
  // Nothing changes when the experiment or weights do not fit the state. s may be null (no
  // model yet): then only the settings are kept. REQUIRES: publish_mu held.
  Status Publish(std::shared_ptr<const State> s, std::shared_ptr<const Settings> st) {
    std::shared_ptr<View> v;
    if (s != nullptr) {
      v = std::make_shared<View>();
      v->state = s;
      v->settings = st;
      RECSYS_ASSIGN_OR_RETURN(v->plans, Plans(*s, st->experiment, st->hybrid_weights));
      for (const Slot& slot : s->slots) {
        std::vector<int32_t> items;
        for (const std::string& id : st->excluded_products) {
          const int32_t item = slot.model->lm.items.Find(id);
          if (item >= 0) items.push_back(item);
        }
        std::sort(items.begin(), items.end());
        v->excluded_items.push_back(std::move(items));
      }
    }
    bool new_gold = false;
    {
      std::lock_guard<std::mutex> lock(view_mu);
      new_gold = s != nullptr && (state == nullptr || state->gold != s->gold);
      state = s;
      settings = std::move(st);
      view = std::move(v);
    }
    // The new gold holds the events up to its as_of: only later ones stay fresh.
    if (new_gold && s->shop->as_of_ms() > 0) live->AdvanceSince(s->shop->as_of_ms());
    return Status::OK();
  }

  // The variant plans of the current experiment over state s.
  Result<std::vector<VariantPlan>> Plans(const State& s, const Experiment& exp,
                                         const std::map<std::string, double>& default_weights) {
    std::vector<VariantPlan> plans;
    if (exp.variants.empty()) {
      VariantPlan p;
      p.name = "default";
      p.cumulative = 1;
      RECSYS_ASSIGN_OR_RETURN(p.blend_weights, BlendWeights(s.slots[0], default_weights));
      plans.push_back(std::move(p));
      return plans;
    }
    double total = 0;
    for (const Variant& v : exp.variants) total += v.share;
    double acc = 0;
    for (const Variant& v : exp.variants) {
      VariantPlan p;
      p.name = v.name;
      auto it = s.slot_of.find(v.model.empty() ? s.slots[0].model->name : v.model);
      if (it == s.slot_of.end()) {
        return Status::NotFound("variant " + v.name + ": model " + v.model + " is not loaded");
      }
      p.slot = it->second;
      const std::map<std::string, double>& w =
          !v.weights.empty() ? v.weights : (p.slot == 0 ? default_weights : v.weights);
      RECSYS_ASSIGN_OR_RETURN(p.blend_weights, BlendWeights(s.slots[p.slot], w));
      acc += v.share / total;
      p.cumulative = acc;
      plans.push_back(std::move(p));
    }
    plans.back().cumulative = 1.0;
    return plans;
  }

  // Named weights in the hybrid's component order; empty in, empty out.
  static Result<std::vector<double>> BlendWeights(const Slot& slot,
                                                  const std::map<std::string, double>& named) {
    if (named.empty()) return std::vector<double>();
    if (slot.model->hybrid == nullptr) {
      return Status::InvalidArgument("model " + slot.model->name +
                                     " is not a hybrid: it has no blend weights");
    }
    const HybridParams& p = slot.model->hybrid->params();
    std::vector<double> out = p.weights;
    for (const auto& [name, w] : named) {
      auto it = std::find(p.models.begin(), p.models.end(), name);
      if (it == p.models.end()) {
        std::string known;
        for (const std::string& m : p.models) known += (known.empty() ? "" : ", ") + m;
        return Status::InvalidArgument("hybrid has no component " + name + " (it has " + known +
                                       ")");
      }
      if (!(w >= 0) || !std::isfinite(w)) {
        return Status::InvalidArgument("weight of " + name + " must be a number >= 0");
      }
      out[static_cast<size_t>(it - p.models.begin())] = w;
    }
    return out;
  }

  // ---- Scoring ----

  // A request resolved against one state.
  struct Ctx {
    const State* s;
    const Settings* settings;
    const Slot* slot;
    // Allowed items (model index) as the rules, the category and the exclusions say.
    std::string category;  // lower-cased
    // Sorted model items: history (unless include_seen), asked and ruled out.
    std::vector<int32_t> excluded;
  };

  bool Allowed(const Ctx& c, int32_t item) const {
    if (std::binary_search(c.excluded.begin(), c.excluded.end(), item)) return false;
    const ProductInfo* p = c.slot->product_of[static_cast<size_t>(item)];
    const std::vector<std::string>& excluded_categories = c.settings->excluded_categories;
    if (p == nullptr) return c.category.empty() && excluded_categories.empty();
    if (c.settings->rules.exclude_unavailable && !p->available()) return false;
    if (!c.category.empty() && !CategoryMatches(*p, c.category)) return false;
    for (const std::string& e : excluded_categories) {
      if (CategoryMatches(*p, e)) return false;
    }
    return true;
  }

  // Score multiplier of the boosts; 1 when none applies.
  double Boost(const ProductInfo* p, const std::vector<Rules::Boost>& bs) const {
    double f = 1;
    if (p == nullptr) return f;
    for (const Rules::Boost& b : bs) {
      if ((b.field == "product" && p->product_id == b.value) ||
          (b.field == "brand" && Lower(p->brand) == b.value) ||
          (b.field == "category" && CategoryMatches(*p, b.value))) {
        f *= b.factor;
      }
    }
    return f;
  }

  // The user's history in the slot's item space: gold plus fresh, sorted by item, summed.
  void MergedHistory(const State& s, const Slot& slot, std::string_view user,
                     const FreshHistory* fresh, std::vector<int32_t>* items,
                     std::vector<float>* weights) const {
    std::vector<std::pair<int32_t, float>> all;
    const int32_t gu = user.empty() ? -1 : s.gold->users.Find(user);
    if (gu >= 0) {
      std::span<const int32_t> idx = s.gold->matrix.RowIndices(gu);
      std::span<const float> w = s.gold->matrix.RowData(gu);
      for (size_t n = 0; n < idx.size(); ++n) {
        const int32_t m = slot.gold_to_model[static_cast<size_t>(idx[n])];
        if (m >= 0) all.emplace_back(m, w[n]);
      }
    }
    if (fresh != nullptr) {
      for (const auto& [product, w] : fresh->items) {
        const int32_t m = slot.model->lm.items.Find(product);
        if (m >= 0) all.emplace_back(m, w);
      }
    }
    std::sort(all.begin(), all.end(),
              [](const auto& a, const auto& b) { return a.first < b.first; });
    items->clear();
    weights->clear();
    for (const auto& [item, w] : all) {
      if (!items->empty() && items->back() == item) {
        weights->back() += w;
      } else {
        items->push_back(item);
        weights->push_back(w);
      }
    }
  }

  // Folded-in vector, cached per (model version, user) until the fresh version changes.
  void FoldIn(const Slot& slot, std::string_view user, uint64_t fresh_version,
              std::span<const int32_t> items, std::span<const float> weights,
              std::vector<float>* out) {
    const ServedModel& m = *slot.model;
    std::string key;
    if (!user.empty()) {
      key.reserve(m.name.size() + m.version.size() + user.size() + 2);
      key.append(m.name).append("/").append(m.version).append("/").append(user);
      CacheShard& shard = cache[std::hash<std::string>()(key) % cache.size()];
      std::lock_guard<std::mutex> lock(shard.mu);
      auto it = shard.map.find(key);
      if (it != shard.map.end() && it->second.first == fresh_version) {
        *out = it->second.second;
        return;
      }
    }
    out->assign(static_cast<size_t>(m.factors->dims()), 0.0f);
    m.factors->UserVector(-1, items, weights, out->data());
    if (!user.empty()) {
      CacheShard& shard = cache[std::hash<std::string>()(key) % cache.size()];
      std::lock_guard<std::mutex> lock(shard.mu);
      if (shard.map.size() >= std::max<size_t>(1, options.fold_in_cache / cache.size())) {
        shard.map.clear();
      }
      shard.map[key] = {fresh_version, *out};
    }
  }

  // Top items for a user vector from a factor model: HNSW candidates or a full scan.
  // The n best items for x by score, unfiltered, best first (ties by item): from the index when
  // there is one, else a full scan.
  void Candidates(const ServedModel& m, const float* x, size_t n,
                  std::vector<ItemScore>* out) const {
    const FactorModel& f = *m.factors;
    n = std::min<size_t>(n, static_cast<size_t>(f.item_count()));
    out->clear();
    if (m.hnsw != nullptr) {
      auto heap = m.hnsw->searchKnn(x, n);
      out->reserve(heap.size());
      while (!heap.empty()) {
        out->push_back({static_cast<int32_t>(heap.top().second), 1.0f - heap.top().first});
        heap.pop();
      }
      std::sort(out->begin(), out->end(), [](const ItemScore& a, const ItemScore& b) {
        return a.score > b.score || (a.score == b.score && a.item < b.item);
      });
      return;
    }
    std::vector<float> scores(static_cast<size_t>(f.item_count()));
    for (int32_t i = 0; i < f.item_count(); ++i) {
      scores[static_cast<size_t>(i)] = Dot(x, f.ItemVector(i), f.dims());
    }
    TopK(scores, static_cast<int>(n), {}, nullptr, out);
  }

  // A fitted user's cached candidates (see ServedModel::candidates), computed and kept on a
  // miss while the budget lasts; null when the model has no cache.
  const std::vector<ItemScore>* CachedCandidates(const ServedModel& m, int32_t user,
                                                 size_t history) {
    if (m.candidates == nullptr) return nullptr;
    std::atomic<const std::vector<ItemScore>*>& slot = m.candidates[static_cast<size_t>(user)];
    if (const std::vector<ItemScore>* hit = slot.load(std::memory_order_acquire)) {
      candidate_hits.fetch_add(1, std::memory_order_relaxed);
      return hit;
    }
    candidate_misses.fetch_add(1, std::memory_order_relaxed);
    std::vector<float> x(static_cast<size_t>(m.factors->dims()));
    if (!m.factors->UserVector(user, {}, {}, x.data())) return nullptr;
    auto list = std::make_unique<std::vector<ItemScore>>();
    Candidates(m, x.data(), history + kCachedCandidates, list.get());
    ServedModel& mm = const_cast<ServedModel&>(m);
    if (mm.candidate_budget.fetch_sub(static_cast<int64_t>(list->size())) < 0) {
      mm.candidate_budget.fetch_add(static_cast<int64_t>(list->size()));
      thread_local std::vector<ItemScore> uncached;
      uncached = std::move(*list);
      return &uncached;
    }
    const std::vector<ItemScore>* expected = nullptr;
    if (slot.compare_exchange_strong(expected, list.get(), std::memory_order_acq_rel)) {
      return list.release();
    }
    mm.candidate_budget.fetch_add(static_cast<int64_t>(list->size()));
    return expected;  // another thread filled it first
  }

  // The allowed candidates, up to want, best first. False when fewer than want remain and the
  // candidates do not cover the catalog (the caller searches further).
  bool Select(const Ctx& c, const std::vector<ItemScore>& candidates, int want,
              std::vector<ItemScore>* out) const {
    out->clear();
    for (const ItemScore& it : candidates) {
      if (static_cast<int>(out->size()) >= want) break;
      if (Allowed(c, it.item)) out->push_back(it);
    }
    return static_cast<int>(out->size()) >= want ||
           candidates.size() >= static_cast<size_t>(c.slot->model->factors->item_count());
  }

  void FactorTopK(const Ctx& c, const float* x, int want, std::vector<ItemScore>* out) const {
    const ServedModel& m = *c.slot->model;
    const FactorModel& f = *m.factors;
    out->clear();
    if (m.hnsw != nullptr) {
      const size_t ask = static_cast<size_t>(want) + c.excluded.size() + kCandidateSlack;
      auto heap = m.hnsw->searchKnn(x, std::min<size_t>(ask, f.item_count()));
      std::vector<ItemScore> found;
      found.reserve(heap.size());
      while (!heap.empty()) {
        const int32_t item = static_cast<int32_t>(heap.top().second);
        heap.pop();
        if (Allowed(c, item)) found.push_back({item, Dot(x, f.ItemVector(item), f.dims())});
      }
      if (static_cast<int>(found.size()) >= want || c.category.empty()) {
        std::sort(found.begin(), found.end(), [](const ItemScore& a, const ItemScore& b) {
          return a.score > b.score || (a.score == b.score && a.item < b.item);
        });
        if (static_cast<int>(found.size()) > want) found.resize(static_cast<size_t>(want));
        *out = std::move(found);
        return;
      }
      // A narrow category: the index's neighbourhood missed it; scan.
    }
    const int32_t n = f.item_count();
    std::vector<float> scores(static_cast<size_t>(n));
    for (int32_t i = 0; i < n; ++i)
      scores[static_cast<size_t>(i)] = Dot(x, f.ItemVector(i), f.dims());
    TopK(
        scores, want, c.excluded, [&](int32_t item) { return Allowed(c, item); }, out);
  }

  // Reasons for a factor model's list: the history item closest to each in factor space.
  std::vector<int32_t> Because(const Slot& slot, std::span<const int32_t> hist,
                               std::span<const float> weights,
                               const std::vector<ItemScore>& list) const {
    std::vector<int32_t> because(list.size(), -1);
    if (hist.empty()) return because;
    std::vector<size_t> order(hist.size());
    for (size_t i = 0; i < order.size(); ++i) order[i] = i;
    if (order.size() > kExplainHistory) {
      std::partial_sort(order.begin(), order.begin() + kExplainHistory, order.end(),
                        [&](size_t a, size_t b) { return weights[a] > weights[b]; });
      order.resize(kExplainHistory);
    }
    const FactorModel* f = slot.model->factors;
    for (size_t r = 0; r < list.size(); ++r) {
      float best = -1e30f;
      if (f == nullptr) break;
      const float* y = f->ItemVector(list[r].item);
      for (size_t o : order) {
        const float* h = f->ItemVector(hist[o]);
        const float d = Dot(y, h, f->dims());
        if (d > best) {
          best = d;
          because[r] = hist[o];
        }
      }
    }
    return because;
  }

  // Fills out->items from trending (segment, then overall) up to k, skipping what is there.
  void FillTrending(const Ctx& c, std::string_view segment, int k, RecResponse* out) const {
    std::unordered_set<std::string_view> have;
    for (const RecItem& it : out->items) have.insert(it.product_id);
    const ShopData& shop = *c.s->shop;
    for (int pass = 0; pass < 2 && static_cast<int>(out->items.size()) < k; ++pass) {
      if (pass == 0 && segment.empty()) continue;
      std::span<const std::string> list = shop.Trending(pass == 0 ? segment : "");
      const std::string reason =
          pass == 0 ? "trending in " + std::string(segment) : std::string("trending now");
      for (size_t r = 0; r < list.size() && static_cast<int>(out->items.size()) < k; ++r) {
        const std::string& id = list[r];
        if (have.count(id) != 0) continue;
        const int32_t item = c.slot->model->lm.items.Find(id);
        if (item >= 0) {
          if (!Allowed(c, item)) continue;
        } else {
          const ProductInfo* p = shop.FindProduct(id);
          if (p == nullptr) continue;
          if (c.settings->rules.exclude_unavailable && !p->available()) continue;
          if (!c.category.empty() && !CategoryMatches(*p, c.category)) continue;
        }
        const float score = static_cast<float>(list.size() - r) / static_cast<float>(list.size());
        out->items.push_back({id, score, reason});
        have.insert(list[r]);
      }
    }
    if (out->source.empty()) out->source = segment.empty() ? "trending" : "trending_segment";
  }

  Result<RecResponse> Run(const RecRequest& req, bool session) {
    if (req.k < 1 || req.k > 1000) {
      return Status::InvalidArgument("k must be between 1 and 1000 (got " + std::to_string(req.k) +
                                     ")");
    }
    static thread_local bool single = (omp_set_num_threads(1), true);
    (void)single;
    std::shared_ptr<const View> v = CurrentView();
    if (v == nullptr) return Status::Unavailable("no model is loaded yet");
    const State* s = v->state.get();
    Ctx c;
    c.s = s;
    c.settings = v->settings.get();
    const std::string& hash_id = session ? req.session_id : req.user_id;
    const VariantPlan* plan = nullptr;
    if (!req.variant.empty()) {
      for (const VariantPlan& p : v->plans) {
        if (p.name == req.variant) plan = &p;
      }
      if (plan == nullptr) return Status::NotFound("variant " + req.variant + " is not defined");
    } else {
      plan = &v->plans[PickPlan(c.settings->experiment.name, hash_id, v->plans)];
    }
    c.slot = &s->slots[plan->slot];
    c.category = Lower(req.category);
    const ServedModel& m = *c.slot->model;

    RecResponse out;
    out.model = m.name;
    out.model_version = m.version;
    out.variant = plan->name;

    // History: the user's (gold + fresh), or the session's products.
    FreshHistory fresh;
    bool has_fresh = false;
    std::vector<int32_t> hist;
    std::vector<float> hist_w;
    if (session) {
      std::vector<std::pair<int32_t, float>> items;
      for (const std::string& id : live->SessionItems(req.session_id)) {
        const int32_t item = m.lm.items.Find(id);
        if (item >= 0) items.emplace_back(item, 1.0f);
      }
      std::sort(items.begin(), items.end());
      for (const auto& [item, w] : items) {
        if (hist.empty() || hist.back() != item) {
          hist.push_back(item);
          hist_w.push_back(w);
        }
      }
    } else {
      has_fresh = live->Fresh(req.user_id, &fresh);
      MergedHistory(*s, *c.slot, req.user_id, has_fresh ? &fresh : nullptr, &hist, &hist_w);
    }
    if (!req.include_seen) c.excluded = hist;
    for (const std::string& id : req.exclude) {
      const int32_t item = m.lm.items.Find(id);
      if (item >= 0) c.excluded.push_back(item);
    }
    const std::vector<int32_t>& ruled_out = v->excluded_items[plan->slot];
    c.excluded.insert(c.excluded.end(), ruled_out.begin(), ruled_out.end());
    const std::vector<Rules::Boost>& bs = c.settings->boosts;
    std::sort(c.excluded.begin(), c.excluded.end());
    c.excluded.erase(std::unique(c.excluded.begin(), c.excluded.end()), c.excluded.end());

    const int want = bs.empty() ? req.k : std::min(3 * req.k, 1000);
    std::vector<ItemScore> list;
    std::vector<std::string> reasons;
    const int32_t fitted = session ? -1 : m.lm.users.Find(req.user_id);
    if (m.factors != nullptr) {
      std::vector<float> x(static_cast<size_t>(m.factors->dims()));
      bool have_vector = false;
      bool done = false;
      if (!has_fresh && fitted >= 0 && !session) {
        out.source = "model";
        const std::vector<ItemScore>* cached = CachedCandidates(m, fitted, hist.size());
        done = cached != nullptr && Select(c, *cached, want, &list);
        if (!done) have_vector = m.factors->UserVector(fitted, {}, {}, x.data());
      }
      if (!done && !have_vector && !hist.empty()) {
        FoldIn(*c.slot, session ? std::string_view() : std::string_view(req.user_id),
               has_fresh ? fresh.version : 0, hist, hist_w, &x);
        have_vector = true;
        out.source = session ? "session" : "fold_in";
      }
      if (!done && have_vector) FactorTopK(c, x.data(), want, &list);
    } else if (!hist.empty() || m.name == "popularity") {
      CsrMatrix row;
      row.rows = 1;
      row.cols = m.lm.items.size();
      row.indptr = {0, static_cast<int64_t>(hist.size())};
      row.indices = hist;
      row.data = hist_w;
      RecommendOptions ro;
      ro.fold_in = true;
      ro.exclude_history = false;  // c.excluded holds the history unless include_seen
      ro.item_filter = [&](int32_t item) { return Allowed(c, item); };
      ro.blend_weights = plan->blend_weights;
      std::vector<std::vector<ItemScore>> lists;
      const int32_t user0 = 0;
      RECSYS_RETURN_IF_ERROR(
          m.lm.model->Recommend(std::span<const int32_t>(&user0, 1), row, want, ro, &lists));
      if (!lists.empty()) list = std::move(lists[0]);
      out.source = session ? "session" : (fitted >= 0 && !has_fresh ? "model" : "fold_in");
      if (m.hybrid == nullptr && !list.empty() && !hist.empty() && m.name != "popularity") {
        // The history item the model finds most similar to each listed item.
        std::vector<int32_t> ids;
        for (const ItemScore& it : list) ids.push_back(it.item);
        std::vector<std::vector<ItemScore>> similar;
        const int n = std::min<int32_t>(kExplainNeighbours, m.lm.items.size());
        if (m.lm.model->SimilarItems(ids, n, &similar).ok()) {
          reasons.assign(list.size(), std::string());
          for (size_t r = 0; r < list.size() && r < similar.size(); ++r) {
            for (const ItemScore& sim : similar[r]) {
              if (std::binary_search(hist.begin(), hist.end(), sim.item)) {
                reasons[r] = "because you viewed ";
                reasons[r] += c.slot->Title(sim.item);
                break;
              }
            }
            if (reasons[r].empty()) {
              reasons[r] = session ? "based on this session" : "recommended for your history";
            }
          }
        }
      }
      if (m.hybrid != nullptr && !list.empty() && !hist.empty()) {
        std::vector<int32_t> ids;
        for (const ItemScore& it : list) ids.push_back(it.item);
        const ShopData& shop = *s->shop;
        Status st = m.hybrid->Explain(
            0, row, ids,
            [&](int32_t item) { return std::string(shop.Title(m.lm.items.Name(item))); }, &reasons);
        if (!st.ok()) reasons.clear();
      }
    }
    if (!bs.empty() && !list.empty()) {
      for (ItemScore& it : list) {
        it.score = static_cast<float>(it.score * Boost(c.slot->product_of[it.item], bs));
      }
      std::vector<size_t> order(list.size());
      for (size_t i = 0; i < order.size(); ++i) order[i] = i;
      std::stable_sort(order.begin(), order.end(),
                       [&](size_t a, size_t b) { return list[a].score > list[b].score; });
      std::vector<ItemScore> sorted;
      std::vector<std::string> sorted_reasons;
      for (size_t i = 0; i < order.size() && static_cast<int>(sorted.size()) < req.k; ++i) {
        sorted.push_back(list[order[i]]);
        if (order[i] < reasons.size()) sorted_reasons.push_back(reasons[order[i]]);
      }
      list = std::move(sorted);
      reasons = std::move(sorted_reasons);
    }
    if (reasons.size() != list.size()) {
      reasons.assign(list.size(), std::string());
      const std::vector<int32_t> because = Because(*c.slot, hist, hist_w, list);
      for (size_t r = 0; r < list.size(); ++r) {
        if (because[r] >= 0) {
          reasons[r] = "because you viewed ";
          reasons[r] += c.slot->Title(because[r]);
        } else {
          reasons[r] = session ? "based on this session" : "recommended for you";
        }
      }
    }
    out.items.reserve(static_cast<size_t>(req.k));
    for (size_t r = 0; r < list.size(); ++r) {
      out.items.push_back({m.lm.items.Name(list[r].item), list[r].score, std::move(reasons[r])});
    }
    if (static_cast<int>(out.items.size()) < req.k) {
      std::string segment;
      if (!session) {
        const UserProfile* u = s->shop->FindUser(req.user_id);
        if (u != nullptr) segment = u->segment;
      }
      FillTrending(c, segment, req.k, &out);
    }
    out.rec_id = live->NewRecId();
    Impression imp;
    imp.rec_id = out.rec_id;
    if (session) {
      imp.session_id = req.session_id;
    } else {
      imp.user_id = req.user_id;
    }
    imp.model = out.model;
    imp.model_version = out.model_version;
    imp.variant = out.variant;
    imp.items.reserve(out.items.size());
    for (const RecItem& it : out.items) imp.items.push_back(it.product_id);
    live->RecordImpression(std::move(imp));
    return out;
  }

  static size_t PickPlan(const std::string& exp_name, std::string_view id,
                         const std::vector<VariantPlan>& plans) {
    if (plans.size() == 1) return 0;
    std::string key = exp_name;
    key += ':';
    key.append(id);
    const double u = static_cast<double>(Murmur2(key) % 10000) / 10000.0;
    for (size_t i = 0; i < plans.size(); ++i) {
      if (u < plans[i].cumulative) return i;
    }
    return plans.size() - 1;
  }
};

Engine::Engine(EngineOptions options, LiveEvents* live)
    : impl_(std::make_unique<Impl>(std::move(options), live)) {}

Engine::~Engine() = default;

Result<bool> Engine::Reload() {
  std::lock_guard<std::mutex> lock(impl_->reload_mu);
  RECSYS_ASSIGN_OR_RETURN(std::vector<std::string> names,
                          impl_->NeededModels(impl_->CurrentSettings()->experiment));
  std::shared_ptr<const State> old = impl_->Current();
  RECSYS_ASSIGN_OR_RETURN(std::shared_ptr<State> s, impl_->Build(names, old));
  bool changed = old == nullptr || old->gold != s->gold || old->slots.size() != s->slots.size();
  for (size_t i = 0; !changed && i < s->slots.size(); ++i) {
    changed = old->slots[i].model != s->slots[i].model;
  }
  if (!changed) return false;
  std::lock_guard<std::mutex> publish(impl_->publish_mu);
  RECSYS_RETURN_IF_ERROR(impl_->Publish(std::move(s), impl_->CurrentSettings()));
  return true;
}

Result<bool> Engine::ReloadIfChanged() {
  std::shared_ptr<const State> s = impl_->Current();
  if (s != nullptr) {
    bool same = true;
    auto current = ReadGoldCurrent(impl_->options.lake_root);
    const std::string snapshot = current.ok() ? current->snapshot : std::string();
    if (snapshot != s->gold->snapshot) same = false;
    auto names = impl_->NeededModels(impl_->CurrentSettings()->experiment);
    if (!names.ok()) return names.status();
    if (same && names->size() != s->slots.size()) same = false;
    for (size_t i = 0; same && i < names->size(); ++i) {
      auto v = impl_->registry.Current((*names)[i]);
      if (!v.ok() || (*names)[i] != s->slots[i].model->name || *v != s->slots[i].model->version) {
        same = false;
      }
    }
    if (same) return false;
  }
  return Reload();
}

bool Engine::ready() const { return impl_->CurrentView() != nullptr; }

Result<RecResponse> Engine::Recommend(const RecRequest& request) {
  return impl_->Run(request, false);
}

Result<RecResponse> Engine::RecommendSession(const RecRequest& request) {
  return impl_->Run(request, true);
}

Result<RecResponse> Engine::Similar(std::string_view product_id, int k) {
  if (k < 1 || k > 1000) {
    return Status::InvalidArgument("k must be between 1 and 1000 (got " + std::to_string(k) + ")");
  }
  static thread_local bool single = (omp_set_num_threads(1), true);
  (void)single;
  std::shared_ptr<const Impl::View> v = impl_->CurrentView();
  if (v == nullptr) return Status::Unavailable("no model is loaded yet");
  const State* s = v->state.get();
  const Slot& slot = s->slots[0];
  const ServedModel& m = *slot.model;
  Impl::Ctx c;
  c.s = s;
  c.settings = v->settings.get();
  c.slot = &slot;
  c.excluded = v->excluded_items[0];
  const int32_t item = m.lm.items.Find(product_id);
  const ProductInfo* product = s->shop->FindProduct(product_id);
  if (item < 0 && product == nullptr) {
    return Status::NotFound("product " + std::string(product_id) + " is not known");
  }
  if (item >= 0) {
    c.excluded.insert(std::lower_bound(c.excluded.begin(), c.excluded.end(), item), item);
  }
  RecResponse out;
  out.model = m.name;
  out.model_version = m.version;
  out.variant = "default";
  out.source = "similar";
  if (item >= 0) {
    std::vector<std::vector<ItemScore>> lists;
    const int want =
        std::min<int>(k + static_cast<int>(c.excluded.size()) + kCandidateSlack, m.lm.items.size());
    const int32_t one = item;
    RECSYS_RETURN_IF_ERROR(
        m.lm.model->SimilarItems(std::span<const int32_t>(&one, 1), want, &lists));
    const std::string reason = "similar to " + std::string(s->shop->Title(product_id));
    for (const ItemScore& it : lists.empty() ? std::vector<ItemScore>() : lists[0]) {
      if (static_cast<int>(out.items.size()) >= k) break;
      if (!impl_->Allowed(c, it.item)) continue;
      out.items.push_back({m.lm.items.Name(it.item), it.score, reason});
    }
  }
  if (static_cast<int>(out.items.size()) < k) {
    // Not enough from the model (or a product it does not know): trending in its category.
    if (product != nullptr) c.category = Lower(product->top_category);
    const size_t before = out.items.size();
    impl_->FillTrending(c, "", k, &out);
    if (out.items.size() == before && !c.category.empty()) {
      c.category.clear();
      impl_->FillTrending(c, "", k, &out);
    }
    out.items.erase(std::remove_if(out.items.begin(), out.items.end(),
                                   [&](const RecItem& r) { return r.product_id == product_id; }),
                    out.items.end());
  }
  out.rec_id = impl_->live->NewRecId();
  Impression imp;
  imp.rec_id = out.rec_id;
  imp.model = out.model;
  imp.model_version = out.model_version;
  imp.variant = out.variant;
  for (const RecItem& it : out.items) imp.items.push_back(it.product_id);
  impl_->live->RecordImpression(std::move(imp));
  return out;
}

std::shared_ptr<const ShopData> Engine::shop() const {
  std::shared_ptr<const State> s = impl_->Current();
  return s == nullptr ? ShopData::Empty() : s->shop;
}

std::vector<ServedModelInfo> Engine::Models() const {
  std::vector<ServedModelInfo> out;
  std::shared_ptr<const State> s = impl_->Current();
  if (s == nullptr) return out;
  for (size_t i = 0; i < s->slots.size(); ++i) {
    const ServedModel& m = *s->slots[i].model;
    out.push_back({m.name, m.version, m.lm.manifest, m.hnsw != nullptr, i == 0});
  }
  return out;
}

Engine::CacheCounts Engine::candidate_cache() const {
  return {impl_->candidate_hits.load(std::memory_order_relaxed),
          impl_->candidate_misses.load(std::memory_order_relaxed)};
}

std::vector<Engine::HistoryEntry> Engine::History(std::string_view user_id, size_t limit) const {
  std::vector<HistoryEntry> out;
  std::shared_ptr<const State> s = impl_->Current();
  if (s == nullptr) return out;
  const GoldHistory& g = *s->gold;
  const int32_t u = g.users.Find(user_id);
  if (u < 0) return out;
  for (int64_t e = g.matrix.indptr[u]; e < g.matrix.indptr[u + 1]; ++e) {
    out.push_back(
        {g.items.Name(g.matrix.indices[static_cast<size_t>(e)]),
         g.matrix.data[static_cast<size_t>(e)],
         e < static_cast<int64_t>(g.times_ms.size()) ? g.times_ms[static_cast<size_t>(e)] : 0});
  }
  std::sort(out.begin(), out.end(), [](const HistoryEntry& a, const HistoryEntry& b) {
    return a.time_ms > b.time_ms || (a.time_ms == b.time_ms && a.product_id < b.product_id);
  });
  if (out.size() > limit) out.resize(limit);
  return out;
}

Status Engine::SetHybridWeights(const std::map<std::string, double>& weights) {
  std::lock_guard<std::mutex> publish(impl_->publish_mu);
  std::shared_ptr<const State> s = impl_->Current();
  if (s == nullptr) return Status::Unavailable("no model is loaded yet");
  if (weights.empty()) return Status::InvalidArgument("weights: give at least one component");
  RECSYS_RETURN_IF_ERROR(Impl::BlendWeights(s->slots[0], weights).status());
  auto st = std::make_shared<Impl::Settings>(*impl_->CurrentSettings());
  st->hybrid_weights = weights;
  return impl_->Publish(std::move(s), std::move(st));
}

Result<std::map<std::string, double>> Engine::HybridWeights() const {
  std::shared_ptr<const Impl::View> v = impl_->CurrentView();
  if (v == nullptr) return Status::Unavailable("no model is loaded yet");
  const ServedModel& m = *v->state->slots[0].model;
  if (m.hybrid == nullptr) {
    return Status::NotFound("the served model " + m.name + " is not a hybrid");
  }
  std::map<std::string, double> out;
  const HybridParams& p = m.hybrid->params();
  for (size_t i = 0; i < p.models.size(); ++i) out[p.models[i]] = p.weights[i];
  for (const auto& [name, w] : v->settings->hybrid_weights) out[name] = w;
  return out;
}

Status Engine::SetRules(Rules r) {
  for (const Rules::Boost& b : r.boosts) {
    if (b.field != "product" && b.field != "category" && b.field != "brand") {
      return Status::InvalidArgument("boost field must be product, category or brand (got " +
                                     b.field + ")");
    }
    if (!(b.factor > 0) || !std::isfinite(b.factor)) {
      return Status::InvalidArgument("boost factor must be a number > 0");
    }
    if (b.value.empty()) return Status::InvalidArgument("boost value must not be empty");
  }
  std::lock_guard<std::mutex> publish(impl_->publish_mu);
  auto st = std::make_shared<Impl::Settings>(*impl_->CurrentSettings());
  st->excluded_categories.clear();
  for (const std::string& c : r.exclude_categories) st->excluded_categories.push_back(Lower(c));
  st->excluded_products = r.exclude_products;
  st->boosts = r.boosts;
  for (Rules::Boost& b : st->boosts) {
    if (b.field != "product") b.value = Lower(b.value);
  }
  st->rules = std::move(r);
  return impl_->Publish(impl_->Current(), std::move(st));
}

Rules Engine::rules() const { return impl_->CurrentSettings()->rules; }

Status Engine::SetExperiment(Experiment e) {
  std::set<std::string> names;
  for (const Variant& v : e.variants) {
    if (v.name.empty()) return Status::InvalidArgument("every variant needs a name");
    if (!names.insert(v.name).second) {
      return Status::InvalidArgument("variant " + v.name + " is defined twice");
    }
    if (!(v.share > 0) || !std::isfinite(v.share)) {
      return Status::InvalidArgument("variant " + v.name + ": share must be a number > 0");
    }
    if (!v.model.empty()) {
      auto current = impl_->registry.Current(v.model);
      if (!current.ok()) {
        return Status::InvalidArgument("variant " + v.name + ": " + current.status().message());
      }
    }
  }
  if (!e.variants.empty() && e.name.empty()) {
    return Status::InvalidArgument("an experiment with variants needs a name");
  }
  // Load the models the variants name; Publish checks the weights against them.
  std::lock_guard<std::mutex> reload(impl_->reload_mu);
  RECSYS_ASSIGN_OR_RETURN(std::vector<std::string> needed, impl_->NeededModels(e));
  RECSYS_ASSIGN_OR_RETURN(std::shared_ptr<State> s, impl_->Build(needed, impl_->Current()));
  std::lock_guard<std::mutex> publish(impl_->publish_mu);
  auto st = std::make_shared<Impl::Settings>(*impl_->CurrentSettings());
  st->experiment = std::move(e);
  return impl_->Publish(std::move(s), std::move(st));
}

Experiment Engine::experiment() const { return impl_->CurrentSettings()->experiment; }

std::string Engine::AssignVariant(std::string_view id) const {
  std::shared_ptr<const Impl::View> v = impl_->CurrentView();
  if (v == nullptr || v->settings->experiment.variants.empty()) return "default";
  return v->plans[Impl::PickPlan(v->settings->experiment.name, id, v->plans)].name;
}

}  // namespace recsys
