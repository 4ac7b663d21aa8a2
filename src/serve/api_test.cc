#include "serve/api.h"

#include <gtest/gtest.h>
#include <simdjson.h>

#include <atomic>
#include <cctype>
#include <chrono>
#include <cstdio>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "core/clock.h"
#include "core/event.h"
#include "core/metrics.h"
#include "core/temp_dir.h"
#include "generate/generator.h"
#include "ingest/embedded_log.h"
#include "lake/bronze_sink.h"
#include "lake/object_store.h"
#include "models/data.h"
#include "models/evaluate.h"
#include "models/registry.h"
#include "process/gold.h"
#include "process/silver.h"
#include "serve/engine.h"
#include "serve/http_client.h"
#include "serve/http_server.h"
#include "serve/live_events.h"
#include "serve/test_lake.h"

namespace recsys {
namespace {

constexpr char kToken[] = "s3cret-admin-token";
constexpr size_t kMaxBody = 128 << 10;
constexpr size_t kMaxBatch = 50;

// ---- the lake: generated shop -> event log -> bronze -> silver -> gold -> models ----

// Evaluates, fits on everything and publishes one spec, as `recsys train` does.
Result<std::string> TrainAndPublish(const std::string& root, const std::string& spec) {
  RECSYS_ASSIGN_OR_RETURN(InteractionData data, LoadGoldInteractions(root, 2));
  RECSYS_ASSIGN_OR_RETURN(std::string snapshot, CurrentGoldSnapshot(root));
  RECSYS_ASSIGN_OR_RETURN(SplitSpec split_spec, ParseSplit("random-per-user:0.75"));
  RECSYS_ASSIGN_OR_RETURN(Split split, SplitInteractions(data, split_spec, 42));
  const CsrMatrix full = data.ToMatrix();
  EvaluateOptions eval;
  eval.k = 10;
  eval.fit.threads = 2;
  eval.fit.seed = 42;
  ItemSideData eval_side, full_side;
  FitOptions full_fit = eval.fit;
  if (auto side = LoadItemSideData(root, data.items, 2); side.ok()) {
    eval_side = *side;
    full_side = std::move(*side);
    full_side.entry_time_ms = EntryTimesInCsrOrder(data);
    eval.fit.side = &eval_side;
    full_fit.side = &full_side;
  }
  ModelEvaluation evaluation;
  {
    RECSYS_ASSIGN_OR_RETURN(std::unique_ptr<Recommender> model, CreateRecommender(spec));
    RECSYS_ASSIGN_OR_RETURN(evaluation, EvaluateModel(model.get(), split, eval));
  }
  RECSYS_ASSIGN_OR_RETURN(std::unique_ptr<Recommender> model, CreateRecommender(spec));
  RECSYS_RETURN_IF_ERROR(model->Fit(full, full_fit));
  ModelManifest manifest;
  manifest.name = model->name();
  manifest.spec = model->spec();
  manifest.data_snapshot = snapshot;
  manifest.users = data.users.size();
  manifest.items = data.items.size();
  manifest.interactions = full.nnz();
  manifest.evaluation_split = "random-per-user:0.75";
  manifest.evaluation_seed = 42;
  manifest.metrics = evaluation.metrics;
  manifest.metric = "ndcg";
  ModelRegistry registry(root);
  RECSYS_ASSIGN_OR_RETURN(PublishResult published,
                          registry.Publish(*model, data.users, data.items, manifest));
  if (!published.current) {
    return Status::Internal(spec + ": the new version " + published.version +
                            " did not become CURRENT");
  }
  return published.version;
}

Status BuildLake(const std::string& root, const std::string& log_dir) {
  RECSYS_ASSIGN_OR_RETURN(std::unique_ptr<EventLog> log, OpenEmbeddedLog(log_dir, {}));
  GeneratorOptions g;
  g.users = 300;
  g.products = 100;
  g.days = 4;
  RECSYS_RETURN_IF_ERROR(BuildGeneratedLake(root, log.get(), g));
  for (const char* spec : {"popularity", "als:factors=16,iterations=5", "hybrid"}) {
    RECSYS_RETURN_IF_ERROR(TrainAndPublish(root, spec).status().WithContext(spec));
  }
  return Status::OK();
}

// ---- JSON and HTTP helpers ----

// A parsed JSON body; root is valid while the Doc lives.
struct Doc {
  simdjson::dom::parser parser;
  simdjson::dom::element root;
  bool ok = false;
};

std::unique_ptr<Doc> ParseJson(const std::string& text) {
  auto d = std::make_unique<Doc>();
  d->ok = d->parser.parse(text).get(d->root) == simdjson::SUCCESS;
  return d;
}

std::string Str(simdjson::dom::element e, const char* key) {
  std::string_view s;
  if (e[key].get_string().get(s)) return "<missing " + std::string(key) + ">";
  return std::string(s);
}

int64_t Int(simdjson::dom::element e, const char* key) {
  int64_t v = -1;
  if (e[key].get_int64().get(v)) return -1;
  return v;
}

std::vector<std::string> ItemIds(simdjson::dom::element list) {
  std::vector<std::string> ids;
  simdjson::dom::array items;
  if (list["items"].get_array().get(items)) return ids;
  for (simdjson::dom::element it : items) ids.push_back(Str(it, "product_id"));
  return ids;
}

std::string Json(const HttpClientResponse& r) {
  return "status " + std::to_string(r.status) + ": " + r.body;
}

// The answer is an error of this status with a JSON body {"error": {"code", "message"}}.
void ExpectError(const HttpClientResponse& r, int status, const std::string& code) {
  EXPECT_EQ(r.status, status) << r.body;
  auto d = ParseJson(r.body);
  ASSERT_TRUE(d->ok) << "not JSON: " << r.body;
  simdjson::dom::element error;
  ASSERT_EQ(d->root["error"].get(error), simdjson::SUCCESS) << r.body;
  EXPECT_EQ(Str(error, "code"), code) << r.body;
  EXPECT_FALSE(Str(error, "message").empty()) << r.body;
}

std::string NewEventId() {
  static std::atomic<int64_t> n{0};
  return "api-test-" + std::to_string(SystemClock()->NowMillis()) + "-" + std::to_string(++n);
}

Event Click(const std::string& user, const std::string& session, EventType type,
            const std::string& product, const std::string& rec_id = "", int position = 0) {
  Event e;
  e.event_id = NewEventId();
  e.type = type;
  e.event_time_ms = SystemClock()->NowMillis();
  e.user_id = user;
  e.session_id = session;
  e.product_id = product;
  e.rec_id = rec_id;
  if (position > 0) e.position = position;
  return e;
}

std::string Batch(const std::vector<Event>& events) {
  std::string out = "{\"events\":[";
  for (size_t i = 0; i < events.size(); ++i) {
    if (i > 0) out += ',';
    AppendEventJson(events[i], &out);
  }
  return out + "]}";
}

using Headers = std::vector<std::pair<std::string, std::string>>;

Headers Admin(const std::string& token = kToken) { return {{"Authorization", "Bearer " + token}}; }

// One server: an Api over an engine, on a free loopback port.
struct Server {
  std::unique_ptr<Api> api;
  std::unique_ptr<HttpServer> http;

