// The OpenAPI 3.0.3 document of Api::Routes(): one operation per route, with its parameters,
// JSON body, answers (success and the errors it can give) and, on admin routes, bearerAuth.
#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/json_writer.h"
#include "serve/api.h"

namespace recsys {
namespace {

// What a route answers on success, and the body it takes (schema names in components).
struct Shape {
  int status = 200;
  std::string schema;       // "" = text/plain (metrics)
  std::string body_schema;  // for has_body routes
};

Shape ShapeOf(const RouteSpec& r) {
  static const std::map<std::pair<std::string, std::string>, Shape> shapes = {
      {{"GET", "/v1/users/{id}/recommendations"}, {200, "RecommendationList", ""}},
      {{"GET", "/v1/products/{id}/similar"}, {200, "RecommendationList", ""}},
      {{"GET", "/v1/sessions/{session_id}/recommendations"}, {200, "RecommendationList", ""}},
      {{"GET", "/v1/users/{id}/profile"}, {200, "Profile", ""}},
      {{"GET", "/v1/products"}, {200, "ProductPage", ""}},
      {{"GET", "/v1/products/{id}"}, {200, "Product", ""}},
      {{"GET", "/v1/analytics/segments"}, {200, "Segments", ""}},
      {{"GET", "/v1/analytics/products"}, {200, "ProductAnalytics", ""}},
      {{"GET", "/v1/analytics/recommendations"}, {200, "RecommendationAnalytics", ""}},
      {{"POST", "/v1/events"}, {202, "EventsAccepted", "EventsBody"}},
      {{"GET", "/v1/admin/hybrid-weights"}, {200, "HybridWeights", ""}},
      {{"PUT", "/v1/admin/hybrid-weights"}, {200, "HybridWeights", "HybridWeightsBody"}},
      {{"GET", "/v1/admin/rules"}, {200, "Rules", ""}},
      {{"PUT", "/v1/admin/rules"}, {200, "Rules", "Rules"}},
      {{"GET", "/v1/admin/experiments"}, {200, "Experiment", ""}},
      {{"PUT", "/v1/admin/experiments"}, {200, "Experiment", "Experiment"}},
      {{"POST", "/v1/admin/models/reload"}, {200, "ReloadResult", ""}},
      {{"GET", "/v1/admin/users"}, {200, "UserList", ""}},
      {{"GET", "/metrics"}, {200, "", ""}},
      {{"GET", "/healthz"}, {200, "Health", ""}},
      {{"GET", "/readyz"}, {200, "Ready", ""}},
      {{"GET", "/openapi.json"}, {200, "Object", ""}},
  };
  auto it = shapes.find({r.method, r.pattern});
  if (it != shapes.end()) return it->second;
  return {200, "Object", r.has_body ? "Object" : ""};
}

bool IsRecommendationRoute(const RouteSpec& r) {
  return r.pattern == "/v1/users/{id}/recommendations" ||
         r.pattern == "/v1/products/{id}/similar" ||
         r.pattern == "/v1/sessions/{session_id}/recommendations";
}

// Minimal schema builders over JsonWriter.
class Schemas {
 public:
  explicit Schemas(JsonWriter* w) : w_(w) {}

  void Ref(std::string_view name) {
    w_->BeginObject();
    w_->Key("$ref");
    w_->String("#/components/schemas/" + std::string(name));
    w_->EndObject();
  }
  void Type(std::string_view type, std::string_view description = {}) {
    w_->BeginObject();
    w_->Key("type");
    w_->String(type);
    if (!description.empty()) {
      w_->Key("description");
      w_->String(description);
    }
    w_->EndObject();
  }
  void Nullable(std::string_view type) {
    w_->BeginObject();
    w_->Key("type");
    w_->String(type);
    w_->Key("nullable");
    w_->Bool(true);
    w_->EndObject();
  }
  void ArrayOf(std::string_view ref_name) {
    w_->BeginObject();
    w_->Key("type");
    w_->String("array");
    w_->Key("items");
    Ref(ref_name);
    w_->EndObject();
  }
  void ArrayOfType(std::string_view type) {
    w_->BeginObject();
    w_->Key("type");
    w_->String("array");
    w_->Key("items");
    Type(type);
    w_->EndObject();
  }
  void NumberMap() {
    w_->BeginObject();
    w_->Key("type");
    w_->String("object");
    w_->Key("additionalProperties");
    Type("number");
    w_->EndObject();
  }

