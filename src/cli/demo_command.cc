// recsys demo: a generated shop through every stage built so far: event log, bronze, silver,
// gold, offline evaluation of the models, training into the model registry.
#include <cstdio>

#include "cli/commands.h"
#include "core/files.h"
#include "core/progress.h"

namespace recsys {
namespace {

constexpr const char* kMarker = ".recsys-demo";

// The demo owns its data folder: it starts from scratch in a folder it made before, or in an
// empty or new one, and refuses any other so it never deletes someone's data.
Status PrepareDataDir(const std::string& dir) {
  auto entries = ListDir(dir);
  if (entries.ok() && !entries->empty()) {
    if (!FileExists(dir + "/" + kMarker)) {
      return Status::InvalidArgument("data folder " + dir +
                                     " holds data the demo did not make; pass --data-dir with a "
                                     "new or empty folder");
    }
    for (const std::string& name : *entries) {
      if (name != kMarker) RECSYS_RETURN_IF_ERROR(RemoveAll(dir + "/" + name));
    }
  }
  RECSYS_RETURN_IF_ERROR(CreateDirs(dir));
  return WriteFileAtomic(dir + "/" + kMarker, "made by recsys demo; rerunning demo resets it\n");
}

}  // namespace

Status RunDemo(CommandContext& ctx) {
  if (!ctx.args.empty()) return Status::InvalidArgument("unexpected argument " + ctx.args[0]);
  RECSYS_RETURN_IF_ERROR(PrepareDataDir(ctx.DataDir()));
  RECSYS_ASSIGN_OR_RETURN(GeneratorOptions gen_options, GeneratorOptionsFrom(*ctx.config));
  // The demo shows the quarantine at work unless told otherwise.
  if (ctx.config->SourceOf("generate.bad_rate") == SettingSource::kDefault) {
    gen_options.bad_rate = 0.01;
  }
  RECSYS_ASSIGN_OR_RETURN(BronzeSinkOptions sink_options, SinkOptionsFrom(*ctx.config));
  RECSYS_ASSIGN_OR_RETURN(std::unique_ptr<EventLog> log, OpenLog(ctx));
  RECSYS_ASSIGN_OR_RETURN(std::unique_ptr<ObjectStore> lake, OpenLake(ctx));

  ctx.text += "== 1. produce: a synthetic shop into the event log\n";
  RECSYS_RETURN_IF_ERROR(GenerateStep(ctx, log.get(), gen_options));
  ctx.text += "== 2. sink: event log -> bronze (Kafka Connect S3 sink layout)\n";
  RECSYS_RETURN_IF_ERROR(SinkOnceStep(ctx, log.get(), lake.get(), sink_options));

  RECSYS_ASSIGN_OR_RETURN(std::vector<ObjectInfo> files, lake->List("bronze/topics/"));
  ctx.summary.Key("bronze_files");
  ctx.summary.Int(static_cast<int64_t>(files.size()));
  ctx.text += "== bronze: " + FormatCount(static_cast<int64_t>(files.size())) + " files under " +
              ctx.LakeDir() + "/bronze/topics, for example:\n";
  std::string last_topic;
  int shown = 0;
  for (const ObjectInfo& f : files) {
    std::string topic = f.key.substr(14, f.key.find('/', 14) - 14);
    if (topic != last_topic) {
      shown = 0;
      last_topic = topic;
    }
    if (shown++ < 2) ctx.text += "  " + f.key + "  (" + FormatCount(f.size) + " bytes)\n";
  }

  ctx.text += "== 3. process silver: validate, quarantine, deduplicate, sessionize\n";
  RECSYS_RETURN_IF_ERROR(SilverStep(ctx));
  ctx.text += "== 4. process gold: segments, clusters, product analytics, features\n";
  RECSYS_RETURN_IF_ERROR(GoldStep(ctx));
  // Train evaluates every model on the Microsoft Recommenders split before publishing it, so its
  // table is the evaluation: no separate evaluate step fits every model twice.
  ctx.text +=
      "== 5. evaluate and train: every model beside popularity on the Microsoft Recommenders "
      "split, then published to the registry (models/<name>/<version>/)\n";
  ctx.summary.Key("train");
  ctx.summary.BeginObject();
  std::string example_user;
  RECSYS_RETURN_IF_ERROR(TrainStep(ctx, &example_user));
  ctx.summary.EndObject();
  ctx.summary.Key("example_user");
  ctx.summary.String(example_user);
  ctx.text += "next:\n  recsys recommend --data-dir " + ctx.DataDir() + " --user " + example_user +
              "\n  recsys models list --data-dir " + ctx.DataDir() + "\n";
  ctx.text += "  recsys sql --data-dir " + ctx.DataDir() +
              " \"select segment, count(*) from user_features group by 1 order by 2 desc\"\n" +
              "  recsys log topics --data-dir " + ctx.DataDir() + "\n";
  if (!ctx.config->GetBool("demo.serve")) return Status::OK();
  ctx.text += "== 6. serve: the recommendation API over HTTP (Ctrl-C stops it)\n";
  if (!ctx.json) {
    std::fputs(ctx.text.c_str(), stdout);
    ctx.text.clear();
  }
  const std::string hint = "try:\n  curl -s '{base}/v1/users/" + example_user +
                           "/recommendations?k=5'\n  curl -s '{base}/v1/users/" + example_user +
                           "/profile'\n  curl -s '{base}/openapi.json'\n";
  return ServeStep(ctx, hint, log.get());
}

}  // namespace recsys