  Server(ApiOptions options, Engine* engine, LiveEvents* live, EventLog* log,
         MetricsRegistry* metrics) {
    api = std::make_unique<Api>(std::move(options), engine, live, log, metrics);
    HttpServerOptions o;
    o.listen = "127.0.0.1:0";
    o.threads = 2;
    o.max_body_bytes = kMaxBody;
    Api* a = api.get();
    http = std::make_unique<HttpServer>(
        o, [a](const HttpRequest& req, HttpResponse* resp) { a->Handle(req, resp); });
  }
  ~Server() { http->Stop(); }
};

// ---- the suite: one lake, one engine and server ----

class ApiTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new TempDir("api-test");
    root_ = new std::string(dir_->path() + "/lake");
    Status st = BuildLake(*root_, dir_->path() + "/ingest-log");
    ASSERT_TRUE(st.ok()) << st.ToString();
    auto log = OpenEmbeddedLog(dir_->path() + "/serve-log", {});
    ASSERT_TRUE(log.ok()) << log.status().ToString();
    log_ = log->release();
    LiveEventsOptions lo;
    lo.poll_interval_ms = 20;
    lo.impression_flush_ms = 10;
    live_ = new LiveEvents(log_, lo);
    ASSERT_TRUE(live_->Start().ok());
    EngineOptions eo;
    eo.lake_root = *root_;
    eo.model = "als";
    eo.threads = 2;
    engine_ = new Engine(eo, live_);
    auto loaded = engine_->Reload();
    ASSERT_TRUE(loaded.ok()) << loaded.status().ToString();
    metrics_ = new MetricsRegistry();
    ApiOptions ao;
    ao.admin_token = kToken;
    ao.lake_root = *root_;
    ao.max_batch_events = kMaxBatch;
    server_ = new Server(ao, engine_, live_, log_, metrics_);
    ASSERT_TRUE(server_->http->Start().ok());
    // Users and products of the gold snapshot.
    auto shop = engine_->shop();
    for (const UserProfile* u : shop->SearchUsers("u", 1000)) {
      if (!engine_->History(u->user_id, 1).empty()) users_.push_back(u->user_id);
    }
    ProductQuery q;
    q.limit = 1000;
    for (const ProductInfo* p : shop->ListProducts(q).products) products_.push_back(p->product_id);
  }

  static void TearDownTestSuite() {
    delete server_;
    server_ = nullptr;
    delete engine_;
    engine_ = nullptr;
    if (live_ != nullptr) live_->Stop();
    delete live_;
    live_ = nullptr;
    delete log_;
    log_ = nullptr;
    delete metrics_;
    metrics_ = nullptr;
    delete root_;
    root_ = nullptr;
    delete dir_;
    dir_ = nullptr;
  }

  void SetUp() override {
    ASSERT_NE(server_, nullptr) << "the suite's lake or server failed to start";
    ASSERT_GE(users_.size(), 20u);
    ASSERT_GE(products_.size(), 50u);
    client_ = std::make_unique<HttpClient>("127.0.0.1", server_->http->port());
  }

  HttpClientResponse Call(const std::string& method, const std::string& target,
                          const std::string& body = "", Headers headers = {}) {
    auto r = client_->Request(method, target, body, std::move(headers));
    EXPECT_TRUE(r.ok()) << method << " " << target << ": " << r.status().ToString();
    return r.ok() ? std::move(*r) : HttpClientResponse{};
  }
  HttpClientResponse Get(const std::string& target) { return Call("GET", target); }

  // A list for the user, 200 expected.
  std::vector<std::string> Recommend(const std::string& user, int k = 10,
                                     std::string* source = nullptr) {
    HttpClientResponse r = Get("/v1/users/" + user + "/recommendations?k=" + std::to_string(k));
    EXPECT_EQ(r.status, 200) << r.body;
    auto d = ParseJson(r.body);
    EXPECT_TRUE(d->ok) << r.body;
    if (source != nullptr) *source = Str(d->root, "source");
    return ItemIds(d->root);
  }

  // POST /v1/events, 202 expected.
  void Post(const std::vector<Event>& events) {
    HttpClientResponse r = Call("POST", "/v1/events", Batch(events));
    ASSERT_EQ(r.status, 202) << r.body;
    auto d = ParseJson(r.body);
    ASSERT_TRUE(d->ok);
    EXPECT_EQ(Int(d->root, "accepted"), static_cast<int64_t>(events.size())) << r.body;
  }

  static TempDir* dir_;
  static std::string* root_;
  static EventLog* log_;
  static LiveEvents* live_;
  static Engine* engine_;
  static MetricsRegistry* metrics_;
  static Server* server_;
  static std::vector<std::string> users_;     // gold users with a history
  static std::vector<std::string> products_;  // the catalog
  std::unique_ptr<HttpClient> client_;
};
TempDir* ApiTest::dir_ = nullptr;
std::string* ApiTest::root_ = nullptr;
EventLog* ApiTest::log_ = nullptr;
LiveEvents* ApiTest::live_ = nullptr;
Engine* ApiTest::engine_ = nullptr;
MetricsRegistry* ApiTest::metrics_ = nullptr;
Server* ApiTest::server_ = nullptr;
std::vector<std::string> ApiTest::users_;
std::vector<std::string> ApiTest::products_;

TEST_F(ApiTest, HealthAndReadiness) {
  HttpClientResponse r = Get("/healthz");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "{\"status\":\"ok\"}");
  r = Get("/readyz");
  EXPECT_EQ(r.status, 200) << r.body;
  auto d = ParseJson(r.body);
  ASSERT_TRUE(d->ok);
  bool ready = false;
  EXPECT_EQ(d->root["ready"].get_bool().get(ready), simdjson::SUCCESS);
  EXPECT_TRUE(ready);
  EXPECT_NE(r.body.find("\"als\""), std::string::npos) << r.body;
}

