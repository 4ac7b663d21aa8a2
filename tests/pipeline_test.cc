// End to end: a million generated events, bad ones included, go through ingest and the sink;
// per topic, bronze holds exactly the lines produced, in the Kafka Connect layout.
#include <gtest/gtest.h>

#include <regex>
#include <unordered_map>

#include "core/clock.h"
#include "core/event.h"
#include "core/files.h"
#include "tests/test_util.h"

namespace recsys::testing {
namespace {

TEST(PipelineTest, MillionEventsReachBronzeExactlyOncePerTopic) {
  TempDir dir;
  std::string in = dir.path() + "/in", data = dir.path() + "/data";
  CommandResult r =
      RunRecsys({"generate", "--out", in, "--data-dir", data, "--users", "8500", "--products",
                 "1500", "--days", "30", "--seed", "7", "--bad-rate", "0.01", "--quiet"});
  ASSERT_EQ(r.exit_code, 0) << r.err;

  std::vector<std::string> inputs;
  std::map<std::string, std::string> produced;  // topic -> file content
  size_t total = 0;
  for (Topic t : kAllTopics) {
    std::string topic(TopicName(t));
    inputs.push_back(in + "/" + topic + ".jsonl");
    auto content = ReadFile(inputs.back());
    ASSERT_TRUE(content.ok()) << content.status().ToString();
    produced[topic] = std::move(*content);
    total += Lines(produced[topic]).size();
  }
  ASSERT_GE(total, 1000000u) << "the generator should make at least a million events here";

  std::vector<std::string> ingest = {"ingest", "--data-dir", data, "--quiet", "--json"};
  ingest.insert(ingest.end(), inputs.begin(), inputs.end());
  r = RunRecsys(ingest);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("\"appended\":" + std::to_string(total)), std::string::npos) << r.out;

  r = RunRecsys(
      {"sink", "--once", "--data-dir", data, "--compression", "zstd", "--quiet", "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("\"records\":" + std::to_string(total)), std::string::npos) << r.out;

  std::map<std::string, std::string> bronze = ReadBronze(data + "/lake");
  ASSERT_FALSE(bronze.empty());
  const std::regex name(
      R"(bronze/topics/([a-z-]+)/year=(\d{4})/month=(\d\d)/day=(\d\d)/hour=(\d\d)/)"
      R"(([a-z-]+)\+(\d+)\+(\d{10})\.json\.zst)");
  std::map<std::string, std::unordered_map<std::string_view, int64_t>> expected;
  for (const auto& [topic, content] : produced) {
    for (std::string_view line : Lines(content)) ++expected[topic][line];
  }
  int64_t misplaced = 0, unexpected = 0, seen = 0;
  for (const auto& [key, content] : bronze) {
    std::smatch m;
    ASSERT_TRUE(std::regex_match(key, m, name)) << key;
    ASSERT_EQ(m[1], m[6]) << key;
    auto& counts = expected[m[1]];
    for (std::string_view line : Lines(content)) {
      ++seen;
      auto it = counts.find(line);
      if (it == counts.end() || it->second == 0) {
        ++unexpected;
        continue;
      }
      --it->second;
      if (auto t = ExtractEventTime(line)) {
        CivilTime c = ToCivil(*t);
        if (std::stoi(m[2]) != c.year || std::stoi(m[3]) != c.month || std::stoi(m[4]) != c.day ||
            std::stoi(m[5]) != c.hour) {
          ++misplaced;
        }
      }
    }
  }
  EXPECT_EQ(unexpected, 0) << "lines in bronze that were not produced, or produced fewer times";
  EXPECT_EQ(misplaced, 0) << "records filed under another hour than their event_time";
  EXPECT_EQ(seen, static_cast<int64_t>(total));
  int64_t missing = 0;
  for (const auto& [topic, counts] : expected) {
    for (const auto& [line, n] : counts) missing += n;
  }
  EXPECT_EQ(missing, 0) << "produced lines that never reached bronze";

  // A second sink run finds nothing new: offsets were committed.
  r = RunRecsys(
      {"sink", "--once", "--data-dir", data, "--compression", "zstd", "--quiet", "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("\"records\":0"), std::string::npos) << r.out;
  EXPECT_EQ(ReadBronze(data + "/lake").size(), bronze.size());
}

}  // namespace
}  // namespace recsys::testing
