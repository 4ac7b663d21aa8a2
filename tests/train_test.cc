// recsys train, models list and recommend through the binary, on a small generated shop taken
// through the pipeline to gold.
#include <gtest/gtest.h>
#include <simdjson.h>

#include <set>
#include <string>

#include "core/files.h"
#include "tests/test_util.h"

namespace recsys::testing {
namespace {

class TrainTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new TempDir;
    data_ = dir_->path() + "/data";
    CommandResult r = RunRecsys({"generate", "--data-dir", data_, "--users", "400", "--products",
                                 "100", "--days", "8", "--quiet"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    for (std::vector<std::string> step :
         {std::vector<std::string>{"sink", "--once"}, std::vector<std::string>{"process", "silver"},
          std::vector<std::string>{"process", "gold"}}) {
      step.insert(step.end(), {"--data-dir", data_, "--quiet"});
      r = RunRecsys(step);
      ASSERT_EQ(r.exit_code, 0) << step[0] << ": " << r.err;
    }
  }
  static void TearDownTestSuite() {
    delete dir_;
    dir_ = nullptr;
  }
  static TempDir* dir_;
  static std::string data_;
};

TempDir* TrainTest::dir_ = nullptr;
std::string TrainTest::data_;

simdjson::dom::element Parse(simdjson::dom::parser& parser, const std::string& json) {
  simdjson::dom::element doc;
  EXPECT_FALSE(parser.parse(json).get(doc)) << json;
  return doc;
}

std::string Str(simdjson::dom::element e) {
  std::string_view s;
  return e.get_string().get(s) ? std::string() : std::string(s);
}

TEST_F(TrainTest, TrainListRecommend) {
  // A spec that cannot be built is reported and skipped; the others are published.
  CommandResult r = RunRecsys(
      {"train", "--data-dir", data_, "--models", "popularity;itemknn;nosuchmodel", "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  simdjson::dom::parser parser;
  simdjson::dom::element doc = Parse(parser, r.out);
  EXPECT_EQ(int64_t(doc["trained"]), 2) << r.out;
  EXPECT_EQ(int64_t(doc["failed"]), 1) << r.out;
  EXPECT_EQ(Str(doc["metric"]), "ndcg");
  EXPECT_FALSE(Str(doc["data_snapshot"]).empty());
  simdjson::dom::array models = doc["models"];
  ASSERT_EQ(models.size(), 3u);
  for (simdjson::dom::element m : models) {
    const std::string name = Str(m["name"]);
    if (name == "nosuchmodel") {
      EXPECT_NE(Str(m["error"]).find("nosuchmodel"), std::string::npos) << r.out;
      continue;
    }
    EXPECT_EQ(Str(m["version"]), "v0001") << name;
    EXPECT_TRUE(bool(m["current"])) << name;
    EXPECT_GT(double(m["metrics"]["ndcg"]), 0) << name;
  }
  const std::string models_dir = data_ + "/lake/models";
  EXPECT_EQ(*ReadFile(models_dir + "/itemknn/CURRENT"), "v0001\n");
  for (const char* f : {"manifest.json", "model.txt", "users.txt", "items.txt"}) {
    EXPECT_TRUE(FileExists(models_dir + "/itemknn/v0001/" + f)) << f;
  }

  // Training popularity again gives an equal version, which becomes current; the table says so.
  r = RunRecsys({"train", "--data-dir", data_, "--models", "popularity", "--quiet"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("v0002"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("yes (was v0001"), std::string::npos) << r.out;

  r = RunRecsys({"models", "list", "--data-dir", data_, "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  doc = Parse(parser, r.out);
  std::set<std::string> names;
  for (simdjson::dom::element m : simdjson::dom::array(doc["models"])) {
    const std::string name = Str(m["name"]);
    names.insert(name);
    simdjson::dom::array versions = m["versions"];
    if (name == "popularity") {
      EXPECT_EQ(Str(m["current"]), "v0002");
      ASSERT_EQ(versions.size(), 2u);
      EXPECT_FALSE(bool(versions.at(0)["current"]));
      EXPECT_TRUE(bool(versions.at(1)["current"]));
      EXPECT_EQ(Str(versions.at(1)["spec"]), "popularity:mode=count");
      EXPECT_FALSE(Str(versions.at(1)["trained_at"]).empty());
    }
  }
  EXPECT_EQ(names, (std::set<std::string>{"itemknn", "popularity"})) << r.out;
  r = RunRecsys({"models", "list", "--data-dir", data_});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("popularity (current v0002)"), std::string::npos) << r.out;

  // A real user: the first of the model's id map.
  auto users = ReadFile(models_dir + "/itemknn/v0001/users.txt");
  ASSERT_TRUE(users.ok());
  const std::string user = users->substr(0, users->find('\n'));
  r = RunRecsys({"sql", "--data-dir", data_, "--format", "csv",
                 "select product_id from interactions where user_id = '" + user + "'"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::set<std::string> history;
  for (std::string_view line : Lines(r.out)) history.insert(std::string(line));
  history.erase("product_id");
  ASSERT_FALSE(history.empty());

  r = RunRecsys({"recommend", "--data-dir", data_, "--user", user, "--model", "itemknn", "--k", "5",
                 "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  doc = Parse(parser, r.out);
  EXPECT_EQ(Str(doc["model"]), "itemknn");
  EXPECT_EQ(Str(doc["version"]), "v0001");
  EXPECT_TRUE(bool(doc["known_user"]));
  EXPECT_TRUE(doc["fallback"].is_null()) << r.out;
  simdjson::dom::array recs = doc["recommendations"];
  EXPECT_EQ(recs.size(), 5u) << r.out;
  double last = 1e30;
  for (simdjson::dom::element rec : recs) {
    const std::string item = Str(rec["item"]);
    EXPECT_EQ(history.count(item), 0u) << item << " is in the history";
    EXPECT_LE(double(rec["score"]), last);
    last = double(rec["score"]);
    EXPECT_EQ(Str(rec["reason"]).rfind("because you viewed ", 0), 0u) << r.out;
    EXPECT_EQ(history.count(Str(rec["because_item"])), 1u) << r.out;
    EXPECT_FALSE(Str(rec["title"]).empty());
  }

  // Without --model: the best current model; as text, with titles and reasons.
  r = RunRecsys({"recommend", "--data-dir", data_, "--user", user});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("top 10 for user " + user), std::string::npos) << r.out;
  EXPECT_EQ(Lines(r.out).size(), 11u) << r.out;

  // An unknown user gets popular items and is told so.
  r = RunRecsys({"recommend", "--data-dir", data_, "--user", "nobody-at-all", "--k", "3"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("user nobody-at-all is not known"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("popular overall"), std::string::npos) << r.out;

  r = RunRecsys({"recommend", "--data-dir", data_});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("--user"), std::string::npos) << r.err;
  r = RunRecsys({"recommend", "--data-dir", data_, "--user", user, "--model", "ease"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("ease"), std::string::npos) << r.err;
}

TEST(TrainCommandTest, DemoPublishesModelsAndPrintsARecommendLineThatRuns) {
  TempDir dir;
  const std::string data = dir.path() + "/demo";
  CommandResult r = RunRecsys(
      {"demo", "--data-dir", data, "--users", "200", "--products", "60", "--days", "4", "--quiet",
       "--serve=false"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::string prefix = "  recsys recommend --data-dir " + data + " --user ";
  size_t at = r.out.find(prefix);
  ASSERT_NE(at, std::string::npos) << r.out;
  at += prefix.size();
  const std::string user = r.out.substr(at, r.out.find('\n', at) - at);
  ASSERT_FALSE(user.empty());
  r = RunRecsys({"recommend", "--data-dir", data, "--user", user});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("top 10 for user " + user), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("because you viewed"), std::string::npos) << r.out;
}

TEST(TrainCommandTest, WithoutGoldTheMessageSaysWhatToRun) {
  TempDir dir;
  CommandResult r = RunRecsys({"train", "--data-dir", dir.path()});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("process gold"), std::string::npos) << r.err;
  r = RunRecsys({"models", "list", "--data-dir", dir.path()});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("no models"), std::string::npos) << r.out;
}

}  // namespace
}  // namespace recsys::testing