TEST_F(ApiTest, UserRecommendationsAnswerAndValidate) {
  const std::string user = users_[0];
  HttpClientResponse r = Get("/v1/users/" + user + "/recommendations?k=5");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.Header("content-type"), "application/json");
  auto d = ParseJson(r.body);
  ASSERT_TRUE(d->ok) << r.body;
  EXPECT_FALSE(Str(d->root, "rec_id").empty());
  EXPECT_EQ(Str(d->root, "model"), "als");
  EXPECT_FALSE(Str(d->root, "model_version").empty());
  EXPECT_EQ(Str(d->root, "variant"), "default");
  EXPECT_FALSE(Str(d->root, "source").empty());
  const std::vector<std::string> items = ItemIds(d->root);
  ASSERT_EQ(items.size(), 5u) << r.body;
  simdjson::dom::array array;
  ASSERT_EQ(d->root["items"].get_array().get(array), simdjson::SUCCESS);
  for (simdjson::dom::element it : array) {
    double score = 0;
    EXPECT_EQ(it["score"].get_double().get(score), simdjson::SUCCESS) << r.body;
    EXPECT_FALSE(Str(it, "reason").empty()) << r.body;
  }
  // Default k is 10; exclude leaves the named products out.
  EXPECT_EQ(Recommend(user).size(), 10u);
  r = Get("/v1/users/" + user + "/recommendations?k=5&exclude=" + items[0] + "," + items[1]);
  ASSERT_EQ(r.status, 200) << r.body;
  auto d2 = ParseJson(r.body);
  const std::vector<std::string> without = ItemIds(d2->root);
  EXPECT_EQ(without.size(), 5u);
  for (const std::string& id : without) {
    EXPECT_NE(id, items[0]);
    EXPECT_NE(id, items[1]);
  }
  // A category keeps only products of it.
  const std::string category = engine_->shop()->FindProduct(products_[0])->top_category;
  r = Get("/v1/users/" + user + "/recommendations?k=3&category=" + category);
  ASSERT_EQ(r.status, 200) << r.body;
  auto d3 = ParseJson(r.body);
  for (const std::string& id : ItemIds(d3->root)) {
    EXPECT_EQ(engine_->shop()->FindProduct(id)->top_category, category) << r.body;
  }
  EXPECT_EQ(Get("/v1/users/" + user + "/recommendations?include_seen=true").status, 200);

  for (const char* k : {"0", "1001", "abc", "", "-1", "5x", "99999999999999999999"}) {
    ExpectError(Get("/v1/users/" + user + "/recommendations?k=" + k), 400, "bad_request");
  }
  HttpClientResponse bad = Get("/v1/users/" + user + "/recommendations?k=0");
  EXPECT_NE(bad.body.find("k must be"), std::string::npos) << bad.body;
  ExpectError(Get("/v1/users/" + user + "/recommendations?include_seen=maybe"), 400, "bad_request");
  ExpectError(Get("/v1/users/" + user + "/recommendations?variant=no-such-variant"), 404,
              "not_found");
}

TEST_F(ApiTest, SimilarItems) {
  const std::string product = products_[3];
  HttpClientResponse r = Get("/v1/products/" + product + "/similar?k=7");
  ASSERT_EQ(r.status, 200) << r.body;
  auto d = ParseJson(r.body);
  ASSERT_TRUE(d->ok);
  EXPECT_FALSE(Str(d->root, "rec_id").empty());
  const std::vector<std::string> items = ItemIds(d->root);
  EXPECT_EQ(items.size(), 7u) << r.body;
  for (const std::string& id : items) EXPECT_NE(id, product);
  ExpectError(Get("/v1/products/no-such-product/similar"), 404, "not_found");
  ExpectError(Get("/v1/products/" + product + "/similar?k=0"), 400, "bad_request");
  ExpectError(Get("/v1/products/" + product + "/similar?k=1001"), 400, "bad_request");
  ExpectError(Get("/v1/products/" + product + "/similar?k=abc"), 400, "bad_request");
}

TEST_F(ApiTest, SessionRecommendations) {
  const std::string session = "s-api-test-guest-1";
  Post({Click("g-api-test-guest", session, EventType::kProductView, products_[5]),
        Click("g-api-test-guest", session, EventType::kProductView, products_[6])});
  HttpClientResponse r = Get("/v1/sessions/" + session + "/recommendations?k=4");
  ASSERT_EQ(r.status, 200) << r.body;
  auto d = ParseJson(r.body);
  ASSERT_TRUE(d->ok);
  const std::vector<std::string> items = ItemIds(d->root);
  EXPECT_EQ(items.size(), 4u) << r.body;
  EXPECT_EQ(Str(d->root, "source"), "session") << r.body;
  // An unknown session still gets a list (trending).
  r = Get("/v1/sessions/s-nobody/recommendations?k=3");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(ItemIds(ParseJson(r.body)->root).size(), 3u);
  ExpectError(Get("/v1/sessions/" + session + "/recommendations?k=0"), 400, "bad_request");
  ExpectError(Get("/v1/sessions/" + session + "/recommendations?k=x"), 400, "bad_request");
}

TEST_F(ApiTest, Profiles) {
  const std::string user = users_[1];
  HttpClientResponse r = Get("/v1/users/" + user + "/profile");
  ASSERT_EQ(r.status, 200) << r.body;
  auto d = ParseJson(r.body);
  ASSERT_TRUE(d->ok) << r.body;
  EXPECT_EQ(Str(d->root, "user_id"), user);
  EXPECT_EQ(Str(d->root, "segment"), engine_->shop()->FindUser(user)->segment);
  simdjson::dom::array activity;
  ASSERT_EQ(d->root["recent_activity"].get_array().get(activity), simdjson::SUCCESS) << r.body;
  EXPECT_GT(activity.size(), 0u) << r.body;
  EXPECT_EQ(Int(d->root, "fresh_interactions"), 0) << r.body;

  // A live event comes first in recent_activity and counts as a fresh interaction.
  Post({Click(user, "s-profile", EventType::kProductView, products_[9])});
  r = Get("/v1/users/" + user + "/profile");
  d = ParseJson(r.body);
  ASSERT_EQ(d->root["recent_activity"].get_array().get(activity), simdjson::SUCCESS) << r.body;
  ASSERT_GT(activity.size(), 0u);
  EXPECT_EQ(Str(activity.at(0).value(), "source"), "live") << r.body;
  EXPECT_EQ(Str(activity.at(0).value(), "product_id"), products_[9]) << r.body;
  EXPECT_EQ(Int(d->root, "fresh_interactions"), 1) << r.body;

  // Known only from live events.
  Post({Click("u-only-live", "s-only-live", EventType::kProductView, products_[2])});
  r = Get("/v1/users/u-only-live/profile");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(Str(ParseJson(r.body)->root, "user_id"), "u-only-live");

  ExpectError(Get("/v1/users/nobody-at-all/profile"), 404, "not_found");
}

