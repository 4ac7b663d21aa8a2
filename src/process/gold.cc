#include "process/gold.h"

#include <stdlib.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <map>
#include <set>
#include <span>
#include <string_view>
#include <utility>

#include "core/clock.h"
#include "core/files.h"
#include "core/json_writer.h"
#include "core/temp_dir.h"
#include "lake/duckdb.h"
#include "process/catalog.h"
#include "process/kmeans.h"

namespace recsys {

// gold/*.sql by file name, generated into gold_models_data.cc by embed_sql.cmake.
std::vector<std::pair<std::string, std::string>> EmbeddedGoldSql();

namespace {

constexpr char kUserClusters[] = "user_clusters";
constexpr char kCurrentKey[] = "gold/_current.json";
// Part of every snapshot id: bump when the C++ side changes what a snapshot holds.
constexpr int kGoldFormat = 1;

// The silver tables gold reads, with their columns (docs/formats/lake-tables.md), so a table
// without files yet can still be an empty view. Rebuilt tables are replaced whole by each
// silver run.
struct SilverInput {
  const char* name;
  bool rebuilt;
  const char* columns;  // a CREATE TABLE column list
};

constexpr char kLineage[] =
    ", schema_version INTEGER, bronze_file VARCHAR, bronze_line BIGINT, run_id VARCHAR, "
    "event_date DATE";

constexpr SilverInput kSilverInputs[] = {
    {"clickstream", false,
     "event_id VARCHAR, event_type VARCHAR, event_time TIMESTAMP, user_id VARCHAR, "
     "session_id VARCHAR, product_id VARCHAR, quantity BIGINT, price DECIMAL(18,2), "
     "currency VARCHAR, order_id VARCHAR, query VARCHAR, page VARCHAR, referrer VARCHAR, "
     "device VARCHAR, rec_id VARCHAR, position BIGINT, rating DOUBLE"},
    {"user_events", false,
     "event_id VARCHAR, event_type VARCHAR, event_time TIMESTAMP, user_id VARCHAR, "
     "country VARCHAR, city VARCHAR, age_band VARCHAR, gender VARCHAR, signup_channel VARCHAR, "
     "email_hash VARCHAR"},
    {"product_events", false,
     "event_id VARCHAR, event_type VARCHAR, event_time TIMESTAMP, product_id VARCHAR, "
     "title VARCHAR, description VARCHAR, category VARCHAR, brand VARCHAR, "
     "price DECIMAL(18,2), currency VARCHAR, stock BIGINT, tags VARCHAR[]"},
    {"sessions", true,
     "session_key VARCHAR, user_id VARCHAR, session_start TIMESTAMP, session_end TIMESTAMP, "
     "duration_s DOUBLE, events BIGINT, page_views BIGINT, product_views BIGINT, "
     "searches BIGINT, add_to_carts BIGINT, remove_from_carts BIGINT, purchases BIGINT, "
     "revenue DECIMAL(18,2), converted BOOLEAN, device VARCHAR, referrer VARCHAR, "
     "products_viewed BIGINT, event_date DATE"},
    {"users", true,
     "user_id VARCHAR, signup_time TIMESTAMP, country VARCHAR, city VARCHAR, age_band VARCHAR, "
     "gender VARCHAR, signup_channel VARCHAR, email_hash VARCHAR, last_login TIMESTAMP, "
     "logins BIGINT, profile_updates BIGINT, updated_at TIMESTAMP"},
    {"users_history", true,
     "user_id VARCHAR, country VARCHAR, city VARCHAR, age_band VARCHAR, gender VARCHAR, "
     "signup_channel VARCHAR, email_hash VARCHAR, valid_from TIMESTAMP, valid_to TIMESTAMP, "
     "is_current BOOLEAN"},
    {"products", true,
     "product_id VARCHAR, title VARCHAR, description VARCHAR, category VARCHAR, brand VARCHAR, "
     "price DECIMAL(18,2), currency VARCHAR, stock BIGINT, tags VARCHAR[], "
     "created_at TIMESTAMP, updated_at TIMESTAMP, discontinued BOOLEAN"},
    {"product_prices", true,
     "product_id VARCHAR, price DECIMAL(18,2), currency VARCHAR, valid_from TIMESTAMP, "
     "valid_to TIMESTAMP"},
};

// The silver files a snapshot is built from, per table, sorted by key.
using SilverFiles = std::map<std::string, std::vector<ObjectInfo>>;

// The run id of "part-<run>.parquet" (runs are "YYYYMMDDTHHMMSSZ-<8 hex>"), or "".
std::string RunOfFile(std::string_view key) {
  constexpr size_t kRunLength = 25;
  std::string_view name = key.substr(key.rfind('/') + 1);
  if (name.substr(0, 5) != "part-" || name.size() < 5 + kRunLength) return "";
  return std::string(name.substr(5, kRunLength));
}

// Lists the silver Parquet files of the tables gold reads. A rebuilt table keeps only the files
// of its latest run: silver deletes the previous run's files only after writing the new ones,
// so both may be listed for a moment.
Result<SilverFiles> ListSilver(ObjectStore* store) {
  SilverFiles files;
  for (const SilverInput& input : kSilverInputs) {
    const std::string prefix = std::string("silver/") + input.name + "/";
    RECSYS_ASSIGN_OR_RETURN(std::vector<ObjectInfo> listed, store->List(prefix));
    std::vector<ObjectInfo>& kept = files[input.name];
    for (ObjectInfo& o : listed) {
      if (o.key.ends_with(".parquet")) kept.push_back(std::move(o));
    }
    if (input.rebuilt && !kept.empty()) {
      std::string latest;
      for (const ObjectInfo& o : kept) latest = std::max(latest, RunOfFile(o.key));
      std::erase_if(kept, [&](const ObjectInfo& o) { return RunOfFile(o.key) != latest; });
    }
    std::sort(kept.begin(), kept.end(),
              [](const ObjectInfo& a, const ObjectInfo& b) { return a.key < b.key; });
  }
  return files;
}

std::string FormatDouble(double v) {
  char buf[40];
  std::snprintf(buf, sizeof(buf), "%.17g", v);
  return buf;
}

// FNV-1a, 64 bits: stable across builds and platforms, enough to tell inputs apart.
class Fnv1a64 {
 public:
  void Add(std::string_view s) {
    for (unsigned char c : s) {
      hash_ ^= c;
      hash_ *= 0x100000001b3ULL;
    }
  }
  std::string Hex() const {
    char buf[17];
    std::snprintf(buf, sizeof(buf), "%016llx", static_cast<unsigned long long>(hash_));
    return buf;
  }

