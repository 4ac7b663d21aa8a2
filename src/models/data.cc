#include "models/data.h"

#include <algorithm>
#include <charconv>
#include <numeric>
#include <string_view>
#include <unordered_map>

#include "core/files.h"
#include "lake/duckdb.h"
#include "models/registry.h"

namespace recsys {
namespace {

// Packs a (user, item) pair of dense indices into one hash key.
uint64_t PairKey(int32_t user, int32_t item) {
  return (static_cast<uint64_t>(static_cast<uint32_t>(user)) << 32) | static_cast<uint32_t>(item);
}

bool ParseDouble(std::string_view s, double* v) {
  while (!s.empty() && (s.back() == ' ' || s.back() == '\r')) s.remove_suffix(1);
  while (!s.empty() && s.front() == ' ') s.remove_prefix(1);
  auto r = std::from_chars(s.data(), s.data() + s.size(), *v);
  return !s.empty() && r.ec == std::errc() && r.ptr == s.data() + s.size();
}

std::string_view TrimField(std::string_view s) {
  while (!s.empty() && (s.back() == ' ' || s.back() == '\r')) s.remove_suffix(1);
  while (!s.empty() && s.front() == ' ') s.remove_prefix(1);
  return s;
}

}  // namespace

Result<InteractionData> LoadGoldInteractions(const std::string& lake_root, int threads) {
  DuckDbOptions options;
  options.threads = threads;
  RECSYS_ASSIGN_OR_RETURN(std::unique_ptr<DuckDb> db, DuckDb::Open("", options));
  RECSYS_ASSIGN_OR_RETURN(std::string snapshot, CurrentGoldSnapshot(lake_root));
  const std::string dir = lake_root + "/gold/interactions/snapshot=" + snapshot;
  if (!FileExists(dir)) {
    return Status::NotFound("lake " + lake_root + ": gold snapshot " + snapshot +
                            " has no interactions table (run `recsys process gold`)");
  }
  RECSYS_ASSIGN_OR_RETURN(
      QueryResult r,
      db->Query("SELECT user_id, product_id, weight, epoch_ms(last_time) FROM read_parquet(" +
                DuckDb::Quote(dir + "/*.parquet") +
                ") WHERE user_id IS NOT NULL AND product_id IS NOT NULL AND weight > 0 "
                "ORDER BY user_id, product_id"));
  InteractionData data;
  data.entries.reserve(r.rows());
  data.times_ms.reserve(r.rows());
  for (size_t row = 0; row < r.rows(); ++row) {
    int32_t u = data.users.GetOrAdd(r.GetString(row, 0));
    int32_t i = data.items.GetOrAdd(r.GetString(row, 1));
    data.entries.push_back({u, i, static_cast<float>(r.GetDouble(row, 2))});
    data.times_ms.push_back(r.IsNull(row, 3) ? 0 : r.GetInt64(row, 3));
  }
  return data;
}

Result<InteractionData> LoadMovieLensRatings(const std::string& path, bool binary) {
  RECSYS_ASSIGN_OR_RETURN(std::string text, ReadFile(path));
  InteractionData data;
  std::unordered_map<uint64_t, size_t> seen;
  std::string_view rest = text;
  int64_t line_no = 0;
  bool first = true;
  while (!rest.empty()) {
    size_t nl = rest.find('\n');
    std::string_view line = rest.substr(0, nl);
    rest = nl == std::string_view::npos ? std::string_view() : rest.substr(nl + 1);
    ++line_no;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.empty()) continue;
    if (first) {
      first = false;
      if (line.rfind("userId", 0) == 0) continue;  // ratings.csv header
    }
    std::string_view sep = line.find("::") != std::string_view::npos   ? "::"
                           : line.find('\t') != std::string_view::npos ? "\t"
                                                                       : ",";
    std::string_view fields[4];
    int n = 0;
    std::string_view cur = line;
    while (n < 4) {
      size_t at = cur.find(sep);
      fields[n++] = TrimField(cur.substr(0, at));
      if (at == std::string_view::npos) break;
      cur = cur.substr(at + sep.size());
    }
    auto where = [&] { return path + " line " + std::to_string(line_no) + ": "; };
    if (n < 3 || fields[0].empty() || fields[1].empty()) {
      return Status::InvalidArgument(where() + "expected user, item, rating[, timestamp]");
    }
    double rating = 0, ts = 0;
    if (!ParseDouble(fields[2], &rating)) {
      return Status::InvalidArgument(where() + "rating '" + std::string(fields[2]) +
                                     "' is not a number");
    }
    if (n >= 4 && !fields[3].empty() && !ParseDouble(fields[3], &ts)) {
      return Status::InvalidArgument(where() + "timestamp '" + std::string(fields[3]) +
                                     "' is not a number");
    }
    int32_t u = data.users.GetOrAdd(fields[0]);
    int32_t i = data.items.GetOrAdd(fields[1]);
    Triplet t{u, i, binary ? 1.0f : static_cast<float>(rating)};
    int64_t ms = static_cast<int64_t>(ts) * 1000;
    auto [it, inserted] = seen.emplace(PairKey(u, i), data.entries.size());
    if (inserted) {
      data.entries.push_back(t);
      data.times_ms.push_back(ms);
    } else {
      data.entries[it->second] = t;
      data.times_ms[it->second] = ms;
    }
  }
  if (data.entries.empty()) return Status::InvalidArgument(path + ": no ratings");
  return data;
}

