// The events that arrive while the server runs, and what serving learns from them at once
// (DESIGN.md §5): per user the fresh interactions since the model's data (folded in at request
// time), per session the products seen (guest recommendations), and the attribution of
// recommendation clicks and purchases to the served list (rec_id) they came from, so
// click-through is measured per model, version and A/B variant from our own events.
//
// Two ways in: Apply, for the events the API has just appended (they count before the request
// returns), and a tailer thread that reads the clickstream topic of the event log from its
// start and applies what other producers wrote (events the API applied, and this instance's own
// impressions, are recognised by event_id and not counted twice). Served lists go out through
// RecordImpression as recommendation_impression events, appended in batches by a writer thread.
//
// Thread safety: every method may be called from several threads at once. Reads take one of 64
// shard locks, so concurrent readers rarely wait.
// Memory: the state of every user and session seen is kept for the life of the object (bounded
// per user and session by the options); rec_ids by max_rec_ids.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/event.h"
#include "core/status.h"
#include "ingest/event_log.h"

namespace recsys {

struct LiveEventsOptions {
  // Interaction weight per event type, as gold's interactions (process.weight_*); a product_view
  // with a rating weighs the rating. Other event types add no interaction.
  double weight_view = 1, weight_click = 2, weight_cart = 3, weight_purchase = 5;
  // Clickstream events at or before this event time (ms since the epoch) are in the model's
  // data already: they are not fresh interactions (attribution still counts them). 0 = all.
  int64_t since_ms = 0;
  int poll_interval_ms = 100;     // the tailer's sleep when it has read everything
  size_t max_session_items = 50;  // per session, the most recent distinct products kept
  size_t max_recent_events = 20;  // per user, the most recent events kept for profiles
  size_t max_rec_ids = 2000000;   // served lists remembered for attribution (oldest dropped)
  int impression_flush_ms = 20;   // the writer appends queued impressions at least this often
  // Prefix of this instance's rec_ids and impression event ids; "" = random (12 hex digits).
  std::string instance_id;
};

// A user's interactions since options.since_ms.
struct FreshHistory {
  // (product_id, summed weight), sorted by product_id.
  std::vector<std::pair<std::string, float>> items;
  std::vector<std::string> purchased;  // product ids bought since, sorted
  // Changes whenever the user's fresh events change (for caches of folded-in vectors).
  uint64_t version = 0;
};

struct RecentEvent {
  std::string event_type;  // "product_view", ...
  std::string product_id;  // "" when none
  int64_t time_ms = 0;
};

// One served list.
struct Impression {
  std::string rec_id;
  std::string user_id, session_id;  // either may be ""
  std::string model, model_version, variant;
  std::vector<std::string> items;  // product ids, position i + 1 at index i
  int64_t time_ms = 0;             // 0 = now
};

// Online results of one arm (model, version, variant).
struct ArmStats {
  std::string model, model_version, variant;
  int64_t lists = 0;        // impressions (served lists)
  int64_t items_shown = 0;  // sum of the lists' lengths
  int64_t clicks = 0;       // recommendation_click events with a rec_id of this arm
  int64_t purchases = 0;    // purchase events with a rec_id of this arm
  double revenue = 0;       // their price * quantity
  double click_through_rate() const { return lists > 0 ? double(clicks) / lists : 0.0; }
};

struct LiveEventsCounts {
  int64_t read = 0;     // records the tailer read
  int64_t applied = 0;  // events applied (tailer and Apply)
  // Records the tailer recognised as applied already (given to Apply, this run's own
  // impressions, a repeated event_id), and events given to Apply that the tailer had applied.
  int64_t skipped = 0;
  int64_t invalid = 0;  // records the tailer could not parse (left alone)
  int64_t impressions_written = 0;
  int64_t unattributed = 0;         // clicks and purchases whose rec_id is not known
  int64_t impressions_dropped = 0;  // impressions whose append failed (not retried)
  int64_t read_errors = 0;          // failed reads of the log by the tailer (retried)
};

class LiveEvents {
 public:
  // log: not owned, must outlive this object.
  LiveEvents(EventLog* log, LiveEventsOptions options);
  ~LiveEvents();  // Stop()
  LiveEvents(const LiveEvents&) = delete;
  LiveEvents& operator=(const LiveEvents&) = delete;

  // Creates the clickstream topic if missing (log.partitions of the log's default), starts the
  // tailer and the impression writer. May be called once (a second call is InvalidArgument:
  // the tailer would read the log from its start again).
  Status Start();
  // Stops both threads; queued impressions are appended first. Impressions recorded after Stop
  // are counted but never written.
  void Stop();

  // A new gold snapshot holds the events up to since_ms: from now on only later events are
  // fresh, and those at or before it are taken out of every user's fresh interactions. A time
  // before the current one is ignored.
  void AdvanceSince(int64_t since_ms);

  // Events that the caller has appended to the log itself (POST /v1/events): applied now.
  // Events of other topics are ignored. The tailer skips a record whose event_id was given here
  // (and, if the tailer read the record first, this skips the event instead), so each counts
  // once whatever the order.
  void Apply(std::span<const Event> events);

  // A new rec_id, unique across instances and restarts: "<instance_id>-<counter>", the counter
  // in base 36. With a random instance_id the counter starts at 0; with a configured one at the
  // wall clock in microseconds (ms * 1000), so a restart does not reuse ids unless it served
  // over 1000 lists per millisecond of its uptime. Impressions of an earlier run with the same
  // instance_id (a smaller counter) are counted by the tailer like anybody else's.
  std::string NewRecId();
  // Counts the list now and queues its recommendation_impression event (event_id
  // "imp-<rec_id>", with rec_id, model, model_version, variant, items, user_id, session_id).
  // The event model requires both ids on clickstream events: an empty user_id is written as the
  // session_id, an empty session_id as the user_id, both empty as "guest". The event is keyed
  // by that user_id. Items beyond Event::kMaxItems are dropped. A list without a model is
  // written but not counted in Stats. Cheap: JSON encoding here, one short lock to queue.
  void RecordImpression(Impression impression);

  // False (and *out untouched) when the user has no fresh events.
  bool Fresh(std::string_view user_id, FreshHistory* out) const;
  // The products of the session, most recent first, distinct; empty when unknown. Any
  // clickstream event with a product counts, whatever its time.
  std::vector<std::string> SessionItems(std::string_view session_id) const;
  // The user's most recent events, newest first, at most limit: clickstream events of any type
  // and time but recommendation_impression (what we showed, not what the user did).
  std::vector<RecentEvent> Recent(std::string_view user_id, size_t limit) const;

  // Per arm, sorted by model, version, variant.
  std::vector<ArmStats> Stats() const;
  LiveEventsCounts counts() const;
  // True once the tailer has read every clickstream partition up to its end as of Start.
  bool caught_up() const;
  const std::string& instance_id() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace recsys
