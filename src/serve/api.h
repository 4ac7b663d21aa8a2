// The HTTP API of `recsys serve` (docs/api.md): routes for recommendations, similar items, guest
// sessions, profiles, the catalog, analytics, event tracking, admin, metrics and health, over
// the Engine, LiveEvents and the event log. One table of routes drives dispatch, the metrics'
// route labels and the OpenAPI document, so the document lists exactly the routes that answer.
//
// Every answer is JSON (but /metrics, Prometheus text); errors are
// {"error": {"code", "message"}} with the status: 400 bad_request (bad parameter or body, naming
// it), 401 unauthorized (admin route without a bearer token), 403 forbidden (wrong token, or no
// admin token configured), 404 not_found (unknown route, user, product or variant), 405
// method_not_allowed, 503 not_ready (no model loaded yet).
//
// Thread safety: Handle may be called from several threads at once.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/metrics.h"
#include "ingest/event_log.h"
#include "serve/engine.h"
#include "serve/http_server.h"
#include "serve/live_events.h"

namespace recsys {

struct ApiOptions {
  // Bearer token of the admin routes; "" = admin routes answer 403.
  std::string admin_token;
  size_t max_batch_events = 1000;        // POST /v1/events: more is 400
  int64_t max_future_skew_ms = 3600000;  // event_time may be this far ahead of the clock
  // The lake whose model registry /v1/analytics/recommendations lists offline (every version of
  // every model); "" = no offline list. Normally EngineOptions::lake_root.
  std::string lake_root;
};

struct RouteParam {
  std::string name, in;  // in: "path" or "query"
  std::string type;      // "string", "integer", "boolean"
  bool required = false;
  std::string description;
};

struct RouteSpec {
  std::string method;   // "GET", "PUT", "POST"
  std::string pattern;  // "/v1/users/{id}/recommendations"
  std::string summary;
  bool admin = false;
  std::vector<RouteParam> params;
  bool has_body = false;  // takes a JSON body
};

class Api {
 public:
  // Not owned; all outlive the Api. metrics: the families are added here.
  Api(ApiOptions options, Engine* engine, LiveEvents* live, EventLog* log,
      MetricsRegistry* metrics);
  ~Api();

  // The HttpHandler of the server.
  void Handle(const HttpRequest& request, HttpResponse* response);

  // Every route, in the order of docs/api.md.
  static const std::vector<RouteSpec>& Routes();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// The OpenAPI 3.0 document of Routes() (GET /openapi.json).
std::string OpenApiDocument();

}  // namespace recsys