TEST_F(ApiTest, ProductCatalog) {
  HttpClientResponse r = Get("/v1/products");
  ASSERT_EQ(r.status, 200) << r.body;
  auto d = ParseJson(r.body);
  ASSERT_TRUE(d->ok);
  EXPECT_EQ(Int(d->root, "total"), static_cast<int64_t>(products_.size()));
  EXPECT_EQ(Int(d->root, "offset"), 0);
  EXPECT_EQ(Int(d->root, "limit"), 20);
  simdjson::dom::array page;
  ASSERT_EQ(d->root["products"].get_array().get(page), simdjson::SUCCESS);
  EXPECT_EQ(page.size(), 20u);
  r = Get("/v1/products?offset=10&limit=5");
  d = ParseJson(r.body);
  ASSERT_EQ(d->root["products"].get_array().get(page), simdjson::SUCCESS);
  ASSERT_EQ(page.size(), 5u);
  EXPECT_EQ(Str(page.at(0).value(), "product_id"), products_[10]);
  const ProductInfo* p0 = engine_->shop()->FindProduct(products_[0]);
  r = Get("/v1/products?limit=1000&category=" + p0->top_category);
  d = ParseJson(r.body);
  ASSERT_EQ(d->root["products"].get_array().get(page), simdjson::SUCCESS);
  EXPECT_GT(page.size(), 0u);
  for (simdjson::dom::element p : page) EXPECT_EQ(Str(p, "top_category"), p0->top_category);
  r = Get("/v1/products?q=zzzz-no-such-word");
  EXPECT_EQ(Int(ParseJson(r.body)->root, "total"), 0);

  for (const char* q : {"limit=0", "limit=1001", "limit=x", "offset=-1", "offset=abc"}) {
    ExpectError(Get(std::string("/v1/products?") + q), 400, "bad_request");
  }

  r = Get("/v1/products/" + products_[0]);
  ASSERT_EQ(r.status, 200) << r.body;
  d = ParseJson(r.body);
  EXPECT_EQ(Str(d->root, "product_id"), products_[0]);
  EXPECT_EQ(Str(d->root, "title"), p0->title);
  ExpectError(Get("/v1/products/no-such-product"), 404, "not_found");
}

TEST_F(ApiTest, Analytics) {
  HttpClientResponse r = Get("/v1/analytics/segments");
  ASSERT_EQ(r.status, 200) << r.body;
  auto d = ParseJson(r.body);
  ASSERT_TRUE(d->ok);
  simdjson::dom::array segments;
  EXPECT_EQ(d->root["segments"].get_array().get(segments), simdjson::SUCCESS) << r.body;
  EXPECT_GT(segments.size(), 0u);

  for (const char* sort : {"trending", "revenue", "views", "purchases"}) {
    r = Get(std::string("/v1/analytics/products?limit=5&sort=") + sort);
    ASSERT_EQ(r.status, 200) << r.body;
    d = ParseJson(r.body);
    EXPECT_EQ(Str(d->root, "sort"), sort);
    simdjson::dom::array products;
    ASSERT_EQ(d->root["products"].get_array().get(products), simdjson::SUCCESS);
    EXPECT_EQ(products.size(), 5u);
  }
  EXPECT_EQ(Get("/v1/analytics/products").status, 200);
  ExpectError(Get("/v1/analytics/products?sort=price"), 400, "bad_request");
  ExpectError(Get("/v1/analytics/products?limit=0"), 400, "bad_request");

  r = Get("/v1/analytics/recommendations");
  ASSERT_EQ(r.status, 200) << r.body;
  d = ParseJson(r.body);
  ASSERT_TRUE(d->ok) << r.body;
  simdjson::dom::array offline;
  ASSERT_EQ(d->root["offline"].get_array().get(offline), simdjson::SUCCESS) << r.body;
  std::set<std::string> names;
  std::set<std::pair<std::string, std::string>> served, loaded;
  for (const ServedModelInfo& m : engine_->Models()) loaded.insert({m.name, m.version});
  for (simdjson::dom::element m : offline) {
    names.insert(Str(m, "name"));
    double ndcg = -1;
    EXPECT_EQ(m["ndcg"].get_double().get(ndcg), simdjson::SUCCESS) << r.body;
    EXPECT_GE(ndcg, 0);
    EXPECT_FALSE(Str(m, "spec").empty());
    EXPECT_FALSE(Str(m, "trained_at").empty());
    bool s = false;
    EXPECT_EQ(m["served"].get_bool().get(s), simdjson::SUCCESS);
    if (s) served.insert({Str(m, "name"), Str(m, "version")});
  }
  EXPECT_EQ(names, (std::set<std::string>{"als", "hybrid", "popularity"})) << r.body;
  EXPECT_EQ(served, loaded) << r.body;
  EXPECT_EQ(served.count({"als", engine_->Models()[0].version}), 1u) << r.body;
  simdjson::dom::array online;
  EXPECT_EQ(d->root["online"].get_array().get(online), simdjson::SUCCESS) << r.body;
}

TEST_F(ApiTest, EventsAcceptRejectAndLimits) {
  const std::string user = "u-events-test";
  // Records of this test's user in the log (the impression writer appends to it meanwhile).
  auto logged = [&] {
    int64_t n = 0;
    auto parts = log_->PartitionCount("clickstream");
    for (int p = 0; parts.ok() && p < *parts; ++p) {
      FetchedBatch batch;
      for (int64_t offset = 0;; offset = batch.records.back().offset + 1) {
        if (!log_->Read("clickstream", p, offset, 1000, 1 << 20, &batch).ok() ||
            batch.records.empty()) {
          break;
        }
        for (const FetchedRecord& r : batch.records) {
          n += r.key == user && r.value.find("\"" + user + "\"") != std::string_view::npos;
        }
      }
    }
    return n;
  };
  ASSERT_EQ(logged(), 0);
  // One object.
  HttpClientResponse r =
      Call("POST", "/v1/events",
           EventToJson(Click(user, "s-ev", EventType::kProductView, products_[1])));
  ASSERT_EQ(r.status, 202) << r.body;
  EXPECT_EQ(Int(ParseJson(r.body)->root, "accepted"), 1);
  // A JSON array with a bad element: the good ones count, the bad one is named.
  Event negative = Click(user, "s-ev", EventType::kPurchase, products_[2]);
  negative.quantity = 1;
  negative.price = -5;
  negative.order_id = "o-1";
  std::string array = "[" +
                      EventToJson(Click(user, "s-ev", EventType::kProductView, products_[3])) +
                      "," + EventToJson(negative) + ",42]";
  r = Call("POST", "/v1/events", array);
  ASSERT_EQ(r.status, 202) << r.body;
  auto d = ParseJson(r.body);
  EXPECT_EQ(Int(d->root, "accepted"), 1) << r.body;
  simdjson::dom::array rejected;
  ASSERT_EQ(d->root["rejected"].get_array().get(rejected), simdjson::SUCCESS);
  ASSERT_EQ(rejected.size(), 2u) << r.body;
  EXPECT_EQ(Int(rejected.at(0).value(), "index"), 1);
  EXPECT_EQ(Str(rejected.at(0).value(), "reason"), "negative_value");
  EXPECT_EQ(Int(rejected.at(1).value(), "index"), 2);
  EXPECT_EQ(Str(rejected.at(1).value(), "reason"), "malformed_json");
  EXPECT_EQ(logged(), 2);

  // Nothing good: 400 with the error and the list.
  Event future = Click(user, "s-ev", EventType::kProductView, products_[1]);
  future.event_time_ms += 10LL * 24 * 3600 * 1000;
  r = Call("POST", "/v1/events", Batch({future}));
  ExpectError(r, 400, "bad_request");
  d = ParseJson(r.body);
  ASSERT_EQ(d->root["rejected"].get_array().get(rejected), simdjson::SUCCESS);
  ASSERT_EQ(rejected.size(), 1u);
  EXPECT_EQ(Str(rejected.at(0).value(), "reason"), "future_time");
  r = Call("POST", "/v1/events", "{\"event_type\":\"product_view\"}");
  ExpectError(r, 400, "bad_request");
  EXPECT_NE(r.body.find("missing_field"), std::string::npos) << r.body;
  ExpectError(Call("POST", "/v1/events", "{not json"), 400, "bad_request");
  ExpectError(Call("POST", "/v1/events", ""), 400, "bad_request");
  ExpectError(Call("POST", "/v1/events", "[]"), 400, "bad_request");
  ExpectError(Call("POST", "/v1/events", "{\"events\": 3}"), 400, "bad_request");
  ExpectError(Call("POST", "/v1/events", "\"text\""), 400, "bad_request");
  std::vector<Event> many;
  for (size_t i = 0; i <= kMaxBatch; ++i) {
    many.push_back(Click(user, "s-ev", EventType::kProductView, products_[1]));
  }
  r = Call("POST", "/v1/events", Batch(many));
  ExpectError(r, 400, "bad_request");
  EXPECT_NE(r.body.find("too many"), std::string::npos) << r.body;
  // A body over the server's limit: 413 from the server, still JSON.
  client_ = std::make_unique<HttpClient>("127.0.0.1", server_->http->port());
  r = Call("POST", "/v1/events", std::string(kMaxBody + 100, ' '));
  ExpectError(r, 413, "payload_too_large");
  client_ = std::make_unique<HttpClient>("127.0.0.1", server_->http->port());
  EXPECT_EQ(logged(), 2);
  EXPECT_EQ(Get("/healthz").status, 200);
}

