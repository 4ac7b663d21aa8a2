// For the serve tests: a small generated shop taken through the pipeline in-process, as
// `recsys generate`, `sink --once`, `process silver` and `process gold` would.
#pragma once

#include <string>

#include "core/status.h"
#include "generate/generator.h"
#include "ingest/event_log.h"

namespace recsys {

// Generates the shop into log (every record, in generation order per topic), sinks the log to
// bronze under lake_root and builds silver and gold there (3 clusters, 2 threads).
Status BuildGeneratedLake(const std::string& lake_root, EventLog* log,
                          const GeneratorOptions& options);

}  // namespace recsys
