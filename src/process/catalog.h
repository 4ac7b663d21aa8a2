// The lake as SQL: every silver table and every table of the current gold snapshot as a view,
// named as in docs/formats/lake-tables.md, so `recsys sql` and ad-hoc queries can use them.
#pragma once

#include <string>
#include <vector>

#include "core/status.h"
#include "lake/duckdb.h"

namespace recsys {

// Silver tables a view is made for, when they have files; "quarantine" is silver/_quarantine.
inline constexpr const char* kSilverTables[] = {
    "clickstream",   "user_events", "product_events", "sessions",  "users",
    "users_history", "products",    "product_prices", "event_ids", "quarantine"};

struct LakeView {
  std::string name;
  std::string layer;   // "silver" or "gold"
  std::string source;  // the glob the view reads
};

// What gold/_current.json says: the current snapshot and its tables.
struct GoldCurrent {
  std::string snapshot;
  std::string as_of;  // RFC 3339, "" when gold had no events
  std::vector<std::string> tables;
};
// Parses the text of gold/_current.json; `where` names it in errors.
Result<GoldCurrent> ParseGoldCurrent(std::string_view text, const std::string& where);
// Reads gold/_current.json of the lake at lake_root. NotFound ("run `recsys process gold`") when
// there is none yet; Corruption naming the file when it cannot be read.
Result<GoldCurrent> ReadGoldCurrent(const std::string& lake_root);

// Creates (or replaces) the views in db for the lake rooted at the local path lake_root.
// Tables with no files yet get no view. Returns the views made, silver first.
Result<std::vector<LakeView>> RegisterLakeViews(DuckDb* db, const std::string& lake_root);

}  // namespace recsys
