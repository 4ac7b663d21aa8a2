#include "serve/live_events.h"

#include <gtest/gtest.h>

#include <chrono>
#include <functional>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "core/clock.h"
#include "core/temp_dir.h"
#include "ingest/embedded_log.h"

namespace recsys {
namespace {

const int64_t kT0 = FromCivil(2024, 3, 1, 12, 0, 0);

class LiveEventsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_FALSE(dir_.path().empty());
    EmbeddedLogOptions o;
    o.fsync = FsyncPolicy::kNever;
    o.default_partitions = 3;
    auto log = OpenEmbeddedLog(dir_.path() + "/log", o);
    ASSERT_TRUE(log.ok()) << log.status().ToString();
    log_ = std::move(log).value();
  }

  static LiveEventsOptions Options() {
    LiveEventsOptions o;
    o.poll_interval_ms = 5;
    o.impression_flush_ms = 5;
    return o;
  }

  // Appends the events' JSON to the clickstream topic, as another producer would.
  void AppendToLog(const std::vector<Event>& events) {
    std::vector<std::string> json;
    for (const Event& e : events) json.push_back(EventToJson(e));
    std::vector<LogRecord> records;
    for (size_t i = 0; i < events.size(); ++i) {
      records.push_back(LogRecord{events[i].user_id, json[i], 0});
    }
    ASSERT_TRUE(log_->Append("clickstream", records).ok());
  }

  // Every valid event of the clickstream topic.
  std::vector<Event> ReadLog() {
    std::vector<Event> out;
    auto n = log_->PartitionCount("clickstream");
    EXPECT_TRUE(n.ok());
    if (!n.ok()) return out;
    EventParser parser;
    ValidationOptions v;
    v.now_ms = SystemClock()->NowMillis();
    FetchedBatch batch;
    for (int p = 0; p < *n; ++p) {
      int64_t offset = 0;
      while (true) {
        EXPECT_TRUE(log_->Read("clickstream", p, offset, 1000, 1 << 20, &batch).ok());
        if (batch.records.empty()) break;
        for (const FetchedRecord& r : batch.records) {
          Event e;
          auto rejection = parser.Parse(r.value, v, &e);
          EXPECT_FALSE(rejection) << rejection->message << ": " << r.value;
          if (!rejection) out.push_back(e);
          offset = r.offset + 1;
        }
      }
    }
    return out;
  }

  TempDir dir_;
  std::unique_ptr<EventLog> log_;
};

Event Click(std::string id, EventType type, std::string user, std::string product,
            int64_t time_ms = kT0) {
  Event e;
  e.event_id = std::move(id);
  e.type = type;
  e.event_time_ms = time_ms;
  e.user_id = std::move(user);
  e.session_id = "s-" + e.user_id;
  e.product_id = std::move(product);
  if (type == EventType::kPurchase) e.order_id = "o-" + e.event_id;
  return e;
}

Impression MakeImpression(LiveEvents& live, std::string model, std::string variant,
                          std::vector<std::string> items = {"p1", "p2", "p3"}) {
  Impression imp;
  imp.rec_id = live.NewRecId();
  imp.user_id = "u1";
  imp.session_id = "s1";
  imp.model = std::move(model);
  imp.model_version = "v1";
  imp.variant = std::move(variant);
  imp.items = std::move(items);
  return imp;
}

