// The sink is killed with SIGKILL at random moments and restarted; in the end bronze holds every
// event of the log exactly once, and the same files a sink that never crashed writes.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>

#include <chrono>
#include <filesystem>
#include <random>
#include <thread>
#include <unordered_map>

#include "core/files.h"
#include "ingest/embedded_log.h"
#include "tests/test_util.h"

namespace recsys::testing {
namespace {

TEST(CrashTest, SinkKilledTenTimesLeavesEveryEventExactlyOnce) {
  TempDir dir;
  std::string data = dir.path() + "/data";
  CommandResult r =
      RunRecsys({"generate", "--data-dir", data, "--users", "4000", "--products", "1500", "--days",
                 "30", "--seed", "11", "--bad-rate", "0.01", "--quiet"});
  ASSERT_EQ(r.exit_code, 0) << r.err;

  // gzip at its slowest level keeps each run long enough to be killed in the middle.
  const std::vector<std::string> sink = {
      "sink",          "--once", "--data-dir",          data, "--flush-size", "2000",
      "--compression", "gzip",   "--compression-level", "9",  "--quiet"};
  std::mt19937 rng(20261129);
  std::uniform_int_distribution<int> delay_ms(40, 300);
  int kills = 0, finished_early = 0;
  for (int attempt = 0; kills < 10 && attempt < 40; ++attempt) {
    pid_t pid = SpawnRecsys(sink);
    ASSERT_GT(pid, 0);
    std::this_thread::sleep_for(std::chrono::milliseconds(delay_ms(rng)));
    int status = 0;
    if (waitpid(pid, &status, WNOHANG) == pid) {  // it finished before the kill
      ++finished_early;
      ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
      break;
    }
    ASSERT_EQ(kill(pid, SIGKILL), 0);
    ASSERT_EQ(waitpid(pid, &status, 0), pid);
    ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
    ++kills;
  }
  EXPECT_EQ(kills, 10) << "the sink finished before it could be killed ten times";

  r = RunRecsys(sink);
  ASSERT_EQ(r.exit_code, 0) << r.err;

  // Every record of the log, per topic, against bronze.
  auto log = OpenEmbeddedLog(data + "/log", EmbeddedLogOptions{});
  ASSERT_TRUE(log.ok()) << log.status().ToString();
  auto topics = (*log)->ListTopics();
  ASSERT_TRUE(topics.ok());
  std::unordered_map<std::string, int64_t> expected;  // topic + '\0' + value -> count
  int64_t total = 0;
  FetchedBatch batch;
  for (const TopicInfo& t : *topics) {
    for (const PartitionInfo& p : t.partitions) {
      for (int64_t off = p.start_offset; off < p.end_offset;) {
        ASSERT_TRUE((*log)->Read(t.name, p.partition, off, 8192, 8 << 20, &batch).ok());
        ASSERT_FALSE(batch.records.empty());
        for (const FetchedRecord& rec : batch.records) {
          ++expected[t.name + '\0' + std::string(rec.value)];
          ++total;
        }
        off = batch.records.back().offset + 1;
      }
    }
  }
  ASSERT_GT(total, 400000);
  std::map<std::string, std::string> bronze = ReadBronze(data + "/lake");
  int64_t unexpected = 0;
  for (const auto& [key, content] : bronze) {
    std::string topic = key.substr(14, key.find('/', 14) - 14);
    for (std::string_view line : Lines(content)) {
      auto it = expected.find(topic + '\0' + std::string(line));
      if (it == expected.end() || it->second == 0) {
        ++unexpected;
      } else {
        --it->second;
      }
    }
  }
  int64_t missing = 0;
  for (const auto& [k, n] : expected) missing += n;
  EXPECT_EQ(unexpected, 0) << "events written twice (or never produced)";
  EXPECT_EQ(missing, 0) << "events lost";

  // No temporary file is left visible in the lake.
  for (const auto& e : std::filesystem::recursive_directory_iterator(data + "/lake")) {
    EXPECT_EQ(e.path().filename().string().find(".tmp-"), std::string::npos) << e.path();
  }

  // A sink that never crashed writes the same names with the same bytes.
  std::string clean_lake = dir.path() + "/clean-lake";
  std::vector<std::string> clean = sink;
  clean.insert(clean.end(), {"--lake-dir", clean_lake, "--group", "never-crashed"});
  r = RunRecsys(clean);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::map<std::string, std::string> reference = ReadBronze(clean_lake);
  ASSERT_EQ(reference.size(), bronze.size());
  for (const auto& [key, content] : reference) {
    auto it = bronze.find(key);
    ASSERT_NE(it, bronze.end()) << key;
    EXPECT_TRUE(it->second == content) << key;
  }
}

}  // namespace
}  // namespace recsys::testing
