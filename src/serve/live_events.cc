#include "serve/live_events.h"

#include <algorithm>
#include <array>
#include <atomic>
#include <charconv>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <optional>
#include <random>
#include <thread>
#include <tuple>
#include <unordered_map>

#include "core/clock.h"

namespace recsys {
namespace {

constexpr std::string_view kTopic = "clickstream";
constexpr size_t kShardCount = 64;  // power of two
// Records per tailer read, and a rough byte limit for it.
constexpr size_t kReadRecords = 1000;
constexpr size_t kReadBytes = 4 << 20;
// Records per Append of the impression writer.
constexpr size_t kWriteBatch = 2000;
// The writer is woken before its interval when this many impressions are queued.
constexpr size_t kWakeWriterAt = 8192;
// Event ids the tailer applied, remembered so that an Apply of the same event (the API appends,
// the tailer reads it, then the API calls Apply) is not counted twice. Only a race of a few
// milliseconds needs them, so the most recent ones are enough.
constexpr size_t kTailedIdsKept = 1 << 16;
// Events from other producers may come from clocks ahead of ours.
constexpr int64_t kFutureSkewMs = 24 * 3600 * 1000;

int64_t NowMs() { return SystemClock()->NowMillis(); }

struct StringHash {
  using is_transparent = void;
  size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
};
template <typename V>
using StringMap = std::unordered_map<std::string, V, StringHash, std::equal_to<>>;

struct FreshEvent {
  int64_t time_ms;
  std::string product_id;
  float weight;
  bool purchase;
};

struct UserState {
  // Fresh interactions, sorted by product id; purchased ids, sorted.
  std::vector<std::pair<std::string, float>> items;
  std::vector<std::string> purchased;
  // The events they were summed from, so that AdvanceSince can take out those a new gold has.
  std::vector<FreshEvent> events;
  uint64_t version = 0;
  std::deque<RecentEvent> recent;  // newest first
};

struct Shard {
  mutable std::mutex mu;
  StringMap<UserState> users;
  StringMap<std::vector<std::string>> sessions;  // most recent first
};

bool IsInteraction(EventType t) {
  return t == EventType::kProductView || t == EventType::kRecommendationClick ||
         t == EventType::kAddToCart || t == EventType::kPurchase;
}

std::string RandomHex12() {
  std::random_device rd;
  std::mt19937_64 gen((uint64_t{rd()} << 32) ^ rd() ^
                      static_cast<uint64_t>(SystemClock()->MonotonicNanos()));
  static constexpr char kHex[] = "0123456789abcdef";
  std::string s(12, '0');
  for (char& c : s) c = kHex[gen() & 0xF];
  return s;
}

void AppendBase36(uint64_t v, std::string* out) {
  char buf[16];
  auto res = std::to_chars(buf, buf + sizeof(buf), v, 36);
  out->append(buf, res.ptr - buf);
}

}  // namespace

struct LiveEvents::Impl {
  EventLog* log;
  LiveEventsOptions options;
  std::atomic<int64_t> since_ms{0};  // options.since_ms, moved on by AdvanceSince
  std::string instance_id;
  // "imp-<instance_id>-": the event ids of this instance's impressions.
  std::string own_prefix;
  // The first rec_id counter value of this run. Own impressions of an earlier run (same
  // configured instance_id, smaller counter) are not this run's and are counted.
  uint64_t counter_base = 0;
  std::atomic<uint64_t> counter{0};
  std::atomic<uint64_t> version_counter{0};

  std::array<Shard, kShardCount> shards;

  // Attribution: rec_id -> arm, bounded by options.max_rec_ids (oldest dropped). rec_ids are
  // kept as 64-bit hashes, a third of the memory of the strings; two of the 2 million
  // remembered ids collide with a chance of about 1e-7, and then a click is credited to the
  // wrong arm.
  mutable std::mutex attr_mu;
  std::vector<ArmStats> arms;  // few: found by a linear scan
  std::unordered_map<uint64_t, uint32_t> rec_arms;
  std::deque<uint64_t> rec_order;
  // This run's own rec_ids ("<instance_id>-<counter>", counter >= counter_base) skip the map: the
  // arm + 1 of counter c sits at own_arms[c % size] (0 = none), for the last
  // options.max_rec_ids counters. One write per served list, no hashing, no growth.
  std::vector<uint32_t> own_arms;

