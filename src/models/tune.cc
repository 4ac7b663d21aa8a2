#include "models/tune.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <set>

#include "core/files.h"

namespace recsys {
namespace {

uint64_t SplitMix64(uint64_t* state) {
  uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

// In [0, 1), 53 bits.
double UnitDouble(uint64_t* state) {
  return static_cast<double>(SplitMix64(state) >> 11) / 9007199254740992.0;
}

// Three significant digits; whole numbers from 100 on.
std::string FormatReal(double v) {
  char buf[64];
  if (v >= 100) {
    std::snprintf(buf, sizeof(buf), "%.0f", v);
  } else {
    std::snprintf(buf, sizeof(buf), "%.3g", v);
  }
  return buf;
}

TuneParam Choice(std::string key, std::vector<std::string> choices) {
  TuneParam p;
  p.key = std::move(key);
  p.kind = TuneParam::Kind::kChoice;
  p.choices = std::move(choices);
  return p;
}

TuneParam Range(std::string key, TuneParam::Kind kind, double min, double max) {
  TuneParam p;
  p.key = std::move(key);
  p.kind = kind;
  p.min = min;
  p.max = max;
  return p;
}

// The entries of data that split kept for training, in data's order, with data's ids (so
// matrices keep their shape).
InteractionData TrainingPart(const InteractionData& data, const Split& split) {
  InteractionData out;
  out.users = data.users;
  out.items = data.items;
  const bool timed = data.times_ms.size() == data.entries.size();
  for (size_t e = 0; e < data.entries.size(); ++e) {
    const Triplet& t = data.entries[e];
    const std::vector<int32_t>& held = split.test_items[static_cast<size_t>(t.row)];
    if (std::binary_search(held.begin(), held.end(), t.col)) continue;
    out.entries.push_back(t);
    if (timed) out.times_ms.push_back(data.times_ms[e]);
  }
  return out;
}

double Seconds(std::chrono::steady_clock::time_point since) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - since).count();
}

}  // namespace

Result<std::vector<TuneParam>> TuneSpace(const std::string& model) {
  using K = TuneParam::Kind;
  const std::vector<std::string> factors = {"32", "64", "128", "200"};
  if (model == "als") {
    return std::vector<TuneParam>{
        Choice("factors", factors), Range("regularization", K::kLogUniform, 1e-3, 10),
        Range("alpha", K::kLogUniform, 0.1, 50), Choice("iterations", {"10", "15", "20"})};
  }
  if (model == "bpr") {
    return std::vector<TuneParam>{Choice("factors", factors),
                                  Range("learning_rate", K::kLogUniform, 1e-3, 0.1),
                                  Range("regularization", K::kLogUniform, 1e-4, 0.1),
                                  Choice("iterations", {"50", "100", "200"})};
  }
  if (model == "itemknn") {
    return std::vector<TuneParam>{Range("neighbors", K::kIntRange, 20, 400),
                                  Range("shrink", K::kUniform, 0, 100),
                                  Choice("weighting", {"none", "tfidf", "bm25"})};
  }
  if (model == "ease") return std::vector<TuneParam>{Range("lambda", K::kLogUniform, 10, 5000)};
  if (model == "popularity") return std::vector<TuneParam>{Choice("mode", {"count", "weight"})};
  return Status::InvalidArgument("model '" + model +
                                 "' has no search space (als, bpr, itemknn, ease, popularity)");
}

std::string SampleSpec(const std::string& model, const std::vector<TuneParam>& space,
                       uint64_t* state) {
  std::string spec = model;
  for (size_t i = 0; i < space.size(); ++i) {
    const TuneParam& p = space[i];
    std::string value;
    const double u = UnitDouble(state);
    switch (p.kind) {
      case TuneParam::Kind::kChoice:
        value = p.choices[std::min(p.choices.size() - 1,
                                   static_cast<size_t>(u * static_cast<double>(p.choices.size())))];
        break;
      case TuneParam::Kind::kIntRange:
        value = std::to_string(static_cast<int64_t>(p.min) +
                               std::min(static_cast<int64_t>(p.max - p.min),
                                        static_cast<int64_t>(u * (p.max - p.min + 1))));
        break;
      case TuneParam::Kind::kUniform:
        value = FormatReal(p.min + u * (p.max - p.min));
        break;
      case TuneParam::Kind::kLogUniform:
        value = FormatReal(std::exp(std::log(p.min) + u * (std::log(p.max) - std::log(p.min))));
        break;
    }
    spec += (i == 0 ? ":" : ",") + p.key + "=" + value;
  }
  return spec;
}

Result<double> MetricValue(const RankingMetrics& m, const std::string& metric) {
  if (metric == "ndcg") return m.ndcg;
  if (metric == "precision") return m.precision;
  if (metric == "recall") return m.recall;
  if (metric == "map") return m.map;
  if (metric == "hit_rate") return m.hit_rate;
  return Status::InvalidArgument("metric '" + metric +
                                 "': expected ndcg, precision, recall, map or hit_rate");
}

