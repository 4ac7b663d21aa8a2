// recsys sql "<query>": SQL over every silver and gold table of the lake, by name.
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <iostream>
#include <iterator>

#include "cli/commands.h"
#include "core/json_writer.h"
#include "lake/duckdb.h"
#include "process/catalog.h"

namespace recsys {
namespace {

bool IsNumeric(const std::string& type) {
  return type == "TINYINT" || type == "SMALLINT" || type == "INTEGER" || type == "BIGINT" ||
         type == "UTINYINT" || type == "USMALLINT" || type == "UINTEGER" || type == "UBIGINT" ||
         type == "HUGEINT" || type == "FLOAT" || type == "DOUBLE" || type.rfind("DECIMAL", 0) == 0;
}

bool IsReadable(const std::string& type) {
  return IsNumeric(type) || type == "VARCHAR" || type == "BOOLEAN" || type == "DATE" ||
         type.rfind("TIMESTAMP", 0) == 0 || type == "BLOB";
}

void AppendCsvField(const std::string& v, std::string* out) {
  if (v.find_first_of(",\"\n\r") == std::string::npos) {
    *out += v;
    return;
  }
  *out += '"';
  for (char c : v) {
    if (c == '"') *out += '"';
    *out += c;
  }
  *out += '"';
}

std::string Render(const QueryResult& r, const std::string& format) {
  std::string out;
  if (format == "json") {
    JsonWriter j;
    j.BeginArray();
    for (size_t row = 0; row < r.rows(); ++row) {
      j.BeginObject();
      for (size_t c = 0; c < r.columns(); ++c) {
        j.Key(r.column_name(c));
        if (r.IsNull(row, c)) {
          j.Null();
        } else if (r.type_name(c) == "BOOLEAN") {
          j.Bool(r.GetInt64(row, c) != 0);
        } else if (IsNumeric(r.type_name(c))) {
          j.Raw(r.GetString(row, c));
        } else {
          j.String(r.GetString(row, c));
        }
      }
      j.EndObject();
    }
    j.EndArray();
    return j.str() + "\n";
  }
  if (format == "csv") {
    for (size_t c = 0; c < r.columns(); ++c) {
      if (c) out += ',';
      AppendCsvField(r.column_name(c), &out);
    }
    out += '\n';
    for (size_t row = 0; row < r.rows(); ++row) {
      for (size_t c = 0; c < r.columns(); ++c) {
        if (c) out += ',';
        if (!r.IsNull(row, c)) AppendCsvField(r.GetString(row, c), &out);
      }
      out += '\n';
    }
    return out;
  }
  // table: aligned columns, numbers to the right, NULL shown as NULL.
  std::vector<size_t> width(r.columns());
  for (size_t c = 0; c < r.columns(); ++c) width[c] = r.column_name(c).size();
  for (size_t row = 0; row < r.rows(); ++row) {
    for (size_t c = 0; c < r.columns(); ++c) {
      width[c] = std::max(width[c], r.IsNull(row, c) ? 4 : r.GetString(row, c).size());
    }
  }
  auto cell = [&](const std::string& v, size_t c, bool right) {
    bool last = c + 1 == r.columns();
    std::string pad(width[c] > v.size() ? width[c] - v.size() : 0, ' ');
    out += right ? pad + v : last ? v : v + pad;
    out += last ? "\n" : "  ";
  };
  for (size_t c = 0; c < r.columns(); ++c) cell(r.column_name(c), c, IsNumeric(r.type_name(c)));
  for (size_t c = 0; c < r.columns(); ++c) cell(std::string(width[c], '-'), c, false);
  for (size_t row = 0; row < r.rows(); ++row) {
    for (size_t c = 0; c < r.columns(); ++c) {
      cell(r.IsNull(row, c) ? "NULL" : r.GetString(row, c), c, IsNumeric(r.type_name(c)));
    }
  }
  out += "(" + std::to_string(r.rows()) + (r.rows() == 1 ? " row)\n" : " rows)\n");
  return out;
}

}  // namespace

Status RunSql(CommandContext& ctx) {
  std::string query;
  for (const std::string& a : ctx.args) query += (query.empty() ? "" : " ") + a;
  if (query.empty() || query == "-") {
    if (isatty(STDIN_FILENO)) {
      return Status::InvalidArgument("give a query: recsys sql \"select ...\" (or '-' for stdin)");
    }
    query.assign(std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>());
  }
  DuckDbOptions options;
  options.threads = static_cast<int>(ctx.config->GetInt("process.threads"));
  options.memory_limit = ctx.config->GetString("process.memory_limit");
  RECSYS_ASSIGN_OR_RETURN(std::unique_ptr<DuckDb> db, DuckDb::Open("", options));
  std::error_code ec;
  std::string root = std::filesystem::absolute(ctx.LakeDir(), ec).lexically_normal().string();
  RECSYS_ASSIGN_OR_RETURN(std::vector<LakeView> views, RegisterLakeViews(db.get(), root));
  if (views.empty()) {
    std::fprintf(stderr, "recsys sql: no silver or gold tables in %s yet (run recsys process)\n",
                 root.c_str());
  }
  RECSYS_ASSIGN_OR_RETURN(QueryResult result, db->Query(query));
  // Types the result cannot hold (lists, structs) are read again as text.
  std::string recast;
  for (size_t c = 0; c < result.columns(); ++c) {
    if (IsReadable(result.type_name(c))) continue;
    recast += (recast.empty() ? "" : ", ") + DuckDb::Identifier(result.column_name(c)) +
              "::VARCHAR AS " + DuckDb::Identifier(result.column_name(c));
  }
  if (!recast.empty()) {
    std::string q = query;
    while (!q.empty() && (q.back() == ';' || std::isspace(static_cast<unsigned char>(q.back())))) {
      q.pop_back();
    }
    RECSYS_ASSIGN_OR_RETURN(result,
                            db->Query("SELECT * REPLACE (" + recast + ") FROM (" + q + ")"));
  }
  std::string format = ctx.json ? "json" : ctx.config->GetString("sql.format");
  std::string out = Render(result, format);
  std::fwrite(out.data(), 1, out.size(), stdout);
  return Status::OK();
}

}  // namespace recsys