  // Event ids applied by one path and not yet seen by the other: kTailed = read by the tailer,
  // n > 0 = given to Apply n times.
  static constexpr int kTailed = -1;
  std::mutex applied_mu;
  StringMap<int> applied;
  std::deque<std::string> tailed_order;

  // Impressions waiting for the writer: (key, JSON).
  std::mutex queue_mu;
  std::condition_variable queue_cv;
  std::vector<std::pair<std::string, std::string>> queue;
  bool writer_stop = false;

  std::mutex tail_mu;
  std::condition_variable tail_cv;
  bool tail_stop = false;

  std::mutex lifecycle_mu;  // Start and Stop
  std::thread tailer, writer;
  bool started = false;
  std::atomic<bool> caught_up{false};

  std::atomic<int64_t> read{0}, applied_count{0}, skipped{0}, invalid{0}, impressions_written{0},
      unattributed{0}, impressions_dropped{0}, read_errors{0};

  Impl(EventLog* l, LiveEventsOptions o) : log(l), options(std::move(o)) {
    since_ms = options.since_ms;
    // All buckets up front: growing a table of millions of ids rehashes it under attr_mu, and
    // every request that records an impression waits (tens of milliseconds each time).
    rec_arms.reserve(options.max_rec_ids);
    own_arms.assign(std::max<size_t>(options.max_rec_ids, 1), 0);
    if (options.instance_id.empty()) {
      instance_id = RandomHex12();
    } else {
      instance_id = options.instance_id;
      // A configured id survives restarts: the counter starts at the wall clock in microseconds
      // (in ms * 1000) so that a restarted instance does not hand out its earlier rec_ids.
      counter_base = static_cast<uint64_t>(std::max<int64_t>(NowMs(), 0)) * 1000;
    }
    counter.store(counter_base);
    own_prefix = "imp-" + instance_id + "-";
  }

  Shard& ShardFor(std::string_view key) { return shards[StringHash{}(key) & (kShardCount - 1)]; }
  const Shard& ShardFor(std::string_view key) const {
    return shards[StringHash{}(key) & (kShardCount - 1)];
  }

  // The counter of one of this run's rec_ids; nullopt for any other id.
  std::optional<uint64_t> OwnCounter(std::string_view rec_id) const {
    if (rec_id.size() <= instance_id.size() || !rec_id.starts_with(instance_id) ||
        rec_id[instance_id.size()] != '-') {
      return std::nullopt;
    }
    std::string_view rest = rec_id.substr(instance_id.size() + 1);
    uint64_t n = 0;
    auto res = std::from_chars(rest.data(), rest.data() + rest.size(), n, 36);
    if (res.ec != std::errc() || res.ptr != rest.data() + rest.size() || n < counter_base ||
        n >= counter.load(std::memory_order_relaxed)) {
      return std::nullopt;
    }
    return n;
  }

  // True if the event id is one of this run's impressions.
  bool IsOwnImpression(std::string_view event_id) const {
    if (!event_id.starts_with(own_prefix)) return false;
    if (counter_base == 0) return true;
    std::string_view rest = event_id.substr(own_prefix.size());
    uint64_t n = 0;
    auto res = std::from_chars(rest.data(), rest.data() + rest.size(), n, 36);
    return res.ec == std::errc() && res.ptr == rest.data() + rest.size() && n >= counter_base;
  }

  // True if the message starts as AppendEventJson writes this run's impressions.
  bool IsOwnRecord(std::string_view json) const {
    constexpr std::string_view kHead = "{\"event_id\":\"";
    if (!json.starts_with(kHead)) return false;
    json.remove_prefix(kHead.size());
    if (!json.starts_with(own_prefix)) return false;
    const size_t end = json.find('"');
    return end != std::string_view::npos && IsOwnImpression(json.substr(0, end));
  }