TEST_F(ApiTest, ClickChangesTheNextList) {
  const std::string user = users_[2];
  std::string source;
  const std::vector<std::string> first = Recommend(user, 10, &source);
  ASSERT_EQ(first.size(), 10u);
  // Clicks on products the user has not met, from the end of the list's ranking.
  std::set<std::string> seen(first.begin(), first.end());
  for (const Engine::HistoryEntry& h : engine_->History(user, 1000)) seen.insert(h.product_id);
  std::vector<Event> events;
  for (auto it = products_.rbegin(); it != products_.rend() && events.size() < 6; ++it) {
    if (seen.count(*it) != 0) continue;
    events.push_back(Click(user, "s-click", EventType::kProductView, *it));
    events.push_back(Click(user, "s-click", EventType::kRecommendationClick, *it));
  }
  Post(events);
  const std::vector<std::string> second = Recommend(user, 10, &source);
  EXPECT_NE(first, second);
  EXPECT_EQ(source, "fold_in");
}

TEST_F(ApiTest, NewUserWithTwoClicksGetsPersonalList) {
  const std::string user = "u-brand-new-api-test";
  std::string source;
  Recommend(user, 10, &source);
  EXPECT_NE(source, "fold_in");
  EXPECT_NE(source, "model");
  Post({Click(user, "s-new", EventType::kProductView, products_[10]),
        Click(user, "s-new", EventType::kProductView, products_[11])});
  const std::vector<std::string> list = Recommend(user, 10, &source);
  EXPECT_EQ(source, "fold_in");
  EXPECT_EQ(list.size(), 10u);
}

