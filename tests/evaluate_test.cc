// recsys evaluate through the binary: a ratings file with a known structure, and a generated
// shop taken through the pipeline to gold.
#include <gtest/gtest.h>
#include <simdjson.h>

#include <random>
#include <string>

#include "core/files.h"
#include "tests/test_util.h"

namespace recsys::testing {
namespace {

// 120 users x 40 movies in two halves: each user rated 12 random movies of its own half (4 or 5
// stars), so what a user will rate next is predictable from what it rated, not from popularity.
std::string TwoHalvesRatings() {
  std::string csv = "userId,movieId,rating,timestamp\n";
  std::mt19937 rng(1);
  for (int u = 0; u < 120; ++u) {
    const int base = u < 60 ? 0 : 20;
    std::vector<int> half(20);
    for (int j = 0; j < 20; ++j) half[static_cast<size_t>(j)] = base + j;
    for (int j = 0; j < 12; ++j) {
      std::swap(half[static_cast<size_t>(j)],
                half[static_cast<size_t>(j + static_cast<int>(rng() % (20 - j)))]);
      csv += std::to_string(u + 1) + "," + std::to_string(half[static_cast<size_t>(j)] + 1) + "," +
             (j % 2 ? "4.0" : "5.0") + "," + std::to_string(964980000 + u * 100 + j) + "\n";
    }
  }
  return csv;
}

struct ModelRow {
  std::string model;
  double precision = -1, recall = -1, ndcg = -1, map = -1, hit_rate = -1, coverage = -1;
};

std::vector<ModelRow> Models(const std::string& json) {
  std::vector<ModelRow> rows;
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  if (parser.parse(json).get(doc)) return rows;
  simdjson::dom::array models;
  if (doc["models"].get_array().get(models)) return rows;
  for (simdjson::dom::element m : models) {
    ModelRow row;
    std::string_view name;
    if (!m["model"].get_string().get(name)) row.model = std::string(name);
    auto number = [&](const char* key) {
      double v = -1;
      return m[key].get_double().get(v) ? -1.0 : v;
    };
    row.precision = number("precision");
    row.recall = number("recall");
    row.ndcg = number("ndcg");
    row.map = number("map");
    row.hit_rate = number("hit_rate");
    row.coverage = number("coverage");
    rows.push_back(row);
  }
  return rows;
}

TEST(EvaluateCommandTest, MovieLensFileScoresEveryModelBesidePopularity) {
  TempDir dir;
  const std::string ratings = dir.path() + "/ratings.csv";
  ASSERT_TRUE(WriteFileAtomic(ratings, TwoHalvesRatings()).ok());
  CommandResult r = RunRecsys({"evaluate", "--data-dir", dir.path() + "/data", "--source",
                               "movielens:" + ratings, "--models", "itemknn; ease", "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::vector<ModelRow> rows = Models(r.out);
  ASSERT_EQ(rows.size(), 3u) << r.out;
  EXPECT_EQ(rows[0].model, "popularity");
  EXPECT_EQ(rows[1].model, "itemknn");
  EXPECT_EQ(rows[2].model, "ease");
  for (const ModelRow& row : rows) {
    for (double v : {row.precision, row.recall, row.ndcg, row.map, row.hit_rate, row.coverage}) {
      EXPECT_GE(v, 0) << row.model;
      EXPECT_LE(v, 1) << row.model;
    }
  }
  // Knowing a user's half beats knowing what is popular.
  EXPECT_GT(rows[1].ndcg, rows[0].ndcg + 0.1) << r.out;
  EXPECT_GT(rows[2].ndcg, rows[0].ndcg + 0.1) << r.out;

  // The same run as a table; the same seed gives the same figures.
  CommandResult table =
      RunRecsys({"evaluate", "--data-dir", dir.path() + "/data", "--source",
                 "movielens:" + dir.path(), "--models", "itemknn;ease", "--quiet"});
  ASSERT_EQ(table.exit_code, 0) << table.err;
  EXPECT_NE(table.out.find("ndcg@10"), std::string::npos) << table.out;
  EXPECT_NE(table.out.find("itemknn"), std::string::npos);
  CommandResult again = RunRecsys({"evaluate", "--data-dir", dir.path() + "/data", "--source",
                                   "movielens:" + ratings, "--models", "itemknn; ease", "--json"});
  ASSERT_EQ(again.exit_code, 0);
  std::vector<ModelRow> rows2 = Models(again.out);
  ASSERT_EQ(rows2.size(), rows.size());
  for (size_t i = 0; i < rows.size(); ++i) EXPECT_EQ(rows2[i].ndcg, rows[i].ndcg);
}

TEST(EvaluateCommandTest, RepeatedModelFlagsAndShortK) {
  TempDir dir;
  const std::string ratings = dir.path() + "/ratings.csv";
  ASSERT_TRUE(WriteFileAtomic(ratings, TwoHalvesRatings()).ok());
  CommandResult r = RunRecsys({"evaluate", "--data-dir", dir.path() + "/data", "--source",
                               "movielens:" + ratings, "--model", "itemknn:neighbors=20",
                               "--model", "ease", "-k", "5", "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::vector<ModelRow> rows = Models(r.out);
  ASSERT_EQ(rows.size(), 3u) << r.out;
  EXPECT_EQ(rows[1].model, "itemknn");
  EXPECT_EQ(rows[2].model, "ease");
  EXPECT_NE(r.out.find("\"k\":5"), std::string::npos) << r.out;
}

TEST(EvaluateCommandTest, BadInputIsNamed) {
  TempDir dir;
  const std::string ratings = dir.path() + "/ratings.csv";
  ASSERT_TRUE(WriteFileAtomic(ratings, TwoHalvesRatings()).ok());
  CommandResult r = RunRecsys({"evaluate", "--data-dir", dir.path(), "--source",
                               "movielens:" + ratings, "--split", "shuffle:3"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("shuffle:3"), std::string::npos) << r.err;
  r = RunRecsys({"evaluate", "--data-dir", dir.path(), "--source", "movielens:" + ratings,
                 "--models", "als:factors=-3"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("factors"), std::string::npos) << r.err;
  r = RunRecsys({"evaluate", "--data-dir", dir.path() + "/empty"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("process gold"), std::string::npos) << r.err;
}

TEST(EvaluateCommandTest, GoldOfAGeneratedShopWithATimeSplit) {
  TempDir dir;
  const std::string data = dir.path() + "/data";
  CommandResult r = RunRecsys({"generate", "--data-dir", data, "--users", "500", "--products",
                               "120", "--days", "10", "--quiet"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  for (std::vector<std::string> step :
       {std::vector<std::string>{"sink", "--once"}, std::vector<std::string>{"process", "silver"},
        std::vector<std::string>{"process", "gold"}}) {
    step.insert(step.end(), {"--data-dir", data, "--quiet"});
    r = RunRecsys(step);
    ASSERT_EQ(r.exit_code, 0) << step[0] << ": " << r.err;
  }
  // Generated days start 2024-01-01: the last three are held out.
  r = RunRecsys({"evaluate", "--data-dir", data, "--split", "time:2024-01-08", "--models",
                 "itemknn", "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::vector<ModelRow> rows = Models(r.out);
  ASSERT_EQ(rows.size(), 2u) << r.out;
  EXPECT_EQ(rows[0].model, "popularity");
  EXPECT_GT(rows[0].hit_rate, 0) << r.out;
  EXPECT_GT(rows[1].hit_rate, 0) << r.out;
  EXPECT_NE(r.out.find("\"split\":\"time:2024-01-08\""), std::string::npos) << r.out;
}

}  // namespace
}  // namespace recsys::testing
