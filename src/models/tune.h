// Hyper-parameter tuning (DESIGN.md §5): random search over a model's parameters within a time
// and trial budget, each trial scored on a validation split cut from the training part only, so
// the held-out part that `recsys evaluate` scores is never seen while tuning.
//
// Protocol: the data is split as the evaluation splits it (options.split, options.seed); its
// training part is split again, random-per-user:0.75 with seed + 1, into a fit part and a
// validation part. Trial 0 is the model's default spec; later trials sample the model's search
// space (TuneSpace) with splitmix64 seeded from options.seed, skipping specs already tried.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "core/status.h"
#include "models/evaluate.h"
#include "models/sparse.h"

namespace recsys {

// One tuned parameter. The spaces are fixed per model (see TuneSpace); they are the ranges
// worth searching on shop and MovieLens-sized data, not the models' accepted bounds.
struct TuneParam {
  enum class Kind {
    kChoice,      // one of `choices`, uniformly
    kIntRange,    // a whole number in [min, max], uniformly
    kUniform,     // a real in [min, max], uniformly
    kLogUniform,  // a real in [min, max] whose logarithm is uniform; REQUIRES: min > 0
  };
  std::string key;
  Kind kind = Kind::kChoice;
  std::vector<std::string> choices;
  double min = 0, max = 0;
};

// The search space of a model name:
//   als:        factors {32,64,128,200}, regularization log [1e-3, 10], alpha log [0.1, 50],
//               iterations {10,15,20}
//   bpr:        factors {32,64,128,200}, learning_rate log [1e-3, 0.1], regularization
//               log [1e-4, 0.1], iterations {50,100,200}
//   itemknn:    neighbors [20, 400], shrink [0, 100], weighting {none,tfidf,bm25}
//   ease:       lambda log [10, 5000]
//   popularity: mode {count,weight}
// InvalidArgument naming the model when it has none.
Result<std::vector<TuneParam>> TuneSpace(const std::string& model);

// Draws one spec ("als:factors=64,regularization=0.0123,...") of the space from the generator
// state, which it advances (splitmix64). Reals keep three significant digits.
std::string SampleSpec(const std::string& model, const std::vector<TuneParam>& space,
                       uint64_t* state);

struct TuneOptions {
  std::string model;  // a name of RecommenderNames() with a search space
  // ndcg, precision, recall, map or hit_rate, at evaluate.k; higher is better.
  std::string metric = "ndcg";
  int max_trials = 50;         // >= 1; the default spec counts as one
  double budget_seconds = 60;  // no trial starts after this; a started trial runs to its end
  uint64_t seed = 42;          // of both splits, of the sampling and of every fit
  SplitSpec split;             // the evaluation's split, whose held-out part tuning never sees
  EvaluateOptions evaluate;    // k, fit threads, exclusions; with_popularity is ignored
  std::function<void(int trial, const std::string& spec)> before_each;
};

struct TuneTrial {
  int index = 0;     // 0 = the default spec, in the order run
  std::string spec;  // the model's full spec()
  RankingMetrics metrics;
  double value = 0;  // the chosen metric on the validation part
  double seconds = 0;
};

enum class TuneStop { kTrials, kBudget, kSpaceExhausted };

struct TuneResult {
  std::vector<TuneTrial> trials;  // in the order run
  size_t best = 0;                // index into trials: highest value, the earlier on ties
  TuneStop stopped_by = TuneStop::kTrials;
  int64_t fit_entries = 0, validation_entries = 0, test_entries = 0;
  double seconds = 0;
  const std::string& best_spec() const { return trials[best].spec; }
};

// Runs the search on data. Errors name the model, the metric or the failing spec.
Result<TuneResult> Tune(const InteractionData& data, const TuneOptions& options);

// Value of metric ("ndcg", "precision", "recall", "map", "hit_rate") in m; InvalidArgument
// naming it otherwise.
Result<double> MetricValue(const RankingMetrics& m, const std::string& metric);

// <data_dir>/tuned/<model>.txt: one line, the best spec of the last `recsys tune --model`.
std::string TunedSpecPath(const std::string& data_dir, const std::string& model);
Status WriteTunedSpec(const std::string& data_dir, const std::string& model,
                      const std::string& spec);
// The tuned spec of model, or "" when none was saved. Errors name the file.
Result<std::string> ReadTunedSpec(const std::string& data_dir, const std::string& model);

}  // namespace recsys
