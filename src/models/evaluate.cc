#include "models/evaluate.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <numeric>
#include <random>

#include "core/clock.h"

namespace recsys {
namespace {

// numpy.random.RandomState(seed).rand(): MT19937 seeded with init_genrand (numpy's legacy
// seeding of a 32-bit integer, the same as std::mt19937's), 53 bits from two draws.
class NumpyRand {
 public:
  explicit NumpyRand(uint32_t seed) : mt_(seed) {}
  double Next() {
    uint32_t a = static_cast<uint32_t>(mt_()) >> 5, b = static_cast<uint32_t>(mt_()) >> 6;
    return (a * 67108864.0 + b) / 9007199254740992.0;
  }

 private:
  std::mt19937 mt_;
};

double Seconds(std::chrono::steady_clock::time_point since) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - since).count();
}

}  // namespace

Result<SplitSpec> ParseSplit(std::string_view text) {
  SplitSpec spec;
  spec.text = std::string(text);
  size_t colon = text.find(':');
  std::string_view kind = text.substr(0, colon);
  std::string arg = colon == std::string_view::npos ? "" : std::string(text.substr(colon + 1));
  auto bad = [&](const std::string& why) {
    return Status::InvalidArgument("split '" + std::string(text) + "': " + why +
                                   " (random-per-user:RATIO, time:CUTOFF or leave-last:N)");
  };
  if (kind == "random-per-user") {
    spec.kind = SplitKind::kRandomPerUser;
    if (!arg.empty()) {
      char* end = nullptr;
      spec.ratio = std::strtod(arg.c_str(), &end);
      if (end != arg.c_str() + arg.size() || !(spec.ratio > 0 && spec.ratio < 1)) {
        return bad("the training ratio must be a number in (0, 1)");
      }
    }
    return spec;
  }
  if (kind == "time") {
    spec.kind = SplitKind::kTime;
    std::string t = arg.size() == 10 ? arg + "T00:00:00Z" : arg;
    std::optional<int64_t> ms = ParseRfc3339(t);
    if (!ms) return bad("the cutoff must be YYYY-MM-DD or an RFC 3339 time");
    spec.cutoff_ms = *ms;
    return spec;
  }
  if (kind == "leave-last") {
    spec.kind = SplitKind::kLeaveLast;
    if (!arg.empty()) {
      char* end = nullptr;
      long n = std::strtol(arg.c_str(), &end, 10);
      if (end != arg.c_str() + arg.size() || n < 1 || n > 1000000) {
        return bad("N must be a whole number of at least 1");
      }
      spec.leave_last = static_cast<int>(n);
    }
    return spec;
  }
  return bad("unknown kind");
}

