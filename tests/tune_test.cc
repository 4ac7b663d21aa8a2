// recsys tune through the binary: the best spec of a search on a small ratings file, saved where
// `recsys evaluate` finds it.
#include <gtest/gtest.h>
#include <simdjson.h>

#include <string>

#include "core/files.h"
#include "tests/test_util.h"

namespace recsys::testing {
namespace {

// 90 users x 30 movies in three thirds: each user rated 8 movies of its own third.
std::string ThirdsRatings() {
  std::string csv = "userId,movieId,rating,timestamp\n";
  uint64_t x = 3;
  for (int u = 0; u < 90; ++u) {
    const int base = (u % 3) * 10;
    std::vector<bool> rated(10, false);
    for (int n = 0; n < 8;) {
      x = x * 6364136223846793005ULL + 1442695040888963407ULL;
      const int j = static_cast<int>((x >> 33) % 10);
      if (rated[static_cast<size_t>(j)]) continue;
      rated[static_cast<size_t>(j)] = true;
      ++n;
      csv += std::to_string(u + 1) + "," + std::to_string(base + j + 1) + ",4.0," +
             std::to_string(964980000 + u * 100 + n) + "\n";
    }
  }
  return csv;
}

std::string JsonString(const std::string& json, const char* key) {
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  std::string_view v;
  if (parser.parse(json).get(doc) || doc[key].get_string().get(v)) return "";
  return std::string(v);
}

TEST(TuneCommandTest, PrintsTheBestSpecAndEvaluateUsesIt) {
  TempDir dir;
  const std::string ratings = dir.path() + "/ratings.csv";
  const std::string data = dir.path() + "/data";
  ASSERT_TRUE(WriteFileAtomic(ratings, ThirdsRatings()).ok());
  CommandResult r = RunRecsys({"tune", "--model", "itemknn", "--trials", "4", "--data-dir", data,
                               "--source", "movielens:" + ratings, "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::string best = JsonString(r.out, "best_spec");
  ASSERT_EQ(best.rfind("itemknn:", 0), 0u) << r.out;
  EXPECT_EQ(JsonString(r.out, "stopped_by"), "trials") << r.out;
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  ASSERT_FALSE(parser.parse(r.out).get(doc));
  simdjson::dom::array trials;
  ASSERT_FALSE(doc["trials"].get_array().get(trials));
  EXPECT_EQ(trials.size(), 4u);
  auto saved = ReadFile(data + "/tuned/itemknn.txt");
  ASSERT_TRUE(saved.ok());
  EXPECT_EQ(*saved, best + "\n");

  // The table names the same best spec; the same seed gives the same search.
  CommandResult table = RunRecsys({"tune", "--model", "itemknn", "--trials", "4", "--data-dir",
                                   data, "--source", "movielens:" + ratings, "--quiet"});
  ASSERT_EQ(table.exit_code, 0) << table.err;
  EXPECT_NE(table.out.find("best: " + best), std::string::npos) << table.out;
  EXPECT_NE(table.out.find("(default)"), std::string::npos) << table.out;

  // evaluate without --models takes the tuned spec; with --models, what it is given.
  CommandResult eval =
      RunRecsys({"evaluate", "--data-dir", data, "--source", "movielens:" + ratings, "--quiet"});
  ASSERT_EQ(eval.exit_code, 0) << eval.err;
  EXPECT_NE(eval.out.find(best), std::string::npos) << eval.out;
  eval = RunRecsys({"evaluate", "--data-dir", data, "--source", "movielens:" + ratings, "--models",
                    "itemknn:neighbors=7", "--quiet"});
  ASSERT_EQ(eval.exit_code, 0) << eval.err;
  EXPECT_EQ(eval.out.find(best), std::string::npos) << eval.out;

  // A spec saved by an earlier tune, whatever it is, is what evaluate fits.
  ASSERT_TRUE(WriteFileAtomic(data + "/tuned/ease.txt", "ease:lambda=37\n").ok());
  eval = RunRecsys({"evaluate", "--data-dir", data, "--source", "movielens:" + ratings, "--json"});
  ASSERT_EQ(eval.exit_code, 0) << eval.err;
  EXPECT_NE(eval.out.find("\"spec\":\"ease:lambda=37"), std::string::npos) << eval.out;
  EXPECT_NE(eval.out.find("\"spec\":\"" + best + "\""), std::string::npos) << eval.out;
}

TEST(TuneCommandTest, BadInputIsNamed) {
  TempDir dir;
  const std::string ratings = dir.path() + "/ratings.csv";
  ASSERT_TRUE(WriteFileAtomic(ratings, ThirdsRatings()).ok());
  CommandResult r =
      RunRecsys({"tune", "--data-dir", dir.path(), "--source", "movielens:" + ratings});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("--model"), std::string::npos) << r.err;
  r = RunRecsys(
      {"tune", "--model", "svd", "--data-dir", dir.path(), "--source", "movielens:" + ratings});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("svd"), std::string::npos) << r.err;
  r = RunRecsys({"tune", "--model", "ease", "--metric", "auc", "--data-dir", dir.path(), "--source",
                 "movielens:" + ratings});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("auc"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace recsys::testing
