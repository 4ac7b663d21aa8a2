// Silver -> gold (DESIGN.md §1, docs/formats/lake-tables.md): SQL models kept as .sql files in
// src/process/gold/, run by DuckDB in dependency order, plus k-means clustering in C++; each
// output is a Parquet snapshot gold/<table>/snapshot=<id>/part-0.parquet.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/status.h"
#include "process/silver.h"

namespace recsys {

struct GoldOptions {
  // Interaction weights per event type, and time decay (docs/formats/lake-tables.md).
  double weight_view = 1, weight_cart = 3, weight_purchase = 5, weight_click = 2;
  double interaction_half_life_days = 30;
  double trending_half_life_days = 7;
  int clusters = 0;  // k for user_clusters; 0 = chosen by silhouette in [2, max_clusters]
  int max_clusters = 8;
  uint64_t seed = 42;  // k-means initialisation
  int threads = 0;     // DuckDB threads; 0 = all cores
  std::string memory_limit;
};

struct GoldTable {
  std::string name;
  int64_t rows = 0;
};

struct GoldReport {
  std::string snapshot;           // content-addressed id of the silver input, models and options
  bool unchanged = false;         // that snapshot existed already: nothing was rebuilt
  std::vector<GoldTable> tables;  // in the order they were built
  int chosen_clusters = 0;
  double seconds = 0;
};

// Builds every gold table from the current silver and makes the snapshot current
// (gold/_current.json). Rebuilding from unchanged silver yields the same snapshot id and rows.
Status RunGold(const LakeLocation& lake, const GoldOptions& options, GoldReport* report);

// The SQL models compiled into the binary: name -> SQL text, in dependency order.
//
// A model is one SELECT; RunGold runs `CREATE TABLE <name> AS <select>` in an in-memory DuckDB
// that has a view per silver table (clickstream, user_events, product_events, sessions, users,
// users_history, products, product_prices; empty with the documented columns while silver has
// no files for it), a one-row table `params` (weight_view, weight_click, weight_cart,
// weight_purchase, interaction_half_life_days, trending_half_life_days from GoldOptions, and
// as_of TIMESTAMP = the latest event_time in silver), and the tables of the models built before.
struct SqlModel {
  std::string name;
  std::string sql;
  std::vector<std::string> depends_on;  // other models (from "-- depends: a, b" lines)
};
// Empty only if the embedded models do not sort (a build defect the tests catch; RunGold then
// fails saying why).
std::vector<SqlModel> GoldModels();

// A model from its SQL text: depends_on from every line "-- depends: a, b" (names separated by
// commas or spaces).
SqlModel ParseSqlModel(std::string name, std::string sql);

// Orders models so that each comes after the models it depends on; among models free to go,
// the given order is kept. InvalidArgument, naming the models, for a duplicate name, a
// dependency on a model not in the list, or a cycle.
Result<std::vector<SqlModel>> SortSqlModels(std::vector<SqlModel> models);

}  // namespace recsys
