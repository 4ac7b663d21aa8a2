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

// The gold snapshot id and table names of gold/_current.json; empty if there is none yet.
Result<std::pair<std::string, std::vector<std::string>>> CurrentGold(const std::string& root) {
  std::string path = root + "/gold/_current.json";
  if (!FileExists(path)) return std::pair<std::string, std::vector<std::string>>{};
  RECSYS_ASSIGN_OR_RETURN(std::string text, ReadFile(path));
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  if (parser.parse(text).get(doc)) return Status::Corruption(path + ": not JSON");
  std::string_view snapshot;
  if (doc["snapshot"].get_string().get(snapshot)) {
    return Status::Corruption(path + ": no \"snapshot\" string");
  }
  std::vector<std::string> tables;
  simdjson::dom::array array;
  if (!doc["tables"].get_array().get(array)) {
    for (simdjson::dom::element t : array) {
      std::string_view name;
      if (!t.get_string().get(name)) {
        tables.emplace_back(name);
      } else {
        std::string_view nested;
        if (!t["name"].get_string().get(nested)) tables.emplace_back(nested);
      }
    }
  }
  return std::pair<std::string, std::vector<std::string>>{std::string(snapshot), tables};
}

}  // namespace

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
  RECSYS_ASSIGN_OR_RETURN(auto current, CurrentGold(root));
  for (const std::string& table : current.second) {
    std::string dir = root + "/gold/" + table + "/snapshot=" + current.first;
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
