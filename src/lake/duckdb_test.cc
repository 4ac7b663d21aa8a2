#include "lake/duckdb.h"

#include <gtest/gtest.h>

#include "core/temp_dir.h"

namespace recsys {
namespace {

TEST(DuckDbTest, QueriesReturnTypedCells) {
  auto db = DuckDb::Open("");
  ASSERT_TRUE(db.ok()) << db.status().ToString();
  auto r = (*db)->Query(
      "SELECT 42::BIGINT AS i, 2.5::DOUBLE AS d, 'héllo' AS s, NULL::VARCHAR AS n, true AS b, "
      "12.34::DECIMAL(18,2) AS m, DATE '2024-02-29' AS day, "
      "TIMESTAMP '2024-02-29 10:11:12.345' AS ts, [1,2] AS list");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ASSERT_EQ(r->rows(), 1u);
  ASSERT_EQ(r->columns(), 9u);
  EXPECT_EQ(r->column_name(2), "s");
  EXPECT_EQ(r->GetInt64(0, 0), 42);
  EXPECT_EQ(r->GetDouble(0, 1), 2.5);
  EXPECT_EQ(r->GetString(0, 2), "héllo");
  EXPECT_TRUE(r->IsNull(0, 3));
  EXPECT_EQ(r->GetInt64(0, 4), 1);
  EXPECT_EQ(r->type_name(5), "DECIMAL(18,2)");
  EXPECT_DOUBLE_EQ(r->GetDouble(0, 5), 12.34);
  EXPECT_EQ(r->GetString(0, 5), "12.34");
  EXPECT_EQ(r->GetString(0, 6), "2024-02-29");
  EXPECT_EQ(r->GetString(0, 7), "2024-02-29 10:11:12.345");
  EXPECT_EQ(r->GetInt64(0, 7), 1709201472345000);
  EXPECT_TRUE(r->IsNull(0, 8)) << "lists are read after a cast";
  EXPECT_EQ(r->type_name(8), "LIST");
  EXPECT_EQ(r->ColumnIndex("ts"), 7u);
  EXPECT_FALSE(r->ColumnIndex("nope").has_value());
}

TEST(DuckDbTest, ManyChunks) {
  auto db = DuckDb::Open("");
  ASSERT_TRUE(db.ok());
  auto r = (*db)->Query("SELECT range AS i, range::VARCHAR AS s FROM range(10000) ORDER BY 1");
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r->rows(), 10000u);
  EXPECT_EQ(r->GetInt64(9999, 0), 9999);
  EXPECT_EQ(r->GetString(5000, 1), "5000");
}

TEST(DuckDbTest, ErrorsCarryTheSql) {
  auto db = DuckDb::Open("");
  ASSERT_TRUE(db.ok());
  Status st = (*db)->Execute("SELECT * FROM no_such_table");
  EXPECT_FALSE(st.ok());
  EXPECT_NE(st.message().find("no_such_table"), std::string::npos) << st.message();
  EXPECT_NE(st.message().find("(in: SELECT * FROM no_such_table)"), std::string::npos);
  auto r = (*db)->QueryInt64("SELECT 1 WHERE false");
  EXPECT_EQ(r.status().code(), StatusCode::kNotFound);
}

TEST(DuckDbTest, AppenderAndParquetRoundTrip) {
  TempDir dir;
  auto db = DuckDb::Open(dir.path() + "/x.duckdb", DuckDbOptions{2, "1GB", ""});
  ASSERT_TRUE(db.ok()) << db.status().ToString();
  ASSERT_TRUE((*db)->Execute("CREATE TABLE t (s VARCHAR, i BIGINT, d DOUBLE, b BOOLEAN, "
                             "ts TIMESTAMP)")
                  .ok());
  auto app = (*db)->Appender("t");
  ASSERT_TRUE(app.ok()) << app.status().ToString();
  for (int i = 0; i < 3000; ++i) {
    ASSERT_TRUE((*app)->String("row" + std::to_string(i)).ok());
    ASSERT_TRUE(i % 2 ? (*app)->Int64(i).ok() : (*app)->Null().ok());
    ASSERT_TRUE((*app)->Double(i / 2.0).ok());
    ASSERT_TRUE((*app)->Bool(i % 3 == 0).ok());
    ASSERT_TRUE((*app)->TimestampMillis(1704067200000 + i).ok());
    ASSERT_TRUE((*app)->EndRow().ok());
  }
  ASSERT_TRUE((*app)->Close().ok());
  std::string file = dir.path() + "/t.parquet";
  ASSERT_TRUE((*db)->Execute("COPY t TO " + DuckDb::Quote(file) +
                             " (FORMAT parquet, COMPRESSION zstd)")
                  .ok());
  auto r = (*db)->Query("SELECT count(*), count(i), sum(d), max(ts) FROM read_parquet(" +
                        DuckDb::Quote(file) + ")");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->GetInt64(0, 0), 3000);
  EXPECT_EQ(r->GetInt64(0, 1), 1500);
  EXPECT_DOUBLE_EQ(r->GetDouble(0, 2), 2249250.0);  // sum of i / 2 for i < 3000
  EXPECT_EQ(r->GetString(0, 3), "2024-01-01 00:00:02.999");

  // A wrong number of values is reported, not crashed on.
  auto bad = (*db)->Appender("t");
  ASSERT_TRUE(bad.ok());
  ASSERT_TRUE((*bad)->String("only one").ok());
  EXPECT_FALSE((*bad)->EndRow().ok());
  EXPECT_FALSE((*bad)->Close().ok());
  EXPECT_FALSE((*db)->Appender("missing_table").ok());
}

TEST(DuckDbTest, Quoting) {
  EXPECT_EQ(DuckDb::Quote("it's"), "'it''s'");
  EXPECT_EQ(DuckDb::Identifier("a\"b"), "\"a\"\"b\"");
}

}  // namespace
}  // namespace recsys
