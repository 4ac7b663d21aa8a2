// bronze -> silver -> gold through the recsys binary, and SQL over the result.
#include <gtest/gtest.h>

#include "tests/test_util.h"

namespace recsys::testing {
namespace {

// A JSON number field of a summary: "key":123 -> 123 (the first occurrence after `after`).
int64_t Field(const std::string& json, const std::string& key, const std::string& after = "") {
  size_t from = after.empty() ? 0 : json.find("\"" + after + "\"");
  if (from == std::string::npos) return -1;
  size_t at = json.find("\"" + key + "\":", from);
  if (at == std::string::npos) return -1;
  return std::stoll(json.substr(at + key.size() + 3));
}

class ProcessTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new TempDir();
    data_ = dir_->path() + "/data";
    CommandResult r = RunRecsys({"generate", "--data-dir", data_, "--users", "400", "--products",
                                 "150", "--days", "10", "--bad-rate", "0.05", "--quiet"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    r = RunRecsys({"sink", "--once", "--data-dir", data_, "--quiet", "--compression", "gzip"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
  }
  static void TearDownTestSuite() { delete dir_; }
  static TempDir* dir_;
  static std::string data_;
};
TempDir* ProcessTest::dir_ = nullptr;
std::string ProcessTest::data_;

TEST_F(ProcessTest, SilverAccountsForEveryRecordThenGoldAnswersSql) {
  CommandResult r = RunRecsys({"process", "silver", "--data-dir", data_, "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  int64_t read = Field(r.out, "read"), written = Field(r.out, "written"),
          quarantined = Field(r.out, "quarantined"), duplicates = Field(r.out, "duplicates");
  EXPECT_GT(read, 10000) << r.out;
  EXPECT_GT(quarantined, 0) << r.out;
  EXPECT_GT(duplicates, 0) << r.out;
  EXPECT_EQ(read, written + quarantined + duplicates) << r.out;

  // Nothing new: a second run reads nothing and changes nothing.
  r = RunRecsys({"process", "silver", "--data-dir", data_, "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(Field(r.out, "read"), 0) << r.out;

  r = RunRecsys({"process", "gold", "--data-dir", data_, "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("\"unchanged\":false"), std::string::npos) << r.out;
  EXPECT_GT(Field(r.out, "user_features"), 0) << r.out;
  EXPECT_GT(Field(r.out, "interactions"), 0) << r.out;
  r = RunRecsys({"process", "gold", "--data-dir", data_, "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("\"unchanged\":true"), std::string::npos) << r.out;

  r = RunRecsys({"sql", "--data-dir", data_,
                 "select segment, count(*) as users from user_features group by 1 order by 1"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("segment"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("rows)"), std::string::npos) << r.out;

  // Quarantine is a table too, and its count matches the report.
  r = RunRecsys(
      {"sql", "--data-dir", data_, "--format", "csv", "select count(*) as n from quarantine"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "n\n" + std::to_string(quarantined) + "\n");

  r = RunRecsys(
      {"sql", "--data-dir", data_, "--json", "select 1 as one, 'x' as s, [1, 2] as l, null as n"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "[{\"one\":1,\"s\":\"x\",\"l\":\"[1, 2]\",\"n\":null}]\n");
}

TEST_F(ProcessTest, BadSqlFailsWithTheReason) {
  CommandResult r = RunRecsys({"sql", "--data-dir", data_, "select * from no_such_table"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("no_such_table"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace recsys::testing
