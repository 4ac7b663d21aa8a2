// The commands of recsys, one function each; application.cc holds the table with their help.
#pragma once

#include <memory>

#include "cli/application.h"
#include "generate/generator.h"
#include "ingest/embedded_log.h"
#include "lake/bronze_sink.h"
#include "lake/object_store.h"

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

// Module options from the resolved settings.
Result<EmbeddedLogOptions> LogOptionsFrom(const Config& config);
Result<GeneratorOptions> GeneratorOptionsFrom(const Config& config);
Result<BronzeSinkOptions> SinkOptionsFrom(const Config& config);

Result<std::unique_ptr<EventLog>> OpenLog(const CommandContext& ctx);
Result<std::unique_ptr<ObjectStore>> OpenLake(const CommandContext& ctx);

// Steps shared by commands (demo runs generate then sink). Each adds its figures to the
// context's summary under `key` and to its text.
Status GenerateStep(CommandContext& ctx, EventLog* log, const GeneratorOptions& options);
Status SinkOnceStep(CommandContext& ctx, EventLog* log, ObjectStore* lake,
                    const BronzeSinkOptions& options);
Status SilverStep(CommandContext& ctx);
Status GoldStep(CommandContext& ctx);

}  // namespace recsys