Result<Split> SplitInteractions(const InteractionData& data, const SplitSpec& spec, uint64_t seed) {
  const size_t n = data.entries.size();
  if (spec.kind != SplitKind::kRandomPerUser && data.times_ms.size() != n) {
    return Status::InvalidArgument("split " + spec.text + ": the interactions have no times");
  }
  std::vector<std::vector<size_t>> per_user(static_cast<size_t>(data.users.size()));
  for (size_t e = 0; e < n; ++e) {
    per_user[static_cast<size_t>(data.entries[e].row)].push_back(e);
  }
  std::vector<bool> held_out(n, false);
  switch (spec.kind) {
    case SplitKind::kRandomPerUser: {
      if (seed > 0xffffffffULL) {
        return Status::InvalidArgument("split " + spec.text + ": seed " + std::to_string(seed) +
                                       " is above 2^32 - 1");
      }
      NumpyRand rand(static_cast<uint32_t>(seed));
      std::vector<double> draw(n);
      for (double& d : draw) d = rand.Next();
      for (std::vector<size_t>& entries : per_user) {
        std::stable_sort(entries.begin(), entries.end(),
                         [&](size_t a, size_t b) { return draw[a] < draw[b]; });
        const double count = static_cast<double>(entries.size());
        for (size_t r = 0; r < entries.size(); ++r) {
          // The same double comparison as pandas: rank / count <= ratio.
          held_out[entries[r]] = !(static_cast<double>(r + 1) / count <= spec.ratio);
        }
      }
      break;
    }
    case SplitKind::kTime:
      for (size_t e = 0; e < n; ++e) held_out[e] = data.times_ms[e] >= spec.cutoff_ms;
      break;
    case SplitKind::kLeaveLast:
      for (std::vector<size_t>& entries : per_user) {
        if (entries.size() <= static_cast<size_t>(spec.leave_last)) continue;
        std::stable_sort(entries.begin(), entries.end(),
                         [&](size_t a, size_t b) { return data.times_ms[a] < data.times_ms[b]; });
        for (size_t r = entries.size() - static_cast<size_t>(spec.leave_last); r < entries.size();
             ++r) {
          held_out[entries[r]] = true;
        }
      }
      break;
  }
  Split split;
  std::vector<Triplet> train;
  train.reserve(n);
  const size_t users = static_cast<size_t>(data.users.size());
  std::vector<std::vector<std::pair<int32_t, float>>> test(users);
  for (size_t e = 0; e < n; ++e) {
    const Triplet& t = data.entries[e];
    if (held_out[e]) {
      test[static_cast<size_t>(t.row)].emplace_back(t.col, t.value);
    } else {
      train.push_back(t);
    }
  }
  split.train_entries = static_cast<int64_t>(train.size());
  split.test_entries = static_cast<int64_t>(n - train.size());
  split.train = CsrMatrix::FromTriplets(data.users.size(), data.items.size(), std::move(train));
  split.test_items.resize(users);
  split.test_values.resize(users);
  for (size_t u = 0; u < users; ++u) {
    std::sort(test[u].begin(), test[u].end());
    for (const auto& [item, value] : test[u]) {
      split.test_items[u].push_back(item);
      split.test_values[u].push_back(value);
    }
  }
  return split;
}

// recommenders/evaluation/python_evaluation.py with relevancy_method="top_k": precision_at_k
// divides hits by k even for shorter lists; ndcg_at_k with score_type="binary" and
// discfun_type="loge" has an ideal DCG over min(k, relevant) positions; map_at_k (Spark's
// definition, the current one) divides the sum of precisions at hits by min(relevant, k), map
// (the older map_at_k) by relevant; catalog_coverage divides distinct listed items by distinct
// training items. Every mean is over the users given relevant items.
RankingMetrics EvaluateRankings(std::span<const std::vector<int32_t>> lists,
                                std::span<const std::vector<int32_t>> relevant, int k,
                                int64_t training_items) {
  RankingMetrics m;
  m.k = k;
  if (k <= 0) return m;
  std::vector<int32_t> listed;
  for (size_t u = 0; u < lists.size() && u < relevant.size(); ++u) {
    const std::vector<int32_t>& rel = relevant[u];
    if (rel.empty()) continue;
    const size_t top = std::min(lists[u].size(), static_cast<size_t>(k));
    int hits = 0;
    double dcg = 0, precision_sum = 0;
    for (size_t r = 0; r < top; ++r) {
      int32_t item = lists[u][r];
      listed.push_back(item);
      if (!std::binary_search(rel.begin(), rel.end(), item)) continue;
      ++hits;
      const double rank = static_cast<double>(r + 1);
      dcg += 1.0 / std::log(1.0 + rank);
      precision_sum += hits / rank;
    }
    const double actual = static_cast<double>(rel.size());
    double idcg = 0;
    for (int i = 1; i <= std::min<int64_t>(k, static_cast<int64_t>(rel.size())); ++i) {
      idcg += 1.0 / std::log(1.0 + i);
    }
    ++m.users;
    m.precision += hits / static_cast<double>(k);
    m.recall += hits / actual;
    m.ndcg += dcg / idcg;
    m.map += precision_sum / std::min(actual, static_cast<double>(k));
    m.map_full += precision_sum / actual;
    m.hit_rate += hits > 0 ? 1 : 0;
  }
  if (m.users > 0) {
    const double users = static_cast<double>(m.users);
    m.precision /= users;
    m.recall /= users;
    m.ndcg /= users;
    m.map /= users;
    m.map_full /= users;
    m.hit_rate /= users;
  }
  std::sort(listed.begin(), listed.end());
  const auto distinct = std::unique(listed.begin(), listed.end()) - listed.begin();
  m.coverage = training_items > 0 ? static_cast<double>(distinct) / training_items : 0;
  return m;
}

