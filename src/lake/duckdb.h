// DuckDb: a small owner of DuckDB's C API handles (the official libduckdb.so, DESIGN.md §6).
// Every error becomes a Status that carries DuckDB's message and the SQL that failed.
//
// Thread safety: a DuckDb object is one connection; use it from one thread at a time. DuckDB
// itself parallelises each query over `threads`.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace recsys {

struct DuckDbOptions {
  int threads = 0;           // 0 = DuckDB's default (all cores)
  std::string memory_limit;  // e.g. "4GB"; empty = DuckDB's default (80% of RAM)
  std::string temp_directory;  // where DuckDB spills; empty = its default
};

// A materialised query result. Cells are converted on fetch: VARCHAR to text; integers,
// booleans, DATE (days since epoch) and TIMESTAMP (microseconds since epoch) to int64; FLOAT,
// DOUBLE and DECIMAL to double. Text of non-VARCHAR cells is their natural rendering (DATE
// "2024-01-31", TIMESTAMP "2024-01-31 10:00:00.123"); types outside that list (LIST, STRUCT,
// ...) read as NULL with type_name() saying what they are: cast them in SQL
// (`SELECT COLUMNS(*)::VARCHAR FROM (...)`) to read them.
class QueryResult {
 public:
  size_t rows() const { return rows_; }
  size_t columns() const { return names_.size(); }
  const std::string& column_name(size_t col) const { return names_[col]; }
  // DuckDB's name of the column's type: "VARCHAR", "BIGINT", "DECIMAL(18,2)", ...
  const std::string& type_name(size_t col) const { return types_[col]; }
  // Column index by name, or nullopt.
  std::optional<size_t> ColumnIndex(std::string_view name) const;

  // REQUIRES: row < rows(), col < columns().
  bool IsNull(size_t row, size_t col) const { return cell(row, col).null; }
  const std::string& GetString(size_t row, size_t col) const { return cell(row, col).text; }
  int64_t GetInt64(size_t row, size_t col) const { return cell(row, col).i; }
  double GetDouble(size_t row, size_t col) const { return cell(row, col).d; }

 private:
  friend class DuckDb;
  struct Cell {
    bool null = true;
    int64_t i = 0;
    double d = 0;
    std::string text;
  };
  const Cell& cell(size_t row, size_t col) const { return cells_[row * names_.size() + col]; }
  size_t rows_ = 0;
  std::vector<std::string> names_, types_;
  std::vector<Cell> cells_;  // row-major
};

// Appends rows to a table, much faster than INSERT statements. Values are given in column
// order; EndRow finishes a row. Errors are sticky: the first one is returned by every later
// call and by Close.
class DuckAppender {
 public:
  ~DuckAppender();
  DuckAppender(const DuckAppender&) = delete;
  DuckAppender& operator=(const DuckAppender&) = delete;

  Status Null();
  Status String(std::string_view v);
  Status Int64(int64_t v);
  Status Double(double v);
  Status Bool(bool v);
  // Milliseconds since the epoch, into a TIMESTAMP column.
  Status TimestampMillis(int64_t ms);
  Status EndRow();
  // Flushes the rows to the table and releases the appender.
  Status Close();

 private:
  friend class DuckDb;
  DuckAppender(void* appender, std::string table) : appender_(appender), table_(std::move(table)) {}
  Status Check(int state);
  void* appender_;  // duckdb_appender
  std::string table_;
  Status error_;
};

class DuckDb {
 public:
  // path "" or ":memory:" = an in-memory database; otherwise a database file (created if
  // missing).
  static Result<std::unique_ptr<DuckDb>> Open(const std::string& path,
                                              const DuckDbOptions& options = {});
  ~DuckDb();
  DuckDb(const DuckDb&) = delete;
  DuckDb& operator=(const DuckDb&) = delete;

  // Runs one or more statements, discarding results.
  Status Execute(std::string_view sql);
  // Runs a query and materialises its result (the last statement's, if several).
  Result<QueryResult> Query(std::string_view sql);
  // A single value: the first column of the first row. NotFound if there is no row.
  Result<int64_t> QueryInt64(std::string_view sql);
  Result<std::string> QueryString(std::string_view sql);

  // REQUIRES: the table exists. schema "" = main.
  Result<std::unique_ptr<DuckAppender>> Appender(std::string_view table);

  // A SQL string literal: 'it''s'. For paths and values built into SQL text.
  static std::string Quote(std::string_view s);
  // A quoted identifier: "my ""table""".
  static std::string Identifier(std::string_view s);

 private:
  DuckDb() = default;
  Status Error(std::string_view what, std::string_view sql) const;
  void* db_ = nullptr;    // duckdb_database
  void* conn_ = nullptr;  // duckdb_connection
};

}  // namespace recsys