TEST_F(ApiTest, ImpressionsAndClicksReachOnlineStats) {
  struct Arm {
    int64_t lists = 0, clicks = 0;
  };
  auto arm = [&](const std::string& model, const std::string& version) {
    HttpClientResponse r = Get("/v1/analytics/recommendations");
    Arm a;
    auto d = ParseJson(r.body);
    simdjson::dom::array online;
    if (!d->ok || d->root["online"].get_array().get(online)) return a;
    for (simdjson::dom::element e : online) {
      if (Str(e, "model") == model && Str(e, "model_version") == version &&
          Str(e, "variant") == "default") {
        a.lists = Int(e, "lists");
        a.clicks = Int(e, "clicks");
      }
    }
    return a;
  };
  const std::string user = users_[3];
  HttpClientResponse r = Get("/v1/users/" + user + "/recommendations?k=5");
  ASSERT_EQ(r.status, 200);
  auto d = ParseJson(r.body);
  const std::string rec_id = Str(d->root, "rec_id");
  const std::string model = Str(d->root, "model");
  const std::string version = Str(d->root, "model_version");
  const std::vector<std::string> items = ItemIds(d->root);
  ASSERT_FALSE(items.empty());
  const Arm before = arm(model, version);
  EXPECT_GE(before.lists, 1);
  r = Get("/v1/users/" + user + "/recommendations?k=5");
  Post({Click(user, "s-ctr", EventType::kRecommendationClick, items[0], rec_id, 1)});
  Arm after;
  for (int i = 0; i < 50; ++i) {
    after = arm(model, version);
    if (after.lists >= before.lists + 1 && after.clicks >= before.clicks + 1) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_GE(after.lists, before.lists + 1);
  EXPECT_GE(after.clicks, before.clicks + 1);
}

TEST_F(ApiTest, AdminNeedsTheToken) {
  const std::vector<std::pair<std::string, std::string>> routes = {
      {"GET", "/v1/admin/hybrid-weights"}, {"PUT", "/v1/admin/hybrid-weights"},
      {"GET", "/v1/admin/rules"},          {"PUT", "/v1/admin/rules"},
      {"GET", "/v1/admin/experiments"},    {"PUT", "/v1/admin/experiments"},
      {"POST", "/v1/admin/models/reload"}, {"GET", "/v1/admin/users"}};
  for (const auto& [method, path] : routes) {
    SCOPED_TRACE(method + " " + path);
    HttpClientResponse r = Call(method, path, "{}");
    ExpectError(r, 401, "unauthorized");
    ExpectError(Call(method, path, "{}", {{"Authorization", "Basic abc"}}), 401, "unauthorized");
    ExpectError(Call(method, path, "{}", {{"Authorization", "Bearer"}}), 401, "unauthorized");
    ExpectError(Call(method, path, "{}", Admin("wrong-token")), 403, "forbidden");
    ExpectError(Call(method, path, "{}", Admin(std::string(kToken) + "x")), 403, "forbidden");
    ExpectError(Call(method, path, "{}", Admin("s3cret")), 403, "forbidden");
  }
  EXPECT_EQ(Call("GET", "/v1/admin/rules", "", Admin()).status, 200);
  EXPECT_EQ(Call("GET", "/v1/admin/experiments", "", Admin()).status, 200);
  EXPECT_EQ(Call("GET", "/v1/admin/users", "", Admin()).status, 200);
  EXPECT_EQ(Call("GET", "/v1/admin/rules", "", {{"authorization", std::string("bearer ") + kToken}})
                .status,
            200);

  // No token configured: admin is off, whatever is sent.
  MetricsRegistry metrics;
  ApiOptions o;
  o.lake_root = *root_;
  Server no_token(o, engine_, live_, log_, &metrics);
  ASSERT_TRUE(no_token.http->Start().ok());
  HttpClient c("127.0.0.1", no_token.http->port());
  auto r = c.Request("GET", "/v1/admin/rules", "", Admin());
  ASSERT_TRUE(r.ok());
  ExpectError(*r, 403, "forbidden");
  r = c.Request("GET", "/v1/admin/rules", "", Admin(""));
  ASSERT_TRUE(r.ok());
  EXPECT_NE(r->status, 200);
}

TEST_F(ApiTest, RulesExcludeProducts) {
  const std::string user = users_[4];
  const std::vector<std::string> first = Recommend(user);
  ASSERT_FALSE(first.empty());
  const std::string banned = first[0];
  HttpClientResponse r =
      Call("PUT", "/v1/admin/rules",
           "{\"exclude_products\": [\"" + banned +
               "\"], \"boosts\": [{\"field\": \"brand\", \"value\": \"Acme\", \"factor\": 1.5}]}",
           Admin());
  ASSERT_EQ(r.status, 200) << r.body;
  r = Call("GET", "/v1/admin/rules", "", Admin());
  ASSERT_EQ(r.status, 200);
  auto d = ParseJson(r.body);
  ASSERT_TRUE(d->ok) << r.body;
  EXPECT_NE(r.body.find(banned), std::string::npos) << r.body;
  EXPECT_NE(r.body.find("\"exclude_unavailable\":true"), std::string::npos) << r.body;
  EXPECT_NE(r.body.find("\"factor\":1.5"), std::string::npos) << r.body;
  for (int i = 0; i < 5; ++i) {
    for (const std::string& id : Recommend(users_[4 + i])) EXPECT_NE(id, banned);
  }
  HttpClientResponse sim = Get("/v1/products/" + first[1] + "/similar?k=50");
  for (const std::string& id : ItemIds(ParseJson(sim.body)->root)) EXPECT_NE(id, banned);

  struct Bad {
    std::string body, names;
  };
  for (const Bad& b : std::vector<Bad>{
           {"not json", "JSON"},
           {"[1]", "object"},
           {"{\"exclude_products\": \"p1\"}", "exclude_products"},
           {"{\"exclude_products\": [1]}", "exclude_products"},
           {"{\"exclude_unavailable\": 1}", "exclude_unavailable"},
           {"{\"boosts\": [{\"field\": \"color\", \"value\": \"x\"}]}", "boosts[0].field"},
           {"{\"boosts\": [{\"field\": \"brand\", \"value\": \"x\", "
            "\"factor\": -1}]}",
            "boosts[0].factor"},
           {"{\"colour\": 1}", "colour"}}) {
    r = Call("PUT", "/v1/admin/rules", b.body, Admin());
    ExpectError(r, 400, "bad_request");
    EXPECT_NE(r.body.find(b.names), std::string::npos) << b.body << " -> " << r.body;
  }
  // The bad bodies changed nothing; {} restores the defaults.
  r = Call("GET", "/v1/admin/rules", "", Admin());
  EXPECT_NE(r.body.find(banned), std::string::npos) << r.body;
  ASSERT_EQ(Call("PUT", "/v1/admin/rules", "{}", Admin()).status, 200);
  EXPECT_TRUE(engine_->rules().exclude_products.empty());
}

TEST_F(ApiTest, ExperimentsSplitUsersAndVariantForces) {
  HttpClientResponse r = Call("PUT", "/v1/admin/experiments",
                              "{\"name\": \"exp-api\", \"variants\": ["
                              "{\"name\": \"A\", \"model\": \"als\", \"share\": 1},"
                              "{\"name\": \"B\", \"model\": \"popularity\", \"share\": 1}]}",
                              Admin());
  ASSERT_EQ(r.status, 200) << r.body;
  r = Call("GET", "/v1/admin/experiments", "", Admin());
  ASSERT_EQ(r.status, 200);
  auto d = ParseJson(r.body);
  EXPECT_EQ(Str(d->root, "name"), "exp-api");
  std::set<std::string> variants_seen;
  for (size_t i = 0; i < 20; ++i) {
    const std::string& user = users_[i];
    HttpClientResponse rec = Get("/v1/users/" + user + "/recommendations?k=3");
    ASSERT_EQ(rec.status, 200) << rec.body;
    auto rd = ParseJson(rec.body);
    const std::string variant = Str(rd->root, "variant");
    EXPECT_EQ(variant, engine_->AssignVariant(user)) << user;
    EXPECT_EQ(Str(rd->root, "model"), variant == "A" ? "als" : "popularity") << rec.body;
    variants_seen.insert(variant);
  }
  EXPECT_EQ(variants_seen, (std::set<std::string>{"A", "B"}));
  for (const char* forced : {"A", "B"}) {
    for (size_t i = 0; i < 5; ++i) {
      HttpClientResponse rec =
          Get("/v1/users/" + users_[i] + "/recommendations?k=3&variant=" + forced);
      ASSERT_EQ(rec.status, 200) << rec.body;
      EXPECT_EQ(Str(ParseJson(rec.body)->root, "variant"), forced);
    }
  }
  ExpectError(Get("/v1/users/" + users_[0] + "/recommendations?variant=C"), 404, "not_found");

  for (const std::string& bad : std::vector<std::string>{
           "nope", "{\"name\": 3}", "{\"name\": \"x\", \"variants\": {}}",
           "{\"name\": \"x\", \"variants\": [{\"name\": \"A\", \"share\": 0}]}",
           "{\"name\": \"x\", \"variants\": [{\"name\": \"A\"}]}",
           "{\"name\": \"x\", \"variants\": [{\"name\": \"A\", \"share\": 1, \"model\": "
           "\"no-such-model\"}]}",
           "{\"name\": \"x\", \"variants\": [{\"name\": \"A\", \"share\": 1}, {\"name\": \"A\", "
           "\"share\": 1}]}",
           "{\"name\": \"x\"}"}) {
    ExpectError(Call("PUT", "/v1/admin/experiments", bad, Admin()), 400, "bad_request");
  }
  EXPECT_EQ(engine_->experiment().name, "exp-api");
  ASSERT_EQ(
      Call("PUT", "/v1/admin/experiments", "{\"name\": \"\", \"variants\": []}", Admin()).status,
      200);
  EXPECT_EQ(
      Str(ParseJson(Get("/v1/users/" + users_[0] + "/recommendations").body)->root, "variant"),
      "default");
}

TEST_F(ApiTest, HybridWeights) {
  // The suite serves als: there are no hybrid weights.
  ExpectError(Call("GET", "/v1/admin/hybrid-weights", "", Admin()), 404, "not_found");
  // A server whose default model is the hybrid.
  EngineOptions eo;
  eo.lake_root = *root_;
  eo.model = "hybrid";
  eo.threads = 2;
  Engine hybrid(eo, live_);
  ASSERT_TRUE(hybrid.Reload().ok());
  MetricsRegistry metrics;
  ApiOptions o;
  o.admin_token = kToken;
  o.lake_root = *root_;
  Server server(o, &hybrid, live_, log_, &metrics);
  ASSERT_TRUE(server.http->Start().ok());
  HttpClient c("127.0.0.1", server.http->port());
  auto r = c.Request("GET", "/v1/admin/hybrid-weights", "", Admin());
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r->status, 200) << r->body;
  auto d = ParseJson(r->body);
  EXPECT_EQ(Str(d->root, "model"), "hybrid");
  simdjson::dom::object weights;
  ASSERT_EQ(d->root["weights"].get_object().get(weights), simdjson::SUCCESS) << r->body;
  EXPECT_EQ(weights.size(), 3u) << r->body;
  r = c.Request("PUT", "/v1/admin/hybrid-weights",
                "{\"weights\": {\"als\": 1, \"itemknn\": 0, \"popularity\": 0.25}}", Admin());
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r->status, 200) << r->body;
  r = c.Request("GET", "/v1/admin/hybrid-weights", "", Admin());
  d = ParseJson(r->body);
  double w = 0;
  ASSERT_EQ(d->root["weights"]["popularity"].get_double().get(w), simdjson::SUCCESS) << r->body;
  EXPECT_EQ(w, 0.25);
  r = c.Request("GET", "/v1/users/" + users_[0] + "/recommendations", "");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->status, 200) << r->body;
  for (const char* bad :
       {"x", "{}", "{\"weights\": 3}", "{\"weights\": {\"als\": \"high\"}}",
        "{\"weights\": {\"no-such-component\": 1}}", "{\"weights\": {\"als\": -1}}"}) {
    r = c.Request("PUT", "/v1/admin/hybrid-weights", bad, Admin());
    ASSERT_TRUE(r.ok());
    ExpectError(*r, 400, "bad_request");
  }
}