Result<ModelEvaluation> EvaluateModel(Recommender* model, const Split& split,
                                      const EvaluateOptions& options) {
  ModelEvaluation out;
  out.name = model->name();
  out.spec = model->spec();
  auto start = std::chrono::steady_clock::now();
  RECSYS_RETURN_IF_ERROR(model->Fit(split.train, options.fit).WithContext(out.spec + ": fit"));
  out.fit_seconds = Seconds(start);

  std::vector<int32_t> users;
  std::vector<std::vector<int32_t>> relevant;
  for (int32_t u = 0; u < split.train.rows; ++u) {
    if (split.train.indptr[u + 1] == split.train.indptr[u]) continue;
    std::vector<int32_t> rel;
    const size_t uu = static_cast<size_t>(u);
    for (size_t i = 0; i < split.test_items[uu].size(); ++i) {
      if (split.test_values[uu][i] >= options.min_relevant_value) {
        rel.push_back(split.test_items[uu][i]);
      }
    }
    if (rel.empty()) continue;
    users.push_back(u);
    relevant.push_back(std::move(rel));
  }

  RecommendOptions recommend;
  recommend.exclude_history = options.exclude_history;
  std::vector<std::vector<int32_t>> lists(users.size());
  start = std::chrono::steady_clock::now();
  constexpr size_t kBatch = 1024;
  std::vector<std::vector<ItemScore>> batch;
  for (size_t begin = 0; begin < users.size(); begin += kBatch) {
    const size_t count = std::min(kBatch, users.size() - begin);
    RECSYS_RETURN_IF_ERROR(model
                               ->Recommend(std::span<const int32_t>(users.data() + begin, count),
                                           split.train, options.k, recommend, &batch)
                               .WithContext(out.spec + ": recommend"));
    if (batch.size() != count) {
      return Status::Internal(out.spec + ": Recommend returned " + std::to_string(batch.size()) +
                              " lists for " + std::to_string(count) + " users");
    }
    for (size_t i = 0; i < count; ++i) {
      for (const ItemScore& s : batch[i]) lists[begin + i].push_back(s.item);
    }
  }
  out.recommend_seconds = Seconds(start);

  std::vector<bool> trained(static_cast<size_t>(split.train.cols), false);
  for (int32_t c : split.train.indices) trained[static_cast<size_t>(c)] = true;
  const int64_t training_items = std::count(trained.begin(), trained.end(), true);
  out.metrics = EvaluateRankings(lists, relevant, options.k, training_items);
  return out;
}

Result<std::vector<ModelEvaluation>> EvaluateSpecs(std::span<const std::string> specs,
                                                   const Split& split,
                                                   const EvaluateOptions& options) {
  std::vector<std::string> list(specs.begin(), specs.end());
  if (list.empty()) list = RecommenderNames();
  bool has_popularity = false;
  for (const std::string& s : list) {
    RECSYS_ASSIGN_OR_RETURN(ModelSpec parsed, ParseModelSpec(s));
    has_popularity = has_popularity || parsed.name == "popularity";
  }
  if (options.with_popularity && !has_popularity) list.insert(list.begin(), "popularity");
  std::stable_partition(list.begin(), list.end(), [](const std::string& s) {
    return s == "popularity" || s.rfind("popularity:", 0) == 0;
  });
  std::vector<ModelEvaluation> out;
  for (const std::string& s : list) {
    if (options.before_each) options.before_each(s);
    auto model = CreateRecommender(s);
    if (!model.ok()) return model.status().WithContext("model spec '" + s + "'");
    RECSYS_ASSIGN_OR_RETURN(ModelEvaluation e, EvaluateModel(model->get(), split, options));
    out.push_back(std::move(e));
  }
  return out;
}

}  // namespace recsys
