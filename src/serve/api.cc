#include "serve/api.h"

#include <simdjson.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cctype>
#include <charconv>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <exception>
#include <limits>
#include <mutex>
#include <set>
#include <utility>

#include "core/clock.h"
#include "core/event.h"
#include "core/json_writer.h"
#include "models/registry.h"

namespace recsys {
namespace {

// What each route runs; kHandlerOrder in Routes() ties a RouteSpec to one.
enum class Handler {
  kUserRecs,
  kSimilar,
  kSessionRecs,
  kProfile,
  kProducts,
  kProduct,
  kSegments,
  kProductAnalytics,
  kRecAnalytics,
  kEvents,
  kGetWeights,
  kPutWeights,
  kGetRules,
  kPutRules,
  kGetExperiments,
  kPutExperiments,
  kReload,
  kAdminUsers,
  kMetrics,
  kHealthz,
  kReadyz,
  kOpenApi,
};

struct RouteDef {
  RouteSpec spec;
  Handler handler;
};

RouteParam PathParam(std::string name, std::string description) {
  return {std::move(name), "path", "string", true, std::move(description)};
}
RouteParam QueryParam(std::string name, std::string type, std::string description) {
  return {std::move(name), "query", std::move(type), false, std::move(description)};
}

const std::vector<RouteDef>& RouteDefs() {
  static const std::vector<RouteDef> defs = [] {
    const RouteParam k = QueryParam("k", "integer", "list length, 1 to 1000 (default 10)");
    const RouteParam exclude =
        QueryParam("exclude", "string", "comma-separated product ids left out of the list");
    const RouteParam category = QueryParam(
        "category", "string", "only this category (path, a prefix of it, or a top category)");
    const RouteParam limit = QueryParam("limit", "integer", "at most this many, 1 to 1000");
    std::vector<RouteDef> d;
    auto add = [&](std::string method, std::string pattern, std::string summary, bool admin,
                   std::vector<RouteParam> params, bool has_body, Handler h) {
      d.push_back({RouteSpec{std::move(method), std::move(pattern), std::move(summary), admin,
                             std::move(params), has_body},
                   h});
    };
    add("GET", "/v1/users/{id}/recommendations", "Top-k recommendations for a user", false,
        {PathParam("id", "user id"), k, exclude, category,
         QueryParam("variant", "string", "force this A/B variant (404 when unknown)"),
         QueryParam("include_seen", "boolean", "keep items of the user's history (default false)")},
        false, Handler::kUserRecs);
    add("GET", "/v1/products/{id}/similar", "Items similar to a product", false,
        {PathParam("id", "product id"), k}, false, Handler::kSimilar);
    add("GET", "/v1/sessions/{session_id}/recommendations",
        "Recommendations for a guest session from the products seen in it", false,
        {PathParam("session_id", "session id"), k, category, exclude}, false,
        Handler::kSessionRecs);
    add("GET", "/v1/users/{id}/profile", "A user's profile, segment and recent activity", false,
        {PathParam("id", "user id")}, false, Handler::kProfile);
    add("GET", "/v1/products", "The catalog, a page at a time", false,
        {QueryParam("offset", "integer", "products skipped, >= 0 (default 0)"),
         QueryParam("limit", "integer", "page size, 1 to 1000 (default 20)"), category,
         QueryParam("q", "string", "words that must all occur in title, brand or category")},
        false, Handler::kProducts);
    add("GET", "/v1/products/{id}", "One product", false, {PathParam("id", "product id")}, false,
        Handler::kProduct);
    add("GET", "/v1/analytics/segments", "RFM segments and user clusters", false, {}, false,
        Handler::kSegments);
    add("GET", "/v1/analytics/products", "Top products by a measure", false,
        {QueryParam("sort", "string", "trending (default), revenue, views or purchases"),
         QueryParam("limit", "integer", "at most this many, 1 to 1000 (default 20)")},
        false, Handler::kProductAnalytics);
    add("GET", "/v1/analytics/recommendations",
        "Offline metrics of every model version and online results per served arm", false, {},
        false, Handler::kRecAnalytics);
    add("POST", "/v1/events", "Track events: one object, {\"events\": [...]} or an array", false,
        {}, true, Handler::kEvents);
    add("GET", "/v1/admin/hybrid-weights", "The hybrid model's blend weights", true, {}, false,
        Handler::kGetWeights);
    add("PUT", "/v1/admin/hybrid-weights", "Set the hybrid model's blend weights", true, {}, true,
        Handler::kPutWeights);
    add("GET", "/v1/admin/rules", "The business rules", true, {}, false, Handler::kGetRules);
    add("PUT", "/v1/admin/rules", "Replace the business rules", true, {}, true, Handler::kPutRules);
    add("GET", "/v1/admin/experiments", "The A/B experiment", true, {}, false,
        Handler::kGetExperiments);
    add("PUT", "/v1/admin/experiments", "Replace the A/B experiment", true, {}, true,
        Handler::kPutExperiments);
    add("POST", "/v1/admin/models/reload", "Load the registry's CURRENT model versions now", true,
        {}, false, Handler::kReload);
    add("GET", "/v1/admin/users", "Search user profiles by id", true,
        {QueryParam("query", "string", "a part of the user id (case-insensitive)"),
         QueryParam("limit", "integer", "at most this many, 1 to 1000 (default 20)")},
        false, Handler::kAdminUsers);
    add("GET", "/metrics", "Prometheus metrics", false, {}, false, Handler::kMetrics);
    add("GET", "/healthz", "Liveness", false, {}, false, Handler::kHealthz);
    add("GET", "/readyz", "Readiness: a model is loaded", false, {}, false, Handler::kReadyz);
    add("GET", "/openapi.json", "This API's OpenAPI 3.0 document", false, {}, false,
        Handler::kOpenApi);
    return d;
  }();
  return defs;
}

// ---- small helpers ----

constexpr size_t kMaxSegments = 8;

// Splits "/a/b/c" into {"a","b","c"}; returns the count, or kMaxSegments + 1 when there are more
// (or the path does not start with '/').
size_t SplitPath(std::string_view path, std::array<std::string_view, kMaxSegments>* out) {
  if (path.empty() || path[0] != '/') return kMaxSegments + 1;
  size_t n = 0;
  size_t pos = 1;
  while (true) {
    size_t slash = path.find('/', pos);
    std::string_view seg =
        path.substr(pos, slash == std::string_view::npos ? std::string_view::npos : slash - pos);
    if (n == kMaxSegments) return kMaxSegments + 1;
    (*out)[n++] = seg;
    if (slash == std::string_view::npos) break;
    pos = slash + 1;
  }
  return n;
}

void SetError(HttpResponse* r, int status, std::string_view code, std::string_view message) {
  r->status = status;
  r->content_type = "application/json";
  r->body = JsonError(code, message);
}

void BadRequest(HttpResponse* r, std::string_view message) {
  SetError(r, 400, "bad_request", message);
}

// The HTTP answer for a failed engine call.
void StatusError(HttpResponse* r, const Status& s) {
  switch (s.code()) {
    case StatusCode::kInvalidArgument:
    case StatusCode::kOutOfRange:
      SetError(r, 400, "bad_request", s.message());
      return;
    case StatusCode::kNotFound:
      SetError(r, 404, "not_found", s.message());
      return;
    case StatusCode::kUnavailable:
      SetError(r, 503, "unavailable", s.message());
      return;
    default:
      SetError(r, 500, "internal", s.ToString());
  }
}

std::string Quoted(std::string_view s) {
  std::string out;
  AppendJsonString(s.substr(0, 100), &out);
  return out;
}

// An integer query parameter in [lo, hi]; absent = def. On a bad value answers 400 naming it.
bool IntParam(const HttpRequest& req, std::string_view key, int64_t def, int64_t lo, int64_t hi,
              int64_t* out, HttpResponse* resp) {
  std::optional<std::string_view> v = req.Query(key);
  if (!v) {
    *out = def;
    return true;
  }
  int64_t x = 0;
  auto [ptr, ec] = std::from_chars(v->data(), v->data() + v->size(), x);
  if (v->empty() || ec != std::errc() || ptr != v->data() + v->size() || x < lo || x > hi) {
    std::string msg(key);
    if (hi == std::numeric_limits<int64_t>::max()) {
      msg += " must be an integer >= " + std::to_string(lo);
    } else {
      msg += " must be an integer from " + std::to_string(lo) + " to " + std::to_string(hi);
    }
    msg += " (got " + Quoted(*v) + ")";
    BadRequest(resp, msg);
    return false;
  }
  *out = x;
  return true;
}

bool BoolParam(const HttpRequest& req, std::string_view key, bool def, bool* out,
               HttpResponse* resp) {
  std::optional<std::string_view> v = req.Query(key);
  if (!v) {
    *out = def;
    return true;
  }
  if (v->empty() || *v == "true" || *v == "1" || *v == "yes") {
    *out = true;
    return true;
  }
  if (*v == "false" || *v == "0" || *v == "no") {
    *out = false;
    return true;
  }
  BadRequest(resp, std::string(key) + " must be true or false (got " + Quoted(*v) + ")");
  return false;
}

std::string StringParam(const HttpRequest& req, std::string_view key) {
  std::optional<std::string_view> v = req.Query(key);
  return v ? std::string(*v) : std::string();
}

// "a, b,,c" -> {"a", "b", "c"}.
std::vector<std::string> SplitList(std::string_view s) {
  std::vector<std::string> out;
  while (!s.empty()) {
    size_t comma = s.find(',');
    std::string_view part = s.substr(0, comma);
    while (!part.empty() && part.front() == ' ') part.remove_prefix(1);
    while (!part.empty() && part.back() == ' ') part.remove_suffix(1);
    if (!part.empty()) out.emplace_back(part);
    if (comma == std::string_view::npos) break;
    s.remove_prefix(comma + 1);
  }
  return out;
}

void AppendFloat(double v, std::string* out) {
  if (!std::isfinite(v)) {
    *out += "null";
    return;
  }
  char buf[32];
  auto r = std::to_chars(buf, buf + sizeof(buf), v);
  out->append(buf, r.ptr);
}

// {rec_id, model, model_version, variant, source, items: [{product_id, score, reason}]}.
void WriteRecResponse(const RecResponse& r, std::string* out) {
  out->reserve(96 + r.items.size() * 80);
  *out += "{\"rec_id\":";
  AppendJsonString(r.rec_id, out);
  *out += ",\"model\":";
  AppendJsonString(r.model, out);
  *out += ",\"model_version\":";
  AppendJsonString(r.model_version, out);
  *out += ",\"variant\":";
  AppendJsonString(r.variant, out);
  *out += ",\"source\":";
  AppendJsonString(r.source, out);
  *out += ",\"items\":[";
  for (size_t i = 0; i < r.items.size(); ++i) {
    if (i > 0) *out += ',';
    *out += "{\"product_id\":";
    AppendJsonString(r.items[i].product_id, out);
    *out += ",\"score\":";
    AppendFloat(r.items[i].score, out);
    *out += ",\"reason\":";
    AppendJsonString(r.items[i].reason, out);
    *out += '}';
  }
  *out += "]}";
}

void WriteWeights(const std::map<std::string, double>& weights, JsonWriter* w) {
  w->BeginObject();
  for (const auto& [name, weight] : weights) {
    w->Key(name);
    w->Double(weight);
  }
  w->EndObject();
}

void WriteRules(const Rules& rules, JsonWriter* w) {
  w->BeginObject();
  w->Key("exclude_unavailable");
  w->Bool(rules.exclude_unavailable);
  w->Key("exclude_products");
  w->BeginArray();
  for (const std::string& p : rules.exclude_products) w->String(p);
  w->EndArray();
  w->Key("exclude_categories");
  w->BeginArray();
  for (const std::string& c : rules.exclude_categories) w->String(c);
  w->EndArray();
  w->Key("boosts");
  w->BeginArray();
  for (const Rules::Boost& b : rules.boosts) {
    w->BeginObject();
    w->Key("field");
    w->String(b.field);
    w->Key("value");
    w->String(b.value);
    w->Key("factor");
    w->Double(b.factor);
    w->EndObject();
  }
  w->EndArray();
  w->EndObject();
}

void WriteExperiment(const Experiment& e, JsonWriter* w) {
  w->BeginObject();
  w->Key("name");
  w->String(e.name);
  w->Key("variants");
  w->BeginArray();
  for (const Variant& v : e.variants) {
    w->BeginObject();
    w->Key("name");
    w->String(v.name);
    w->Key("model");
    w->String(v.model);
    w->Key("weights");
    WriteWeights(v.weights, w);
    w->Key("share");
    w->Double(v.share);
    w->EndObject();
  }
  w->EndArray();
  w->EndObject();
}

// ---- JSON bodies of the admin routes ----

using simdjson::dom::element;

// Parses body into *doc with the thread's parser; on failure answers 400.
bool ParseBody(const HttpRequest& req, simdjson::dom::parser* parser, element* doc,
               HttpResponse* resp) {
  if (req.body.empty()) {
    BadRequest(resp, "a JSON body is required");
    return false;
  }
  auto err = parser->parse(req.body.data(), req.body.size()).get(*doc);
  if (err) {
    BadRequest(resp, std::string("body is not JSON: ") + simdjson::error_message(err));
    return false;
  }
  return true;
}

// An error naming the field, for the admin bodies.
struct FieldError {
  std::string message;
};

std::optional<FieldError> GetNumber(element e, const std::string& field, double* out) {
  if (e.is_double() || e.is_int64() || e.is_uint64()) {
    double v = 0;
    if (e.is_double()) {
      v = e.get_double().value_unsafe();
    } else if (e.is_int64()) {
      v = static_cast<double>(e.get_int64().value_unsafe());
    } else {
      v = static_cast<double>(e.get_uint64().value_unsafe());
    }
    *out = v;
    return std::nullopt;
  }
  return FieldError{field + " must be a number"};
}

std::optional<FieldError> GetString(element e, const std::string& field, std::string* out) {
  std::string_view s;
  if (e.get_string().get(s)) return FieldError{field + " must be a string"};
  *out = std::string(s);
  return std::nullopt;
}

std::optional<FieldError> GetStringList(element e, const std::string& field,
                                        std::vector<std::string>* out) {
  simdjson::dom::array a;
  if (e.get_array().get(a)) return FieldError{field + " must be an array of strings"};
  out->clear();
  size_t i = 0;
  for (element x : a) {
    std::string s;
    if (auto err = GetString(x, field + "[" + std::to_string(i) + "]", &s)) return err;
    out->push_back(std::move(s));
    ++i;
  }
  return std::nullopt;
}

std::optional<FieldError> ParseWeights(element e, const std::string& field,
                                       std::map<std::string, double>* out) {
  simdjson::dom::object o;
  if (e.get_object().get(o)) {
    return FieldError{field + " must be an object of component: weight"};
  }
  out->clear();
  for (auto [key, value] : o) {
    double v = 0;
    if (auto err = GetNumber(value, field + "." + std::string(key), &v)) return err;
    (*out)[std::string(key)] = v;
  }
  return std::nullopt;
}

std::optional<FieldError> ParseRules(element doc, Rules* rules) {
  simdjson::dom::object o;
  if (doc.get_object().get(o)) return FieldError{"body must be a JSON object (the rules)"};
  for (auto [key, value] : o) {
    if (key == "exclude_unavailable") {
      bool b = false;
      if (value.get_bool().get(b)) return FieldError{"exclude_unavailable must be a boolean"};
      rules->exclude_unavailable = b;
    } else if (key == "exclude_products") {
      if (auto err = GetStringList(value, "exclude_products", &rules->exclude_products)) {
        return err;
      }
    } else if (key == "exclude_categories") {
      if (auto err = GetStringList(value, "exclude_categories", &rules->exclude_categories)) {
        return err;
      }
    } else if (key == "boosts") {
      simdjson::dom::array a;
      if (value.get_array().get(a)) return FieldError{"boosts must be an array"};
      size_t i = 0;
      for (element b : a) {
        const std::string name = "boosts[" + std::to_string(i++) + "]";
        simdjson::dom::object bo;
        if (b.get_object().get(bo)) {
          return FieldError{name + " must be an object {field, value, factor}"};
        }
        Rules::Boost boost;
        bool has_field = false, has_value = false;
        for (auto [bk, bv] : bo) {
          if (bk == "field") {
            if (auto err = GetString(bv, name + ".field", &boost.field)) return err;
            has_field = true;
          } else if (bk == "value") {
            if (auto err = GetString(bv, name + ".value", &boost.value)) return err;
            has_value = true;
          } else if (bk == "factor") {
            if (auto err = GetNumber(bv, name + ".factor", &boost.factor)) return err;
          } else {
            return FieldError{name + ": unknown field " + Quoted(bk)};
          }
        }
        if (!has_field) return FieldError{name + ".field is required"};
        if (boost.field != "product" && boost.field != "category" && boost.field != "brand") {
          return FieldError{name + ".field must be product, category or brand (got " +
                            Quoted(boost.field) + ")"};
        }
        if (!has_value) return FieldError{name + ".value is required"};
        if (!(boost.factor > 0)) return FieldError{name + ".factor must be > 0"};
        rules->boosts.push_back(std::move(boost));
      }
    } else {
      return FieldError{"unknown field " + Quoted(key) +
                        " (exclude_unavailable, exclude_products, exclude_categories, boosts)"};
    }
  }
  return std::nullopt;
}

std::optional<FieldError> ParseExperiment(element doc, Experiment* e) {
  simdjson::dom::object o;
  if (doc.get_object().get(o)) return FieldError{"body must be a JSON object {name, variants}"};
  bool has_variants = false;
  for (auto [key, value] : o) {
    if (key == "name") {
      if (auto err = GetString(value, "name", &e->name)) return err;
    } else if (key == "variants") {
      has_variants = true;
      simdjson::dom::array a;
      if (value.get_array().get(a)) return FieldError{"variants must be an array"};
      size_t i = 0;
      for (element ve : a) {
        const std::string name = "variants[" + std::to_string(i++) + "]";
        simdjson::dom::object vo;
        if (ve.get_object().get(vo)) {
          return FieldError{name + " must be an object {name, model, weights, share}"};
        }
        Variant v;
        bool has_share = false;
        for (auto [vk, vv] : vo) {
          if (vk == "name") {
            if (auto err = GetString(vv, name + ".name", &v.name)) return err;
          } else if (vk == "model") {
            if (auto err = GetString(vv, name + ".model", &v.model)) return err;
          } else if (vk == "weights") {
            if (auto err = ParseWeights(vv, name + ".weights", &v.weights)) return err;
          } else if (vk == "share") {
            if (auto err = GetNumber(vv, name + ".share", &v.share)) return err;
            has_share = true;
          } else {
            return FieldError{name + ": unknown field " + Quoted(vk)};
          }
        }
        if (v.name.empty()) return FieldError{name + ".name is required"};
        if (!has_share) return FieldError{name + ".share is required"};
        if (!(v.share > 0)) return FieldError{name + ".share must be > 0"};
        e->variants.push_back(std::move(v));
      }
    } else {
      return FieldError{"unknown field " + Quoted(key) + " (name, variants)"};
    }
  }
  if (!e->name.empty() && (!has_variants || e->variants.empty())) {
    return FieldError{"variants is required (at least one) when name is set"};
  }
  return std::nullopt;
}

// Compares in time independent of where the strings differ.
bool ConstantTimeEquals(std::string_view a, std::string_view b) {
  const size_t n = std::max(a.size(), b.size());
  unsigned char diff = a.size() == b.size() ? 0 : 1;
  for (size_t i = 0; i < n; ++i) {
    const unsigned char x = i < a.size() ? static_cast<unsigned char>(a[i]) : 0;
    const unsigned char y = i < b.size() ? static_cast<unsigned char>(b[i]) : 0;
    diff |= x ^ y;
  }
  return diff == 0;
}

constexpr std::string_view kKnownMethods[] = {"GET",   "PUT",  "POST",   "DELETE",
                                              "PATCH", "HEAD", "OPTIONS"};

// The method label: a known method, else "other" (labels must not take arbitrary values).
std::string_view MethodLabel(std::string_view method) {
  for (std::string_view m : kKnownMethods) {
    if (m == method) return m;
  }
  return "other";
}

constexpr int kMinStatus = 100, kMaxStatus = 599;

}  // namespace

struct Api::Impl {
  ApiOptions options;
  Engine* engine;
  LiveEvents* live;
  EventLog* log;
  MetricsRegistry* metrics;
  // Unique per Api in the process (thread-local caches are keyed by it, not by address).
  const uint64_t id = [] {
    static std::atomic<uint64_t> next{1};
    return next.fetch_add(1);
  }();