TEST_F(ApiTest, AdminUserSearch) {
  HttpClientResponse r = Call("GET", "/v1/admin/users?query=U00&limit=5", "", Admin());
  ASSERT_EQ(r.status, 200) << r.body;
  auto d = ParseJson(r.body);
  simdjson::dom::array users;
  ASSERT_EQ(d->root["users"].get_array().get(users), simdjson::SUCCESS) << r.body;
  EXPECT_EQ(users.size(), 5u);
  for (simdjson::dom::element u : users) {
    EXPECT_NE(Str(u, "user_id").find("u00"), std::string::npos);
    EXPECT_FALSE(Str(u, "segment").empty());
  }
  r = Call("GET", "/v1/admin/users?query=no-such-user", "", Admin());
  EXPECT_EQ(r.body, "{\"users\":[]}");
  ExpectError(Call("GET", "/v1/admin/users?limit=0", "", Admin()), 400, "bad_request");
  ExpectError(Call("GET", "/v1/admin/users?limit=1001", "", Admin()), 400, "bad_request");
}

TEST_F(ApiTest, ReloadUnderLoadLosesNoRequest) {
  auto published = TrainAndPublish(*root_, "als:factors=16,iterations=5");
  ASSERT_TRUE(published.ok()) << published.status().ToString();
  std::atomic<int> ok{0}, failed{0};
  std::atomic<bool> started{false};
  std::string first_failure;
  std::thread load([&] {
    HttpClient c("127.0.0.1", server_->http->port());
    for (int i = 0; i < 300; ++i) {
      auto r = c.Request("GET", "/v1/users/" + users_[i % users_.size()] + "/recommendations");
      if (r.ok() && r->status == 200) {
        ++ok;
      } else {
        if (failed++ == 0) first_failure = r.ok() ? Json(*r) : r.status().ToString();
      }
      if (i == 20) started = true;
    }
    started = true;
  });
  while (!started) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  HttpClientResponse r = Call("POST", "/v1/admin/models/reload", "", Admin());
  load.join();
  ASSERT_EQ(r.status, 200) << r.body;
  auto d = ParseJson(r.body);
  bool reloaded = false;
  EXPECT_EQ(d->root["reloaded"].get_bool().get(reloaded), simdjson::SUCCESS);
  EXPECT_TRUE(reloaded) << r.body;
  EXPECT_NE(r.body.find("\"version\":\"" + *published + "\""), std::string::npos) << r.body;
  EXPECT_EQ(ok.load(), 300) << first_failure;
  EXPECT_EQ(failed.load(), 0) << first_failure;
  EXPECT_EQ(Str(ParseJson(Get("/v1/users/" + users_[0] + "/recommendations").body)->root,
                "model_version"),
            *published);
  // Nothing new: reloaded false.
  r = Call("POST", "/v1/admin/models/reload", "", Admin());
  EXPECT_NE(r.body.find("\"reloaded\":false"), std::string::npos) << r.body;
}

TEST_F(ApiTest, MetricsUseRoutePatterns) {
  ASSERT_EQ(Get("/v1/products/" + products_[7]).status, 200);
  ASSERT_EQ(Get("/v1/users/" + users_[5] + "/recommendations").status, 200);
  ASSERT_EQ(Get("/no/such/path/xyz123").status, 404);
  Post({Click("u-metrics", "s-metrics", EventType::kProductView, products_[1])});
  ASSERT_EQ(Call("DELETE", "/v1/products").status, 405);
  HttpClientResponse r = Get("/metrics");
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(r.Header("content-type"), "text/plain; version=0.0.4");
  const std::string& m = r.body;
  for (const std::string& needle : std::vector<std::string>{
           "recsys_http_requests_total{route=\"/v1/products/{id}\",method=\"GET\",status=\"200\"}",
           "recsys_http_requests_total{route=\"unmatched\",method=\"GET\",status=\"404\"}",
           "recsys_http_requests_total{route=\"/v1/products\",method=\"DELETE\",status=\"405\"}",
           "recsys_http_request_duration_seconds_bucket{route=\"/v1/products/"
           "{id}\",status=\"200\",le=",
           "recsys_http_request_duration_seconds_count{route=\"/v1/users/{id}/recommendations\","
           "status=\"200\"}",
           "recsys_http_request_duration_seconds_count{route=\"unmatched\",status=\"404\"}",
           "recsys_recommendation_lists_total{model=\"als\",variant=\"default\"}",
           "recsys_events_total{result=\"accepted\"}", "recsys_events_total{result=\"rejected\"}",
           "recsys_model_info{model=\"als\",version=\"", "recsys_ready 1",
           "recsys_live_events{kind=\"applied\"}"}) {
    EXPECT_NE(m.find(needle), std::string::npos) << needle << "\n" << m;
  }
  // Raw paths never become labels.
  EXPECT_EQ(m.find("xyz123"), std::string::npos);
  EXPECT_EQ(m.find(products_[7]), std::string::npos);
  EXPECT_EQ(m.find(users_[5]), std::string::npos);
}