Result<ItemSideData> LoadItemSideData(const std::string& lake_root, const IdMap& items,
                                      int threads) {
  DuckDbOptions options;
  options.threads = threads;
  RECSYS_ASSIGN_OR_RETURN(std::unique_ptr<DuckDb> db, DuckDb::Open("", options));
  RECSYS_ASSIGN_OR_RETURN(std::string snapshot, CurrentGoldSnapshot(lake_root));
  const std::string content = lake_root + "/gold/item_content/snapshot=" + snapshot;
  const std::string features = lake_root + "/gold/hybrid_features/snapshot=" + snapshot;
  if (!FileExists(content) && !FileExists(features)) {
    return Status::NotFound("lake " + lake_root + ": gold snapshot " + snapshot +
                            " has neither item_content nor hybrid_features (run `recsys process "
                            "gold`)");
  }
  const size_t n = static_cast<size_t>(items.size());
  ItemSideData side;
  if (FileExists(content)) {
    RECSYS_ASSIGN_OR_RETURN(QueryResult r,
                            db->Query("SELECT product_id, term, weight FROM read_parquet(" +
                                      DuckDb::Quote(content + "/*.parquet") +
                                      ") WHERE product_id IS NOT NULL AND term IS NOT NULL AND "
                                      "weight > 0 ORDER BY product_id, term"));
    side.terms.assign(n, {});
    for (size_t row = 0; row < r.rows(); ++row) {
      const int32_t i = items.Find(r.GetString(row, 0));
      if (i < 0) continue;
      side.terms[static_cast<size_t>(i)].push_back(
          {r.GetString(row, 1), static_cast<float>(r.GetDouble(row, 2))});
    }
  }
  if (FileExists(features)) {
    RECSYS_ASSIGN_OR_RETURN(
        QueryResult r,
        db->Query("SELECT product_id, top_category, coalesce(in_stock, true) AND NOT "
                  "coalesce(discontinued, false), epoch_ms(created_at) FROM read_parquet(" +
                  DuckDb::Quote(features + "/*.parquet") +
                  ") WHERE product_id IS NOT NULL ORDER BY product_id"));
    side.category.assign(n, -1);
    side.available.assign(n, 1);
    side.created_ms.assign(n, 0);
    IdMap categories;
    for (size_t row = 0; row < r.rows(); ++row) {
      const int32_t i = items.Find(r.GetString(row, 0));
      if (i < 0) continue;
      const size_t at = static_cast<size_t>(i);
      if (!r.IsNull(row, 1)) side.category[at] = categories.GetOrAdd(r.GetString(row, 1));
      side.available[at] = r.IsNull(row, 2) || r.GetInt64(row, 2) != 0 ? 1 : 0;
      side.created_ms[at] = r.IsNull(row, 3) ? 0 : r.GetInt64(row, 3);
      side.now_ms = std::max(side.now_ms, side.created_ms[at]);
    }
    side.category_names = categories.names();
  }
  return side;
}

std::vector<int64_t> EntryTimesInCsrOrder(const InteractionData& data) {
  std::vector<size_t> order(data.entries.size());
  std::iota(order.begin(), order.end(), size_t{0});
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    const Triplet& x = data.entries[a];
    const Triplet& y = data.entries[b];
    return x.row != y.row ? x.row < y.row : x.col < y.col;
  });
  std::vector<int64_t> times;
  times.reserve(order.size());
  for (size_t k = 0; k < order.size(); ++k) {
    const Triplet& t = data.entries[order[k]];
    const int64_t ms = order[k] < data.times_ms.size() ? data.times_ms[order[k]] : 0;
    if (k > 0 && data.entries[order[k - 1]].row == t.row &&
        data.entries[order[k - 1]].col == t.col) {
      times.back() = std::max(times.back(), ms);
    } else {
      times.push_back(ms);
    }
  }
  return times;
}

}  // namespace recsys