Result<TuneResult> Tune(const InteractionData& data, const TuneOptions& options) {
  const auto start = std::chrono::steady_clock::now();
  RECSYS_ASSIGN_OR_RETURN(std::vector<TuneParam> space, TuneSpace(options.model));
  RECSYS_RETURN_IF_ERROR(MetricValue(RankingMetrics{}, options.metric).status());
  if (options.max_trials < 1) {
    return Status::InvalidArgument("trials " + std::to_string(options.max_trials) +
                                   ": at least 1 is needed");
  }
  RECSYS_ASSIGN_OR_RETURN(Split outer, SplitInteractions(data, options.split, options.seed));
  const InteractionData training = TrainingPart(data, outer);
  SplitSpec inner_spec;
  inner_spec.kind = SplitKind::kRandomPerUser;
  inner_spec.ratio = 0.75;
  inner_spec.text = "random-per-user:0.75";
  RECSYS_ASSIGN_OR_RETURN(Split inner,
                          SplitInteractions(training, inner_spec, (options.seed + 1) & 0xffffffff));
  if (inner.test_entries == 0) {
    return Status::InvalidArgument("tune " + options.model +
                                   ": the validation split holds out no interaction (too few "
                                   "interactions per user)");
  }

  TuneResult result;
  result.fit_entries = inner.train_entries;
  result.validation_entries = inner.test_entries;
  result.test_entries = outer.test_entries;
  EvaluateOptions evaluate = options.evaluate;
  evaluate.fit.seed = options.seed;
  evaluate.before_each = nullptr;

  std::set<std::string> tried;
  uint64_t state = options.seed;
  // Discrete spaces run out; this many duplicate draws in a row means they have.
  constexpr int kMaxDuplicateDraws = 200;
  result.stopped_by = TuneStop::kTrials;
  while (static_cast<int>(result.trials.size()) < options.max_trials) {
    if (!result.trials.empty() && Seconds(start) >= options.budget_seconds) {
      result.stopped_by = TuneStop::kBudget;
      break;
    }
    std::unique_ptr<Recommender> model;
    for (int draw = 0; model == nullptr && draw < kMaxDuplicateDraws; ++draw) {
      const std::string candidate =
          result.trials.empty() ? options.model : SampleSpec(options.model, space, &state);
      auto created = CreateRecommender(candidate);
      if (!created.ok()) return created.status().WithContext("tune: spec '" + candidate + "'");
      if (tried.insert((*created)->spec()).second) model = std::move(*created);
    }
    if (model == nullptr) {
      result.stopped_by = TuneStop::kSpaceExhausted;
      break;
    }
    TuneTrial trial;
    trial.index = static_cast<int>(result.trials.size());
    trial.spec = model->spec();
    if (options.before_each) options.before_each(trial.index, trial.spec);
    const auto trial_start = std::chrono::steady_clock::now();
    RECSYS_ASSIGN_OR_RETURN(ModelEvaluation e, EvaluateModel(model.get(), inner, evaluate));
    trial.seconds = Seconds(trial_start);
    trial.metrics = e.metrics;
    trial.value = *MetricValue(e.metrics, options.metric);
    result.trials.push_back(std::move(trial));
    if (result.trials.back().value > result.trials[result.best].value) {
      result.best = result.trials.size() - 1;
    }
  }
  result.seconds = Seconds(start);
  return result;
}

std::string TunedSpecPath(const std::string& data_dir, const std::string& model) {
  return JoinPath(JoinPath(data_dir, "tuned"), model + ".txt");
}

Status WriteTunedSpec(const std::string& data_dir, const std::string& model,
                      const std::string& spec) {
  RECSYS_RETURN_IF_ERROR(CreateDirs(JoinPath(data_dir, "tuned")));
  return WriteFileAtomic(TunedSpecPath(data_dir, model), spec + "\n");
}

Result<std::string> ReadTunedSpec(const std::string& data_dir, const std::string& model) {
  const std::string path = TunedSpecPath(data_dir, model);
  if (!FileExists(path)) return std::string();
  RECSYS_ASSIGN_OR_RETURN(std::string text, ReadFile(path));
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ' || text.back() == '\r')) {
    text.pop_back();
  }
  if (text.empty() || text.find('\n') != std::string::npos) {
    return Status::Corruption(path + ": expected one line holding a model spec");
  }
  Result<ModelSpec> parsed = ParseModelSpec(text);
  if (!parsed.ok()) return parsed.status().WithContext(path);
  if (parsed->name != model) {
    return Status::Corruption(path + ": holds a spec of '" + parsed->name + "', not '" + model +
                              "'");
  }
  return text;
}

}  // namespace recsys