  // One per route definition; the pattern split on '/', "{...}" segments are parameters.
  struct Route {
    const RouteDef* def;
    std::vector<std::string> segments;
    std::vector<bool> is_param;
    // Children of this route's own method, by status - kMinStatus, created on first use.
    std::unique_ptr<std::atomic<Counter*>[]> by_status;
    std::unique_ptr<std::atomic<Histogram*>[]> duration_by_status;
  };
  std::vector<Route> routes;

  CounterFamily* requests_total = nullptr;
  HistogramFamily* duration_family = nullptr;
  CounterFamily* lists_total = nullptr;
  Counter* events_accepted = nullptr;
  Counter* events_rejected = nullptr;
  GaugeFamily* model_info = nullptr;
  Gauge* ready_gauge = nullptr;
  GaugeFamily* live_counts = nullptr;
  GaugeFamily* candidate_cache = nullptr;
  std::mutex model_info_mu;
  std::set<std::pair<std::string, std::string>> model_info_set;  // children set to 1 before

  Impl(ApiOptions o, Engine* e, LiveEvents* l, EventLog* lg, MetricsRegistry* m)
      : options(std::move(o)), engine(e), live(l), log(lg), metrics(m) {
    requests_total = metrics->AddCounter("recsys_http_requests_total",
                                         "HTTP requests answered, by route pattern, method and "
                                         "status (route \"unmatched\" for unknown paths)",
                                         {"route", "method", "status"});
    duration_family = metrics->AddHistogram("recsys_http_request_duration_seconds",
                                            "Time in the handler, by route pattern and status",
                                            {"route", "status"});
    lists_total = metrics->AddCounter("recsys_recommendation_lists_total",
                                      "Recommendation lists served, by model and A/B variant",
                                      {"model", "variant"});
    CounterFamily* events = metrics->AddCounter(
        "recsys_events_total", "Events posted to /v1/events, by result", {"result"});
    events_accepted = events->WithLabels({"accepted"});
    events_rejected = events->WithLabels({"rejected"});
    model_info =
        metrics->AddGauge("recsys_model_info", "1 per served model version", {"model", "version"});
    ready_gauge = metrics->AddGauge("recsys_ready", "1 once a model is loaded")
                      ->WithLabels(std::vector<std::string>{});
    live_counts = metrics->AddGauge(
        "recsys_live_events", "Live event processing counts (LiveEventsCounts), by kind", {"kind"});
    candidate_cache = metrics->AddGauge(
        "recsys_candidate_cache_requests",
        "Requests of fitted users served from cached candidates (hit) or filling them (miss)",
        {"result"});
    for (const RouteDef& def : RouteDefs()) {
      Route r;
      r.def = &def;
      std::array<std::string_view, kMaxSegments> segs;
      const size_t n = SplitPath(def.spec.pattern, &segs);
      for (size_t i = 0; i < n; ++i) {
        r.segments.emplace_back(segs[i]);
        r.is_param.push_back(!segs[i].empty() && segs[i].front() == '{');
      }
      r.by_status.reset(new std::atomic<Counter*>[kMaxStatus - kMinStatus + 1]);
      r.duration_by_status.reset(new std::atomic<Histogram*>[kMaxStatus - kMinStatus + 1]);
      for (int s = 0; s <= kMaxStatus - kMinStatus; ++s) {
        r.by_status[s].store(nullptr);
        r.duration_by_status[s].store(nullptr);
      }
      routes.push_back(std::move(r));
    }
  }

