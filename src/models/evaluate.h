// Offline evaluation (DESIGN.md §5): split interactions into training and held-out parts, fit
// models on the first, rank items for every user and score the lists against the second.
//
// The protocol and the metrics follow Microsoft Recommenders (recommenders/datasets/
// python_splitters.py and recommenders/evaluation/python_evaluation.py), so figures compare
// with its published benchmarks: a user's held-out interactions are all relevant (binary
// relevance), training items are left out of the lists, and means are over the users that have
// both training and held-out interactions.
#pragma once

#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "models/recommender.h"
#include "models/sparse.h"

namespace recsys {

enum class SplitKind {
  kRandomPerUser,  // "random-per-user:<train ratio>"
  kTime,           // "time:<cutoff>": before the cutoff trains, from it on is held out
  kLeaveLast,      // "leave-last:<n>": each user's n latest interactions are held out
};

struct SplitSpec {
  SplitKind kind = SplitKind::kRandomPerUser;
  double ratio = 0.75;    // kRandomPerUser: share of each user's interactions kept for training
  int64_t cutoff_ms = 0;  // kTime
  int leave_last = 1;     // kLeaveLast
  std::string text;       // as given
};

// "random-per-user:0.75", "time:2024-01-20" (midnight UTC) or "time:2024-01-20T12:00:00Z",
// "leave-last:1". InvalidArgument naming the text otherwise.
Result<SplitSpec> ParseSplit(std::string_view text);

struct Split {
  CsrMatrix train;  // every user and item of the data; held-out entries absent
  // Per user (row), the held-out items, ascending, with their values.
  std::vector<std::vector<int32_t>> test_items;
  std::vector<std::vector<float>> test_values;
  int64_t train_entries = 0;
  int64_t test_entries = 0;
};

// Splits data per spec. kRandomPerUser reproduces python_stratified_split(data, ratio,
// seed=seed) of Microsoft Recommenders row for row when data.entries are in the order of its
// DataFrame: numpy's legacy MT19937 draws one double per entry, entries are ordered by user and
// draw, and the entry at 1-based position r of a user with n entries trains iff r / n <= ratio
// (so floor(ratio * n) train; a user with one interaction is held out entirely). kTime needs
// times (0 counts as before every cutoff). kLeaveLast holds out the n latest (by time, then by
// position) of each user with more than n interactions.
Result<Split> SplitInteractions(const InteractionData& data, const SplitSpec& spec, uint64_t seed);

// Ranking metrics at k, each a mean over the evaluated users (see EvaluateRankings).
struct RankingMetrics {
  int k = 0;
  int64_t users = 0;     // users evaluated
  double precision = 0;  // precision_at_k: hits / k
  double recall = 0;     // recall_at_k: hits / relevant
  double ndcg = 0;       // ndcg_at_k, binary gain, natural-log discount
  double map = 0;        // map_at_k: sum of precision at each hit / min(relevant, k)
  double map_full = 0;   // map: the same sum / relevant (the older map_at_k)
  double hit_rate = 0;   // users with at least one hit
  double coverage = 0;   // catalog_coverage: distinct items listed / distinct training items
};

// Scores ranked lists. lists[u] are user u's recommendations, best first (only the first k
// count); relevant[u] the user's relevant items, ascending; users with no relevant item are
// skipped. training_items: distinct items with a training interaction (the coverage
// denominator; 0 leaves coverage 0).
RankingMetrics EvaluateRankings(std::span<const std::vector<int32_t>> lists,
                                std::span<const std::vector<int32_t>> relevant, int k,
                                int64_t training_items);

struct EvaluateOptions {
  int k = 10;
  FitOptions fit;               // threads and seed of every fit
  bool exclude_history = true;  // leave training items out of the lists
  // Held-out interactions with a value below this are not relevant; 0 = all relevant.
  double min_relevant_value = 0;
  // Evaluate "popularity" too when the specs do not name it, first, as the baseline.
  bool with_popularity = true;
  // If set, called with each spec before EvaluateSpecs fits it (for progress lines).
  std::function<void(const std::string& spec)> before_each;
};

struct ModelEvaluation {
  std::string name;  // the model's name()
  std::string spec;  // its full spec()
  RankingMetrics metrics;
  double fit_seconds = 0;
  double recommend_seconds = 0;
};

// Fits one model on split.train and scores its top-k lists for every user with training and
// relevant held-out interactions.
Result<ModelEvaluation> EvaluateModel(Recommender* model, const Split& split,
                                      const EvaluateOptions& options);

// Builds each spec with CreateRecommender and evaluates it, popularity first unless named or
// disabled. An empty specs list means every model of RecommenderNames() with its defaults.
// Errors name the spec.
Result<std::vector<ModelEvaluation>> EvaluateSpecs(std::span<const std::string> specs,
                                                   const Split& split,
                                                   const EvaluateOptions& options);

}  // namespace recsys