  // An object schema named `name` with properties given as (key, writer of its schema).
  using Props = std::vector<std::pair<std::string, std::function<void()>>>;
  void Object(std::string_view name, const Props& props, std::vector<std::string> required = {},
              std::string_view description = {}) {
    w_->Key(name);
    InlineObject(props, std::move(required), description);
  }
  void InlineObject(const Props& props, std::vector<std::string> required = {},
                    std::string_view description = {}) {
    w_->BeginObject();
    w_->Key("type");
    w_->String("object");
    if (!description.empty()) {
      w_->Key("description");
      w_->String(description);
    }
    if (!required.empty()) {
      w_->Key("required");
      w_->BeginArray();
      for (const std::string& r : required) w_->String(r);
      w_->EndArray();
    }
    w_->Key("properties");
    w_->BeginObject();
    for (const auto& [key, write] : props) {
      w_->Key(key);
      write();
    }
    w_->EndObject();
    w_->EndObject();
  }

  std::function<void()> T(std::string type) {
    return [this, type] { Type(type); };
  }
  std::function<void()> N(std::string type) {
    return [this, type] { Nullable(type); };
  }
  std::function<void()> R(std::string name) {
    return [this, name] { Ref(name); };
  }
  std::function<void()> A(std::string name) {
    return [this, name] { ArrayOf(name); };
  }
  std::function<void()> AT(std::string type) {
    return [this, type] { ArrayOfType(type); };
  }
  std::function<void()> M() {
    return [this] { NumberMap(); };
  }