  void CountRequest(const Route* route, std::string_view method, int status, double seconds) {
    if (status < kMinStatus || status > kMaxStatus) status = 500;
    if (route != nullptr && method == route->def->spec.method) {
      std::atomic<Counter*>& slot = route->by_status[status - kMinStatus];
      std::atomic<Histogram*>& hslot = route->duration_by_status[status - kMinStatus];
      Counter* c = slot.load(std::memory_order_acquire);
      Histogram* h = hslot.load(std::memory_order_acquire);
      if (c == nullptr || h == nullptr) {
        const std::string status_text = std::to_string(status);
        c = requests_total->WithLabels({route->def->spec.pattern, method, status_text});
        h = duration_family->WithLabels({route->def->spec.pattern, status_text});
        slot.store(c, std::memory_order_release);
        hslot.store(h, std::memory_order_release);
      }
      c->Increment();
      h->Observe(seconds);
      return;
    }
    // Unknown paths and other methods: rare, so the family's own lookup.
    const std::string status_text = std::to_string(status);
    duration_family
        ->WithLabels(
            {route == nullptr ? "unmatched" : route->def->spec.pattern.c_str(), status_text})
        ->Observe(seconds);
    if (route == nullptr) {
      requests_total->WithLabels({"unmatched", MethodLabel(method), status_text})->Increment();
    } else {
      requests_total->WithLabels({route->def->spec.pattern, MethodLabel(method), status_text})
          ->Increment();
    }
  }

