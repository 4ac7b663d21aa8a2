#include "process/catalog.h"

#include <simdjson.h>

#include <filesystem>
#include <system_error>

#include "core/files.h"

namespace recsys {
namespace {

namespace fs = std::filesystem;

// True if some .parquet file lies under dir (at any depth).
bool HasParquet(const std::string& dir) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) return false;
  for (fs::recursive_directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    const fs::path& p = it->path();
    if (p.extension() == ".parquet" && p.filename().string().find(".tmp") == std::string::npos) {
      return true;
    }
  }
  return false;
}

}  // namespace

Result<GoldCurrent> ParseGoldCurrent(std::string_view text, const std::string& where) {
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  if (parser.parse(text.data(), text.size()).get(doc)) {
    return Status::Corruption(where + ": not JSON");
  }
  std::string_view snapshot;
  if (doc["snapshot"].get_string().get(snapshot)) {
    return Status::Corruption(where + ": no \"snapshot\" string");
  }
  GoldCurrent current;
  current.snapshot = std::string(snapshot);
  std::string_view as_of;
  if (!doc["as_of"].get_string().get(as_of)) current.as_of = std::string(as_of);
  simdjson::dom::array array;
  if (!doc["tables"].get_array().get(array)) {
    for (simdjson::dom::element t : array) {
      std::string_view name;
      if (!t.get_string().get(name)) {
        current.tables.emplace_back(name);
      } else if (!t["name"].get_string().get(name)) {
        current.tables.emplace_back(name);
      }
    }
  }
  return current;
}

Result<GoldCurrent> ReadGoldCurrent(const std::string& root) {
  std::string path = root + "/gold/_current.json";
  if (!FileExists(path)) {
    return Status::NotFound("lake " + root + ": no gold snapshot (run `recsys process gold`)");
  }
  RECSYS_ASSIGN_OR_RETURN(std::string text, ReadFile(path));
  return ParseGoldCurrent(text, path);
}

Result<std::vector<LakeView>> RegisterLakeViews(DuckDb* db, const std::string& root) {
  std::vector<LakeView> views;
  for (const char* table : kSilverTables) {
    std::string name = table;
    std::string dir = root + "/silver/" + (name == "quarantine" ? "_quarantine" : name);
    if (!HasParquet(dir)) continue;
    std::string glob = dir + "/**/*.parquet";
    RECSYS_RETURN_IF_ERROR(db->Execute("CREATE OR REPLACE VIEW " + DuckDb::Identifier(name) +
                                       " AS SELECT * FROM read_parquet(" + DuckDb::Quote(glob) +
                                       ", hive_partitioning = true, union_by_name = true)"));
    views.push_back({name, "silver", glob});
  }
  Result<GoldCurrent> current = ReadGoldCurrent(root);
  if (current.status().code() == StatusCode::kNotFound) return views;
  if (!current.ok()) return current.status();
  for (const std::string& table : current->tables) {
    std::string dir = root + "/gold/" + table + "/snapshot=" + current->snapshot;
    if (!HasParquet(dir)) continue;
    std::string glob = dir + "/*.parquet";
    RECSYS_RETURN_IF_ERROR(db->Execute("CREATE OR REPLACE VIEW " + DuckDb::Identifier(table) +
                                       " AS SELECT * FROM read_parquet(" + DuckDb::Quote(glob) +
                                       ", hive_partitioning = false)"));
    views.push_back({table, "gold", glob});
  }
  return views;
}

}  // namespace recsys
