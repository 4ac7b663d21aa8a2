// recsys train, recsys models list, recsys recommend: versioned model artifacts in the lake's
// registry (models/registry.h) and recommendations from them.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <unordered_map>
#include <unordered_set>

#include "cli/commands.h"
#include "core/progress.h"
#include "lake/duckdb.h"
#include "models/data.h"
#include "models/evaluate.h"
#include "models/registry.h"

namespace recsys {
namespace {

// Every published version is evaluated the same way, so versions compare on their metrics.
constexpr const char* kEvaluationSplit = "random-per-user:0.75";
constexpr uint64_t kEvaluationSeed = 42;
constexpr int kEvaluationK = 10;

void WriteMetrics(JsonWriter& j, const RankingMetrics& m) {
  j.BeginObject();
  j.Key("k");
  j.Int(m.k);
  j.Key("users");
  j.Int(m.users);
  for (const char* key :
       {"precision", "recall", "ndcg", "map", "map_full", "hit_rate", "coverage"}) {
    j.Key(key);
    j.Double(*MetricValue(m, key));
  }
  j.EndObject();
}

struct TrainRow {
  std::string spec;
  std::string name;
  std::string error;  // empty when trained
  ModelEvaluation evaluation;
  double fit_seconds = 0;
  PublishResult published;
};

Result<TrainRow> TrainOne(const std::string& spec, const InteractionData& data,
                          const CsrMatrix& full, const Split& split, const EvaluateOptions& eval,
                          const FitOptions& full_fit, const std::string& snapshot,
                          const std::string& metric, ModelRegistry* registry) {
  TrainRow row;
  row.spec = spec;
  {
    RECSYS_ASSIGN_OR_RETURN(std::unique_ptr<Recommender> model, CreateRecommender(spec));
    RECSYS_ASSIGN_OR_RETURN(row.evaluation, EvaluateModel(model.get(), split, eval));
  }
  RECSYS_ASSIGN_OR_RETURN(std::unique_ptr<Recommender> model, CreateRecommender(spec));
  row.name = model->name();
  const auto start = std::chrono::steady_clock::now();
  RECSYS_RETURN_IF_ERROR(model->Fit(full, full_fit));
  row.fit_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();

  ModelManifest manifest;
  manifest.name = model->name();
  manifest.spec = model->spec();
  manifest.data_snapshot = snapshot;
  manifest.training_seconds = row.fit_seconds;
  manifest.users = data.users.size();
  manifest.items = data.items.size();
  manifest.interactions = full.nnz();
  manifest.evaluation_split = kEvaluationSplit;
  manifest.evaluation_seed = kEvaluationSeed;
  manifest.metrics = row.evaluation.metrics;
  manifest.metric = metric;
  RECSYS_ASSIGN_OR_RETURN(row.published,
                          registry->Publish(*model, data.users, data.items, manifest));
  return row;
}

}  // namespace

Status TrainStep(CommandContext& ctx, std::string* example_user) {
  if (!ctx.args.empty()) return Status::InvalidArgument("unexpected argument " + ctx.args[0]);
  const Config& c = *ctx.config;
  const std::string metric = c.GetString("train.metric");
  RECSYS_RETURN_IF_ERROR(MetricValue(RankingMetrics{}, metric).status());
  const int threads = static_cast<int>(c.GetInt("train.threads"));
  const bool progress = !ctx.quiet() && !ctx.json;
  RECSYS_ASSIGN_OR_RETURN(std::string root, LakeRoot(ctx));
  RECSYS_ASSIGN_OR_RETURN(InteractionData data, LoadGoldInteractions(root, threads));
  RECSYS_ASSIGN_OR_RETURN(std::string snapshot, CurrentGoldSnapshot(root));
  if (data.entries.empty()) {
    return Status::InvalidArgument("lake " + root + ": gold snapshot " + snapshot +
                                   " has no interactions to train on");
  }
  RECSYS_ASSIGN_OR_RETURN(SplitSpec split_spec, ParseSplit(kEvaluationSplit));
  RECSYS_ASSIGN_OR_RETURN(Split split, SplitInteractions(data, split_spec, kEvaluationSeed));
  const CsrMatrix full = data.ToMatrix();

  std::vector<std::string> specs = SplitSpecList(c.GetString("train.models"));
  const bool all_models = specs.empty();
  if (all_models) specs = RecommenderNames();
  EvaluateOptions eval;
  eval.k = kEvaluationK;
  eval.fit.threads = threads;
  eval.fit.seed = kEvaluationSeed;
  // Item side data (content's terms, hybrid's rules) when gold has it. Interaction times go only
  // to the full fit: the split's training matrix has another CSR order.
  ItemSideData eval_side, full_side;
  FitOptions full_fit = eval.fit;
  if (auto side = LoadItemSideData(root, data.items, threads); side.ok()) {
    eval_side = *side;
    full_side = std::move(*side);
    full_side.entry_time_ms = EntryTimesInCsrOrder(data);
    eval.fit.side = &eval_side;
    full_fit.side = &full_side;
  }
  // Without item terms content cannot fit; the default list leaves it out rather than fail.
  if (all_models && eval_side.terms.empty()) {
    std::erase_if(
        specs, [](const std::string& spec) { return spec.substr(0, spec.find(':')) == "content"; });
  }

  ModelRegistry registry(root);
  std::vector<TrainRow> rows;
  int trained = 0;
  for (const std::string& spec : specs) {
    if (progress) std::fprintf(stderr, "train: %s\n", spec.c_str());
    auto row = TrainOne(spec, data, full, split, eval, full_fit, snapshot, metric, &registry);
    if (row.ok()) {
      rows.push_back(std::move(*row));
      ++trained;
    } else {
      TrainRow failed;
      failed.spec = spec;
      failed.name = spec.substr(0, spec.find(':'));
      failed.error = row.status().message();
      if (progress)
        std::fprintf(stderr, "train: %s failed: %s\n", spec.c_str(), failed.error.c_str());
      rows.push_back(std::move(failed));
    }
  }
  if (trained == 0) {
    return Status::InvalidArgument("no model trained; " + rows.front().spec + ": " +
                                   rows.front().error);
  }

  if (example_user != nullptr) {
    int32_t best = 0;
    for (int32_t u = 1; u < full.rows; ++u) {
      if (full.RowIndices(u).size() > full.RowIndices(best).size()) best = u;
    }
    *example_user = data.users.Name(best);
  }

  JsonWriter& j = ctx.summary;
  j.Key("data_snapshot");
  j.String(snapshot);
  j.Key("users");
  j.Int(data.users.size());
  j.Key("items");
  j.Int(data.items.size());
  j.Key("interactions");
  j.Int(full.nnz());
  j.Key("evaluation_split");
  j.String(kEvaluationSplit);
  j.Key("metric");
  j.String(metric);
  j.Key("trained");
  j.Int(trained);
  j.Key("failed");
  j.Int(static_cast<int64_t>(rows.size()) - trained);
  j.Key("models");
  j.BeginArray();
  for (const TrainRow& r : rows) {
    j.BeginObject();
    j.Key("name");
    j.String(r.name);
    if (!r.error.empty()) {
      j.Key("spec");
      j.String(r.spec);
      j.Key("error");
      j.String(r.error);
      j.EndObject();
      continue;
    }
    j.Key("spec");
    j.String(r.evaluation.spec);
    j.Key("version");
    j.String(r.published.version);
    j.Key("current");
    j.Bool(r.published.current);
    j.Key("previous_current");
    if (r.published.previous.empty()) {
      j.Null();
    } else {
      j.String(r.published.previous);
    }
    j.Key("value");
    j.Double(r.published.value);
    j.Key("previous_value");
    j.Double(r.published.previous_value);
    j.Key("training_seconds");
    j.Double(r.fit_seconds);
    j.Key("metrics");
    WriteMetrics(j, r.evaluation.metrics);
    j.EndObject();
  }
  j.EndArray();

  char line[1024];
  std::snprintf(line, sizeof(line),
                "gold snapshot %s: %s users, %s items, %s interactions; evaluated on %s (seed "
                "%llu) at k %d, then fitted on all\n",
                snapshot.c_str(), FormatCount(data.users.size()).c_str(),
                FormatCount(data.items.size()).c_str(), FormatCount(full.nnz()).c_str(),
                kEvaluationSplit, static_cast<unsigned long long>(kEvaluationSeed), kEvaluationK);
  ctx.text += line;
  // Every metric of the evaluation split, so this table is also the models' scorecard (the demo
  // prints it instead of evaluating the same split a second time).
  const std::string k = "@" + std::to_string(kEvaluationK);
  std::snprintf(line, sizeof(line), "%-12s %-8s %12s %10s %8s %8s %8s %9s %7s  current (by %s)\n",
                "model", "version", ("precision" + k).c_str(), ("recall" + k).c_str(),
                ("ndcg" + k).c_str(), ("map" + k).c_str(), ("hit" + k).c_str(), "coverage", "fit s",
                metric.c_str());
  ctx.text += line;
  for (const TrainRow& r : rows) {
    if (!r.error.empty()) {
      std::snprintf(line, sizeof(line), "%-12s %-8s  failed: %s\n", r.name.c_str(), "-",
                    r.error.c_str());
      ctx.text += line;
      continue;
    }
    const PublishResult& p = r.published;
    char why[256];
    if (p.previous.empty()) {
      std::snprintf(why, sizeof(why), "yes (first version)");
    } else if (p.current) {
      std::snprintf(why, sizeof(why), "yes (was %s, %.4f)", p.previous.c_str(), p.previous_value);
    } else {
      std::snprintf(why, sizeof(why), "no: kept, loses to current %s (%.4f)", p.previous.c_str(),
                    p.previous_value);
    }
    const RankingMetrics& m = r.evaluation.metrics;
    std::snprintf(line, sizeof(line),
                  "%-12s %-8s %12.4f %10.4f %8.4f %8.4f %8.4f %9.4f %7.2f  %s\n", r.name.c_str(),
                  p.version.c_str(), m.precision, m.recall, m.ndcg, m.map, m.hit_rate, m.coverage,
                  r.fit_seconds, why);
    ctx.text += line;
  }
  ctx.text += "models in " + root + "/models\n";
  return Status::OK();
}

Status RunTrain(CommandContext& ctx) { return TrainStep(ctx, nullptr); }

Status RunModelsList(CommandContext& ctx) {
  if (!ctx.args.empty()) return Status::InvalidArgument("unexpected argument " + ctx.args[0]);
  RECSYS_ASSIGN_OR_RETURN(std::string root, LakeRoot(ctx));
  ModelRegistry registry(root);
  RECSYS_ASSIGN_OR_RETURN(std::vector<std::string> names, registry.Names());
  JsonWriter& j = ctx.summary;
  j.Key("models");
  j.BeginArray();
  if (names.empty()) ctx.text += "no models in " + root + "/models (run `recsys train`)\n";
  char line[1024];
  for (const std::string& name : names) {
    auto current = registry.Current(name);
    if (!current.ok() && current.status().code() != StatusCode::kNotFound) {
      return current.status();
    }
    const std::string cur = current.ok() ? *current : "";
    RECSYS_ASSIGN_OR_RETURN(std::vector<std::string> versions, registry.Versions(name));
    j.BeginObject();
    j.Key("name");
    j.String(name);
    j.Key("current");
    if (cur.empty()) {
      j.Null();
    } else {
      j.String(cur);
    }
    j.Key("versions");
    j.BeginArray();
    ctx.text += name + " (current " + (cur.empty() ? "none" : cur) + ")\n";
    for (const std::string& v : versions) {
      RECSYS_ASSIGN_OR_RETURN(ModelManifest m, registry.ReadManifest(name, v));
      j.BeginObject();
      j.Key("version");
      j.String(v);
      j.Key("current");
      j.Bool(v == cur);
      j.Key("spec");
      j.String(m.spec);
      j.Key("trained_at");
      j.String(m.trained_at);
      j.Key("data_snapshot");
      j.String(m.data_snapshot);
      j.Key("training_seconds");
      j.Double(m.training_seconds);
      j.Key("metric");
      j.String(m.metric);
      j.Key("metrics");
      WriteMetrics(j, m.metrics);
      j.EndObject();
      std::snprintf(
          line, sizeof(line), "  %s %-8s %s  ndcg@%d %.4f  precision@%d %.4f  recall@%d %.4f  %s\n",
          v == cur ? "*" : " ", v.c_str(), m.trained_at.c_str(), m.metrics.k, m.metrics.ndcg,
          m.metrics.k, m.metrics.precision, m.metrics.k, m.metrics.recall, m.spec.c_str());
      ctx.text += line;
    }
    j.EndArray();
    j.EndObject();
  }
  j.EndArray();
  return Status::OK();
}

namespace {

// Silver products' titles by product id; empty when silver has none (ids are shown instead).
std::unordered_map<std::string, std::string> ProductTitles(const std::string& root) {
  std::unordered_map<std::string, std::string> titles;
  std::error_code ec;
  if (!std::filesystem::exists(root + "/silver/products", ec)) return titles;
  DuckDbOptions options;
  options.threads = 1;
  auto db = DuckDb::Open("", options);
  if (!db.ok()) return titles;
  auto r = (*db)->Query("SELECT product_id, max(title) FROM read_parquet(" +
                        DuckDb::Quote(root + "/silver/products/**/*.parquet") +
                        ", union_by_name = true) WHERE title IS NOT NULL GROUP BY 1");
  if (!r.ok()) return titles;
  for (size_t i = 0; i < r->rows(); ++i) titles[r->GetString(i, 0)] = r->GetString(i, 1);
  return titles;
}

struct Recommendation {
  std::string item;
  float score = 0;
  std::string because;  // the history item it explains by; empty: popular overall
};

// The items most users interacted with, best first, ties by lower index.
std::vector<Recommendation> Popular(const CsrMatrix& gold, const IdMap& items, int k) {
  std::vector<float> counts(static_cast<size_t>(gold.cols), 0.0f);
  for (int32_t i : gold.indices) counts[static_cast<size_t>(i)] += 1;
  std::vector<ItemScore> top;
  TopK(counts, k, {}, nullptr, &top);
  std::vector<Recommendation> out;
  for (const ItemScore& s : top) out.push_back({items.Name(s.item), s.score, ""});
  return out;
}

}  // namespace

Status RunRecommend(CommandContext& ctx) {
  if (!ctx.args.empty()) return Status::InvalidArgument("unexpected argument " + ctx.args[0]);
  const Config& c = *ctx.config;
  const std::string user = c.GetString("recommend.user");
  if (user.empty()) return Status::InvalidArgument("--user is required (a shop user id)");
  const int k = static_cast<int>(c.GetInt("recommend.k"));
  const std::string metric = c.GetString("train.metric");
  RECSYS_ASSIGN_OR_RETURN(std::string root, LakeRoot(ctx));
  ModelRegistry registry(root);

  std::string name = c.GetString("recommend.model");
  if (name.empty()) {
    // The current version with the best metric among all models.
    RECSYS_ASSIGN_OR_RETURN(std::vector<std::string> names, registry.Names());
    double best = -1;
    for (const std::string& n : names) {
      auto v = registry.Current(n);
      if (!v.ok()) continue;
      RECSYS_ASSIGN_OR_RETURN(ModelManifest m, registry.ReadManifest(n, *v));
      RECSYS_ASSIGN_OR_RETURN(double value, MetricValue(m.metrics, metric));
      if (value > best) {
        best = value;
        name = n;
      }
    }
    if (name.empty()) {
      return Status::NotFound("no current model in " + root + "/models (run `recsys train`)");
    }
  }
  RECSYS_ASSIGN_OR_RETURN(std::string version, registry.Current(name));
  RECSYS_ASSIGN_OR_RETURN(LoadedModel lm, registry.Load(name, version));
  RECSYS_ASSIGN_OR_RETURN(InteractionData data,
                          LoadGoldInteractions(root, static_cast<int>(c.GetInt("train.threads"))));
  const CsrMatrix gold = data.ToMatrix();
  const int32_t gold_user = data.users.Find(user);
  std::span<const int32_t> gold_history;
  std::span<const float> gold_weights;
  if (gold_user >= 0) {
    gold_history = gold.RowIndices(gold_user);
    gold_weights = gold.RowData(gold_user);
  }

  // The user's history as a row of the model's matrix; a user the model was not fitted on gets
  // the row after the fitted ones (folded in by the models that can).
  const int32_t n_model_users = lm.users.size();
  int32_t model_user = lm.users.Find(user);
  const bool fitted_user = model_user >= 0;
  if (!fitted_user) model_user = n_model_users;
  std::vector<Triplet> row;
  std::unordered_set<int32_t> history_set;  // model item indices
  for (size_t i = 0; i < gold_history.size(); ++i) {
    int32_t item = lm.items.Find(data.items.Name(gold_history[i]));
    if (item < 0) continue;
    row.push_back({model_user, item, gold_weights[i]});
    history_set.insert(item);
  }
  const CsrMatrix history = CsrMatrix::FromTriplets(std::max(n_model_users, model_user + 1),
                                                    lm.items.size(), std::move(row));

  std::vector<Recommendation> recs;
  std::string note;
  if (gold_user < 0 && !fitted_user) {
    note = "user " + user + " is not known: popular items";
  } else if (history_set.empty() && !fitted_user) {
    note = "user " + user + " has no history the model knows: popular items";
  } else {
    std::vector<int32_t> users = {model_user};
    std::vector<std::vector<ItemScore>> out;
    Status st = lm.model->Recommend(users, history, k, RecommendOptions{}, &out);
    if (!st.ok() || out.empty() || out[0].empty()) {
      note = "model " + name + " has nothing for user " + user +
             (st.ok() ? std::string() : " (" + st.message() + ")") + ": popular items";
    } else {
      std::vector<int32_t> rec_items;
      for (const ItemScore& s : out[0]) rec_items.push_back(s.item);
      // Explanations: the history item the model finds most similar to each recommended item,
      // else the one most users share with it.
      std::vector<std::vector<ItemScore>> similar;
      const bool use_similar =
          name != "popularity" && !history_set.empty() &&
          lm.model->SimilarItems(rec_items, std::min(lm.items.size(), 200), &similar).ok();
      const CsrMatrix item_users = gold.Transpose();
      for (size_t r = 0; r < rec_items.size(); ++r) {
        Recommendation rec{lm.items.Name(rec_items[r]), out[0][r].score, ""};
        if (use_similar && r < similar.size()) {
          for (const ItemScore& s : similar[r]) {
            if (history_set.count(s.item) != 0) {
              rec.because = lm.items.Name(s.item);
              break;
            }
          }
        }
        const int32_t gold_item = data.items.Find(rec.item);
        if (rec.because.empty() && gold_item >= 0) {
          std::span<const int32_t> a = item_users.RowIndices(gold_item);
          int64_t best = 0;
          for (int32_t h : gold_history) {
            std::span<const int32_t> b = item_users.RowIndices(h);
            int64_t shared = 0;
            for (size_t x = 0, y = 0; x < a.size() && y < b.size();) {
              if (a[x] < b[y]) {
                ++x;
              } else if (b[y] < a[x]) {
                ++y;
              } else {
                ++shared, ++x, ++y;
              }
            }
            // Users other than this one who have both.
            if (gold_user >= 0) --shared;
            if (shared > best) {
              best = shared;
              rec.because = data.items.Name(h);
            }
          }
        }
        recs.push_back(std::move(rec));
      }
    }
  }
  if (!note.empty()) recs = Popular(gold, data.items, k);

  const std::unordered_map<std::string, std::string> titles = ProductTitles(root);
  auto title_of = [&](const std::string& id) {
    auto it = titles.find(id);
    return it == titles.end() ? id : it->second;
  };
  auto reason = [&](const Recommendation& r) {
    if (!note.empty()) return std::string("popular overall");
    if (r.because.empty()) return std::string("recommended for your history");
    return "because you viewed " + title_of(r.because);
  };

  JsonWriter& j = ctx.summary;
  j.Key("user");
  j.String(user);
  j.Key("known_user");
  j.Bool(gold_user >= 0 || fitted_user);
  j.Key("history_items");
  j.Int(static_cast<int64_t>(gold_history.size()));
  j.Key("model");
  j.String(name);
  j.Key("version");
  j.String(version);
  j.Key("fallback");
  if (note.empty()) {
    j.Null();
  } else {
    j.String("popularity");
  }
  j.Key("recommendations");
  j.BeginArray();
  for (const Recommendation& r : recs) {
    j.BeginObject();
    j.Key("item");
    j.String(r.item);
    j.Key("title");
    j.String(title_of(r.item));
    j.Key("score");
    j.Double(r.score);
    j.Key("reason");
    j.String(reason(r));
    j.Key("because_item");
    if (r.because.empty()) {
      j.Null();
    } else {
      j.String(r.because);
    }
    j.EndObject();
  }
  j.EndArray();

  if (!note.empty()) ctx.text += note + "\n";
  ctx.text += "top " + std::to_string(recs.size()) + " for user " + user + " from " +
              (note.empty() ? name + " " + version : std::string("popularity in gold")) + " (" +
              std::to_string(gold_history.size()) + " items in history):\n";
  char line[1024];
  for (size_t i = 0; i < recs.size(); ++i) {
    const std::string title = title_of(recs[i].item);
    std::snprintf(line, sizeof(line), "%3zu. %-14s %9.4f  %s  (%s)\n", i + 1, recs[i].item.c_str(),
                  recs[i].score, title == recs[i].item ? "" : title.c_str(),
                  reason(recs[i]).c_str());
    ctx.text += line;
  }
  return Status::OK();
}

}  // namespace recsys