  Counter* ListsCounter(const std::string& model, const std::string& variant) {
    struct Entry {
      uint64_t api_id;
      std::string model, variant;
      Counter* counter;
    };
    thread_local std::vector<Entry> cache;
    for (const Entry& e : cache) {
      if (e.api_id == id && e.model == model && e.variant == variant) return e.counter;
    }
    Counter* c = lists_total->WithLabels({model, variant});
    if (cache.size() >= 64) cache.clear();
    cache.push_back({id, model, variant, c});
    return c;
  }

  // A list went out. (The engine has recorded its impression for attribution already.)
  void Served(const RecResponse& r) { ListsCounter(r.model, r.variant)->Increment(); }

  using Params = std::array<std::string_view, kMaxSegments>;

  bool NotReady(HttpResponse* resp) {
    if (engine->ready()) return false;
    SetError(resp, 503, "not_ready", "no model is loaded yet");
    return true;
  }

  // ---- recommendations ----

  void UserRecs(const HttpRequest& req, const Params& p, HttpResponse* resp) {
    RecRequest r;
    r.user_id = std::string(p[0]);
    int64_t k = 0;
    if (!IntParam(req, "k", 10, 1, 1000, &k, resp)) return;
    r.k = static_cast<int>(k);
    if (!BoolParam(req, "include_seen", false, &r.include_seen, resp)) return;
    if (auto v = req.Query("exclude")) r.exclude = SplitList(*v);
    r.category = StringParam(req, "category");
    r.variant = StringParam(req, "variant");
    if (NotReady(resp)) return;
    Result<RecResponse> rec = engine->Recommend(r);
    if (!rec.ok()) return StatusError(resp, rec.status());
    resp->body.clear();
    WriteRecResponse(*rec, &resp->body);
    Served(*rec);
  }

