// Loading the interactions every model learns from: the lake's current gold `interactions`
// table, or a MovieLens ratings file (for offline quality checks against published figures).
#pragma once

#include <string>
#include <vector>

#include "core/status.h"
#include "models/recommender.h"
#include "models/sparse.h"

namespace recsys {

// The current gold snapshot's `interactions` table (docs/formats/lake-tables.md) of the local
// lake at lake_root: one entry per (user_id, product_id), value = weight, time = last_time.
// Entries come ordered by user_id, then product_id. NotFound (naming the lake) when gold has
// no interactions table yet. threads: DuckDB threads, 0 = all cores.
Result<InteractionData> LoadGoldInteractions(const std::string& lake_root, int threads = 0);

// A MovieLens ratings file: ratings.csv (header userId,movieId,rating,timestamp; ml-latest and
// ml-25m) or u.data / ratings.dat (tab- or "::"-separated user, item, rating, timestamp without a
// header; ml-100k, ml-1m). Each rating is one entry with value = rating, or 1 when binary; time
// = timestamp (seconds) in milliseconds. Entries keep the file's order, which seeded splits
// depend on. A repeated (user, item) keeps its last rating. Errors name the file and line.
Result<InteractionData> LoadMovieLensRatings(const std::string& path, bool binary = false);

// Item side data (models/recommender.h) for the columns of `items`, from the current gold
// snapshot's item_content (terms) and hybrid_features (top_category as category; available =
// not discontinued and in_stock not false; created_at) tables. Items missing from a table get
// no terms, category -1, available 1, created 0. now_ms = the latest created_at. NotFound naming
// the lake when gold has neither table.
Result<ItemSideData> LoadItemSideData(const std::string& lake_root, const IdMap& items,
                                      int threads = 0);

// data.times_ms reordered to the CSR order of data.ToMatrix() (FitOptions::side's
// entry_time_ms); a (user, item) given twice keeps its later time.
std::vector<int64_t> EntryTimesInCsrOrder(const InteractionData& data);

}  // namespace recsys
