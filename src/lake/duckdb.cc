#include "lake/duckdb.h"

#include <duckdb.h>

#include <charconv>
#include <cmath>
#include <cstdio>

#include "core/clock.h"

namespace recsys {
namespace {

constexpr size_t kMaxSqlInMessage = 400;

std::string Excerpt(std::string_view sql) {
  std::string s(sql.substr(0, kMaxSqlInMessage));
  for (char& c : s) {
    if (c == '\n' || c == '\t') c = ' ';
  }
  if (sql.size() > kMaxSqlInMessage) s += " ...";
  return s;
}

std::string TypeName(duckdb_logical_type type) {
  duckdb_type id = duckdb_get_type_id(type);
  switch (id) {
    case DUCKDB_TYPE_BOOLEAN: return "BOOLEAN";
    case DUCKDB_TYPE_TINYINT: return "TINYINT";
    case DUCKDB_TYPE_SMALLINT: return "SMALLINT";
    case DUCKDB_TYPE_INTEGER: return "INTEGER";
    case DUCKDB_TYPE_BIGINT: return "BIGINT";
    case DUCKDB_TYPE_UTINYINT: return "UTINYINT";
    case DUCKDB_TYPE_USMALLINT: return "USMALLINT";
    case DUCKDB_TYPE_UINTEGER: return "UINTEGER";
    case DUCKDB_TYPE_UBIGINT: return "UBIGINT";
    case DUCKDB_TYPE_HUGEINT: return "HUGEINT";
    case DUCKDB_TYPE_FLOAT: return "FLOAT";
    case DUCKDB_TYPE_DOUBLE: return "DOUBLE";
    case DUCKDB_TYPE_DECIMAL:
      return "DECIMAL(" + std::to_string(duckdb_decimal_width(type)) + "," +
             std::to_string(duckdb_decimal_scale(type)) + ")";
    case DUCKDB_TYPE_DATE: return "DATE";
    case DUCKDB_TYPE_TIMESTAMP: return "TIMESTAMP";
    case DUCKDB_TYPE_TIMESTAMP_S: return "TIMESTAMP_S";
    case DUCKDB_TYPE_TIMESTAMP_MS: return "TIMESTAMP_MS";
    case DUCKDB_TYPE_TIMESTAMP_NS: return "TIMESTAMP_NS";
    case DUCKDB_TYPE_TIMESTAMP_TZ: return "TIMESTAMP WITH TIME ZONE";
    case DUCKDB_TYPE_VARCHAR: return "VARCHAR";
    case DUCKDB_TYPE_BLOB: return "BLOB";
    case DUCKDB_TYPE_LIST: return "LIST";
    case DUCKDB_TYPE_STRUCT: return "STRUCT";
    case DUCKDB_TYPE_MAP: return "MAP";
    case DUCKDB_TYPE_ARRAY: return "ARRAY";
    case DUCKDB_TYPE_INTERVAL: return "INTERVAL";
    case DUCKDB_TYPE_UUID: return "UUID";
    case DUCKDB_TYPE_ENUM: return "ENUM";
    default: return "TYPE#" + std::to_string(static_cast<int>(id));
  }
}

std::string FormatDouble(double v) {
  char buf[32];
  auto r = std::to_chars(buf, buf + sizeof(buf), v);
  return std::string(buf, r.ptr);
}

std::string FormatMicros(int64_t micros) {
  int64_t ms = micros >= 0 ? micros / 1000 : -((-micros + 999) / 1000);
  CivilTime c = ToCivil(ms);
  char buf[40];
  std::snprintf(buf, sizeof(buf), "%04d-%02d-%02d %02d:%02d:%02d", c.year, c.month, c.day, c.hour,
                c.minute, c.second);
  std::string s = buf;
  if (c.millis != 0) {
    std::snprintf(buf, sizeof(buf), ".%03d", c.millis);
    s += buf;
  }
  return s;
}

std::string FormatDays(int32_t days) {
  CivilTime c = ToCivil(static_cast<int64_t>(days) * 86400000);
  char buf[16];
  std::snprintf(buf, sizeof(buf), "%04d-%02d-%02d", c.year, c.month, c.day);
  return buf;
}

// Reads row `row` of a vector of type `type` into *cell. Returns false for unsupported types.
template <typename Cell>
bool ReadCell(duckdb_logical_type type, void* data, idx_t row, Cell* cell) {
  duckdb_type id = duckdb_get_type_id(type);
  auto set_int = [&](int64_t v) {
    cell->i = v;
    cell->d = static_cast<double>(v);
    cell->text = std::to_string(v);
  };
  switch (id) {
    case DUCKDB_TYPE_BOOLEAN: {
      bool v = static_cast<bool*>(data)[row];
      cell->i = v;
      cell->d = v;
      cell->text = v ? "true" : "false";
      return true;
    }
    case DUCKDB_TYPE_TINYINT: set_int(static_cast<int8_t*>(data)[row]); return true;
    case DUCKDB_TYPE_SMALLINT: set_int(static_cast<int16_t*>(data)[row]); return true;
    case DUCKDB_TYPE_INTEGER: set_int(static_cast<int32_t*>(data)[row]); return true;
    case DUCKDB_TYPE_BIGINT: set_int(static_cast<int64_t*>(data)[row]); return true;
    case DUCKDB_TYPE_UTINYINT: set_int(static_cast<uint8_t*>(data)[row]); return true;
    case DUCKDB_TYPE_USMALLINT: set_int(static_cast<uint16_t*>(data)[row]); return true;
    case DUCKDB_TYPE_UINTEGER: set_int(static_cast<uint32_t*>(data)[row]); return true;
    case DUCKDB_TYPE_UBIGINT: set_int(static_cast<int64_t>(static_cast<uint64_t*>(data)[row]));
      return true;
    case DUCKDB_TYPE_HUGEINT: {
      duckdb_hugeint h = static_cast<duckdb_hugeint*>(data)[row];
      set_int(static_cast<int64_t>(h.lower));
      cell->d = static_cast<double>(h.upper) * 18446744073709551616.0 + static_cast<double>(h.lower);
      return true;
    }
    case DUCKDB_TYPE_FLOAT:
    case DUCKDB_TYPE_DOUBLE: {
      double v = id == DUCKDB_TYPE_FLOAT ? static_cast<float*>(data)[row]
                                         : static_cast<double*>(data)[row];
      cell->d = v;
      cell->i = std::isfinite(v) ? static_cast<int64_t>(v) : 0;
      cell->text = FormatDouble(v);
      return true;
    }
    case DUCKDB_TYPE_DECIMAL: {
      uint8_t scale = duckdb_decimal_scale(type);
      double unscaled;
      switch (duckdb_decimal_internal_type(type)) {
        case DUCKDB_TYPE_SMALLINT: unscaled = static_cast<int16_t*>(data)[row]; break;
        case DUCKDB_TYPE_INTEGER: unscaled = static_cast<int32_t*>(data)[row]; break;
        case DUCKDB_TYPE_BIGINT: unscaled = static_cast<double>(static_cast<int64_t*>(data)[row]);
          break;
        default: {
          duckdb_hugeint h = static_cast<duckdb_hugeint*>(data)[row];
          unscaled = static_cast<double>(h.upper) * 18446744073709551616.0 +
                     static_cast<double>(h.lower);
        }
      }
      double v = unscaled / std::pow(10.0, scale);
      cell->d = v;
      cell->i = static_cast<int64_t>(v);
      char buf[64];
      std::snprintf(buf, sizeof(buf), "%.*f", scale, v);
      cell->text = buf;
      return true;
    }
    case DUCKDB_TYPE_DATE: {
      int32_t days = static_cast<int32_t*>(data)[row];
      cell->i = days;
      cell->d = days;
      cell->text = FormatDays(days);
      return true;
    }
    case DUCKDB_TYPE_TIMESTAMP:
    case DUCKDB_TYPE_TIMESTAMP_TZ:
    case DUCKDB_TYPE_TIMESTAMP_S:
    case DUCKDB_TYPE_TIMESTAMP_MS:
    case DUCKDB_TYPE_TIMESTAMP_NS: {
      int64_t v = static_cast<int64_t*>(data)[row];
      int64_t micros = id == DUCKDB_TYPE_TIMESTAMP_S    ? v * 1000000
                       : id == DUCKDB_TYPE_TIMESTAMP_MS ? v * 1000
                       : id == DUCKDB_TYPE_TIMESTAMP_NS ? v / 1000
                                                        : v;
      cell->i = micros;
      cell->d = static_cast<double>(micros);
      cell->text = FormatMicros(micros);
      return true;
    }
    case DUCKDB_TYPE_VARCHAR:
    case DUCKDB_TYPE_BLOB: {
      duckdb_string_t* s = &static_cast<duckdb_string_t*>(data)[row];
      cell->text.assign(duckdb_string_t_data(s), duckdb_string_t_length(*s));
      return true;
    }
    default: return false;
  }
}

}  // namespace

std::optional<size_t> QueryResult::ColumnIndex(std::string_view name) const {
  for (size_t i = 0; i < names_.size(); ++i) {
    if (names_[i] == name) return i;
  }
  return std::nullopt;
}

DuckAppender::~DuckAppender() {
  if (appender_ != nullptr) {
    auto a = static_cast<duckdb_appender>(appender_);
    duckdb_appender_destroy(&a);
  }
}

Status DuckAppender::Check(int state) {
  if (state == DuckDBSuccess || !error_.ok()) return error_;
  const char* msg = duckdb_appender_error(static_cast<duckdb_appender>(appender_));
  error_ = Status::InvalidArgument("duckdb appender " + table_ + ": " +
                                   (msg ? std::string(msg) : "unknown error"));
  return error_;
}

#define RECSYS_APPEND_(call)                              \
  do {                                                    \
    if (!error_.ok()) return error_;                      \
    return Check(call);                                   \
  } while (0)

Status DuckAppender::Null() {
  RECSYS_APPEND_(duckdb_append_null(static_cast<duckdb_appender>(appender_)));
}
Status DuckAppender::String(std::string_view v) {
  RECSYS_APPEND_(
      duckdb_append_varchar_length(static_cast<duckdb_appender>(appender_), v.data(), v.size()));
}
Status DuckAppender::Int64(int64_t v) {
  RECSYS_APPEND_(duckdb_append_int64(static_cast<duckdb_appender>(appender_), v));
}
Status DuckAppender::Double(double v) {
  RECSYS_APPEND_(duckdb_append_double(static_cast<duckdb_appender>(appender_), v));
}
Status DuckAppender::Bool(bool v) {
  RECSYS_APPEND_(duckdb_append_bool(static_cast<duckdb_appender>(appender_), v));
}
Status DuckAppender::TimestampMillis(int64_t ms) {
  duckdb_timestamp ts{ms * 1000};
  RECSYS_APPEND_(duckdb_append_timestamp(static_cast<duckdb_appender>(appender_), ts));
}
Status DuckAppender::EndRow() {
  RECSYS_APPEND_(duckdb_appender_end_row(static_cast<duckdb_appender>(appender_)));
}
#undef RECSYS_APPEND_

Status DuckAppender::Close() {
  if (appender_ == nullptr) return error_;
  Status st = error_.ok() ? Check(duckdb_appender_close(static_cast<duckdb_appender>(appender_)))
                          : error_;
  auto a = static_cast<duckdb_appender>(appender_);
  duckdb_appender_destroy(&a);
  appender_ = nullptr;
  return st;
}

Result<std::unique_ptr<DuckDb>> DuckDb::Open(const std::string& path, const DuckDbOptions& o) {
  duckdb_config config;
  if (duckdb_create_config(&config) != DuckDBSuccess) {
    return Status::Internal("duckdb: cannot create a configuration");
  }
  auto set = [&](const char* name, const std::string& value) {
    return value.empty() || duckdb_set_config(config, name, value.c_str()) == DuckDBSuccess;
  };
  bool ok = set("threads", o.threads > 0 ? std::to_string(o.threads) : "") &&
            set("memory_limit", o.memory_limit) && set("temp_directory", o.temp_directory);
  if (!ok) {
    duckdb_destroy_config(&config);
    return Status::InvalidArgument("duckdb: bad option (threads, memory_limit or temp_directory)");
  }
  std::unique_ptr<DuckDb> db(new DuckDb());
  duckdb_database database;
  char* error = nullptr;
  const char* p = path.empty() || path == ":memory:" ? nullptr : path.c_str();
  if (duckdb_open_ext(p, &database, config, &error) != DuckDBSuccess) {
    std::string msg = error ? error : "unknown error";
    if (error) duckdb_free(error);
    duckdb_destroy_config(&config);
    return Status::IOError("duckdb: open " + (p ? path : std::string(":memory:")) + ": " + msg);
  }
  duckdb_destroy_config(&config);
  db->db_ = database;
  duckdb_connection conn;
  if (duckdb_connect(database, &conn) != DuckDBSuccess) {
    return Status::Internal("duckdb: cannot connect to " + path);
  }
  db->conn_ = conn;
  return db;
}

DuckDb::~DuckDb() {
  if (conn_ != nullptr) {
    auto c = static_cast<duckdb_connection>(conn_);
    duckdb_disconnect(&c);
  }
  if (db_ != nullptr) {
    auto d = static_cast<duckdb_database>(db_);
    duckdb_close(&d);
  }
}

Status DuckDb::Execute(std::string_view sql) {
  duckdb_result result;
  std::string text(sql);
  if (duckdb_query(static_cast<duckdb_connection>(conn_), text.c_str(), &result) !=
      DuckDBSuccess) {
    std::string msg = duckdb_result_error(&result) ? duckdb_result_error(&result) : "failed";
    duckdb_destroy_result(&result);
    return Status::InvalidArgument("duckdb: " + msg + " (in: " + Excerpt(sql) + ")");
  }
  duckdb_destroy_result(&result);
  return Status::OK();
}

Result<QueryResult> DuckDb::Query(std::string_view sql) {
  duckdb_result result;
  std::string text(sql);
  if (duckdb_query(static_cast<duckdb_connection>(conn_), text.c_str(), &result) !=
      DuckDBSuccess) {
    std::string msg = duckdb_result_error(&result) ? duckdb_result_error(&result) : "failed";
    duckdb_destroy_result(&result);
    return Status::InvalidArgument("duckdb: " + msg + " (in: " + Excerpt(sql) + ")");
  }
  QueryResult out;
  idx_t ncols = duckdb_column_count(&result);
  std::vector<duckdb_logical_type> types(ncols);
  for (idx_t c = 0; c < ncols; ++c) {
    out.names_.emplace_back(duckdb_column_name(&result, c));
    types[c] = duckdb_column_logical_type(&result, c);
    out.types_.push_back(TypeName(types[c]));
  }
  for (;;) {
    duckdb_data_chunk chunk = duckdb_fetch_chunk(result);
    if (chunk == nullptr) break;
    idx_t n = duckdb_data_chunk_get_size(chunk);
    size_t base = out.cells_.size();
    out.cells_.resize(base + n * ncols);
    for (idx_t c = 0; c < ncols; ++c) {
      duckdb_vector vec = duckdb_data_chunk_get_vector(chunk, c);
      void* data = duckdb_vector_get_data(vec);
      uint64_t* validity = duckdb_vector_get_validity(vec);
      for (idx_t r = 0; r < n; ++r) {
        QueryResult::Cell& cell = out.cells_[base + r * ncols + c];
        if (validity != nullptr && !duckdb_validity_row_is_valid(validity, r)) continue;
        cell.null = !ReadCell(types[c], data, r, &cell);
      }
    }
    out.rows_ += n;
    duckdb_destroy_data_chunk(&chunk);
  }
  for (duckdb_logical_type& t : types) duckdb_destroy_logical_type(&t);
  duckdb_destroy_result(&result);
  return out;
}

Result<int64_t> DuckDb::QueryInt64(std::string_view sql) {
  RECSYS_ASSIGN_OR_RETURN(QueryResult r, Query(sql));
  if (r.rows() == 0 || r.columns() == 0) return Status::NotFound("no row from: " + Excerpt(sql));
  return r.GetInt64(0, 0);
}

Result<std::string> DuckDb::QueryString(std::string_view sql) {
  RECSYS_ASSIGN_OR_RETURN(QueryResult r, Query(sql));
  if (r.rows() == 0 || r.columns() == 0) return Status::NotFound("no row from: " + Excerpt(sql));
  return r.GetString(0, 0);
}

Result<std::unique_ptr<DuckAppender>> DuckDb::Appender(std::string_view table) {
  duckdb_appender appender;
  std::string name(table);
  if (duckdb_appender_create(static_cast<duckdb_connection>(conn_), nullptr, name.c_str(),
                             &appender) != DuckDBSuccess) {
    const char* msg = duckdb_appender_error(appender);
    Status st = Status::InvalidArgument("duckdb: appender for " + name + ": " +
                                        (msg ? std::string(msg) : "failed"));
    duckdb_appender_destroy(&appender);
    return st;
  }
  return std::unique_ptr<DuckAppender>(new DuckAppender(appender, name));
}

std::string DuckDb::Quote(std::string_view s) {
  std::string out = "'";
  for (char c : s) {
    if (c == '\'') out += '\'';
    out += c;
  }
  out += '\'';
  return out;
}

std::string DuckDb::Identifier(std::string_view s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"') out += '"';
    out += c;
  }
  out += '"';
  return out;
}

}  // namespace recsys