  void Similar(const HttpRequest& req, const Params& p, HttpResponse* resp) {
    int64_t k = 0;
    if (!IntParam(req, "k", 10, 1, 1000, &k, resp)) return;
    if (NotReady(resp)) return;
    Result<RecResponse> rec = engine->Similar(p[0], static_cast<int>(k));
    if (!rec.ok()) return StatusError(resp, rec.status());
    WriteRecResponse(*rec, &resp->body);
    Served(*rec);
  }

  void SessionRecs(const HttpRequest& req, const Params& p, HttpResponse* resp) {
    RecRequest r;
    r.session_id = std::string(p[0]);
    int64_t k = 0;
    if (!IntParam(req, "k", 10, 1, 1000, &k, resp)) return;
    r.k = static_cast<int>(k);
    if (auto v = req.Query("exclude")) r.exclude = SplitList(*v);
    r.category = StringParam(req, "category");
    if (NotReady(resp)) return;
    Result<RecResponse> rec = engine->RecommendSession(r);
    if (!rec.ok()) return StatusError(resp, rec.status());
    WriteRecResponse(*rec, &resp->body);
    Served(*rec);
  }

  // ---- profiles and catalog ----

  void Profile(const HttpRequest&, const Params& p, HttpResponse* resp) {
    const std::string_view id = p[0];
    std::shared_ptr<const ShopData> shop = engine->shop();
    const UserProfile* user = shop->FindUser(id);
    const std::vector<RecentEvent> recent = live->Recent(id, 20);
    const std::vector<Engine::HistoryEntry> history = engine->History(id, 20);
    FreshHistory fresh;
    const bool has_fresh = live->Fresh(id, &fresh);
    if (user == nullptr && recent.empty() && history.empty() && !has_fresh) {
      SetError(resp, 404, "not_found", "user " + Quoted(id) + " is not known");
      return;
    }
    std::string& out = resp->body;
    if (user != nullptr) {
      JsonWriter w;
      shop->WriteProfile(*user, &w);
      out = w.str();
      out.pop_back();  // the closing '}': the live fields follow
      out += ',';
    } else {
      out = "{\"user_id\":";
      AppendJsonString(id, &out);
      out += ',';
    }
    JsonWriter w;
    w.BeginObject();
    w.Key("recent_activity");
    w.BeginArray();
    for (const RecentEvent& e : recent) {
      w.BeginObject();
      w.Key("source");
      w.String("live");
      w.Key("event_type");
      w.String(e.event_type);
      w.Key("product_id");
      w.String(e.product_id);
      w.Key("time");
      w.String(FormatRfc3339Millis(e.time_ms));
      w.EndObject();
    }
    for (const Engine::HistoryEntry& h : history) {
      w.BeginObject();
      w.Key("source");
      w.String("gold");
      w.Key("event_type");
      w.String("interaction");
      w.Key("product_id");
      w.String(h.product_id);
      w.Key("weight");
      w.Double(h.weight);
      w.Key("time");
      w.String(FormatRfc3339Millis(h.time_ms));
      w.EndObject();
    }
    w.EndArray();
    w.Key("fresh_interactions");
    w.Int(has_fresh ? static_cast<int64_t>(fresh.items.size()) : 0);
    w.EndObject();
    out.append(w.str(), 1);  // without its '{'
  }

  void Products(const HttpRequest& req, const Params&, HttpResponse* resp) {
    ProductQuery q;
    if (!IntParam(req, "offset", 0, 0, std::numeric_limits<int64_t>::max(), &q.offset, resp)) {
      return;
    }
    if (!IntParam(req, "limit", 20, 1, 1000, &q.limit, resp)) return;
    q.category = StringParam(req, "category");
    q.text = StringParam(req, "q");
    std::shared_ptr<const ShopData> shop = engine->shop();
    const ProductPage page = shop->ListProducts(q);
    JsonWriter w;
    w.BeginObject();
    w.Key("total");
    w.Int(page.total);
    w.Key("offset");
    w.Int(q.offset);
    w.Key("limit");
    w.Int(q.limit);
    w.Key("products");
    w.BeginArray();
    for (const ProductInfo* p : page.products) shop->WriteProduct(*p, &w);
    w.EndArray();
    w.EndObject();
    resp->body = w.str();
  }

  void Product(const HttpRequest&, const Params& p, HttpResponse* resp) {
    std::shared_ptr<const ShopData> shop = engine->shop();
    const ProductInfo* product = shop->FindProduct(p[0]);
    if (product == nullptr) {
      SetError(resp, 404, "not_found", "product " + Quoted(p[0]) + " is not in the catalog");
      return;
    }
    JsonWriter w;
    shop->WriteProduct(*product, &w);
    resp->body = w.str();
  }

  // ---- analytics ----

  void Segments(const HttpRequest&, const Params&, HttpResponse* resp) {
    JsonWriter w;
    engine->shop()->WriteSegments(&w);
    resp->body = w.str();
  }

  void ProductAnalytics(const HttpRequest& req, const Params&, HttpResponse* resp) {
    std::string sort = StringParam(req, "sort");
    if (sort.empty()) sort = "trending";
    if (sort != "trending" && sort != "revenue" && sort != "views" && sort != "purchases") {
      BadRequest(resp,
                 "sort must be trending, revenue, views or purchases (got " + Quoted(sort) + ")");
      return;
    }
    int64_t limit = 0;
    if (!IntParam(req, "limit", 20, 1, 1000, &limit, resp)) return;
    JsonWriter w;
    engine->shop()->WriteProductAnalytics(sort, static_cast<size_t>(limit), &w);
    resp->body = w.str();
  }

