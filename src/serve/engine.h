// The recommendation engine behind the API (DESIGN.md §5): the CURRENT versions of the lake's
// models, the users' histories from gold plus their fresh events (LiveEvents), business rules,
// A/B experiments and hybrid weights, and the shop data (ShopData). Answers top-k for a user,
// for a guest session and similar items; never an empty list while the catalog has items.
//
// For a user the engine merges the gold history with the fresh interactions since the gold
// snapshot. Matrix factorisation models (FactorModel) score with the learned user vector when
// there is nothing fresh, else with a vector solved from the merged history (fold-in, cached per
// user until the user's fresh events change); catalogs of at least ann_min_items items get their
// candidates from an HNSW index over the item vectors. Other models score the merged history row
// (RecommendOptions::fold_in). Users and guests the model cannot place get trending items of
// their segment, else overall.
//
// State (models, histories, shop data) is an immutable snapshot swapped whole by Reload, so a
// reload never fails a request; models whose version did not change are kept, index included.
//
// Thread safety: every method may be called from several threads at once.
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/json_writer.h"
#include "core/status.h"
#include "models/registry.h"
#include "serve/live_events.h"
#include "serve/shop_data.h"

namespace recsys {

struct EngineOptions {
  std::string lake_root;  // REQUIRES: set
  // The registry model served by default; "" = the model whose CURRENT version is best on
  // `metric` (as `recsys recommend` chooses).
  std::string model;
  std::string metric = "ndcg";
  // Factor models over catalogs of at least this many items take candidates from HNSW.
  int64_t ann_min_items = 50000;
  int hnsw_m = 16;                 // HNSW graph degree
  int hnsw_ef_construction = 100;  // build-time beam
  int hnsw_ef_search = 40;         // query-time beam (at least the candidates asked for)
  int threads = 0;                 // index build threads; 0 = all cores
  size_t fold_in_cache = 100000;   // folded-in user vectors kept
  // Factor models keep each fitted user's best items (history + 40, unfiltered) after the first
  // request, up to this many items over all users (8 bytes each); 0 = no cache.
  int64_t candidate_cache_items = 20000000;
};

// Business rules (PUT /v1/admin/rules), applied to every list.
struct Rules {
  bool exclude_unavailable = true;              // out of stock or discontinued
  std::vector<std::string> exclude_products;    // never recommended
  std::vector<std::string> exclude_categories;  // category path or a prefix of it
  struct Boost {
    std::string field;  // "product", "category" (path or prefix), "brand"
    std::string value;
    double factor = 1;  // score multiplier, > 0
  };
  std::vector<Boost> boosts;
};

// An A/B experiment (PUT /v1/admin/experiments): users are split by a stable hash of
// "<name>:<user or session id>" over the variants' shares.
struct Variant {
  std::string name;
  std::string model;                      // registry model; "" = the default model
  std::map<std::string, double> weights;  // hybrid blend weights by component; empty = default
  double share = 0;                       // > 0; shares are normalised over the variants
};
struct Experiment {
  std::string name;  // "" = no experiment: everyone gets the variant "default"
  std::vector<Variant> variants;
};

struct RecRequest {
  std::string user_id;               // "" for a guest
  std::string session_id;            // a guest's session: its products seed the list
  int k = 10;                        // REQUIRES: 1..1000
  std::vector<std::string> exclude;  // product ids left out
  std::string category;       // only this category (path, or a prefix of it, or a top category)
  std::string variant;        // "" = assigned by the experiment; else that variant (must exist)
  bool include_seen = false;  // keep items of the user's history (bought or viewed)
};

struct RecItem {
  std::string product_id;
  float score = 0;
  std::string reason;  // "because you viewed <title>", "trending in <segment>", ...
};

struct RecResponse {
  std::string rec_id, model, model_version, variant;
  // How the list was made: "model" (learned user), "fold_in" (fresh events or a new user),
  // "session", "trending_segment", "trending", "similar".
  std::string source;
  std::vector<RecItem> items;
};

// One loaded model as /v1/analytics/recommendations and /metrics report it.
struct ServedModelInfo {
  std::string name, version;
  ModelManifest manifest;
  bool ann = false;  // candidates from HNSW
  bool is_default = false;
};

class Engine {
 public:
  // live: not owned; outlives the engine. Nothing is loaded until Reload.
  Engine(EngineOptions options, LiveEvents* live);
  ~Engine();

  // Loads the CURRENT versions (the default model and every model an experiment names), gold
  // histories and shop data, and swaps them in. On error the previous state stays served.
  // Returns whether anything changed.
  Result<bool> Reload();
  // Reloads when a CURRENT or the gold snapshot changed since the last load.
  Result<bool> ReloadIfChanged();
  // A model is loaded.
  bool ready() const;

  // NotFound for an unknown variant name; InvalidArgument for bad arguments.
  Result<RecResponse> Recommend(const RecRequest& request);
  // A guest's list from the products seen in the session (request.session_id).
  Result<RecResponse> RecommendSession(const RecRequest& request);
  // NotFound (naming it) for a product the catalog and model do not know.
  Result<RecResponse> Similar(std::string_view product_id, int k);

  // The shop data of the current state (never null).
  std::shared_ptr<const ShopData> shop() const;
  std::vector<ServedModelInfo> Models() const;
  // Requests of fitted users answered from cached candidates, and those that filled the cache.
  struct CacheCounts {
    int64_t hits = 0, misses = 0;
  };
  CacheCounts candidate_cache() const;
  // The user's gold interactions, newest first, at most limit: (product_id, weight, time_ms).
  struct HistoryEntry {
    std::string product_id;
    float weight = 0;
    int64_t time_ms = 0;
  };
  std::vector<HistoryEntry> History(std::string_view user_id, size_t limit) const;

  // Admin. Hybrid weights apply to the default model when it is a hybrid
  // (FailedPrecondition-like InvalidArgument otherwise); names must be its components.
  Status SetHybridWeights(const std::map<std::string, double>& weights);
  // {"model", "version", "weights": {component: weight}}; NotFound when no hybrid is served.
  Result<std::map<std::string, double>> HybridWeights() const;
  Status SetRules(Rules rules);
  Rules rules() const;
  // Validates (shares > 0, distinct names, models in the registry: loaded by a Reload here) and
  // makes it current.
  Status SetExperiment(Experiment experiment);
  Experiment experiment() const;
  // The variant a user or session id gets.
  std::string AssignVariant(std::string_view id) const;

 private:
  struct State;
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace recsys