// Waits up to `seconds` for the condition.
bool WaitFor(const std::function<bool()>& condition, double seconds = 2) {
  const auto deadline =
      std::chrono::steady_clock::now() + std::chrono::milliseconds(int64_t(seconds * 1000));
  while (std::chrono::steady_clock::now() < deadline) {
    if (condition()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  return condition();
}

std::optional<ArmStats> FindArm(const std::vector<ArmStats>& stats, std::string_view model,
                                std::string_view variant) {
  for (const ArmStats& a : stats) {
    if (a.model == model && a.variant == variant) return a;
  }
  return std::nullopt;
}

TEST_F(LiveEventsTest, ApplyMakesFreshVisibleAtOnceWithSummedWeights) {
  LiveEventsOptions o = Options();
  o.weight_view = 1;
  o.weight_click = 2;
  o.weight_cart = 3;
  o.weight_purchase = 5;
  LiveEvents live(log_.get(), o);
  FreshHistory h;
  EXPECT_FALSE(live.Fresh("u1", &h));

  std::vector<Event> events = {Click("e1", EventType::kProductView, "u1", "p2"),
                               Click("e2", EventType::kAddToCart, "u1", "p2"),
                               Click("e3", EventType::kRecommendationClick, "u1", "p1")};
  live.Apply(events);
  ASSERT_TRUE(live.Fresh("u1", &h));
  ASSERT_EQ(h.items.size(), 2u);
  EXPECT_EQ(h.items[0].first, "p1");
  EXPECT_FLOAT_EQ(h.items[0].second, 2);
  EXPECT_EQ(h.items[1].first, "p2");
  EXPECT_FLOAT_EQ(h.items[1].second, 4);
  EXPECT_TRUE(h.purchased.empty());
  const uint64_t v1 = h.version;
  EXPECT_NE(v1, 0u);

  Event rated = Click("e4", EventType::kProductView, "u1", "p3");
  rated.rating = 4.5;
  Event bought = Click("e5", EventType::kPurchase, "u1", "p2");
  // Not interactions: a search, a removal from the cart.
  Event search = Click("e6", EventType::kSearch, "u1", "");
  search.query = "knife";
  Event removed = Click("e7", EventType::kRemoveFromCart, "u1", "p9");
  live.Apply(std::vector<Event>{rated, bought, search, removed});
  ASSERT_TRUE(live.Fresh("u1", &h));
  ASSERT_EQ(h.items.size(), 3u);
  EXPECT_FLOAT_EQ(h.items[1].second, 9);    // p2: 1 + 3 + 5
  EXPECT_FLOAT_EQ(h.items[2].second, 4.5);  // p3: its rating
  EXPECT_EQ(h.purchased, std::vector<std::string>{"p2"});
  EXPECT_NE(h.version, v1);

  // Versions are unique across users.
  live.Apply(std::vector<Event>{Click("e8", EventType::kProductView, "u2", "p1")});
  FreshHistory h2;
  ASSERT_TRUE(live.Fresh("u2", &h2));
  EXPECT_NE(h2.version, h.version);
  EXPECT_EQ(live.counts().applied, 8);

  const std::vector<RecentEvent> recent = live.Recent("u1", 3);
  ASSERT_EQ(recent.size(), 3u);
  EXPECT_EQ(recent[0].event_type, "remove_from_cart");
  EXPECT_EQ(recent[1].event_type, "search");
  EXPECT_EQ(recent[1].product_id, "");
  EXPECT_EQ(recent[2].event_type, "purchase");
  EXPECT_EQ(live.Recent("u1", 100).size(), 7u);
  EXPECT_TRUE(live.Recent("nobody", 5).empty());
}

TEST_F(LiveEventsTest, EventsAtOrBeforeSinceAreNotFreshButCountForSessionsAndAttribution) {
  LiveEventsOptions o = Options();
  o.since_ms = kT0;
  LiveEvents live(log_.get(), o);
  Impression imp = MakeImpression(live, "als", "a");
  const std::string rec_id = imp.rec_id;
  live.RecordImpression(imp);

  Event old_view = Click("e1", EventType::kProductView, "u1", "p1", kT0 - 1000);
  Event at_since = Click("e2", EventType::kAddToCart, "u1", "p2", kT0);
  Event click = Click("e3", EventType::kRecommendationClick, "u1", "p3", kT0 - 5);
  click.rec_id = rec_id;
  live.Apply(std::vector<Event>{old_view, at_since, click});
  FreshHistory h;
  EXPECT_FALSE(live.Fresh("u1", &h));
  EXPECT_EQ(live.SessionItems("s-u1"), (std::vector<std::string>{"p3", "p2", "p1"}));
  std::optional<ArmStats> arm = FindArm(live.Stats(), "als", "a");
  ASSERT_TRUE(arm);
  EXPECT_EQ(arm->clicks, 1);

  live.Apply(std::vector<Event>{Click("e4", EventType::kProductView, "u1", "p4", kT0 + 1)});
  ASSERT_TRUE(live.Fresh("u1", &h));
  ASSERT_EQ(h.items.size(), 1u);
  EXPECT_EQ(h.items[0].first, "p4");
}

// A new gold snapshot up to some time takes the events it holds out of the fresh interactions.
TEST_F(LiveEventsTest, AdvanceSinceTakesOutWhatANewGoldHolds) {
  LiveEventsOptions o = Options();
  o.since_ms = kT0;
  LiveEvents live(log_.get(), o);
  live.Apply(std::vector<Event>{Click("a1", EventType::kProductView, "u1", "p1", kT0 + 10),
                                Click("a2", EventType::kPurchase, "u1", "p2", kT0 + 20),
                                Click("a3", EventType::kProductView, "u1", "p1", kT0 + 30),
                                Click("a4", EventType::kProductView, "u2", "p9", kT0 + 5)});
  FreshHistory before;
  ASSERT_TRUE(live.Fresh("u1", &before));
  ASSERT_EQ(before.items.size(), 2u);
  live.AdvanceSince(kT0 + 20);  // gold now has a1, a2 and a4
  FreshHistory after;
  ASSERT_TRUE(live.Fresh("u1", &after));
  ASSERT_EQ(after.items.size(), 1u);
  EXPECT_EQ(after.items[0].first, "p1");
  EXPECT_FLOAT_EQ(after.items[0].second, 1.0f) << "only a3's view";
  EXPECT_TRUE(after.purchased.empty());
  EXPECT_NE(after.version, before.version);
  FreshHistory none;
  EXPECT_FALSE(live.Fresh("u2", &none)) << "all of u2's events are in gold now";
  // Later events at or before the new time are not fresh either; an older time is ignored.
  live.Apply(std::vector<Event>{Click("a5", EventType::kProductView, "u2", "p8", kT0 + 15)});
  EXPECT_FALSE(live.Fresh("u2", &none));
  live.AdvanceSince(kT0);
  live.Apply(std::vector<Event>{Click("a6", EventType::kProductView, "u2", "p7", kT0 + 18)});
  EXPECT_FALSE(live.Fresh("u2", &none));
}

TEST_F(LiveEventsTest, SessionItemsAreMostRecentFirstDistinctAndBounded) {
  LiveEventsOptions o = Options();
  o.max_session_items = 3;
  LiveEvents live(log_.get(), o);
  for (const char* p : {"p1", "p2", "p3", "p2", "p4"}) {
    live.Apply(
        std::vector<Event>{Click(std::string("e-") + p + std::to_string(live.counts().applied),
                                 EventType::kProductView, "u1", p)});
  }
  EXPECT_EQ(live.SessionItems("s-u1"), (std::vector<std::string>{"p4", "p2", "p3"}));
  EXPECT_TRUE(live.SessionItems("unknown").empty());
}

TEST_F(LiveEventsTest, TailerPicksUpEventsOfAnotherProducer) {
  AppendToLog({Click("old-1", EventType::kProductView, "u1", "p1")});
  LiveEvents live(log_.get(), Options());
  ASSERT_TRUE(live.Start().ok());
  ASSERT_TRUE(WaitFor([&] { return live.caught_up(); }));
  FreshHistory h;
  ASSERT_TRUE(live.Fresh("u1", &h));  // read from the start of the log
  EXPECT_EQ(h.items.size(), 1u);

  AppendToLog({Click("new-1", EventType::kAddToCart, "u2", "p7"),
               Click("new-2", EventType::kPurchase, "u2", "p7")});
  // Something that is not an event is counted and left alone.
  ASSERT_TRUE(log_->Append("clickstream", std::vector<LogRecord>{{"u3", "not json", 0}}).ok());
  ASSERT_TRUE(WaitFor([&] { return live.Fresh("u2", &h) && h.items.size() == 1; }, 1.0));
  EXPECT_TRUE(WaitFor([&] { return live.counts().invalid == 1; }));
  ASSERT_TRUE(live.Fresh("u2", &h));
  EXPECT_FLOAT_EQ(h.items[0].second, 8);
  EXPECT_EQ(h.purchased, std::vector<std::string>{"p7"});
  EXPECT_EQ(live.counts().read, 4);
  EXPECT_EQ(live.counts().applied, 3);
}

TEST_F(LiveEventsTest, TailerDoesNotCountEventsGivenToApplyTwice) {
  LiveEvents live(log_.get(), Options());
  ASSERT_TRUE(live.Start().ok());
  ASSERT_TRUE(WaitFor([&] { return live.caught_up(); }));
  const std::vector<Event> events = {Click("a-1", EventType::kAddToCart, "u1", "p1"),
                                     Click("a-2", EventType::kProductView, "u1", "p1")};
  // As the API does: append, then apply.
  AppendToLog(events);
  live.Apply(events);
  ASSERT_TRUE(WaitFor([&] { return live.counts().read == 2; }));
  FreshHistory h;
  ASSERT_TRUE(live.Fresh("u1", &h));
  ASSERT_EQ(h.items.size(), 1u);
  EXPECT_FLOAT_EQ(h.items[0].second, 4);  // 3 + 1, once
  EXPECT_EQ(live.counts().applied, 2);
  EXPECT_EQ(live.counts().skipped, 2);
  EXPECT_EQ(live.SessionItems("s-u1"), std::vector<std::string>{"p1"});
}

TEST_F(LiveEventsTest, OwnImpressionsAreCountedOnceAndBySecondInstance) {
  LiveEventsOptions o1 = Options();
  o1.instance_id = "first";
  LiveEvents first(log_.get(), o1);
  ASSERT_TRUE(first.Start().ok());
  for (int i = 0; i < 5; ++i) first.RecordImpression(MakeImpression(first, "als", "a"));
  ASSERT_TRUE(WaitFor([&] { return first.counts().impressions_written == 5; }));
  ASSERT_TRUE(WaitFor([&] { return first.counts().skipped == 5; }));

  LiveEvents second(log_.get(), Options());
  EXPECT_NE(second.instance_id(), first.instance_id());
  EXPECT_EQ(second.instance_id().size(), 12u);
  ASSERT_TRUE(second.Start().ok());
  ASSERT_TRUE(WaitFor([&] { return second.caught_up(); }));
  std::optional<ArmStats> arm = FindArm(second.Stats(), "als", "a");
  ASSERT_TRUE(arm);
  EXPECT_EQ(arm->lists, 5);
  EXPECT_EQ(arm->items_shown, 15);
  EXPECT_EQ(second.counts().applied, 5);
  EXPECT_EQ(second.counts().skipped, 0);

  arm = FindArm(first.Stats(), "als", "a");
  ASSERT_TRUE(arm);
  EXPECT_EQ(arm->lists, 5);
  EXPECT_EQ(first.counts().applied, 0);
  // Impressions are not user history.
  FreshHistory h;
  EXPECT_FALSE(second.Fresh("u1", &h));
  EXPECT_TRUE(second.Recent("u1", 10).empty());
}

TEST_F(LiveEventsTest, ClickThroughRatePerArm) {
  LiveEvents live(log_.get(), Options());
  std::vector<std::string> rec_ids;
  for (int i = 0; i < 3; ++i) {
    Impression imp = MakeImpression(live, "als", "a");
    rec_ids.push_back(imp.rec_id);
    live.RecordImpression(imp);
  }
  live.RecordImpression(MakeImpression(live, "popular", "b", {"p1"}));
  Event click = Click("c1", EventType::kRecommendationClick, "u1", "p2");
  click.rec_id = rec_ids[1];
  click.position = 2;
  live.Apply(std::vector<Event>{click});

  const std::vector<ArmStats> stats = live.Stats();
  ASSERT_EQ(stats.size(), 2u);
  EXPECT_EQ(stats[0].model, "als");  // sorted by model
  EXPECT_EQ(stats[1].model, "popular");
  EXPECT_EQ(stats[0].lists, 3);
  EXPECT_EQ(stats[0].items_shown, 9);
  EXPECT_EQ(stats[0].clicks, 1);
  EXPECT_DOUBLE_EQ(stats[0].click_through_rate(), 1.0 / 3);
  EXPECT_EQ(stats[1].lists, 1);
  EXPECT_EQ(stats[1].items_shown, 1);
  EXPECT_EQ(stats[1].clicks, 0);
  EXPECT_DOUBLE_EQ(stats[1].click_through_rate(), 0);
  EXPECT_EQ(live.counts().unattributed, 0);
}

TEST_F(LiveEventsTest, PurchaseRevenueIsAttributedAndUnknownRecIdsAreCounted) {
  LiveEvents live(log_.get(), Options());
  Impression imp = MakeImpression(live, "als", "b");
  live.RecordImpression(imp);

  Event buy = Click("b1", EventType::kPurchase, "u1", "p2");
  buy.rec_id = imp.rec_id;
  buy.price = 12.5;
  buy.quantity = 3;
  Event buy_one = Click("b2", EventType::kPurchase, "u1", "p3");
  buy_one.rec_id = imp.rec_id;
  buy_one.price = 4;                                            // quantity 1 when not given
  Event plain = Click("b3", EventType::kPurchase, "u1", "p4");  // no rec_id: not a rec's
  plain.price = 100;
  Event unknown_buy = Click("b4", EventType::kPurchase, "u1", "p5");
  unknown_buy.rec_id = "elsewhere-1";
  unknown_buy.price = 7;
  Event unknown_click = Click("c1", EventType::kRecommendationClick, "u1", "p5");
  unknown_click.rec_id = "elsewhere-2";
  live.Apply(std::vector<Event>{buy, buy_one, plain, unknown_buy, unknown_click});

  std::optional<ArmStats> arm = FindArm(live.Stats(), "als", "b");
  ASSERT_TRUE(arm);
  EXPECT_EQ(arm->purchases, 2);
  EXPECT_DOUBLE_EQ(arm->revenue, 12.5 * 3 + 4);
  EXPECT_EQ(arm->clicks, 0);
  EXPECT_EQ(live.counts().unattributed, 2);
}

TEST_F(LiveEventsTest, StopFlushesQueuedImpressionsAsValidEvents) {
  LiveEventsOptions o = Options();
  o.impression_flush_ms = 60000;  // only Stop writes them
  LiveEvents live(log_.get(), o);
  ASSERT_TRUE(live.Start().ok());
  std::set<std::string> rec_ids;
  for (int i = 0; i < 10; ++i) {
    Impression imp = MakeImpression(live, "als", "a", {"p" + std::to_string(i), "p99"});
    if (i == 3) imp.user_id.clear();  // a guest: known by the session
    if (i == 4) {
      imp.user_id.clear();
      imp.session_id.clear();
    }
    rec_ids.insert(imp.rec_id);
    live.RecordImpression(imp);
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  EXPECT_EQ(live.counts().impressions_written, 0);
  live.Stop();
  EXPECT_EQ(live.counts().impressions_written, 10);

  const std::vector<Event> events = ReadLog();
  ASSERT_EQ(events.size(), 10u);
  std::set<std::string> read_ids;
  for (const Event& e : events) {
    EXPECT_EQ(e.type, EventType::kRecommendationImpression);
    EXPECT_EQ(e.event_id, "imp-" + e.rec_id);
    EXPECT_EQ(e.model, "als");
    EXPECT_EQ(e.model_version, "v1");
    EXPECT_EQ(e.variant, "a");
    ASSERT_EQ(e.items.size(), 2u);
    EXPECT_EQ(e.items[1], "p99");
    EXPECT_NEAR(e.event_time_ms, SystemClock()->NowMillis(), 60000);
    read_ids.insert(e.rec_id);
    if (e.items[0] == "p3") {
      EXPECT_EQ(e.user_id, "s1");
      EXPECT_EQ(e.session_id, "s1");
    } else if (e.items[0] == "p4") {
      EXPECT_EQ(e.user_id, "guest");
      EXPECT_EQ(e.session_id, "guest");
    } else {
      EXPECT_EQ(e.user_id, "u1");
      EXPECT_EQ(e.session_id, "s1");
    }
  }
  EXPECT_EQ(read_ids, rec_ids);
}

TEST_F(LiveEventsTest, OldestRecIdsAreForgottenBeyondMaxRecIds) {
  LiveEventsOptions o = Options();
  o.max_rec_ids = 2;
  LiveEvents live(log_.get(), o);
  std::vector<std::string> rec_ids;
  for (int i = 0; i < 3; ++i) {
    Impression imp = MakeImpression(live, "als", "a");
    rec_ids.push_back(imp.rec_id);
    live.RecordImpression(imp);
  }
  std::vector<Event> clicks;
  for (int i = 0; i < 3; ++i) {
    clicks.push_back(Click("c" + std::to_string(i), EventType::kRecommendationClick, "u1", "p1"));
    clicks.back().rec_id = rec_ids[i];
  }
  live.Apply(clicks);
  std::optional<ArmStats> arm = FindArm(live.Stats(), "als", "a");
  ASSERT_TRUE(arm);
  EXPECT_EQ(arm->lists, 3);
  EXPECT_EQ(arm->clicks, 2);
  EXPECT_EQ(live.counts().unattributed, 1);
}

TEST_F(LiveEventsTest, RecIdsAreUniqueAndCarryTheInstanceId) {
  LiveEventsOptions o = Options();
  o.instance_id = "web-1";
  LiveEvents a(log_.get(), o);
  LiveEvents b(log_.get(), Options());
  std::set<std::string> ids;
  for (int i = 0; i < 1000; ++i) {
    const std::string id = a.NewRecId();
    EXPECT_EQ(id.rfind("web-1-", 0), 0u) << id;
    ids.insert(id);
    ids.insert(b.NewRecId());
  }
  EXPECT_EQ(ids.size(), 2000u);
  // A restart with the same configured id does not hand out the same rec_ids again.
  std::this_thread::sleep_for(std::chrono::milliseconds(5));
  LiveEvents restarted(log_.get(), o);
  EXPECT_EQ(ids.count(restarted.NewRecId()), 0u);
}

TEST_F(LiveEventsTest, ConcurrentImpressionsAreAllCountedAndAppended) {
  constexpr int kThreads = 4;
  constexpr int kPerThread = 10000;
  LiveEvents live(log_.get(), Options());
  ASSERT_TRUE(live.Start().ok());
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&live, t] {
      for (int i = 0; i < kPerThread; ++i) {
        Impression imp;
        imp.rec_id = live.NewRecId();
        imp.user_id = "u" + std::to_string(i % 100);
        imp.session_id = "s" + std::to_string(t);
        imp.model = "als";
        imp.variant = t % 2 == 0 ? "a" : "b";
        imp.items = {"p1", "p2"};
        live.RecordImpression(std::move(imp));
        // Readers at the same time.
        if (i % 100 == 0) {
          FreshHistory h;
          live.Fresh("u1", &h);
          (void)live.Stats();
        }
      }
    });
  }
  for (std::thread& t : threads) t.join();
  const std::vector<ArmStats> stats = live.Stats();
  ASSERT_EQ(stats.size(), 2u);
  EXPECT_EQ(stats[0].lists + stats[1].lists, kThreads * kPerThread);
  EXPECT_EQ(stats[0].items_shown, kThreads * kPerThread);
  live.Stop();
  EXPECT_EQ(live.counts().impressions_written, kThreads * kPerThread);
  EXPECT_EQ(live.counts().impressions_dropped, 0);
  const std::vector<Event> events = ReadLog();
  EXPECT_EQ(events.size(), static_cast<size_t>(kThreads * kPerThread));
  std::set<std::string> ids;
  for (const Event& e : events) ids.insert(e.event_id);
  EXPECT_EQ(ids.size(), events.size());
}

}  // namespace
}  // namespace recsys