  // Decides whether a clickstream event is new: by_tailer, the tailer read it; otherwise Apply
  // was given it. An id given to Apply n times is skipped by the tailer n times; an id the tailer
  // applied is skipped by a later Apply (and a duplicate record in the log) for a while.
  bool ClaimEventId(const std::string& event_id, bool by_tailer) {
    if (event_id.empty()) return true;
    std::lock_guard lock(applied_mu);
    auto it = applied.find(event_id);
    if (by_tailer) {
      if (it != applied.end()) {
        if (it->second > 0 && --it->second == 0) applied.erase(it);
        return false;
      }
      applied.emplace(event_id, kTailed);
      tailed_order.push_back(event_id);
      if (tailed_order.size() > kTailedIdsKept) {
        auto old = applied.find(tailed_order.front());
        if (old != applied.end() && old->second == kTailed) applied.erase(old);
        tailed_order.pop_front();
      }
      return true;
    }
    if (it == applied.end()) {
      applied.emplace(event_id, 1);
      return true;
    }
    if (it->second == kTailed) {
      applied.erase(it);
    } else {
      ++it->second;
    }
    return false;
  }

  // REQUIRES: attr_mu held.
  uint32_t ArmOf(const std::string& model, const std::string& version, const std::string& variant) {
    for (size_t i = 0; i < arms.size(); ++i) {
      const ArmStats& a = arms[i];
      if (a.model == model && a.model_version == version && a.variant == variant) {
        return static_cast<uint32_t>(i);
      }
    }
    ArmStats a;
    a.model = model;
    a.model_version = version;
    a.variant = variant;
    arms.push_back(std::move(a));
    return static_cast<uint32_t>(arms.size() - 1);
  }

  // Counts a served list; a rec_id seen before is not counted again.
  void CountImpression(const std::string& rec_id, const std::string& model,
                       const std::string& version, const std::string& variant, size_t items) {
    const std::optional<uint64_t> own = OwnCounter(rec_id);
    const uint64_t hash = own ? 0 : StringHash{}(rec_id);
    std::lock_guard lock(attr_mu);
    const uint32_t arm = ArmOf(model, version, variant);
    if (own) {
      uint32_t& slot = own_arms[*own % own_arms.size()];
      slot = arm + 1;
    } else if (!rec_id.empty()) {
      if (!rec_arms.try_emplace(hash, arm).second) return;
      rec_order.push_back(hash);
      while (rec_order.size() > options.max_rec_ids) {
        rec_arms.erase(rec_order.front());
        rec_order.pop_front();
      }
    }
    ArmStats& a = arms[arm];
    a.lists += 1;
    a.items_shown += static_cast<int64_t>(items);
  }

  void Attribute(const Event& e) {
    if (e.type == EventType::kRecommendationImpression) {
      if (!e.model.empty()) {
        CountImpression(e.rec_id, e.model, e.model_version, e.variant, e.items.size());
      }
      return;
    }
    const bool click = e.type == EventType::kRecommendationClick;
    const bool purchase = e.type == EventType::kPurchase;
    if (!click && !purchase) return;
    if (e.rec_id.empty()) {
      // A purchase usually has nothing to do with a recommendation; a click always should.
      if (click) unattributed.fetch_add(1, std::memory_order_relaxed);
      return;
    }
    const std::optional<uint64_t> own = OwnCounter(e.rec_id);
    std::lock_guard lock(attr_mu);
    uint32_t arm = 0;
    if (own) {
      // Within the last size counters, else forgotten like the map's oldest ids.
      const uint64_t next = counter.load(std::memory_order_relaxed);
      const uint32_t slot = own_arms[*own % own_arms.size()];
      if (slot == 0 || next - *own > own_arms.size()) {
        unattributed.fetch_add(1, std::memory_order_relaxed);
        return;
      }
      arm = slot - 1;
    } else {
      auto it = rec_arms.find(StringHash{}(e.rec_id));
      if (it == rec_arms.end()) {
        unattributed.fetch_add(1, std::memory_order_relaxed);
        return;
      }
      arm = it->second;
    }
    ArmStats& a = arms[arm];
    if (click) {
      a.clicks += 1;
    } else {
      a.purchases += 1;
      a.revenue += e.price.value_or(0) * static_cast<double>(e.quantity.value_or(1));
    }
  }

