#include "ingest/csv.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "core/files.h"
#include "core/temp_dir.h"

namespace recsys {
namespace {

// A record copied out of the reader.
struct Row {
  int64_t line;
  std::vector<std::string> fields;
  std::string raw;
  CsvProblem problem;
  friend bool operator==(const Row&, const Row&) = default;
};

std::ostream& operator<<(std::ostream& os, const Row& r) {
  os << "line " << r.line << " [";
  for (const std::string& f : r.fields) os << "<" << f << ">";
  return os << "] raw <" << r.raw << "> " << CsvProblemName(r.problem);
}

struct Parsed {
  std::vector<std::string> header;
  std::vector<Row> rows;
  std::vector<std::string> messages;
};

Parsed ReadAll(const std::string& data, CsvOptions options = {}, size_t max_read = SIZE_MAX) {
  Parsed out;
  auto reader = CsvReader::Open(StringSource(data, max_read), "test.csv", options);
  EXPECT_TRUE(reader.ok()) << reader.status().ToString();
  if (!reader.ok()) return out;
  out.header = (*reader)->header();
  CsvRecord r;
  for (;;) {
    auto more = (*reader)->Next(&r);
    EXPECT_TRUE(more.ok()) << more.status().ToString();
    if (!more.ok() || !*more) break;
    out.rows.push_back(Row{r.line, std::vector<std::string>(r.fields.begin(), r.fields.end()),
                           std::string(r.raw), r.problem});
    out.messages.push_back(r.message);
  }
  return out;
}

using Fields = std::vector<std::string>;

TEST(CsvReaderTest, ReadsHeaderAndRecords) {
  Parsed p = ReadAll("id,name,price\n1,knife,12.5\n2,fork,3\n");
  EXPECT_EQ(p.header, (Fields{"id", "name", "price"}));
  ASSERT_EQ(p.rows.size(), 2u);
  EXPECT_EQ(p.rows[0], (Row{2, {"1", "knife", "12.5"}, "1,knife,12.5", CsvProblem::kNone}));
  EXPECT_EQ(p.rows[1], (Row{3, {"2", "fork", "3"}, "2,fork,3", CsvProblem::kNone}));
}

TEST(CsvReaderTest, QuotedFieldsHoldDelimitersQuotesAndLineBreaks) {
  Parsed p = ReadAll(
      "id,text,n\n"
      "1,\"a, b\",2\n"
      "2,\"say \"\"hi\"\"\",3\n"
      "3,\"two\nlines\",4\n"
      "4,\"\",5\n"
      "5,\"\"\"\",6\n");
  ASSERT_EQ(p.rows.size(), 5u);
  EXPECT_EQ(p.rows[0].fields, (Fields{"1", "a, b", "2"}));
  EXPECT_EQ(p.rows[1].fields, (Fields{"2", "say \"hi\"", "3"}));
  EXPECT_EQ(p.rows[2].fields, (Fields{"3", "two\nlines", "4"}));
  EXPECT_EQ(p.rows[2].raw, "3,\"two\nlines\",4");
  EXPECT_EQ(p.rows[3].fields, (Fields{"4", "", "5"}));
  EXPECT_EQ(p.rows[4].fields, (Fields{"5", "\"", "6"}));
  // The record after a two-line record starts two lines further on.
  EXPECT_EQ(p.rows[2].line, 4);
  EXPECT_EQ(p.rows[3].line, 6);
  EXPECT_EQ(p.rows[4].line, 7);
  for (const Row& r : p.rows) EXPECT_EQ(r.problem, CsvProblem::kNone) << r;
}

TEST(CsvReaderTest, CrlfLineEndsAreNotPartOfTheLastField) {
  Parsed p = ReadAll("a,b\r\n1,\"x\"\r\n2,\"multi\r\nline\"\r\n3,\r\n");
  EXPECT_EQ(p.header, (Fields{"a", "b"}));
  ASSERT_EQ(p.rows.size(), 3u);
  EXPECT_EQ(p.rows[0].fields, (Fields{"1", "x"}));
  EXPECT_EQ(p.rows[0].raw, "1,\"x\"");
  EXPECT_EQ(p.rows[1].fields, (Fields{"2", "multi\r\nline"}));  // data inside quotes is kept
  EXPECT_EQ(p.rows[2].fields, (Fields{"3", ""}));
  EXPECT_EQ(p.rows[2].line, 5);
}

TEST(CsvReaderTest, ByteOrderMarkIsDropped) {
  Parsed p = ReadAll("\xEF\xBB\xBFuser,item\nu1,p1\n");
  EXPECT_EQ(p.header, (Fields{"user", "item"}));
  auto reader = CsvReader::Open(StringSource("\xEF\xBB\xBFuser,item\n", 1), "t", {});
  ASSERT_TRUE(reader.ok());
  EXPECT_EQ((*reader)->FindColumn("user"), 0);
}

TEST(CsvReaderTest, BlankLinesAreSkippedAndLinesStillCounted) {
  Parsed p = ReadAll("a,b\n\n1,2\r\n\r\n\n3,4");
  ASSERT_EQ(p.rows.size(), 2u);
  EXPECT_EQ(p.rows[0], (Row{3, {"1", "2"}, "1,2", CsvProblem::kNone}));
  EXPECT_EQ(p.rows[1], (Row{6, {"3", "4"}, "3,4", CsvProblem::kNone}));  // no final line end
}

TEST(CsvReaderTest, RaggedRowsAreReportedAndReadingGoesOn) {
  Parsed p = ReadAll("a,b,c\n1,2,3\n1,2\n1,2,3,4\n5,6,7\n");
  ASSERT_EQ(p.rows.size(), 4u);
  EXPECT_EQ(p.rows[0].problem, CsvProblem::kNone);
  EXPECT_EQ(p.rows[1].problem, CsvProblem::kRaggedRow);
  EXPECT_EQ(p.rows[1].fields, (Fields{"1", "2"}));
  EXPECT_EQ(p.messages[1], "has 2 fields, the header has 3");
  EXPECT_EQ(p.rows[2].problem, CsvProblem::kRaggedRow);
  EXPECT_EQ(p.rows[2].line, 4);
  EXPECT_EQ(p.rows[3], (Row{5, {"5", "6", "7"}, "5,6,7", CsvProblem::kNone}));
}

TEST(CsvReaderTest, WithoutHeaderTheFirstRecordSetsTheFieldCount) {
  CsvOptions o;
  o.header = false;
  Parsed p = ReadAll("1,2\n3\n4,5\n", o);
  EXPECT_TRUE(p.header.empty());
  ASSERT_EQ(p.rows.size(), 3u);
  EXPECT_EQ(p.rows[0].line, 1);
  EXPECT_EQ(p.rows[1].problem, CsvProblem::kRaggedRow);
  EXPECT_EQ(p.messages[1], "has 1 fields, the first record has 2");
  EXPECT_EQ(p.rows[2].problem, CsvProblem::kNone);
}

TEST(CsvReaderTest, UnterminatedQuoteCostsOneLine) {
  Parsed p = ReadAll("a,b\n1,\"open\n2,x\n3,y\n");
  ASSERT_EQ(p.rows.size(), 3u);
  EXPECT_EQ(p.rows[0], (Row{2, {}, "1,\"open", CsvProblem::kUnterminatedQuote}));
  EXPECT_EQ(p.rows[1], (Row{3, {"2", "x"}, "2,x", CsvProblem::kNone}));
  EXPECT_EQ(p.rows[2], (Row{4, {"3", "y"}, "3,y", CsvProblem::kNone}));
}

TEST(CsvReaderTest, OverlongRecordIsReportedAndSkipped) {
  CsvOptions o;
  o.max_record_bytes = 64;
  o.chunk_bytes = 16;
  const std::string long_line = "2," + std::string(500, 'x');
  // A long line, then a quote that is never closed within the limit.
  Parsed p = ReadAll("a,b\n1,ok\n" + long_line + "\n3,\"" + std::string(100, 'y') + "\n4,z\n", o);
  ASSERT_EQ(p.rows.size(), 4u) << ::testing::PrintToString(p.rows);
  EXPECT_EQ(p.rows[0].fields, (Fields{"1", "ok"}));
  EXPECT_EQ(p.rows[1].problem, CsvProblem::kRecordTooLong);
  EXPECT_EQ(p.rows[1].line, 3);
  EXPECT_EQ(p.rows[1].raw.substr(0, 5), "2,xxx");
  EXPECT_EQ(p.rows[2].problem, CsvProblem::kRecordTooLong);
  EXPECT_EQ(p.rows[2].line, 4);
  EXPECT_EQ(p.rows[3], (Row{5, {"4", "z"}, "4,z", CsvProblem::kNone}));
}

TEST(CsvReaderTest, TextAfterAClosingQuoteIsKept) {
  Parsed p = ReadAll("a,b\n\"ab\"c,d\nx\"y,z\n");
  ASSERT_EQ(p.rows.size(), 2u);
  EXPECT_EQ(p.rows[0].fields, (Fields{"abc", "d"}));
  EXPECT_EQ(p.rows[1].fields, (Fields{"x\"y", "z"}));  // a quote inside a field is data
}

class DelimiterTest : public ::testing::TestWithParam<char> {};

TEST_P(DelimiterTest, SplitsOnTheGivenDelimiterOnly) {
  const char d = GetParam();
  CsvOptions o;
  o.delimiter = d;
  // The other delimiters are data.
  std::string middle = "x,y;z|w\tv";
  middle.erase(std::remove(middle.begin(), middle.end(), d), middle.end());
  const std::string data =
      std::string("a") + d + "b" + d + "c\n1" + d + middle + d + "\"q" + d + "r\"\n";
  Parsed p = ReadAll(data, o);
  EXPECT_EQ(p.header, (Fields{"a", "b", "c"}));
  ASSERT_EQ(p.rows.size(), 1u);
  EXPECT_EQ(p.rows[0].fields, (Fields{"1", middle, std::string("q") + d + "r"}));
}

INSTANTIATE_TEST_SUITE_P(Delimiters, DelimiterTest, ::testing::Values(',', ';', '\t', '|'));

TEST(CsvReaderTest, WithoutQuotingQuotesAreData) {
  CsvOptions o;
  o.delimiter = '|';
  o.quote = '\0';
  o.header = false;
  Parsed p = ReadAll("1|\"Quoted\" Title (1995)|x\n", o);
  ASSERT_EQ(p.rows.size(), 1u);
  EXPECT_EQ(p.rows[0].fields, (Fields{"1", "\"Quoted\" Title (1995)", "x"}));
}

TEST(CsvReaderTest, EmptyInputHasNoHeaderAndNoRecords) {
  for (const char* data : {"", "\xEF\xBB\xBF", "\n\n"}) {
    Parsed p = ReadAll(data);
    EXPECT_TRUE(p.header.empty());
    EXPECT_TRUE(p.rows.empty());
  }
}

TEST(CsvReaderTest, FindColumnIgnoresCaseAndBlanks) {
  auto reader = CsvReader::Open(StringSource("InvoiceNo, Customer ID ,x\n"), "t", {});
  ASSERT_TRUE(reader.ok());
  EXPECT_EQ((*reader)->FindColumn("invoiceno"), 0);
  EXPECT_EQ((*reader)->FindColumn("customer id"), 1);
  EXPECT_EQ((*reader)->FindColumn("nope"), std::nullopt);
}

// Every way of cutting the input into chunks gives the same records as reading it whole.
TEST(CsvReaderTest, ChunkBoundariesDoNotChangeTheRecords) {
  const std::string data =
      "\xEF\xBB\xBFid,text,price\r\n"
      "1,\"a, \"\"quoted\"\"\r\nvalue\",1.5\r\n"
      "\r\n"
      "2,plain,2\n"
      "3,\"\",\"\"\"\"\n"
      "4,short\n"
      "5,\"x\"y,3\n"
      "6,\"never closed,4\n"
      "7,last,5";
  CsvOptions whole_options;
  whole_options.chunk_bytes = 1 << 20;
  const Parsed whole = ReadAll(data, whole_options);
  ASSERT_EQ(whole.rows.size(), 7u) << ::testing::PrintToString(whole.rows);
  EXPECT_EQ(whole.rows[0].fields, (Fields{"1", "a, \"quoted\"\r\nvalue", "1.5"}));
  EXPECT_EQ(whole.rows[3].problem, CsvProblem::kRaggedRow);
  EXPECT_EQ(whole.rows[5].problem, CsvProblem::kUnterminatedQuote);
  EXPECT_EQ(whole.rows[6], (Row{10, {"7", "last", "5"}, "7,last,5", CsvProblem::kNone}));
  for (size_t chunk : {1, 2, 3, 5, 7, 16}) {
    for (size_t max_read : {1, 2, 3, 4, 13}) {
      SCOPED_TRACE("chunk " + std::to_string(chunk) + " read " + std::to_string(max_read));
      CsvOptions o;
      o.chunk_bytes = chunk;
      const Parsed p = ReadAll(data, o, max_read);
      EXPECT_EQ(p.header, whole.header);
      EXPECT_EQ(p.rows, whole.rows);
      EXPECT_EQ(p.messages, whole.messages);
    }
  }
}

TEST(CsvReaderTest, ReadsAFileLargerThanItsChunks) {
  TempDir dir;
  std::string data = "n,sq\n";
  for (int i = 0; i < 5000; ++i) data += std::to_string(i) + "," + std::to_string(i * i) + "\n";
  const std::string path = dir.path() + "/big.csv";
  ASSERT_TRUE(WriteFileAtomic(path, data).ok());
  CsvOptions o;
  o.chunk_bytes = 1000;
  auto reader = CsvReader::OpenFile(path, o);
  ASSERT_TRUE(reader.ok());
  CsvRecord r;
  int n = 0;
  while (*(*reader)->Next(&r)) {
    ASSERT_EQ(r.fields.size(), 2u);
    EXPECT_EQ(r.fields[0], std::to_string(n));
    EXPECT_EQ(r.fields[1], std::to_string(n * n));
    EXPECT_EQ(r.line, n + 2);
    ++n;
  }
  EXPECT_EQ(n, 5000);
  EXPECT_EQ((*reader)->bytes_read(), static_cast<int64_t>(data.size()));
}

TEST(CsvReaderTest, MissingFileIsAnErrorNamingIt) {
  auto reader = CsvReader::OpenFile("/nonexistent/x.csv", {});
  ASSERT_FALSE(reader.ok());
  EXPECT_NE(reader.status().message().find("/nonexistent/x.csv"), std::string::npos);
}

TEST(CsvTextTest, ParseDelimiterAcceptsTheUsualSpellings) {
  EXPECT_EQ(*ParseDelimiter(","), ',');
  EXPECT_EQ(*ParseDelimiter(";"), ';');
  EXPECT_EQ(*ParseDelimiter("tab"), '\t');
  EXPECT_EQ(*ParseDelimiter("\\t"), '\t');
  EXPECT_EQ(*ParseDelimiter("|"), '|');
  EXPECT_FALSE(ParseDelimiter("::").ok());
}

TEST(CsvTextTest, Latin1AndInvalidUtf8BecomeValidUtf8) {
  std::string out;
  Latin1ToUtf8("Caf\xE9 \xA3", &out);
  EXPECT_EQ(out, "Caf\xC3\xA9 \xC2\xA3");
  EXPECT_EQ(ValidUtf8("ok \xC3\xA9 bad \xE9!"), "ok \xC3\xA9 bad \xEF\xBF\xBD!");
}

}  // namespace
}  // namespace recsys
