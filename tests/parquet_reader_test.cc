// The silver and gold Parquet files read back by an independent reader: hyparquet, a pure
// JavaScript implementation (tests/parquet_reader/read.mjs), must see the same row counts and
// values that DuckDB (through `recsys sql`) sees in the same files. Node and the npm packages
// are installed by scripts/setup (`npm ci --prefix tests/parquet_reader`); the test fails, not
// skips, when they are missing.
#include <gtest/gtest.h>
#include <simdjson.h>
#include <stdio.h>
#include <sys/wait.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include "core/clock.h"
#include "core/files.h"
#include "tests/test_util.h"

namespace recsys::testing {
namespace {

namespace fs = std::filesystem;

// The repository root: this file is <root>/tests/parquet_reader_test.cc (CMake compiles it by
// its absolute path).
std::string SourceRoot() { return fs::path(__FILE__).parent_path().parent_path().string(); }

std::string ShellQuote(const std::string& s) {
  std::string q = "'";
  for (char c : s) {
    if (c == '\'') {
      q.append("'\\''");
    } else {
      q.push_back(c);
    }
  }
  q.push_back('\'');
  return q;
}

// Runs a shell command line; stdout in *out, stderr in *err. Returns the exit code.
int Shell(const std::string& command, std::string* out, std::string* err = nullptr) {
  TempDir tmp;
  std::string err_path = tmp.path() + "/err";
  std::string line = command;
  line.append(" 2>").append(ShellQuote(err_path));
  FILE* p = ::popen(line.c_str(), "r");
  if (p == nullptr) return -1;
  out->clear();
  char buf[65536];
  size_t n;
  while ((n = fread(buf, 1, sizeof(buf), p)) > 0) out->append(buf, n);
  int status = ::pclose(p);
  if (err != nullptr) {
    auto e = ReadFile(err_path);
    *err = e.ok() ? *e : "";
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

// The first file, in name order, with the extension under dir (at any depth).
std::string FirstFile(const std::string& dir, const std::string& ext = ".parquet") {
  std::vector<std::string> files;
  std::error_code ec;
  for (fs::recursive_directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    if (it->is_regular_file() && it->path().extension() == ext) {
      files.push_back(it->path().string());
    }
  }
  std::sort(files.begin(), files.end());
  return files.empty() ? "" : files.front();
}

// How a column's values are compared: as text, as numbers, as instants (hyparquet gives
// "2024-01-01T00:00:00.000Z", DuckDB epoch_ms() of the TIMESTAMP), as lists (hyparquet gives
// an array, `recsys sql` the list cast to VARCHAR: "[a, b]").
enum class Kind { kText, kNumber, kTime, kList };
struct Column {
  std::string name;
  Kind kind;
};

// A value of either reader as text; numbers as doubles to be compared with a tolerance.
struct Value {
  bool null = false;
  bool number = false;
  double d = 0;
  std::string text;
};

Value FromElement(simdjson::dom::element e, Kind kind) {
  Value v;
  if (e.is_null()) {
    v.null = true;
    return v;
  }
  if (kind == Kind::kTime && e.is_string()) {
    std::optional<int64_t> ms = ParseRfc3339(std::string_view(e.get_string().value()));
    v.number = ms.has_value();
    v.d = ms ? static_cast<double>(*ms) : 0;
    if (!ms) v.text = std::string(e.get_string().value());
    return v;
  }
  if (kind == Kind::kList && e.is_array()) {
    v.text = "[";
    bool first = true;
    for (simdjson::dom::element x : e.get_array()) {
      v.text += first ? "" : ", ";
      v.text += x.is_string() ? std::string(x.get_string().value()) : simdjson::to_string(x);
      first = false;
    }
    v.text += "]";
    return v;
  }
  if (e.is_number()) {
    v.number = true;
    v.d = e.get_double().value();
    return v;
  }
  if (e.is_string()) {
    v.text = std::string(e.get_string().value());
    return v;
  }
  v.text = simdjson::to_string(e);
  return v;
}

std::string Show(const Value& v) {
  if (v.null) return "NULL";
  if (v.number) {
    char buf[32];
    std::snprintf(buf, sizeof(buf), "%.17g", v.d);
    return buf;
  }
  return "\"" + v.text + "\"";
}

// Instants agree to the millisecond; other numbers to 12 significant digits (both readers
// print doubles in full, so they are normally identical).
bool Same(const Value& a, const Value& b, Kind kind) {
  if (a.null || b.null) return a.null == b.null;
  if (a.number && b.number) {
    if (kind == Kind::kTime) return a.d == b.d;
    return a.d == b.d || std::fabs(a.d - b.d) <= 1e-12 * std::max(std::fabs(a.d), std::fabs(b.d));
  }
  return a.number == b.number && a.text == b.text;
}

class ParquetReaderTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new TempDir();
    data_ = dir_->path() + "/data";
    lake_ = data_ + "/lake";
    setup_error_ = new std::string();
    auto run = [](const std::vector<std::string>& args) {
      CommandResult r = RunRecsys(args);
      if (r.exit_code != 0 && setup_error_->empty()) {
        *setup_error_ =
            "recsys " + args[0] + " failed (" + std::to_string(r.exit_code) + "): " + r.err;
      }
    };
    run({"generate", "--data-dir", data_, "--users", "300", "--products", "120", "--days", "4",
         "--bad-rate", "0.02", "--quiet"});
    run({"sink", "--once", "--data-dir", data_, "--quiet"});
    run({"process", "silver", "--data-dir", data_, "--quiet"});
    run({"process", "gold", "--data-dir", data_, "--quiet"});
  }
  static void TearDownTestSuite() {
    delete dir_;
    delete setup_error_;
  }

  void SetUp() override { ASSERT_TRUE(setup_error_->empty()) << *setup_error_; }

  // The file of a gold table in the current snapshot (gold/_current.json).
  static std::string GoldFile(const std::string& table) {
    auto text = ReadFile(lake_ + "/gold/_current.json");
    if (!text.ok()) return "";
    simdjson::dom::parser parser;
    simdjson::dom::element doc;
    std::string_view snapshot;
    if (parser.parse(*text).get(doc) || doc["snapshot"].get_string().get(snapshot)) return "";
    return FirstFile(lake_ + "/gold/" + table + "/snapshot=" + std::string(snapshot));
  }

  // hyparquet's view of the files: node read.mjs --rows N FILE... (one JSON object per file).
  static std::string ReadWithHyparquet(const std::vector<std::string>& files, int64_t rows = 5) {
    std::string node;
    EXPECT_EQ(Shell("command -v node", &node), 0)
        << "node is not installed (scripts/setup installs Node.js)";
    node.erase(node.find_last_not_of(" \n") + 1);
    const std::string pkg = SourceRoot() + "/tests/parquet_reader";
    EXPECT_TRUE(FileExists(pkg + "/node_modules/hyparquet/package.json") &&
                FileExists(pkg + "/node_modules/hyparquet-compressors/package.json"))
        << "hyparquet is not installed: run `npm ci --prefix tests/parquet_reader` "
           "(scripts/setup does)";
    std::string command = ShellQuote(node);
    command.append(" ").append(ShellQuote(pkg + "/read.mjs"));
    command.append(" --rows ").append(std::to_string(rows));
    for (const std::string& f : files) command.append(" ").append(ShellQuote(f));
    std::string out, err;
    int rc = Shell(command, &out, &err);
    EXPECT_EQ(rc, 0) << command << "\n" << err;
    return out;
  }

  // DuckDB's view of one file through `recsys sql --format json`.
  static std::string QueryDuckDb(const std::string& sql) {
    CommandResult r = RunRecsys({"sql", "--data-dir", data_, "--quiet", "--format", "json", sql});
    EXPECT_EQ(r.exit_code, 0) << sql << "\n" << r.err;
    return r.out;
  }

  // Compares hyparquet's row count and first rows of `file` (an element of read.mjs's output)
  // with DuckDB's for the columns given.
  static void Compare(simdjson::dom::element file, const std::vector<Column>& columns) {
    std::string path(file["file"].get_string().value());
    SCOPED_TRACE(path);
    const std::string source = "read_parquet('" + path + "', file_row_number = true)";

    simdjson::dom::parser parser;
    simdjson::dom::element counted;
    std::string count_json = QueryDuckDb("SELECT count(*) AS n FROM " + source);
    ASSERT_FALSE(parser.parse(count_json).get(counted)) << count_json;
    const int64_t duck_rows = counted.at(0)["n"].get_int64().value();
    const int64_t hy_rows = file["rows"].get_int64().value();
    EXPECT_EQ(hy_rows, duck_rows);
    EXPECT_GT(hy_rows, 0);

    std::string select;
    for (const Column& c : columns) {
      select += select.empty() ? "" : ", ";
      select += c.kind == Kind::kTime ? "epoch_ms(" + c.name + ") AS " + c.name : c.name;
    }
    simdjson::dom::parser duck_parser;
    simdjson::dom::element duck_rows_json;
    std::string rows_json = QueryDuckDb("SELECT " + select + " FROM " + source +
                                        " WHERE file_row_number < 5 ORDER BY file_row_number");
    ASSERT_FALSE(duck_parser.parse(rows_json).get(duck_rows_json)) << rows_json;
    simdjson::dom::array hy_first = file["first_rows"].get_array().value();
    simdjson::dom::array duck_first = duck_rows_json.get_array().value();
    ASSERT_EQ(hy_first.size(), std::min<size_t>(5, static_cast<size_t>(duck_rows)));
    ASSERT_EQ(duck_first.size(), hy_first.size());
    int non_null = 0;
    for (size_t i = 0; i < hy_first.size(); ++i) {
      for (const Column& c : columns) {
        simdjson::dom::element hy_value, duck_value;
        ASSERT_FALSE(hy_first.at(i)[c.name].get(hy_value)) << "hyparquet lacks " << c.name;
        ASSERT_FALSE(duck_first.at(i)[c.name].get(duck_value)) << "DuckDB lacks " << c.name;
        Value a = FromElement(hy_value, c.kind), b = FromElement(duck_value, c.kind);
        EXPECT_TRUE(Same(a, b, c.kind)) << "row " << i << " column " << c.name << ": hyparquet "
                                        << Show(a) << ", DuckDB " << Show(b);
        non_null += !a.null;
      }
    }
    EXPECT_GT(non_null, 0) << "every compared value is NULL: the comparison proves nothing";
  }

  static TempDir* dir_;
  static std::string data_, lake_;
  static std::string* setup_error_;
};
TempDir* ParquetReaderTest::dir_ = nullptr;
std::string ParquetReaderTest::data_;
std::string ParquetReaderTest::lake_;
std::string* ParquetReaderTest::setup_error_ = nullptr;

TEST_F(ParquetReaderTest, HyparquetReadsSilverAndGoldAsDuckDbDoes) {
  const std::string clickstream = FirstFile(lake_ + "/silver/clickstream");
  const std::string users = FirstFile(lake_ + "/silver/users");
  const std::string user_features = GoldFile("user_features");
  const std::string interactions = GoldFile("interactions");
  for (const std::string& f : {clickstream, users, user_features, interactions}) {
    ASSERT_FALSE(f.empty()) << "a silver or gold file is missing under " << lake_;
  }

  std::string out = ReadWithHyparquet({clickstream, users, user_features, interactions});
  simdjson::dom::parser parser;
  simdjson::dom::element files;
  ASSERT_FALSE(parser.parse(out).get(files)) << out;
  ASSERT_EQ(files.get_array().value().size(), 4u) << out;

  Compare(files.at(0), {{"event_id", Kind::kText},
                        {"event_type", Kind::kText},
                        {"event_time", Kind::kTime},
                        {"user_id", Kind::kText},
                        {"product_id", Kind::kText},
                        {"price", Kind::kNumber},
                        {"quantity", Kind::kNumber},
                        {"bronze_file", Kind::kText},
                        {"bronze_line", Kind::kNumber}});
  Compare(files.at(1), {{"user_id", Kind::kText},
                        {"signup_time", Kind::kTime},
                        {"country", Kind::kText},
                        {"age_band", Kind::kText},
                        {"email_hash", Kind::kText},
                        {"logins", Kind::kNumber}});
  Compare(files.at(2), {{"user_id", Kind::kText},
                        {"last_seen", Kind::kTime},
                        {"recency_days", Kind::kNumber},
                        {"frequency", Kind::kNumber},
                        {"monetary", Kind::kNumber},
                        {"r_score", Kind::kNumber},
                        {"segment", Kind::kText},
                        {"top_categories", Kind::kList},
                        {"mobile_share", Kind::kNumber}});
  Compare(files.at(3), {{"user_id", Kind::kText},
                        {"product_id", Kind::kText},
                        {"weight", Kind::kNumber},
                        {"events", Kind::kNumber},
                        {"last_time", Kind::kTime}});
}

// The two readers agree on whole columns too, not just on the first rows: every row of the gold
// interactions file, summed.
TEST_F(ParquetReaderTest, HyparquetAgreesOnWholeColumns) {
  const std::string interactions = GoldFile("interactions");
  ASSERT_FALSE(interactions.empty());
  // read.mjs prints the first N rows; N = the row count makes them all.
  std::string count_json = QueryDuckDb(
      "SELECT count(*) AS n, sum(weight) AS w, sum(events) AS e "
      "FROM read_parquet('" +
      interactions + "')");
  simdjson::dom::parser parser;
  simdjson::dom::element duck;
  ASSERT_FALSE(parser.parse(count_json).get(duck)) << count_json;
  const int64_t n = duck.at(0)["n"].get_int64().value();
  const double w = duck.at(0)["w"].get_double().value();
  const double e = duck.at(0)["e"].get_double().value();
  ASSERT_GT(n, 0);

  std::string out = ReadWithHyparquet({interactions}, n);
  simdjson::dom::parser hy_parser;
  simdjson::dom::element hy;
  ASSERT_FALSE(hy_parser.parse(out).get(hy)) << out.substr(0, 500);
  double hw = 0, he = 0;
  size_t rows = 0;
  for (simdjson::dom::element row : hy.at(0)["first_rows"].get_array()) {
    hw += row["weight"].get_double().value();
    he += row["events"].get_double().value();
    ++rows;
  }
  EXPECT_EQ(static_cast<int64_t>(rows), n);
  EXPECT_NEAR(hw, w, 1e-9 * std::fabs(w));  // summed in another order
  EXPECT_DOUBLE_EQ(he, e);
}

}  // namespace
}  // namespace recsys::testing