  double WeightOf(const Event& e) const {
    switch (e.type) {
      case EventType::kProductView:
        return e.rating ? *e.rating : options.weight_view;
      case EventType::kRecommendationClick:
        return options.weight_click;
      case EventType::kAddToCart:
        return options.weight_cart;
      case EventType::kPurchase:
        return options.weight_purchase;
      default:
        return 0;
    }
  }

  // Applies one clickstream event (already known to be new).
  void ApplyEvent(const Event& e) {
    applied_count.fetch_add(1, std::memory_order_relaxed);
    if (!e.session_id.empty() && !e.product_id.empty() && options.max_session_items > 0) {
      Shard& shard = ShardFor(e.session_id);
      std::lock_guard lock(shard.mu);
      std::vector<std::string>& items = shard.sessions[e.session_id];
      auto it = std::find(items.begin(), items.end(), e.product_id);
      if (it != items.end()) {
        std::rotate(items.begin(), it, it + 1);
      } else {
        if (items.size() >= options.max_session_items) items.pop_back();
        items.insert(items.begin(), e.product_id);
      }
    }
    // Impressions are what we showed, not what the user did: not part of the user's history.
    if (!e.user_id.empty() && e.type != EventType::kRecommendationImpression) {
      const int64_t since = since_ms.load(std::memory_order_relaxed);
      const bool fresh =
          IsInteraction(e.type) && !e.product_id.empty() && (since == 0 || e.event_time_ms > since);
      const bool keep_recent = options.max_recent_events > 0;
      if (fresh || keep_recent) {
        Shard& shard = ShardFor(e.user_id);
        std::lock_guard lock(shard.mu);
        UserState& u = shard.users[e.user_id];
        if (fresh) {
          auto it = std::lower_bound(u.items.begin(), u.items.end(), e.product_id,
                                     [](const std::pair<std::string, float>& a,
                                        const std::string& b) { return a.first < b; });
          const float w = static_cast<float>(WeightOf(e));
          if (it != u.items.end() && it->first == e.product_id) {
            it->second += w;
          } else {
            u.items.emplace(it, e.product_id, w);
          }
          if (e.type == EventType::kPurchase) {
            auto p = std::lower_bound(u.purchased.begin(), u.purchased.end(), e.product_id);
            if (p == u.purchased.end() || *p != e.product_id) u.purchased.insert(p, e.product_id);
          }
          u.events.push_back({e.event_time_ms, e.product_id, w, e.type == EventType::kPurchase});
          u.version = version_counter.fetch_add(1, std::memory_order_relaxed) + 1;
        }
        if (keep_recent) {
          u.recent.push_front(
              RecentEvent{std::string(EventTypeName(e.type)), e.product_id, e.event_time_ms});
          if (u.recent.size() > options.max_recent_events) u.recent.pop_back();
        }
      }
    }
    Attribute(e);
  }

