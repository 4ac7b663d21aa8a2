// The commands of recsys, one function each; application.cc holds the table with their help.
#pragma once

#include <memory>

#include "cli/application.h"
#include "generate/generator.h"
#include "ingest/embedded_log.h"
#include "lake/bronze_sink.h"
#include "lake/object_store.h"
#include "models/sparse.h"

namespace recsys {

Status RunGenerate(CommandContext& ctx);
Status RunIngest(CommandContext& ctx);
Status RunImport(CommandContext& ctx);
Status RunSink(CommandContext& ctx);
Status RunLogTopics(CommandContext& ctx);
Status RunLogRetention(CommandContext& ctx);
Status RunConfigShow(CommandContext& ctx);
Status RunDemo(CommandContext& ctx);
Status RunProcessSilver(CommandContext& ctx);
Status RunProcessGold(CommandContext& ctx);
Status RunSql(CommandContext& ctx);
Status RunEvaluate(CommandContext& ctx);
// "a;b;;c" -> {"a", "b", "c"}, each trimmed: the model specs of --models.
std::vector<std::string> SplitSpecList(const std::string& text);
Status RunTrain(CommandContext& ctx);
Status RunModelsList(CommandContext& ctx);
Status RunRecommend(CommandContext& ctx);
Status RunTune(CommandContext& ctx);
Status RunServe(CommandContext& ctx);
// recsys serve's body, for the demo's last step: prints its address (and `hint`, when not
// empty, with {base} replaced by the server's http://host:port) and serves until SIGTERM or
// SIGINT. log: the event log when the caller has it open (the embedded log takes one writer
// per partition), else null and the step opens it.
Status ServeStep(CommandContext& ctx, const std::string& hint, EventLog* log);

// Module options from the resolved settings.
Result<EmbeddedLogOptions> LogOptionsFrom(const Config& config);
Result<GeneratorOptions> GeneratorOptionsFrom(const Config& config);
Result<BronzeSinkOptions> SinkOptionsFrom(const Config& config);

Result<std::unique_ptr<EventLog>> OpenLog(const CommandContext& ctx);
Result<std::unique_ptr<ObjectStore>> OpenLake(const CommandContext& ctx);
// The lake folder as an absolute, normalised path.
Result<std::string> LakeRoot(const CommandContext& ctx);
// The interactions of evaluate.source: "gold" or "movielens:<ratings file or folder>".
Result<InteractionData> LoadSource(const CommandContext& ctx, const std::string& source);

// Steps shared by commands (demo runs generate then sink). Each adds its figures to the
// context's summary under `key` and to its text.
Status GenerateStep(CommandContext& ctx, EventLog* log, const GeneratorOptions& options);
Status SinkOnceStep(CommandContext& ctx, EventLog* log, ObjectStore* lake,
                    const BronzeSinkOptions& options);
Status SilverStep(CommandContext& ctx);
Status GoldStep(CommandContext& ctx);
// recsys train; sets *example_user (if not null) to the user with the most interactions.
Status TrainStep(CommandContext& ctx, std::string* example_user);

}  // namespace recsys
