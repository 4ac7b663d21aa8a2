#include "serve/test_lake.h"

#include <map>
#include <memory>
#include <vector>

#include "lake/bronze_sink.h"
#include "lake/object_store.h"
#include "process/gold.h"
#include "process/silver.h"

namespace recsys {

Status BuildGeneratedLake(const std::string& lake_root, EventLog* log,
                          const GeneratorOptions& options) {
  Generator generator(options);
  struct Pending {
    std::string key, value;
    int64_t time_ms;
  };
  std::map<Topic, std::vector<Pending>> pending;
  RECSYS_RETURN_IF_ERROR(generator.Run([&](const GeneratedRecord& r) {
    pending[r.topic].push_back({std::string(r.key), std::string(r.json), r.time_ms});
    return Status::OK();
  }));
  for (const auto& [topic, records] : pending) {
    std::vector<LogRecord> batch;
    for (const Pending& p : records) batch.push_back({p.key, p.value, p.time_ms});
    RECSYS_RETURN_IF_ERROR(log->Append(TopicName(topic), batch));
  }
  RECSYS_ASSIGN_OR_RETURN(std::unique_ptr<ObjectStore> store, OpenLocalStore(lake_root));
  BronzeSinkOptions sink_options;
  sink_options.flush_size = 1000000;
  BronzeSink sink(log, store.get(), sink_options);
  BronzeSinkStats sink_stats;
  RECSYS_RETURN_IF_ERROR(sink.RunOnce(&sink_stats));
  LakeLocation lake{store.get(), lake_root};
  SilverOptions silver;
  silver.threads = 2;
  SilverReport silver_report;
  RECSYS_RETURN_IF_ERROR(RunSilver(lake, silver, &silver_report));
  GoldOptions gold;
  gold.threads = 2;
  gold.clusters = 3;
  GoldReport gold_report;
  return RunGold(lake, gold, &gold_report);
}

}  // namespace recsys