  void RecAnalytics(const HttpRequest&, const Params&, HttpResponse* resp) {
    const std::vector<ServedModelInfo> served = engine->Models();
    std::set<std::pair<std::string, std::string>> served_set;
    for (const ServedModelInfo& m : served) served_set.insert({m.name, m.version});
    JsonWriter w;
    w.BeginObject();
    w.Key("offline");
    w.BeginArray();
    if (!options.lake_root.empty()) {
      ModelRegistry registry(options.lake_root);
      Result<std::vector<std::string>> names = registry.Names();
      if (!names.ok()) return StatusError(resp, names.status());
      for (const std::string& name : *names) {
        Result<std::vector<std::string>> versions = registry.Versions(name);
        if (!versions.ok()) return StatusError(resp, versions.status());
        Result<std::string> current = registry.Current(name);
        for (const std::string& version : *versions) {
          Result<ModelManifest> m = registry.ReadManifest(name, version);
          if (!m.ok()) continue;  // a version being written; listed once complete
          w.BeginObject();
          w.Key("name");
          w.String(name);
          w.Key("version");
          w.String(version);
          w.Key("spec");
          w.String(m->spec);
          w.Key("trained_at");
          w.String(m->trained_at);
          w.Key("data_snapshot");
          w.String(m->data_snapshot);
          w.Key("k");
          w.Int(m->metrics.k);
          for (const char* key : {"precision", "recall", "ndcg", "map", "hit_rate", "coverage"}) {
            w.Key(key);
            Result<double> v = MetricValue(m->metrics, key);
            w.Double(v.ok() ? *v : 0.0);
          }
          w.Key("current");
          w.Bool(current.ok() && *current == version);
          w.Key("served");
          w.Bool(served_set.count({name, version}) != 0);
          w.EndObject();
        }
      }
    }
    w.EndArray();
    w.Key("online");
    w.BeginArray();
    for (const ArmStats& a : live->Stats()) {
      w.BeginObject();
      w.Key("model");
      w.String(a.model);
      w.Key("model_version");
      w.String(a.model_version);
      w.Key("variant");
      w.String(a.variant);
      w.Key("lists");
      w.Int(a.lists);
      w.Key("items_shown");
      w.Int(a.items_shown);
      w.Key("clicks");
      w.Int(a.clicks);
      w.Key("purchases");
      w.Int(a.purchases);
      w.Key("revenue");
      w.Double(a.revenue);
      w.Key("click_through_rate");
      w.Double(a.click_through_rate());
      w.EndObject();
    }
    w.EndArray();
    w.EndObject();
    resp->body = w.str();
  }

  // ---- events ----

  struct Rejected {
    size_t index;
    std::string_view reason;
    std::string message;
  };

  static void WriteEventsAnswer(size_t accepted, const std::vector<Rejected>& rejected,
                                const std::string* error, HttpResponse* resp) {
    JsonWriter w;
    w.BeginObject();
    if (error != nullptr) {
      w.Key("error");
      w.BeginObject();
      w.Key("code");
      w.String("bad_request");
      w.Key("message");
      w.String(*error);
      w.EndObject();
    }
    w.Key("accepted");
    w.Int(static_cast<int64_t>(accepted));
    w.Key("rejected");
    w.BeginArray();
    for (const Rejected& r : rejected) {
      w.BeginObject();
      w.Key("index");
      w.Int(static_cast<int64_t>(r.index));
      w.Key("reason");
      w.String(r.reason);
      w.Key("message");
      w.String(r.message);
      w.EndObject();
    }
    w.EndArray();
    w.EndObject();
    resp->body = w.str();
  }

  void Events(const HttpRequest& req, const Params&, HttpResponse* resp) {
    thread_local simdjson::dom::parser parser;
    thread_local EventParser event_parser;
    element doc;
    auto fail = [&](std::string message, std::vector<Rejected> rejected) {
      events_rejected->Increment(static_cast<double>(rejected.size()));
      resp->status = 400;
      WriteEventsAnswer(0, rejected, &message, resp);
    };
    if (auto err = parser.parse(req.body.data(), req.body.size()).get(doc)) {
      const std::string why =
          req.body.empty() ? std::string("the body is empty")
                           : std::string("body is not JSON: ") + simdjson::error_message(err);
      fail(why, {{0, RejectReasonCode(RejectReason::kMalformedJson), why}});
      return;
    }
    std::vector<element> elements;
    simdjson::dom::array array;
    if (doc.get_array().get(array) == simdjson::SUCCESS) {
      for (element e : array) elements.push_back(e);
    } else if (doc.is_object()) {
      element events;
      if (doc["events"].get(events) == simdjson::SUCCESS) {
        if (events.get_array().get(array)) {
          fail("events must be an array of event objects", {});
          return;
        }
        for (element e : array) elements.push_back(e);
      } else {
        elements.push_back(doc);
      }
    } else {
      fail("body must be an event object, {\"events\": [...]} or an array of events", {});
      return;
    }
    if (elements.empty()) {
      fail("no events in the body", {});
      return;
    }
    if (elements.size() > options.max_batch_events) {
      fail("too many events: " + std::to_string(elements.size()) + " (at most " +
               std::to_string(options.max_batch_events) + " per request)",
           {});
      return;
    }
    ValidationOptions vo;
    vo.now_ms = SystemClock()->NowMillis();
    vo.max_future_skew_ms = options.max_future_skew_ms;
    std::vector<Event> good;
    std::vector<std::string> raws;
    std::vector<Rejected> rejected;
    good.reserve(elements.size());
    raws.reserve(elements.size());
    for (size_t i = 0; i < elements.size(); ++i) {
      if (!elements[i].is_object()) {
        rejected.push_back(
            {i, RejectReasonCode(RejectReason::kMalformedJson), "an event must be a JSON object"});
        continue;
      }
      std::string raw = simdjson::to_string(elements[i]);
      Event e;
      if (std::optional<Rejection> r = event_parser.Parse(raw, vo, &e)) {
        rejected.push_back({i, RejectReasonCode(r->reason), std::move(r->message)});
        continue;
      }
      good.push_back(std::move(e));
      raws.push_back(std::move(raw));
    }
    if (good.empty()) {
      fail(rejected.size() == 1 ? "the event was rejected: " + rejected[0].message
                                : "every event was rejected",
           std::move(rejected));
      return;
    }
    for (Topic topic : kAllTopics) {
      std::vector<LogRecord> records;
      for (size_t i = 0; i < good.size(); ++i) {
        if (good[i].topic() == topic) records.push_back({good[i].key(), raws[i], 0});
      }
      if (records.empty()) continue;
      Status st = log->Append(TopicName(topic), records);
      if (!st.ok()) {
        SetError(resp, 503, "unavailable",
                 "event log: append to " + std::string(TopicName(topic)) + ": " + st.message());
        return;
      }
    }
    live->Apply(good);
    events_accepted->Increment(static_cast<double>(good.size()));
    events_rejected->Increment(static_cast<double>(rejected.size()));
    resp->status = 202;
    WriteEventsAnswer(good.size(), rejected, nullptr, resp);
  }