  // Reads every partition from its start until stopped.
  void TailLoop() {
    std::vector<int64_t> next, target;
    Result<int> partitions = log->PartitionCount(kTopic);
    if (partitions.ok()) {
      for (int p = 0; p < *partitions; ++p) {
        Result<PartitionInfo> info = log->GetPartitionInfo(kTopic, p);
        next.push_back(info.ok() ? info->start_offset : 0);
        target.push_back(info.ok() ? info->end_offset : 0);
      }
    } else {
      read_errors.fetch_add(1, std::memory_order_relaxed);
    }
    EventParser parser;
    Event event;
    FetchedBatch batch;
    ValidationOptions validation;
    validation.max_future_skew_ms = kFutureSkewMs;
    validation.expected_topic = Topic::kClickstream;
    bool stop = false;
    while (!stop) {
      bool got_any = false;
      for (size_t p = 0; p < next.size(); ++p) {
        const int partition = static_cast<int>(p);
        Status st = log->Read(kTopic, partition, next[p], kReadRecords, kReadBytes, &batch);
        if (!st.ok()) {
          read_errors.fetch_add(1, std::memory_order_relaxed);
          if (st.code() == StatusCode::kOutOfRange) {
            // Retention removed what we had not read yet: go on from what is left.
            Result<PartitionInfo> info = log->GetPartitionInfo(kTopic, partition);
            if (info.ok()) next[p] = std::max(next[p], info->start_offset);
          } else if (st.code() == StatusCode::kCorruption) {
            // A damaged record is never returned; step over it.
            invalid.fetch_add(1, std::memory_order_relaxed);
            next[p] += 1;
          }
          continue;
        }
        if (batch.records.empty()) continue;
        got_any = true;
        validation.now_ms = NowMs();
        for (const FetchedRecord& rec : batch.records) {
          next[p] = rec.offset + 1;
          read.fetch_add(1, std::memory_order_relaxed);
          // This instance's impressions (most of what it reads back) are known by how the
          // writer starts them, without parsing.
          if (IsOwnRecord(rec.value)) {
            skipped.fetch_add(1, std::memory_order_relaxed);
            continue;
          }
          if (parser.Parse(rec.value, validation, &event)) {
            invalid.fetch_add(1, std::memory_order_relaxed);
            continue;
          }
          if (IsOwnImpression(event.event_id) || !ClaimEventId(event.event_id, true)) {
            skipped.fetch_add(1, std::memory_order_relaxed);
            continue;
          }
          ApplyEvent(event);
        }
      }
      if (!caught_up.load(std::memory_order_relaxed)) {
        bool done = true;
        for (size_t p = 0; p < next.size(); ++p) done = done && next[p] >= target[p];
        if (done) caught_up.store(true, std::memory_order_release);
      }
      std::unique_lock lock(tail_mu);
      if (!got_any) {
        tail_cv.wait_for(lock, std::chrono::milliseconds(options.poll_interval_ms),
                         [&] { return tail_stop; });
      }
      stop = tail_stop;
    }
  }

  void WriteBatch(std::vector<std::pair<std::string, std::string>>* batch) {
    std::vector<LogRecord> records;
    records.reserve(std::min(batch->size(), kWriteBatch));
    for (size_t begin = 0; begin < batch->size(); begin += kWriteBatch) {
      const size_t end = std::min(batch->size(), begin + kWriteBatch);
      records.clear();
      for (size_t i = begin; i < end; ++i) {
        records.push_back(LogRecord{(*batch)[i].first, (*batch)[i].second, 0});
      }
      const int64_t n = static_cast<int64_t>(end - begin);
      if (log->Append(kTopic, records).ok()) {
        impressions_written.fetch_add(n, std::memory_order_relaxed);
      } else {
        impressions_dropped.fetch_add(n, std::memory_order_relaxed);
      }
    }
    batch->clear();
  }