TEST_F(ApiTest, UnknownPathsAndWrongMethods) {
  for (const char* path :
       {"/", "/nope", "/v1", "/v1/users/u1", "/v1/users/u1/recommendations/x", "/v1/products/",
        "/v1/users//profile", "/healthz/x", "/a/b/c/d/e/f/g/h/i/j/k"}) {
    SCOPED_TRACE(path);
    ExpectError(Get(path), 404, "not_found");
  }
  HttpClientResponse r = Call("DELETE", "/v1/products");
  ExpectError(r, 405, "method_not_allowed");
  EXPECT_EQ(r.Header("allow"), "GET");
  r = Call("POST", "/v1/admin/rules", "{}");
  ExpectError(r, 405, "method_not_allowed");
  EXPECT_EQ(r.Header("allow"), "GET, PUT");
  r = Call("GET", "/v1/events");
  ExpectError(r, 405, "method_not_allowed");
  EXPECT_EQ(r.Header("allow"), "POST");
  r = Call("PUT", "/v1/users/u1/recommendations", "{}");
  ExpectError(r, 405, "method_not_allowed");
  // Percent-encoded ids are decoded.
  r = Get("/v1/products/" + products_[0].substr(0, 1) + "%" +
          [](char c) {
            char buf[3];
            std::snprintf(buf, sizeof(buf), "%02X", static_cast<unsigned char>(c));
            return std::string(buf);
          }(products_[0][1]) +
          products_[0].substr(2));
  EXPECT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(Get("/healthz").status, 200);
}

TEST_F(ApiTest, OpenApiDocumentMatchesRoutes) {
  HttpClientResponse r = Get("/openapi.json");
  ASSERT_EQ(r.status, 200);
  auto d = ParseJson(r.body);
  ASSERT_TRUE(d->ok) << r.body.substr(0, 500);
  EXPECT_EQ(Str(d->root, "openapi"), "3.0.3");
  simdjson::dom::object paths;
  ASSERT_EQ(d->root["paths"].get_object().get(paths), simdjson::SUCCESS);
  std::set<std::pair<std::string, std::string>> documented, routes;
  for (auto [path, item] : paths) {
    simdjson::dom::object ops;
    ASSERT_EQ(item.get_object().get(ops), simdjson::SUCCESS);
    for (auto [method, op] : ops) {
      std::string m(method);
      for (char& c : m) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
      documented.insert({m, std::string(path)});
    }
  }
  for (const RouteSpec& route : Api::Routes()) {
    routes.insert({route.method, route.pattern});
    std::string method = route.method;
    for (char& c : method) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    simdjson::dom::element op;
    ASSERT_EQ(d->root["paths"][route.pattern][method].get(op), simdjson::SUCCESS);
    simdjson::dom::element unused;
    EXPECT_EQ(op["security"].get(unused) == simdjson::SUCCESS, route.admin) << route.pattern;
    EXPECT_EQ(op["requestBody"].get(unused) == simdjson::SUCCESS, route.has_body) << route.pattern;
    if (route.admin) {
      EXPECT_EQ(op["responses"]["401"].get(unused), simdjson::SUCCESS) << route.pattern;
    }
    size_t params = 0;
    simdjson::dom::array list;
    if (op["parameters"].get_array().get(list) == simdjson::SUCCESS) params = list.size();
    EXPECT_EQ(params, route.params.size()) << route.pattern;
  }
  EXPECT_EQ(documented, routes);
  simdjson::dom::element unused;
  EXPECT_EQ(d->root["components"]["schemas"]["Error"].get(unused), simdjson::SUCCESS);
  EXPECT_EQ(d->root["components"]["securitySchemes"]["bearerAuth"]["scheme"].get(unused),
            simdjson::SUCCESS);

  // Every route answers (not a 404 for an unknown route, not a 405).
  for (const RouteSpec& route : Api::Routes()) {
    std::string target = route.pattern;
    auto put = [&](const std::string& param, const std::string& value) {
      const size_t at = target.find(param);
      if (at != std::string::npos) target.replace(at, param.size(), value);
    };
    put("{session_id}", "s-any");
    put("{id}", route.pattern.rfind("/v1/users", 0) == 0 ? users_[0] : products_[0]);
    HttpClientResponse a =
        Call(route.method, target, route.has_body ? "{}" : "", route.admin ? Admin() : Headers{});
    SCOPED_TRACE(route.method + " " + target + " -> " + a.body.substr(0, 200));
    EXPECT_NE(a.status, 405);
    EXPECT_EQ(a.body.find("no route for"), std::string::npos);
    EXPECT_LT(a.status, 500);
  }
}

TEST_F(ApiTest, NotReadyAnswers503) {
  EngineOptions eo;
  eo.lake_root = *root_;
  Engine empty(eo, live_);  // never reloaded
  MetricsRegistry metrics;
  ApiOptions o;
  o.admin_token = kToken;
  Server server(o, &empty, live_, log_, &metrics);
  ASSERT_TRUE(server.http->Start().ok());
  HttpClient c("127.0.0.1", server.http->port());
  auto r = c.Request("GET", "/readyz");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->status, 503) << r->body;
  EXPECT_NE(r->body.find("\"ready\":false"), std::string::npos) << r->body;
  r = c.Request("GET", "/healthz");
  EXPECT_EQ(r->status, 200);
  for (const std::string& target : {std::string("/v1/users/u000001/recommendations"),
                                    "/v1/products/" + products_[0] + "/similar",
                                    std::string("/v1/sessions/s1/recommendations")}) {
    r = c.Request("GET", target);
    ASSERT_TRUE(r.ok());
    ExpectError(*r, 503, "not_ready");
  }
  ExpectError(*c.Request("GET", "/v1/products/p000001"), 404, "not_found");
  r = c.Request("GET", "/v1/analytics/recommendations");
  EXPECT_EQ(r->status, 200) << r->body;
  r = c.Request("GET", "/metrics");
  EXPECT_NE(r->body.find("recsys_ready 0"), std::string::npos) << r->body;
}

TEST(ApiRoutesTest, RoutesAreDistinctAndDescribed) {
  std::set<std::pair<std::string, std::string>> seen;
  for (const RouteSpec& r : Api::Routes()) {
    EXPECT_TRUE(seen.insert({r.method, r.pattern}).second) << r.method << " " << r.pattern;
    EXPECT_FALSE(r.summary.empty()) << r.pattern;
    for (const RouteParam& p : r.params) {
      EXPECT_TRUE(p.in == "path" || p.in == "query") << r.pattern << " " << p.name;
      if (p.in == "path") {
        EXPECT_NE(r.pattern.find("{" + p.name + "}"), std::string::npos) << r.pattern;
      }
    }
    EXPECT_EQ(r.admin, r.pattern.rfind("/v1/admin/", 0) == 0) << r.pattern;
  }
  EXPECT_EQ(seen.size(), 22u);
}

}  // namespace
}  // namespace recsys
