// The command line as a user meets it: help, settings precedence, errors, summaries.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>

#include <chrono>
#include <thread>

#include "core/files.h"
#include "tests/test_util.h"

namespace recsys::testing {
namespace {

TEST(CliTest, HelpListsEveryCommand) {
  CommandResult r = RunRecsys({"--help"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  for (const char* c :
       {"generate", "ingest", "sink", "log topics", "log retention", "config show", "demo"}) {
    EXPECT_NE(r.out.find(c), std::string::npos) << c << " missing from:\n" << r.out;
  }
}

TEST(CliTest, EveryCommandHasHelpWithItsFlags) {
  CommandResult r = RunRecsys({"generate", "--help"});
  ASSERT_EQ(r.exit_code, 0);
  for (const char* f : {"--users", "--products", "--days", "--seed", "--bad-rate", "--rate"}) {
    EXPECT_NE(r.out.find(f), std::string::npos) << f;
  }
  r = RunRecsys({"sink", "--help"});
  ASSERT_EQ(r.exit_code, 0);
  EXPECT_NE(r.out.find("--flush-size"), std::string::npos);
  EXPECT_NE(r.out.find("--once"), std::string::npos);
  for (const char* c : {"ingest", "demo", "config show", "log topics", "log retention"}) {
    std::string cmd = c;
    std::vector<std::string> args;
    size_t sp = cmd.find(' ');
    args.push_back(cmd.substr(0, sp));
    if (sp != std::string::npos) args.push_back(cmd.substr(sp + 1));
    args.push_back("--help");
    EXPECT_EQ(RunRecsys(args).exit_code, 0) << c;
  }
}

TEST(CliTest, UnknownCommandAndBadFlagsFailWithOneLineReason) {
  CommandResult r = RunRecsys({"frobnicate"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("unknown command 'frobnicate'"), std::string::npos) << r.err;

  r = RunRecsys({"generate", "--users", "many"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("generate.users"), std::string::npos) << r.err;
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;

  r = RunRecsys({"generate", "--bad-rate", "1.5"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("out of range"), std::string::npos) << r.err;

  r = RunRecsys({"sink", "--users", "3"});  // a flag of another command
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("unknown flag --users"), std::string::npos) << r.err;

  TempDir dir;
  r = RunRecsys({"ingest", "--data-dir", dir.path(), "/no/such/file.jsonl"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("/no/such/file.jsonl"), std::string::npos) << r.err;
}

TEST(CliTest, SettingsResolveDefaultsFileEnvironmentFlags) {
  TempDir dir;
  std::string conf = dir.path() + "/recsys.conf";
  ASSERT_TRUE(WriteFileAtomic(conf,
                              "# a comment\n"
                              "[log]\n"
                              "partitions = 5\n"
                              "[generate]\n"
                              "users = 7   # trailing comment\n"
                              "seed = 3\n")
                  .ok());
  auto value_and_source = [](const std::string& out, const std::string& name) {
    size_t at = out.find("\"name\":\"" + name + "\"");
    if (at == std::string::npos) return std::string("missing");
    size_t v = out.find("\"value\":\"", at) + 9;
    size_t s = out.find("\"source\":\"", at) + 10;
    return out.substr(v, out.find('"', v) - v) + "/" + out.substr(s, out.find('"', s) - s);
  };
  CommandResult r = RunRecsys({"config", "show", "--json", "--config", conf, "--users", "11"},
                              {"RECSYS_GENERATE_USERS=9", "RECSYS_GENERATE_SEED=4"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(value_and_source(r.out, "generate.users"), "11/flag");
  EXPECT_EQ(value_and_source(r.out, "generate.seed"), "4/env");
  EXPECT_EQ(value_and_source(r.out, "log.partitions"), "5/file");
  EXPECT_EQ(value_and_source(r.out, "generate.days"), "30/default");

  // RECSYS_CONFIG names the file too; a bad key there is reported with file and line.
  ASSERT_TRUE(WriteFileAtomic(conf, "[log]\nparitions = 5\n").ok());
  r = RunRecsys({"config", "show"}, {"RECSYS_CONFIG=" + conf});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("line 2"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("log.paritions"), std::string::npos) << r.err;
}

TEST(CliTest, IngestKeepsLinesThatAreNotJsonAndSinkFilesThemByArrival) {
  TempDir dir;
  std::string input = dir.path() + "/events.jsonl";
  ASSERT_TRUE(
      WriteFileAtomic(
          input,
          "{\"event_id\":\"e1\",\"event_type\":\"page_view\",\"event_time\":"
          "\"2024-03-01T10:15:00.000Z\",\"schema_version\":1,\"user_id\":\"u1\","
          "\"session_id\":\"s1\",\"page\":\"home\"}\n"
          "this is not json\r\n"
          "\n"
          "{\"event_id\":\"e2\",\"event_type\":\"signup\"\n"
          "{\"event_id\":\"e3\",\"event_type\":\"price_changed\",\"event_time\":"
          "\"2024-03-01T11:00:00.000Z\",\"product_id\":\"p9\",\"attributes\":{\"price\":3}}")
          .ok());
  std::string data = dir.path() + "/data";
  CommandResult r = RunRecsys({"ingest", "--data-dir", data, "--json", input});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("\"lines\":5"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("\"appended\":4"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("\"blank\":1"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("\"not_json\":2"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("\"product-events\":1"), std::string::npos) << r.out;

  r = RunRecsys({"sink", "--once", "--data-dir", data, "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("\"records\":4"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("\"by_arrival_time\":2"), std::string::npos) << r.out;
  auto bronze = ReadBronze(data + "/lake");
  int found = 0;
  for (const auto& [key, content] : bronze) {
    if (content.find("\"e1\"") != std::string::npos) {
      EXPECT_NE(key.find("clickstream/year=2024/month=03/day=01/hour=10/clickstream+"),
                std::string::npos)
          << key;
      ++found;
    }
    if (content.find("\"e3\"") != std::string::npos) {
      EXPECT_NE(key.find("product-events/year=2024/month=03/day=01/hour=11/product-events+"),
                std::string::npos)
          << key;
      ++found;
    }
    if (content.find("this is not json") != std::string::npos) {
      EXPECT_EQ(key.find("year=2024"), std::string::npos) << "filed by arrival time: " << key;
      ++found;
    }
  }
  EXPECT_EQ(found, 3);

  // Topics, offsets and the sink's lag are visible.
  r = RunRecsys({"log", "topics", "--data-dir", data});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("clickstream"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("product-events"), std::string::npos) << r.out;
}

TEST(CliTest, DemoRefusesAFolderItDidNotMake) {
  TempDir dir;
  ASSERT_TRUE(WriteFileAtomic(dir.path() + "/precious.txt", "keep me").ok());
  CommandResult r = RunRecsys({"demo", "--data-dir", dir.path(), "--users", "50"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("did not make"), std::string::npos) << r.err;
  EXPECT_TRUE(FileExists(dir.path() + "/precious.txt"));
}

TEST(CliTest, DemoRunsToBronzeAndCanBeRerun) {
  TempDir dir;
  std::string data = dir.path() + "/demo";
  for (int run = 0; run < 2; ++run) {
    CommandResult r = RunRecsys({"demo", "--data-dir", data, "--users", "300", "--products", "100",
                                 "--days", "5", "--json", "--quiet", "--serve=false"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_NE(r.out.find("\"bronze_files\":"), std::string::npos) << r.out;
  }
  EXPECT_TRUE(FileExists(data + "/ground_truth/user_tastes.csv"));
  auto bronze = ReadBronze(data + "/lake");
  EXPECT_FALSE(bronze.empty());
}

}  // namespace
}  // namespace recsys::testing

namespace recsys::testing {
namespace {

TEST(CliTest, IngestKeepsLinesTooLargeForTheLogAside) {
  TempDir dir;
  std::string input = dir.path() + "/clickstream.jsonl";
  std::string big = "{\"event_id\":\"big\",\"pad\":\"" + std::string(3000, 'x') + "\"}";
  ASSERT_TRUE(WriteFileAtomic(input, "{\"event_id\":\"small\"}\n" + big + "\n").ok());
  std::string data = dir.path() + "/data";
  CommandResult r =
      RunRecsys({"ingest", "--data-dir", data, "--max-record-bytes", "1024", "--json", input});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("\"appended\":1"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("\"refused_oversized\":1"), std::string::npos) << r.out;
  EXPECT_NE(r.err.find("line 2"), std::string::npos) << r.err;
  size_t at = r.out.find("\"refused_file\":\"");
  ASSERT_NE(at, std::string::npos) << r.out;
  at += 16;
  auto kept = ReadFile(r.out.substr(at, r.out.find('"', at) - at));
  ASSERT_TRUE(kept.ok()) << kept.status().ToString();
  EXPECT_EQ(*kept, big + "\n");
}

TEST(CliTest, SinkFollowsTheLogUntilStopped) {
  TempDir dir;
  std::string data = dir.path() + "/data";
  std::string input = dir.path() + "/user-events.jsonl";
  ASSERT_TRUE(WriteFileAtomic(input,
                              "{\"event_id\":\"f1\",\"event_type\":\"login\",\"event_time\":"
                              "\"2024-05-05T05:05:05.000Z\",\"user_id\":\"u1\"}\n")
                  .ok());
  ASSERT_EQ(RunRecsys({"ingest", "--data-dir", data, input}).exit_code, 0);
  pid_t pid = SpawnRecsys({"sink", "--data-dir", data, "--rotate-schedule-interval-ms", "100",
                           "--poll-interval-ms", "20"});
  ASSERT_GT(pid, 0);
  auto wait_for_bronze = [&](const std::string& needle) {
    for (int i = 0; i < 200; ++i) {  // up to 20 s
      for (const auto& [key, content] : ReadBronze(data + "/lake")) {
        if (content.find(needle) != std::string::npos) return true;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    return false;
  };
  EXPECT_TRUE(wait_for_bronze("\"f1\""));
  // Events that arrive while it follows are written too.
  ASSERT_TRUE(WriteFileAtomic(input,
                              "{\"event_id\":\"f2\",\"event_type\":\"login\",\"event_time\":"
                              "\"2024-05-05T06:05:05.000Z\",\"user_id\":\"u2\"}\n")
                  .ok());
  ASSERT_EQ(RunRecsys({"ingest", "--data-dir", data, input}).exit_code, 0);
  EXPECT_TRUE(wait_for_bronze("\"f2\""));
  ASSERT_EQ(kill(pid, SIGTERM), 0);
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
}

}  // namespace
}  // namespace recsys::testing
