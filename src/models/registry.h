// The model registry in the lake (DESIGN.md §4): models/<name>/<version>/ holds a fitted model's
// own files (Recommender::Save), the id maps that tie its rows to shop ids, and manifest.json;
// models/<name>/CURRENT names the version that serves. Format: docs/formats/model-artifacts.md,
// section "Registry".
//
// Thread safety: none; one publisher per model name at a time.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "models/evaluate.h"
#include "models/recommender.h"
#include "models/sparse.h"

namespace recsys {

// What manifest.json says about one version.
struct ModelManifest {
  std::string name;             // the model's name(), also the registry folder
  std::string version;          // "v0001", "v0002", ...
  std::string spec;             // the full spec()
  std::string data_snapshot;    // gold snapshot id the model was fitted on ("" if not from gold)
  std::string trained_at;       // RFC 3339 UTC, wall clock at publication
  double training_seconds = 0;  // the full fit
  int64_t users = 0, items = 0, interactions = 0;
  // The offline evaluation run before the full fit.
  std::string evaluation_split;  // e.g. "random-per-user:0.75"
  uint64_t evaluation_seed = 0;
  RankingMetrics metrics;
  std::string metric;  // the metric publication compared on
};

// "ndcg", "precision", "recall", "map", "map_full", "hit_rate", "coverage" (higher is better
// for all). InvalidArgument naming the metric otherwise.
Result<double> MetricValue(const RankingMetrics& metrics, std::string_view metric);

struct PublishResult {
  std::string version;
  bool current = false;       // the new version is now CURRENT
  std::string previous;       // CURRENT before ("" if none)
  double value = 0;           // the new version's metric
  double previous_value = 0;  // the previous current's metric (0 if none)
};

struct LoadedModel {
  std::unique_ptr<Recommender> model;
  IdMap users, items;  // row / column index -> shop id, as the model was fitted
  ModelManifest manifest;
};

class ModelRegistry {
 public:
  // root: the lake folder; the registry lives under root/models.
  explicit ModelRegistry(std::string lake_root);

  // Saves a fitted model as the next version of manifest.name (manifest.version and trained_at
  // are filled in here) and makes it CURRENT unless it loses to the current version on
  // manifest.metric (equal is fine). The version is written into a temporary folder and renamed
  // into place whole, CURRENT last, so a failure at any point leaves CURRENT and every published
  // version as they were. users/items: the id maps of the fitted matrix.
  Result<PublishResult> Publish(const Recommender& model, const IdMap& users, const IdMap& items,
                                ModelManifest manifest);

  // Model names with at least one version, sorted.
  Result<std::vector<std::string>> Names() const;
  // Versions of a model, oldest first; empty if none.
  Result<std::vector<std::string>> Versions(const std::string& name) const;
  // The CURRENT version; NotFound (naming the model) if none.
  Result<std::string> Current(const std::string& name) const;
  Result<ModelManifest> ReadManifest(const std::string& name, const std::string& version) const;
  // The model, its id maps and manifest. Errors name the folder.
  Result<LoadedModel> Load(const std::string& name, const std::string& version) const;

  std::string VersionDir(const std::string& name, const std::string& version) const;

 private:
  std::string root_;  // lake_root/models
};

// The snapshot id of lake_root/gold/_current.json; NotFound if there is none.
Result<std::string> CurrentGoldSnapshot(const std::string& lake_root);

// Id map files: one id per line, line i is index i. Ids holding a newline are InvalidArgument.
Status WriteIdMap(const std::string& path, const IdMap& ids);
Result<IdMap> ReadIdMap(const std::string& path);

}  // namespace recsys