  void WriteLoop() {
    std::vector<std::pair<std::string, std::string>> batch;
    std::unique_lock lock(queue_mu);
    while (true) {
      queue_cv.wait_for(lock, std::chrono::milliseconds(options.impression_flush_ms),
                        [&] { return writer_stop || queue.size() >= kWakeWriterAt; });
      batch.swap(queue);
      const bool stop = writer_stop;
      lock.unlock();
      if (!batch.empty()) WriteBatch(&batch);
      lock.lock();
      if (stop && queue.empty()) break;
    }
  }
};

LiveEvents::LiveEvents(EventLog* log, LiveEventsOptions options)
    : impl_(std::make_unique<Impl>(log, std::move(options))) {}

LiveEvents::~LiveEvents() { Stop(); }

void LiveEvents::AdvanceSince(int64_t since_ms) {
  if (since_ms <= impl_->since_ms.load()) return;
  impl_->since_ms = since_ms;
  for (Shard& shard : impl_->shards) {
    std::lock_guard lock(shard.mu);
    for (auto& [user, u] : shard.users) {
      auto old_end = std::remove_if(u.events.begin(), u.events.end(),
                                    [&](const FreshEvent& e) { return e.time_ms <= since_ms; });
      if (old_end == u.events.end()) continue;
      u.events.erase(old_end, u.events.end());
      u.items.clear();
      u.purchased.clear();
      for (const FreshEvent& e : u.events) {
        auto it = std::lower_bound(u.items.begin(), u.items.end(), e.product_id,
                                   [](const std::pair<std::string, float>& a,
                                      const std::string& b) { return a.first < b; });
        if (it != u.items.end() && it->first == e.product_id) {
          it->second += e.weight;
        } else {
          u.items.emplace(it, e.product_id, e.weight);
        }
        if (e.purchase) {
          auto p = std::lower_bound(u.purchased.begin(), u.purchased.end(), e.product_id);
          if (p == u.purchased.end() || *p != e.product_id) u.purchased.insert(p, e.product_id);
        }
      }
      // No fresh event left: version 0 means "nothing fresh" to Fresh().
      u.version =
          u.events.empty() ? 0 : impl_->version_counter.fetch_add(1, std::memory_order_relaxed) + 1;
    }
  }
}

Status LiveEvents::Start() {
  std::lock_guard lock(impl_->lifecycle_mu);
  if (impl_->started) {
    return Status::InvalidArgument("live events: Start may be called once");
  }
  Result<int> partitions = impl_->log->PartitionCount(kTopic);
  if (!partitions.ok()) {
    if (partitions.status().code() != StatusCode::kNotFound) {
      return partitions.status().WithContext("live events");
    }
    // An empty append creates the topic with the log's default number of partitions.
    RECSYS_RETURN_IF_ERROR(
        impl_->log->Append(kTopic, {}).WithContext("live events: creating topic clickstream"));
  }
  {
    std::lock_guard q(impl_->queue_mu);
    impl_->writer_stop = false;
  }
  {
    std::lock_guard t(impl_->tail_mu);
    impl_->tail_stop = false;
  }
  impl_->started = true;
  impl_->tailer = std::thread([this] { impl_->TailLoop(); });
  impl_->writer = std::thread([this] { impl_->WriteLoop(); });
  return Status::OK();
}

void LiveEvents::Stop() {
  std::lock_guard lock(impl_->lifecycle_mu);
  {
    std::lock_guard t(impl_->tail_mu);
    impl_->tail_stop = true;
  }
  impl_->tail_cv.notify_all();
  {
    std::lock_guard q(impl_->queue_mu);
    impl_->writer_stop = true;
  }
  impl_->queue_cv.notify_all();
  if (impl_->tailer.joinable()) impl_->tailer.join();
  if (impl_->writer.joinable()) impl_->writer.join();
}

void LiveEvents::Apply(std::span<const Event> events) {
  for (const Event& e : events) {
    if (e.topic() != Topic::kClickstream) continue;
    if (!impl_->ClaimEventId(e.event_id, false)) {
      impl_->skipped.fetch_add(1, std::memory_order_relaxed);
      continue;
    }
    impl_->ApplyEvent(e);
  }
}

std::string LiveEvents::NewRecId() {
  std::string id;
  id.reserve(impl_->instance_id.size() + 14);
  id.append(impl_->instance_id);
  id.push_back('-');
  AppendBase36(impl_->counter.fetch_add(1, std::memory_order_relaxed), &id);
  return id;
}

void LiveEvents::RecordImpression(Impression impression) {
  if (impression.time_ms == 0) impression.time_ms = NowMs();
  if (impression.items.size() > Event::kMaxItems) impression.items.resize(Event::kMaxItems);
  if (!impression.model.empty()) {
    impl_->CountImpression(impression.rec_id, impression.model, impression.model_version,
                           impression.variant, impression.items.size());
  }
  Event e;
  e.event_id = "imp-" + impression.rec_id;
  e.type = EventType::kRecommendationImpression;
  e.event_time_ms = impression.time_ms;
  // The event model requires both ids on clickstream events: a guest is known by the session.
  e.user_id = std::move(impression.user_id);
  e.session_id = std::move(impression.session_id);
  if (e.user_id.empty()) e.user_id = e.session_id.empty() ? "guest" : e.session_id;
  if (e.session_id.empty()) e.session_id = e.user_id;
  e.rec_id = std::move(impression.rec_id);
  e.model = std::move(impression.model);
  e.model_version = std::move(impression.model_version);
  e.variant = std::move(impression.variant);
  e.items = std::move(impression.items);
  std::string json;
  json.reserve(256 + 16 * e.items.size());
  AppendEventJson(e, &json);
  bool wake = false;
  {
    std::lock_guard lock(impl_->queue_mu);
    impl_->queue.emplace_back(std::move(e.user_id), std::move(json));
    wake = impl_->queue.size() == kWakeWriterAt;
  }
  if (wake) impl_->queue_cv.notify_one();
}

bool LiveEvents::Fresh(std::string_view user_id, FreshHistory* out) const {
  const Shard& shard = impl_->ShardFor(user_id);
  std::lock_guard lock(shard.mu);
  auto it = shard.users.find(user_id);
  if (it == shard.users.end() || it->second.version == 0) return false;
  out->items = it->second.items;
  out->purchased = it->second.purchased;
  out->version = it->second.version;
  return true;
}

std::vector<std::string> LiveEvents::SessionItems(std::string_view session_id) const {
  const Shard& shard = impl_->ShardFor(session_id);
  std::lock_guard lock(shard.mu);
  auto it = shard.sessions.find(session_id);
  if (it == shard.sessions.end()) return {};
  return it->second;
}

std::vector<RecentEvent> LiveEvents::Recent(std::string_view user_id, size_t limit) const {
  const Shard& shard = impl_->ShardFor(user_id);
  std::lock_guard lock(shard.mu);
  auto it = shard.users.find(user_id);
  if (it == shard.users.end()) return {};
  const std::deque<RecentEvent>& recent = it->second.recent;
  const size_t n = std::min(limit, recent.size());
  return std::vector<RecentEvent>(recent.begin(), recent.begin() + static_cast<ptrdiff_t>(n));
}

std::vector<ArmStats> LiveEvents::Stats() const {
  std::vector<ArmStats> out;
  {
    std::lock_guard lock(impl_->attr_mu);
    out = impl_->arms;
  }
  std::sort(out.begin(), out.end(), [](const ArmStats& a, const ArmStats& b) {
    return std::tie(a.model, a.model_version, a.variant) <
           std::tie(b.model, b.model_version, b.variant);
  });
  return out;
}

LiveEventsCounts LiveEvents::counts() const {
  const Impl& i = *impl_;
  LiveEventsCounts c;
  c.read = i.read.load(std::memory_order_relaxed);
  c.applied = i.applied_count.load(std::memory_order_relaxed);
  c.skipped = i.skipped.load(std::memory_order_relaxed);
  c.invalid = i.invalid.load(std::memory_order_relaxed);
  c.impressions_written = i.impressions_written.load(std::memory_order_relaxed);
  c.unattributed = i.unattributed.load(std::memory_order_relaxed);
  c.impressions_dropped = i.impressions_dropped.load(std::memory_order_relaxed);
  c.read_errors = i.read_errors.load(std::memory_order_relaxed);
  return c;
}

bool LiveEvents::caught_up() const { return impl_->caught_up.load(std::memory_order_acquire); }

const std::string& LiveEvents::instance_id() const { return impl_->instance_id; }

}  // namespace recsys
