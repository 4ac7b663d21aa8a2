// A synthetic shop (DESIGN.md §1 "produce"): catalog, users, sessions and funnels, with hidden
// tastes a recommender can learn. Same options (seed included), same events, byte for byte
// (on one platform: the draws go through libm's exp/log/cos).
//
// Scale: about 4 good records per registered user per simulated day (3.6 clickstream, 0.3 user
// events; guests add a quarter of the sessions), plus about 1.1 product events per product at
// the start and 0.05 per product per day. So records ~= 4.1 x users x days: the defaults give
// about 1.2 million, 100k users x 30 days about 12 million. bad_rate adds bad / (1 - bad) more.
// Roughly 10 records make a session and 3-4% of sessions buy. Memory holds the catalog, the
// users and one simulated day of compact pending events (about 160 MiB for 100k users).
//
// Ids: users "u000001" in signup order, guests "g-<16 hex>", products "p000001", sessions
// "s-<16 hex>", orders "o-<16 hex>", recommendation lists "r-<16 hex>", event ids UUID-shaped.
// Only a bad record of the duplicate kind repeats an event_id. Prices are EUR.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "core/event.h"
#include "core/status.h"

namespace recsys {

struct GeneratorOptions {
  int64_t users = 10000;    // registered users over the whole period (plus guest sessions)
  int64_t products = 2000;  // initial catalog size; a few more are created over time
  int days = 30;            // simulated days, ending at start_ms + days
  uint64_t seed = 42;
  // Share of emitted records that are bad (every kind of §3), in [0, 0.5]. Bad records are
  // inserted between the good ones, which stay exactly as they are with bad_rate 0.
  double bad_rate = 0.0;
  // First simulated day, midnight UTC. Default 2024-01-01.
  int64_t start_ms = 1704067200000;
};

// One emitted record. For a good record `event` is set and `json` is its encoding; for a bad
// record `event` is null and `json` is the raw bad text (possibly not JSON at all). `topic` is
// the topic the producer meant it for, `key` the message key (may be empty for bad records),
// `time_ms` the simulated time it was produced at (nondecreasing across calls).
struct GeneratedRecord {
  Topic topic;
  std::string_view key;
  std::string_view json;
  int64_t time_ms;
  const Event* event;  // null for bad records
  bool bad;
};

struct GeneratorStats {
  int64_t records = 0;  // everything emitted
  int64_t bad = 0;
  int64_t per_topic[3] = {0, 0, 0};
  int64_t sessions = 0;
  int64_t converting_sessions = 0;  // sessions with at least one purchase
  int64_t purchases = 0;
};

class Generator {
 public:
  explicit Generator(GeneratorOptions options);
  ~Generator();

  // Simulates the whole period, calling emit for each record in time order. The record's
  // views are valid only during the call. Stops early and returns the error if emit fails.
  // InvalidArgument for options out of range, or if called a second time.
  Status Run(const std::function<Status(const GeneratedRecord&)>& emit);

  const GeneratorStats& stats() const { return stats_; }

  // Writes the hidden model to dir (created if needed):
  //   ground_truth/user_tastes.csv      user_id, then one weight per category (header names them)
  //   ground_truth/user_brands.csv      user_id, brand, weight (the user's favourite brands)
  //   ground_truth/products.csv         product_id, category, brand, price, quality, popularity
  //   ground_truth/users.csv            user_id, signup_time, demographics, sessions_per_day,
  //                                     price_sensitivity
  //   ground_truth/README.md            what the files mean
  // REQUIRES: Run has been called (the catalog is built there).
  Status WriteGroundTruth(const std::string& dir) const;

 private:
  struct Impl;
  GeneratorOptions options_;
  GeneratorStats stats_;
  std::unique_ptr<Impl> impl_;
};

}  // namespace recsys