  // ---- admin ----

  // True when the request carries the admin token; else answers 401 or 403.
  bool Authorized(const HttpRequest& req, HttpResponse* resp) {
    std::string_view h = req.Header("authorization");
    constexpr std::string_view kBearer = "bearer ";
    bool bearer = h.size() > kBearer.size();
    for (size_t i = 0; bearer && i < kBearer.size(); ++i) {
      bearer = std::tolower(static_cast<unsigned char>(h[i])) == kBearer[i];
    }
    if (!bearer) {
      SetError(resp, 401, "unauthorized",
               "admin routes need the header Authorization: Bearer <admin token>");
      resp->headers.emplace_back("WWW-Authenticate", "Bearer");
      return false;
    }
    std::string_view token = h.substr(kBearer.size());
    while (!token.empty() && token.front() == ' ') token.remove_prefix(1);
    if (options.admin_token.empty()) {
      SetError(resp, 403, "forbidden", "no admin token is configured: admin routes are off");
      return false;
    }
    if (!ConstantTimeEquals(token, options.admin_token)) {
      SetError(resp, 403, "forbidden", "the admin token is wrong");
      return false;
    }
    return true;
  }

  void WriteWeightsAnswer(HttpResponse* resp) {
    Result<std::map<std::string, double>> weights = engine->HybridWeights();
    if (!weights.ok()) return StatusError(resp, weights.status());
    JsonWriter w;
    w.BeginObject();
    for (const ServedModelInfo& m : engine->Models()) {
      if (m.is_default) {
        w.Key("model");
        w.String(m.name);
        w.Key("version");
        w.String(m.version);
        break;
      }
    }
    w.Key("weights");
    WriteWeights(*weights, &w);
    w.EndObject();
    resp->body = w.str();
  }

  void GetWeights(const HttpRequest&, const Params&, HttpResponse* resp) {
    WriteWeightsAnswer(resp);
  }

  void PutWeights(const HttpRequest& req, const Params&, HttpResponse* resp) {
    thread_local simdjson::dom::parser parser;
    element doc;
    if (!ParseBody(req, &parser, &doc, resp)) return;
    element weights_e;
    if (!doc.is_object() || doc["weights"].get(weights_e)) {
      BadRequest(resp, "weights is required: {\"weights\": {component: weight}}");
      return;
    }
    std::map<std::string, double> weights;
    if (auto err = ParseWeights(weights_e, "weights", &weights)) {
      BadRequest(resp, err->message);
      return;
    }
    for (const auto& [name, v] : weights) {
      if (!(v >= 0)) {
        BadRequest(resp, "weights." + name + " must be >= 0");
        return;
      }
    }
    Status st = engine->SetHybridWeights(weights);
    if (!st.ok()) {
      if (st.code() == StatusCode::kNotFound) return StatusError(resp, st);
      return BadRequest(resp, st.message());
    }
    WriteWeightsAnswer(resp);
  }

  void GetRules(const HttpRequest&, const Params&, HttpResponse* resp) {
    JsonWriter w;
    WriteRules(engine->rules(), &w);
    resp->body = w.str();
  }

  void PutRules(const HttpRequest& req, const Params&, HttpResponse* resp) {
    thread_local simdjson::dom::parser parser;
    element doc;
    if (!ParseBody(req, &parser, &doc, resp)) return;
    Rules rules;
    if (auto err = ParseRules(doc, &rules)) return BadRequest(resp, err->message);
    Status st = engine->SetRules(rules);
    if (!st.ok()) return BadRequest(resp, st.message());
    GetRules(req, {}, resp);
  }

  void GetExperiments(const HttpRequest&, const Params&, HttpResponse* resp) {
    JsonWriter w;
    WriteExperiment(engine->experiment(), &w);
    resp->body = w.str();
  }

  void PutExperiments(const HttpRequest& req, const Params&, HttpResponse* resp) {
    thread_local simdjson::dom::parser parser;
    element doc;
    if (!ParseBody(req, &parser, &doc, resp)) return;
    Experiment e;
    if (auto err = ParseExperiment(doc, &e)) return BadRequest(resp, err->message);
    Status st = engine->SetExperiment(e);
    if (!st.ok()) {
      if (st.code() == StatusCode::kIOError || st.code() == StatusCode::kInternal ||
          st.code() == StatusCode::kCorruption) {
        return StatusError(resp, st);
      }
      return BadRequest(resp, st.message());
    }
    GetExperiments(req, {}, resp);
  }

  void Reload(const HttpRequest&, const Params&, HttpResponse* resp) {
    Result<bool> changed = engine->Reload();
    if (!changed.ok()) {
      SetError(resp, 500, "internal",
               "reload failed (the previous models keep serving): " + changed.status().ToString());
      return;
    }
    JsonWriter w;
    w.BeginObject();
    w.Key("reloaded");
    w.Bool(*changed);
    w.Key("models");
    w.BeginArray();
    for (const ServedModelInfo& m : engine->Models()) {
      w.BeginObject();
      w.Key("name");
      w.String(m.name);
      w.Key("version");
      w.String(m.version);
      w.Key("default");
      w.Bool(m.is_default);
      w.EndObject();
    }
    w.EndArray();
    w.EndObject();
    resp->body = w.str();
  }

  void AdminUsers(const HttpRequest& req, const Params&, HttpResponse* resp) {
    int64_t limit = 0;
    if (!IntParam(req, "limit", 20, 1, 1000, &limit, resp)) return;
    const std::string query = StringParam(req, "query");
    std::shared_ptr<const ShopData> shop = engine->shop();
    JsonWriter w;
    w.BeginObject();
    w.Key("users");
    w.BeginArray();
    for (const UserProfile* u : shop->SearchUsers(query, static_cast<size_t>(limit))) {
      shop->WriteProfile(*u, &w);
    }
    w.EndArray();
    w.EndObject();
    resp->body = w.str();
  }

  // ---- operations ----