 private:
  uint64_t hash_ = 0xcbf29ce484222325ULL;
};

// The snapshot id: a hash over the silver files (key and size), and also over what else decides
// the rows — the models' SQL and the options that reach them — so changing a weight or
// upgrading a model builds a new snapshot instead of reporting the old one unchanged.
std::string SnapshotId(const SilverFiles& files, const std::vector<SqlModel>& models,
                       const GoldOptions& o) {
  Fnv1a64 h;
  h.Add("gold format " + std::to_string(kGoldFormat) + "\n");
  for (const auto& [table, list] : files) {
    for (const ObjectInfo& f : list) h.Add(f.key + "\t" + std::to_string(f.size) + "\n");
  }
  for (const SqlModel& m : models) h.Add("model " + m.name + "\n" + m.sql + "\n");
  h.Add("options " + FormatDouble(o.weight_view) + " " + FormatDouble(o.weight_cart) + " " +
        FormatDouble(o.weight_purchase) + " " + FormatDouble(o.weight_click) + " " +
        FormatDouble(o.interaction_half_life_days) + " " + FormatDouble(o.trending_half_life_days) +
        " " + std::to_string(o.clusters) + " " +
        std::to_string(o.clusters == 0 ? o.max_clusters : 0) + " " + std::to_string(o.seed));
  return h.Hex();
}

Status ValidateOptions(const GoldOptions& o) {
  const std::pair<const char*, double> weights[] = {{"weight_view", o.weight_view},
                                                    {"weight_cart", o.weight_cart},
                                                    {"weight_purchase", o.weight_purchase},
                                                    {"weight_click", o.weight_click}};
  for (const auto& [name, w] : weights) {
    if (!std::isfinite(w) || w < 0) {
      return Status::InvalidArgument(std::string("gold: ") + name + " must be finite and >= 0");
    }
  }
  if (!(o.interaction_half_life_days > 0) || !std::isfinite(o.interaction_half_life_days) ||
      !(o.trending_half_life_days > 0) || !std::isfinite(o.trending_half_life_days)) {
    return Status::InvalidArgument("gold: half-lives must be positive days");
  }
  if (o.clusters < 0) return Status::InvalidArgument("gold: clusters must be >= 0");
  if (o.clusters == 0 && o.max_clusters < 2) {
    return Status::InvalidArgument("gold: max_clusters must be >= 2 when clusters is 0");
  }
  return Status::OK();
}

std::string SnapshotKey(const std::string& table, const std::string& snapshot) {
  return "gold/" + table + "/snapshot=" + snapshot + "/part-0.parquet";
}

Status CreateSilverViews(DuckDb* db, const std::string& root, const SilverFiles& files) {
  for (const SilverInput& input : kSilverInputs) {
    const std::vector<ObjectInfo>& list = files.at(input.name);
    std::string select;
    if (list.empty()) {
      // Incremental tables (not rebuilt) end in the lineage columns.
      const std::string empty = std::string("empty_") + input.name;
      RECSYS_RETURN_IF_ERROR(db->Execute("CREATE TABLE " + empty + " (" + input.columns +
                                         (input.rebuilt ? "" : kLineage) + ")"));
      select = "SELECT * FROM " + empty;
    } else {
      select = "SELECT * FROM read_parquet([";
      for (size_t i = 0; i < list.size(); ++i) {
        if (i > 0) select += ", ";
        select += DuckDb::Quote(JoinPath(root, list[i].key));
      }
      select += "], hive_partitioning = true, union_by_name = true)";
    }
    Status st = db->Execute("CREATE VIEW " + DuckDb::Identifier(input.name) + " AS " + select);
    if (!st.ok()) {
      return st.WithContext(std::string("gold: reading silver/") + input.name);
    }
  }
  return Status::OK();
}

Status CreateParams(DuckDb* db, const GoldOptions& o) {
  auto d = [](double v) { return "CAST(" + FormatDouble(v) + " AS DOUBLE)"; };
  return db->Execute(
      "CREATE TABLE params AS SELECT " + d(o.weight_view) + " AS weight_view, " +
      d(o.weight_click) + " AS weight_click, " + d(o.weight_cart) + " AS weight_cart, " +
      d(o.weight_purchase) + " AS weight_purchase, " + d(o.interaction_half_life_days) +
      " AS interaction_half_life_days, " + d(o.trending_half_life_days) +
      " AS trending_half_life_days, (SELECT max(t) FROM (SELECT max(event_time) AS t FROM "
      "clickstream UNION ALL SELECT max(event_time) FROM user_events UNION ALL SELECT "
      "max(event_time) FROM product_events)) AS as_of");
}

// A model's SELECT without the trailing semicolon and blanks a file may end with.
std::string_view SelectOf(std::string_view sql) {
  while (!sql.empty() &&
         (std::isspace(static_cast<unsigned char>(sql.back())) || sql.back() == ';')) {
    sql.remove_suffix(1);
  }
  return sql;
}

Status WriteParquet(DuckDb* db, const std::string& table, const std::string& path) {
  return db->Execute("COPY (SELECT * FROM " + DuckDb::Identifier(table) + " ORDER BY ALL) TO " +
                     DuckDb::Quote(path) + " (FORMAT parquet, COMPRESSION zstd)");
}

// user_clusters: k-means over standardised behaviour features of user_features. Counts and
// money are heavy-tailed, so they enter as log1p; every feature is then z-scored (a constant
// feature becomes 0). distance is the Euclidean distance to the cluster centre in those units.
Status BuildUserClusters(DuckDb* db, const GoldOptions& options, int* chosen) {
  static constexpr const char* kFeatures[] = {"recency_days", "frequency",     "monetary",
                                              "sessions",     "product_views", "add_to_carts",
                                              "purchases",    "mobile_share"};
  static constexpr bool kLog[] = {false, true, true, true, true, true, true, false};
  constexpr size_t kCols = std::size(kFeatures);
  std::string sql = "SELECT user_id";
  for (const char* f : kFeatures) sql += std::string(", CAST(") + f + " AS DOUBLE)";
  sql += " FROM user_features ORDER BY user_id";
  RECSYS_ASSIGN_OR_RETURN(QueryResult rows, db->Query(sql));

  DenseMatrix x(rows.rows(), kCols);
  for (size_t i = 0; i < rows.rows(); ++i) {
    for (size_t j = 0; j < kCols; ++j) {
      double v = rows.IsNull(i, j + 1) ? 0.0 : rows.GetDouble(i, j + 1);
      if (kLog[j]) v = std::log1p(std::max(v, 0.0));
      x.row(i)[j] = v;
    }
  }
  for (size_t j = 0; j < kCols && x.rows > 0; ++j) {
    double mean = 0, var = 0;
    for (size_t i = 0; i < x.rows; ++i) mean += x.row(i)[j];
    mean /= static_cast<double>(x.rows);
    for (size_t i = 0; i < x.rows; ++i) var += (x.row(i)[j] - mean) * (x.row(i)[j] - mean);
    const double sd = std::sqrt(var / static_cast<double>(x.rows));
    // A constant column can leave rounding noise in sd; it must not be blown up to unit scale.
    const bool constant = !(sd > 1e-12 * std::max(1.0, std::abs(mean)));
    for (size_t i = 0; i < x.rows; ++i) {
      x.row(i)[j] = constant ? 0.0 : (x.row(i)[j] - mean) / sd;
    }
  }

  KMeansOptions km;
  km.seed = options.seed;
  KMeansResult fit;
  if (options.clusters > 0) {
    km.k = options.clusters;
    RECSYS_ASSIGN_OR_RETURN(fit, KMeans(x, km));
  } else {
    KSelectionOptions selection;
    selection.max_k = options.max_clusters;
    RECSYS_ASSIGN_OR_RETURN(KSelection s, ChooseK(x, km, selection));
    fit = std::move(s.result);
  }
  *chosen = fit.k;

  RECSYS_RETURN_IF_ERROR(db->Execute(
      "CREATE TABLE user_clusters (user_id VARCHAR, cluster INTEGER, distance DOUBLE)"));
  RECSYS_ASSIGN_OR_RETURN(std::unique_ptr<DuckAppender> appender, db->Appender(kUserClusters));
  for (size_t i = 0; i < x.rows; ++i) {
    RECSYS_RETURN_IF_ERROR(appender->String(rows.GetString(i, 0)));
    RECSYS_RETURN_IF_ERROR(appender->Int64(fit.assignment[i]));
    RECSYS_RETURN_IF_ERROR(appender->Double(fit.distance[i]));
    RECSYS_RETURN_IF_ERROR(appender->EndRow());
  }
  return appender->Close();
}

// The snapshot id gold/_current.json names, or "" when there is none or it cannot be read (it
// is then rewritten).
std::string CurrentSnapshot(ObjectStore* store) {
  Result<std::string> text = store->Get(kCurrentKey);
  if (!text.ok()) return "";
  Result<GoldCurrent> current = ParseGoldCurrent(*text, kCurrentKey);
  return current.ok() ? current->snapshot : "";
}

std::string CurrentJson(const GoldReport& report, const std::string& as_of) {
  JsonWriter w;
  w.BeginObject();
  w.Key("snapshot");
  w.String(report.snapshot);
  w.Key("as_of");
  if (as_of.empty()) {
    w.Null();
  } else {
    w.String(as_of);
  }
  w.Key("tables");
  w.BeginArray();
  for (const GoldTable& t : report.tables) {
    w.BeginObject();
    w.Key("name");
    w.String(t.name);
    w.Key("rows");
    w.Int(t.rows);
    w.EndObject();
  }
  w.EndArray();
  w.Key("chosen_clusters");
  w.Int(report.chosen_clusters);
  w.Key("built_at");
  w.String(FormatRfc3339Millis(SystemClock()->NowMillis()));
  w.EndObject();
  return w.str();
}

// as_of as RFC 3339 ("" when silver has no events).
Result<std::string> AsOf(DuckDb* db) {
  RECSYS_ASSIGN_OR_RETURN(QueryResult r, db->Query("SELECT epoch_ms(as_of) FROM params"));
  if (r.rows() == 0 || r.IsNull(0, 0)) return std::string();
  return FormatRfc3339Millis(r.GetInt64(0, 0));
}

// Fills report->tables and chosen_clusters from the files of an existing snapshot.
Status DescribeSnapshot(DuckDb* db, const std::string& root, const std::vector<std::string>& tables,
                        GoldReport* report) {
  for (const std::string& t : tables) {
    const std::string path = DuckDb::Quote(JoinPath(root, SnapshotKey(t, report->snapshot)));
    RECSYS_ASSIGN_OR_RETURN(int64_t rows,
                            db->QueryInt64("SELECT count(*) FROM read_parquet(" + path + ")"));
    report->tables.push_back({t, rows});
    if (t == kUserClusters) {
      RECSYS_ASSIGN_OR_RETURN(
          int64_t k,
          db->QueryInt64("SELECT count(DISTINCT cluster) FROM read_parquet(" + path + ")"));
      report->chosen_clusters = static_cast<int>(k);
    }
  }
  return Status::OK();
}

Result<std::vector<SqlModel>> EmbeddedModels() {
  std::vector<SqlModel> models;
  for (auto& [name, sql] : EmbeddedGoldSql()) models.push_back(ParseSqlModel(name, sql));
  return SortSqlModels(std::move(models));
}

Status RunGoldImpl(const LakeLocation& lake, const GoldOptions& options, GoldReport* report) {
  if (lake.store == nullptr || lake.root.empty()) {
    return Status::InvalidArgument("gold: the lake needs a store and a local root");
  }
  RECSYS_RETURN_IF_ERROR(ValidateOptions(options));
  RECSYS_ASSIGN_OR_RETURN(std::vector<SqlModel> models, EmbeddedModels());
  RECSYS_ASSIGN_OR_RETURN(SilverFiles files, ListSilver(lake.store));
  report->snapshot = SnapshotId(files, models, options);

  std::vector<std::string> tables;
  for (const SqlModel& m : models) tables.push_back(m.name);
  tables.push_back(kUserClusters);
  bool complete = true;
  for (const std::string& t : tables) {
    const std::string key = SnapshotKey(t, report->snapshot);
    RECSYS_ASSIGN_OR_RETURN(std::vector<ObjectInfo> found, lake.store->List(key));
    complete = complete && std::any_of(found.begin(), found.end(),
                                       [&](const ObjectInfo& o) { return o.key == key; });
  }

  TempDir scratch("recsys-gold");  // DuckDB's Parquet output and spill files
  if (scratch.path().empty()) return Status::IOError("gold: cannot create a scratch folder");
  DuckDbOptions db_options;
  db_options.threads = options.threads;
  db_options.memory_limit = options.memory_limit;
  db_options.temp_directory = JoinPath(scratch.path(), "spill");
  RECSYS_ASSIGN_OR_RETURN(std::unique_ptr<DuckDb> db, DuckDb::Open(":memory:", db_options));

  if (complete) {
    // Every table of this snapshot was written (each file whole, by Put), so there is nothing
    // to rebuild; only make it current if it is not (a crash between the tables and
    // _current.json, or silver rolled back to an earlier state).
    report->unchanged = true;
    RECSYS_RETURN_IF_ERROR(DescribeSnapshot(db.get(), lake.root, tables, report));
    if (CurrentSnapshot(lake.store) != report->snapshot) {
      RECSYS_RETURN_IF_ERROR(CreateSilverViews(db.get(), lake.root, files));
      RECSYS_RETURN_IF_ERROR(CreateParams(db.get(), options));
      RECSYS_ASSIGN_OR_RETURN(std::string as_of, AsOf(db.get()));
      RECSYS_RETURN_IF_ERROR(lake.store->Put(kCurrentKey, CurrentJson(*report, as_of)));
    }
    return Status::OK();
  }

  RECSYS_RETURN_IF_ERROR(CreateSilverViews(db.get(), lake.root, files));
  RECSYS_RETURN_IF_ERROR(CreateParams(db.get(), options));
  RECSYS_ASSIGN_OR_RETURN(std::string as_of, AsOf(db.get()));
  for (const SqlModel& m : models) {
    const std::string context = "gold model " + m.name + " (src/process/gold/" + m.name + ".sql)";
    Status st = db->Execute("CREATE TABLE " + DuckDb::Identifier(m.name) + " AS\n" +
                            std::string(SelectOf(m.sql)));
    if (!st.ok()) return st.WithContext(context);
    Result<int64_t> rows = db->QueryInt64("SELECT count(*) FROM " + DuckDb::Identifier(m.name));
    if (!rows.ok()) return rows.status().WithContext(context);
    report->tables.push_back({m.name, *rows});
  }
  {
    Status st = BuildUserClusters(db.get(), options, &report->chosen_clusters);
    if (!st.ok()) return st.WithContext("gold model user_clusters (k-means over user_features)");
    RECSYS_ASSIGN_OR_RETURN(int64_t rows, db->QueryInt64("SELECT count(*) FROM user_clusters"));
    report->tables.push_back({kUserClusters, rows});
  }

  // DuckDB writes each table to the scratch folder; the store then puts them all (each file
  // atomically), and only then _current.json, so a reader following _current.json never finds
  // a table missing or half written.
  std::vector<std::string> contents;
  for (const GoldTable& t : report->tables) {
    const std::string path = JoinPath(scratch.path(), t.name + ".parquet");
    Status st = WriteParquet(db.get(), t.name, path);
    if (!st.ok()) return st.WithContext("gold: writing " + t.name);
    RECSYS_ASSIGN_OR_RETURN(std::string data, ReadFile(path));
    contents.push_back(std::move(data));
    (void)RemoveAll(path);
  }
  std::vector<std::string> keys;
  std::vector<ObjectWrite> writes;
  for (const GoldTable& t : report->tables) keys.push_back(SnapshotKey(t.name, report->snapshot));
  for (size_t i = 0; i < keys.size(); ++i) writes.push_back({keys[i], contents[i]});
  RECSYS_RETURN_IF_ERROR(lake.store->PutMany(writes));
  return lake.store->Put(kCurrentKey, CurrentJson(*report, as_of));
}

}  // namespace

SqlModel ParseSqlModel(std::string name, std::string sql) {
  SqlModel m;
  m.name = std::move(name);
  m.sql = std::move(sql);
  std::string_view text = m.sql;
  while (!text.empty()) {
    const size_t eol = text.find('\n');
    std::string_view line = text.substr(0, eol);
    text = eol == std::string_view::npos ? std::string_view() : text.substr(eol + 1);
    const size_t start = line.find_first_not_of(" \t");
    if (start == std::string_view::npos || line.substr(start, 2) != "--") continue;
    line = line.substr(start + 2);
    line = line.substr(std::min(line.size(), line.find_first_not_of(" \t")));
    if (!line.starts_with("depends:")) continue;
    line.remove_prefix(8);
    std::string token;
    for (size_t i = 0; i <= line.size(); ++i) {
      const char c = i < line.size() ? line[i] : ',';
      if (c == ',' || c == ' ' || c == '\t' || c == '\r') {
        if (!token.empty() &&
            std::find(m.depends_on.begin(), m.depends_on.end(), token) == m.depends_on.end()) {
          m.depends_on.push_back(token);
        }
        token.clear();
      } else {
        token += c;
      }
    }
  }
  return m;
}

Result<std::vector<SqlModel>> SortSqlModels(std::vector<SqlModel> models) {
  std::set<std::string> names;
  for (const SqlModel& m : models) {
    if (!names.insert(m.name).second) {
      return Status::InvalidArgument("gold model " + m.name + " is defined twice");
    }
  }
  for (const SqlModel& m : models) {
    for (const std::string& d : m.depends_on) {
      if (!names.contains(d)) {
        return Status::InvalidArgument("gold model " + m.name + " depends on unknown model " + d);
      }
    }
  }
  std::vector<SqlModel> sorted;
  std::set<std::string> placed;
  std::vector<bool> done(models.size(), false);
  while (sorted.size() < models.size()) {
    bool progress = false;
    for (size_t i = 0; i < models.size() && !progress; ++i) {
      if (done[i]) continue;
      const auto& deps = models[i].depends_on;
      if (std::all_of(deps.begin(), deps.end(),
                      [&](const auto& d) { return placed.contains(d); })) {
        placed.insert(models[i].name);
        sorted.push_back(std::move(models[i]));
        done[i] = true;
        progress = true;
      }
    }
    if (!progress) {
      // Every model left waits for another one left: walk those waits until one repeats.
      std::map<std::string, const SqlModel*> left;
      for (size_t i = 0; i < models.size(); ++i) {
        if (!done[i]) left[models[i].name] = &models[i];
      }
      std::vector<std::string> path;
      std::string at = left.begin()->first;
      while (std::find(path.begin(), path.end(), at) == path.end()) {
        path.push_back(at);
        for (const std::string& d : left[at]->depends_on) {
          if (!placed.contains(d)) {
            at = d;
            break;
          }
        }
      }
      std::string cycle = at;
      for (auto it = std::find(path.begin(), path.end(), at) + 1; it != path.end(); ++it) {
        cycle += " -> " + *it;
      }
      return Status::InvalidArgument("gold models depend on each other in a cycle: " + cycle +
                                     " -> " + at);
    }
  }
  return sorted;
}

std::vector<SqlModel> GoldModels() {
  Result<std::vector<SqlModel>> models = EmbeddedModels();
  return models.ok() ? std::move(models).value() : std::vector<SqlModel>();
}

Status RunGold(const LakeLocation& lake, const GoldOptions& options, GoldReport* report) {
  const int64_t start = SystemClock()->MonotonicNanos();
  *report = GoldReport();
  Status st = RunGoldImpl(lake, options, report);
  report->seconds = static_cast<double>(SystemClock()->MonotonicNanos() - start) / 1e9;
  return st;
}

}  // namespace recsys
