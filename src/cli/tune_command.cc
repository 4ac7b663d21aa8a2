// recsys tune: random search over one model's parameters on a validation split.
#include <algorithm>
#include <cstdio>

#include "cli/commands.h"
#include "core/progress.h"
#include "models/tune.h"

namespace recsys {
namespace {

const char* StopReason(TuneStop stop) {
  switch (stop) {
    case TuneStop::kTrials:
      return "trials";
    case TuneStop::kBudget:
      return "budget";
    case TuneStop::kSpaceExhausted:
      return "space exhausted";
  }
  return "";
}

}  // namespace

Status RunTune(CommandContext& ctx) {
  if (!ctx.args.empty()) return Status::InvalidArgument("unexpected argument " + ctx.args[0]);
  const Config& c = *ctx.config;
  TuneOptions options;
  options.model = c.GetString("tune.model");
  if (options.model.empty()) {
    return Status::InvalidArgument("--model is required (als, bpr, itemknn, ease, popularity)");
  }
  RECSYS_RETURN_IF_ERROR(TuneSpace(options.model).status());
  options.metric = c.GetString("tune.metric");
  options.max_trials = static_cast<int>(c.GetInt("tune.trials"));
  options.budget_seconds = c.GetDouble("tune.budget_seconds");
  options.seed = static_cast<uint64_t>(c.GetInt("evaluate.seed"));
  RECSYS_ASSIGN_OR_RETURN(options.split, ParseSplit(c.GetString("evaluate.split")));
  options.evaluate.k = static_cast<int>(c.GetInt("evaluate.k"));
  options.evaluate.fit.threads = static_cast<int>(c.GetInt("evaluate.threads"));
  options.evaluate.exclude_history = c.GetBool("evaluate.exclude_history");
  options.evaluate.min_relevant_value = c.GetDouble("evaluate.min_relevant");
  if (!ctx.quiet() && !ctx.json) {
    options.before_each = [](int trial, const std::string& spec) {
      std::fprintf(stderr, "tune: trial %d: %s\n", trial, spec.c_str());
    };
  }
  const std::string source = c.GetString("evaluate.source");
  RECSYS_ASSIGN_OR_RETURN(InteractionData data, LoadSource(ctx, source));
  RECSYS_ASSIGN_OR_RETURN(TuneResult result, Tune(data, options));

  std::string saved;
  if (c.GetBool("tune.save")) {
    RECSYS_RETURN_IF_ERROR(WriteTunedSpec(ctx.DataDir(), options.model, result.best_spec()));
    saved = TunedSpecPath(ctx.DataDir(), options.model);
  }

  std::vector<const TuneTrial*> ranked;
  for (const TuneTrial& t : result.trials) ranked.push_back(&t);
  std::stable_sort(ranked.begin(), ranked.end(),
                   [](const TuneTrial* a, const TuneTrial* b) { return a->value > b->value; });

  JsonWriter& j = ctx.summary;
  j.Key("model");
  j.String(options.model);
  j.Key("source");
  j.String(source);
  j.Key("split");
  j.String(options.split.text);
  j.Key("seed");
  j.Int(static_cast<int64_t>(options.seed));
  j.Key("metric");
  j.String(options.metric);
  j.Key("k");
  j.Int(options.evaluate.k);
  j.Key("fit_interactions");
  j.Int(result.fit_entries);
  j.Key("validation_interactions");
  j.Int(result.validation_entries);
  j.Key("stopped_by");
  j.String(StopReason(result.stopped_by));
  j.Key("seconds");
  j.Double(result.seconds);
  j.Key("best_spec");
  j.String(result.best_spec());
  j.Key("best_value");
  j.Double(result.trials[result.best].value);
  j.Key("default_value");
  j.Double(result.trials[0].value);
  j.Key("tuned_file");
  j.String(saved);
  j.Key("trials");
  j.BeginArray();
  for (const TuneTrial* t : ranked) {
    j.BeginObject();
    j.Key("trial");
    j.Int(t->index);
    j.Key("spec");
    j.String(t->spec);
    j.Key("value");
    j.Double(t->value);
    j.Key("precision");
    j.Double(t->metrics.precision);
    j.Key("recall");
    j.Double(t->metrics.recall);
    j.Key("ndcg");
    j.Double(t->metrics.ndcg);
    j.Key("map");
    j.Double(t->metrics.map);
    j.Key("seconds");
    j.Double(t->seconds);
    j.EndObject();
  }
  j.EndArray();

  char line[1024];
  std::snprintf(
      line, sizeof(line),
      "tune %s on %s: %zu trials in %.1f s (stopped by %s); validation split of the "
      "training part of %s (seed %llu): %s fit / %s validation interactions; the %s "
      "held-out interactions were not used\n",
      options.model.c_str(), source.c_str(), result.trials.size(), result.seconds,
      StopReason(result.stopped_by), options.split.text.c_str(),
      static_cast<unsigned long long>(options.seed), FormatCount(result.fit_entries).c_str(),
      FormatCount(result.validation_entries).c_str(), FormatCount(result.test_entries).c_str());
  ctx.text += line;
  const std::string metric = options.metric + "@" + std::to_string(options.evaluate.k);
  std::snprintf(line, sizeof(line), "%5s %10s %8s  %s\n", "trial", metric.c_str(), "seconds",
                "spec");
  ctx.text += line;
  for (const TuneTrial* t : ranked) {
    std::snprintf(line, sizeof(line), "%5d %10.4f %8.2f  %s%s\n", t->index, t->value, t->seconds,
                  t->spec.c_str(), t->index == 0 ? "  (default)" : "");
    ctx.text += line;
  }
  std::snprintf(line, sizeof(line), "best: %s (%s %.4f, default %.4f)\n",
                result.best_spec().c_str(), metric.c_str(), result.trials[result.best].value,
                result.trials[0].value);
  ctx.text += line;
  if (!saved.empty()) {
    ctx.text += "saved to " + saved + " (recsys evaluate without --models uses it)\n";
  }
  return Status::OK();
}

}  // namespace recsys