  void Metrics(const HttpRequest&, const Params&, HttpResponse* resp) {
    ready_gauge->Set(engine->ready() ? 1 : 0);
    {
      std::lock_guard<std::mutex> lock(model_info_mu);
      std::set<std::pair<std::string, std::string>> now;
      for (const ServedModelInfo& m : engine->Models()) now.insert({m.name, m.version});
      for (const auto& [name, version] : model_info_set) {
        if (now.count({name, version}) == 0) model_info->WithLabels({name, version})->Set(0);
      }
      for (const auto& [name, version] : now) model_info->WithLabels({name, version})->Set(1);
      model_info_set.insert(now.begin(), now.end());
    }
    const LiveEventsCounts c = live->counts();
    const std::pair<const char*, int64_t> counts[] = {
        {"read", c.read},
        {"applied", c.applied},
        {"skipped", c.skipped},
        {"invalid", c.invalid},
        {"impressions_written", c.impressions_written},
        {"unattributed", c.unattributed},
        {"impressions_dropped", c.impressions_dropped},
        {"read_errors", c.read_errors},
    };
    for (const auto& [kind, v] : counts) {
      live_counts->WithLabels({kind})->Set(static_cast<double>(v));
    }
    const Engine::CacheCounts cache = engine->candidate_cache();
    candidate_cache->WithLabels({"hit"})->Set(static_cast<double>(cache.hits));
    candidate_cache->WithLabels({"miss"})->Set(static_cast<double>(cache.misses));
    resp->content_type = "text/plain; version=0.0.4";
    resp->body = metrics->Render();
  }

  void Healthz(const HttpRequest&, const Params&, HttpResponse* resp) {
    resp->body = "{\"status\":\"ok\"}";
  }

  void Readyz(const HttpRequest&, const Params&, HttpResponse* resp) {
    const bool ready = engine->ready();
    JsonWriter w;
    w.BeginObject();
    w.Key("ready");
    w.Bool(ready);
    if (!ready) {
      w.Key("error");
      w.BeginObject();
      w.Key("code");
      w.String("not_ready");
      w.Key("message");
      w.String("no model is loaded yet");
      w.EndObject();
    }
    w.Key("models");
    w.BeginArray();
    for (const ServedModelInfo& m : engine->Models()) {
      w.BeginObject();
      w.Key("name");
      w.String(m.name);
      w.Key("version");
      w.String(m.version);
      w.EndObject();
    }
    w.EndArray();
    w.Key("snapshot");
    w.String(engine->shop()->snapshot());
    w.Key("events_caught_up");
    w.Bool(live->caught_up());
    w.EndObject();
    resp->status = ready ? 200 : 503;
    resp->body = w.str();
  }

  void OpenApi(const HttpRequest&, const Params&, HttpResponse* resp) {
    static const std::string doc = OpenApiDocument();
    resp->body = doc;
  }

  void Run(Handler h, const HttpRequest& req, const Params& p, HttpResponse* resp) {
    switch (h) {
      case Handler::kUserRecs:
        return UserRecs(req, p, resp);
      case Handler::kSimilar:
        return Similar(req, p, resp);
      case Handler::kSessionRecs:
        return SessionRecs(req, p, resp);
      case Handler::kProfile:
        return Profile(req, p, resp);
      case Handler::kProducts:
        return Products(req, p, resp);
      case Handler::kProduct:
        return Product(req, p, resp);
      case Handler::kSegments:
        return Segments(req, p, resp);
      case Handler::kProductAnalytics:
        return ProductAnalytics(req, p, resp);
      case Handler::kRecAnalytics:
        return RecAnalytics(req, p, resp);
      case Handler::kEvents:
        return Events(req, p, resp);
      case Handler::kGetWeights:
        return GetWeights(req, p, resp);
      case Handler::kPutWeights:
        return PutWeights(req, p, resp);
      case Handler::kGetRules:
        return GetRules(req, p, resp);
      case Handler::kPutRules:
        return PutRules(req, p, resp);
      case Handler::kGetExperiments:
        return GetExperiments(req, p, resp);
      case Handler::kPutExperiments:
        return PutExperiments(req, p, resp);
      case Handler::kReload:
        return Reload(req, p, resp);
      case Handler::kAdminUsers:
        return AdminUsers(req, p, resp);
      case Handler::kMetrics:
        return Metrics(req, p, resp);
      case Handler::kHealthz:
        return Healthz(req, p, resp);
      case Handler::kReadyz:
        return Readyz(req, p, resp);
      case Handler::kOpenApi:
        return OpenApi(req, p, resp);
    }
  }
};

Api::Api(ApiOptions options, Engine* engine, LiveEvents* live, EventLog* log,
         MetricsRegistry* metrics)
    : impl_(std::make_unique<Impl>(std::move(options), engine, live, log, metrics)) {}

Api::~Api() = default;

const std::vector<RouteSpec>& Api::Routes() {
  static const std::vector<RouteSpec> routes = [] {
    std::vector<RouteSpec> r;
    for (const RouteDef& d : RouteDefs()) r.push_back(d.spec);
    return r;
  }();
  return routes;
}

void Api::Handle(const HttpRequest& request, HttpResponse* response) {
  const auto start = std::chrono::steady_clock::now();
  Impl& impl = *impl_;
  response->status = 200;
  response->content_type = "application/json";
  response->body.clear();

  std::array<std::string_view, kMaxSegments> segs;
  const size_t n = SplitPath(request.path, &segs);
  const Impl::Route* matched = nullptr;  // the route to run
  const Impl::Route* by_path = nullptr;  // the first route of this path, any method
  std::string allow;
  Impl::Params params;
  if (n <= kMaxSegments) {
    for (const Impl::Route& r : impl.routes) {
      if (r.segments.size() != n) continue;
      bool match = true;
      for (size_t i = 0; i < n && match; ++i) {
        match = r.is_param[i] ? !segs[i].empty() : r.segments[i] == segs[i];
      }
      if (!match) continue;
      if (by_path == nullptr) by_path = &r;
      if (r.def->spec.method == request.method) {
        matched = &r;
        break;
      }
      if (!allow.empty()) allow += ", ";
      allow += r.def->spec.method;
    }
  }
  if (matched != nullptr) {
    size_t np = 0;
    for (size_t i = 0; i < n; ++i) {
      if (matched->is_param[i]) params[np++] = segs[i];
    }
    try {
      if (!matched->def->spec.admin || impl.Authorized(request, response)) {
        impl.Run(matched->def->handler, request, params, response);
      }
    } catch (const std::exception& e) {
      response->headers.clear();
      SetError(response, 500, "internal", std::string("the handler failed: ") + e.what());
    }
  } else if (by_path != nullptr) {
    // Every method of this path (the loop stopped at none, so allow lists them all).
    SetError(response, 405, "method_not_allowed",
             "method " + std::string(MethodLabel(request.method)) + " is not allowed on " +
                 by_path->def->spec.pattern + " (allowed: " + allow + ")");
    response->headers.emplace_back("Allow", allow);
  } else {
    SetError(response, 404, "not_found", "no route for " + Quoted(request.path));
  }
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  impl.CountRequest(matched != nullptr ? matched : by_path, request.method, response->status,
                    seconds);
}

}  // namespace recsys