 private:
  JsonWriter* w_;
};

void WriteComponents(JsonWriter* w) {
  Schemas s(w);
  w->Key("schemas");
  w->BeginObject();
  s.Object("Error",
           {{"error",
             [&] {
               s.InlineObject({{"code", s.T("string")}, {"message", s.T("string")}},
                              {"code", "message"});
             }}},
           {"error"},
           "Every error: code is bad_request, unauthorized, forbidden, not_found, "
           "method_not_allowed, payload_too_large, not_ready, unavailable or internal");
  s.Object("RecommendedItem",
           {{"product_id", s.T("string")}, {"score", s.T("number")}, {"reason", s.T("string")}});
  s.Object("RecommendationList",
           {{"rec_id", s.T("string")},
            {"model", s.T("string")},
            {"model_version", s.T("string")},
            {"variant", s.T("string")},
            {"source", s.T("string")},
            {"items", s.A("RecommendedItem")}},
           {"rec_id", "model", "model_version", "variant", "source", "items"},
           "source: model, fold_in, session, trending_segment, trending or similar");
  s.Object("Product", {{"product_id", s.T("string")},
                       {"title", s.T("string")},
                       {"description", s.T("string")},
                       {"category", s.T("string")},
                       {"top_category", s.T("string")},
                       {"brand", s.T("string")},
                       {"currency", s.T("string")},
                       {"price", s.N("number")},
                       {"in_stock", s.T("boolean")},
                       {"discontinued", s.T("boolean")},
                       {"available", s.T("boolean")},
                       {"created_at", s.T("string")},
                       {"views", s.T("integer")},
                       {"carts", s.T("integer")},
                       {"purchases", s.T("integer")},
                       {"units", s.T("integer")},
                       {"revenue", s.T("number")},
                       {"trending_score", s.T("number")},
                       {"popularity", s.T("number")}});
  s.Object("ProductPage", {{"total", s.T("integer")},
                           {"offset", s.T("integer")},
                           {"limit", s.T("integer")},
                           {"products", s.A("Product")}});
  s.Object("Activity",
           {{"source", s.T("string")},
            {"event_type", s.T("string")},
            {"product_id", s.T("string")},
            {"weight", s.T("number")},
            {"time", s.T("string")}},
           {}, "source live: an event since the server started; gold: a historic interaction");
  s.Object("UserProfile", {{"user_id", s.T("string")},         {"first_seen", s.T("string")},
                           {"last_seen", s.T("string")},       {"recency_days", s.T("number")},
                           {"frequency", s.T("integer")},      {"monetary", s.T("number")},
                           {"r_score", s.T("integer")},        {"f_score", s.T("integer")},
                           {"m_score", s.T("integer")},        {"rfm_score", s.T("string")},
                           {"segment", s.T("string")},         {"sessions", s.T("integer")},
                           {"product_views", s.T("integer")},  {"add_to_carts", s.T("integer")},
                           {"purchases", s.T("integer")},      {"avg_order_value", s.T("number")},
                           {"top_categories", s.AT("string")}, {"country", s.T("string")},
                           {"age_band", s.T("string")},        {"cluster", s.N("integer")}});
  w->Key("Profile");
  w->BeginObject();
  w->Key("allOf");
  w->BeginArray();
  s.Ref("UserProfile");
  s.InlineObject({{"recent_activity", s.A("Activity")}, {"fresh_interactions", s.T("integer")}});
  w->EndArray();
  w->EndObject();
  s.Object("UserList", {{"users", s.A("UserProfile")}});
  s.Object(
      "Segments",
      {{"snapshot", s.T("string")}, {"segments", s.AT("object")}, {"clusters", s.AT("object")}});
  s.Object("ProductAnalytics",
           {{"snapshot", s.T("string")}, {"sort", s.T("string")}, {"products", s.AT("object")}});
  s.Object("OfflineModel", {{"name", s.T("string")},
                            {"version", s.T("string")},
                            {"spec", s.T("string")},
                            {"trained_at", s.T("string")},
                            {"data_snapshot", s.T("string")},
                            {"k", s.T("integer")},
                            {"precision", s.T("number")},
                            {"recall", s.T("number")},
                            {"ndcg", s.T("number")},
                            {"map", s.T("number")},
                            {"hit_rate", s.T("number")},
                            {"coverage", s.T("number")},
                            {"current", s.T("boolean")},
                            {"served", s.T("boolean")}});
  s.Object("OnlineArm", {{"model", s.T("string")},
                         {"model_version", s.T("string")},
                         {"variant", s.T("string")},
                         {"lists", s.T("integer")},
                         {"items_shown", s.T("integer")},
                         {"clicks", s.T("integer")},
                         {"purchases", s.T("integer")},
                         {"revenue", s.T("number")},
                         {"click_through_rate", s.T("number")}});
  s.Object("RecommendationAnalytics",
           {{"offline", s.A("OfflineModel")}, {"online", s.A("OnlineArm")}});
  s.Object("Event",
           {{"event_id", s.T("string")},
            {"event_type", s.T("string")},
            {"event_time", s.T("string")},
            {"schema_version", s.T("integer")},
            {"user_id", s.T("string")},
            {"session_id", s.T("string")},
            {"product_id", s.T("string")},
            {"quantity", s.T("integer")},
            {"price", s.T("number")},
            {"currency", s.T("string")},
            {"order_id", s.T("string")},
            {"rec_id", s.T("string")},
            {"position", s.T("integer")},
            {"rating", s.T("number")}},
           {"event_id", "event_type", "event_time"},
           "An event of docs/formats (DESIGN.md section 3); unknown fields are ignored");
  w->Key("EventsBody");
  w->BeginObject();
  w->Key("oneOf");
  w->BeginArray();
  s.Ref("Event");
  s.InlineObject({{"events", s.A("Event")}}, {"events"});
  s.ArrayOf("Event");
  w->EndArray();
  w->EndObject();
  s.Object("RejectedEvent",
           {{"index", s.T("integer")}, {"reason", s.T("string")}, {"message", s.T("string")}});
  s.Object("EventsAccepted", {{"accepted", s.T("integer")}, {"rejected", s.A("RejectedEvent")}});
  w->Key("EventsRejected");
  w->BeginObject();
  w->Key("allOf");
  w->BeginArray();
  s.Ref("Error");
  s.Ref("EventsAccepted");
  w->EndArray();
  w->EndObject();
  s.Object("HybridWeights",
           {{"model", s.T("string")}, {"version", s.T("string")}, {"weights", s.M()}});
  s.Object("HybridWeightsBody", {{"weights", s.M()}}, {"weights"});
  s.Object("Boost", {{"field", s.T("string")}, {"value", s.T("string")}, {"factor", s.T("number")}},
           {"field", "value"}, "field: product, category or brand; factor > 0");
  s.Object("Rules", {{"exclude_unavailable", s.T("boolean")},
                     {"exclude_products", s.AT("string")},
                     {"exclude_categories", s.AT("string")},
                     {"boosts", s.A("Boost")}});
  s.Object("Variant",
           {{"name", s.T("string")},
            {"model", s.T("string")},
            {"weights", s.M()},
            {"share", s.T("number")}},
           {"name", "share"});
  s.Object("Experiment", {{"name", s.T("string")}, {"variants", s.A("Variant")}});
  s.Object("ModelVersion",
           {{"name", s.T("string")}, {"version", s.T("string")}, {"default", s.T("boolean")}});
  s.Object("ReloadResult", {{"reloaded", s.T("boolean")}, {"models", s.A("ModelVersion")}});
  s.Object("Health", {{"status", s.T("string")}});
  s.Object("Ready", {{"ready", s.T("boolean")},
                     {"models", s.A("ModelVersion")},
                     {"snapshot", s.T("string")},
                     {"events_caught_up", s.T("boolean")},
                     {"error", s.T("object")}});
  w->Key("Object");
  s.Type("object");
  w->EndObject();

  w->Key("securitySchemes");
  w->BeginObject();
  w->Key("bearerAuth");
  w->BeginObject();
  w->Key("type");
  w->String("http");
  w->Key("scheme");
  w->String("bearer");
  w->Key("description");
  w->String("The admin token (ApiOptions::admin_token)");
  w->EndObject();
  w->EndObject();
}

void WriteResponse(JsonWriter* w, int status, std::string_view description, std::string_view schema,
                   std::string_view content_type = "application/json") {
  Schemas s(w);
  w->Key(std::to_string(status));
  w->BeginObject();
  w->Key("description");
  w->String(description);
  w->Key("content");
  w->BeginObject();
  w->Key(content_type);
  w->BeginObject();
  w->Key("schema");
  if (schema.empty()) {
    s.Type("string");
  } else {
    s.Ref(schema);
  }
  w->EndObject();
  w->EndObject();
  w->EndObject();
}

std::string OperationId(const RouteSpec& r) {
  std::string id;
  for (char c : r.method) id += static_cast<char>(c - 'A' + 'a');
  bool upper = true;
  for (char c : r.pattern) {
    if (c == '/' || c == '-' || c == '.' || c == '{' || c == '}' || c == '_') {
      upper = true;
      continue;
    }
    id += upper && c >= 'a' && c <= 'z' ? static_cast<char>(c - 'a' + 'A') : c;
    upper = false;
  }
  return id;
}

void WriteOperation(const RouteSpec& r, JsonWriter* w) {
  const Shape shape = ShapeOf(r);
  Schemas s(w);
  w->BeginObject();
  w->Key("operationId");
  w->String(OperationId(r));
  w->Key("summary");
  w->String(r.summary);
  w->Key("tags");
  w->BeginArray();
  if (r.admin) {
    w->String("admin");
  } else if (r.pattern.rfind("/v1/", 0) == 0) {
    const size_t end = r.pattern.find('/', 4);
    w->String(r.pattern.substr(4, end == std::string::npos ? std::string::npos : end - 4));
  } else {
    w->String("operations");
  }
  w->EndArray();
  if (!r.params.empty()) {
    w->Key("parameters");
    w->BeginArray();
    for (const RouteParam& p : r.params) {
      w->BeginObject();
      w->Key("name");
      w->String(p.name);
      w->Key("in");
      w->String(p.in);
      w->Key("required");
      w->Bool(p.required || p.in == "path");
      w->Key("description");
      w->String(p.description);
      w->Key("schema");
      s.Type(p.type);
      w->EndObject();
    }
    w->EndArray();
  }
  if (r.has_body) {
    w->Key("requestBody");
    w->BeginObject();
    w->Key("required");
    w->Bool(true);
    w->Key("content");
    w->BeginObject();
    w->Key("application/json");
    w->BeginObject();
    w->Key("schema");
    s.Ref(shape.body_schema.empty() ? "Object" : shape.body_schema);
    w->EndObject();
    w->EndObject();
    w->EndObject();
  }
  if (r.admin) {
    w->Key("security");
    w->BeginArray();
    w->BeginObject();
    w->Key("bearerAuth");
    w->BeginArray();
    w->EndArray();
    w->EndObject();
    w->EndArray();
  }
  bool has_path_param = false;
  for (const RouteParam& p : r.params) has_path_param |= p.in == "path";
  w->Key("responses");
  w->BeginObject();
  if (shape.schema.empty()) {
    WriteResponse(w, shape.status, "Prometheus text format 0.0.4", "", "text/plain; version=0.0.4");
  } else {
    WriteResponse(w, shape.status, shape.status == 202 ? "Accepted" : "OK", shape.schema);
  }
  if (r.pattern == "/v1/events") {
    WriteResponse(w, 400, "No event accepted, or a bad body", "EventsRejected");
  } else if (!r.params.empty() || r.has_body) {
    WriteResponse(w, 400, "A bad parameter or body, named in the message", "Error");
  }
  if (r.admin) {
    WriteResponse(w, 401, "No bearer token", "Error");
    WriteResponse(w, 403, "A wrong token, or no admin token configured", "Error");
  }
  if (has_path_param) {
    WriteResponse(w, 404,
                  r.pattern == "/v1/users/{id}/recommendations" ? "Unknown variant"
                                                                : "Unknown user or product",
                  "Error");
  } else if (r.pattern == "/v1/admin/hybrid-weights") {
    WriteResponse(w, 404, "No hybrid model is served", "Error");
  }
  if (r.has_body) WriteResponse(w, 413, "The body is larger than the server accepts", "Error");
  if (IsRecommendationRoute(r)) WriteResponse(w, 503, "No model is loaded yet", "Error");
  if (r.pattern == "/readyz") WriteResponse(w, 503, "Not ready: no model loaded yet", "Ready");
  if (r.pattern == "/v1/admin/models/reload") {
    WriteResponse(w, 500, "The reload failed; the previous models keep serving", "Error");
  }
  w->EndObject();
  w->EndObject();
}

}  // namespace

std::string OpenApiDocument() {
  JsonWriter w;
  w.BeginObject();
  w.Key("openapi");
  w.String("3.0.3");
  w.Key("info");
  w.BeginObject();
  w.Key("title");
  w.String("recsys serving API");
  w.Key("version");
  w.String("1.0.0");
  w.Key("description");
  w.String(
      "Recommendations, similar items, guest sessions, profiles, the catalog, analytics, event "
      "tracking, admin, metrics and health (docs/api.md). Errors are {\"error\": {\"code\", "
      "\"message\"}}; an unknown path is 404, a known path with another method 405 with an "
      "Allow header.");
  w.EndObject();
  w.Key("paths");
  w.BeginObject();
  // Routes of one pattern under one path item, in the order of Routes().
  std::vector<std::string> patterns;
  for (const RouteSpec& r : Api::Routes()) {
    bool seen = false;
    for (const std::string& p : patterns) seen |= p == r.pattern;
    if (!seen) patterns.push_back(r.pattern);
  }
  for (const std::string& pattern : patterns) {
    w.Key(pattern);
    w.BeginObject();
    for (const RouteSpec& r : Api::Routes()) {
      if (r.pattern != pattern) continue;
      std::string method;
      for (char c : r.method) method += static_cast<char>(c - 'A' + 'a');
      w.Key(method);
      WriteOperation(r, &w);
    }
    w.EndObject();
  }
  w.EndObject();
  w.Key("components");
  w.BeginObject();
  WriteComponents(&w);
  w.EndObject();
  w.EndObject();
  return w.str();
}

}  // namespace recsys
