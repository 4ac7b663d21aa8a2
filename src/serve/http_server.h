// An asynchronous HTTP/1.1 server (Boost.Beast on Asio): keep-alive, one worker thread per core,
// limits on header and body size and on idle and request time, and a graceful stop that
// finishes the requests in flight. Routing is the handler's business (serve/api.h).
//
// Errors the server answers itself (the handler is not called) carry a JSON body
// {"error": {"code": "...", "message": "..."}}: 400 bad_request (unparseable HTTP), 408
// request_timeout (a request not read whole within request_timeout_ms), 413 payload_too_large
// (body over max_body_bytes), 431 header_too_large (header over max_header_bytes), 500 internal
// (the handler threw). After such an answer the connection is closed.
//
// Responses carry only Server, Content-Type, Content-Length, the handler's extra headers and
// Connection (when closing, or keep-alive to an HTTP/1.0 client); no Date. Requests on a
// connection are answered in order (pipelining works); a request whose target has a malformed
// percent escape gets 400.
//
// Design: `threads` workers, each a thread with its own event loop and its own listening socket
// bound with SO_REUSEPORT to the same address, so the kernel spreads connections over them; a
// connection stays on its worker and reuses its buffers for every request.
//
// Thread safety: Start and Stop from one thread, never from inside the handler. The
// handler is called concurrently from every worker thread.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/status.h"

namespace recsys {

struct HttpRequest {
  std::string method;  // "GET", "POST", ...
  std::string target;  // as sent: "/v1/users/u%201/recommendations?k=10"
  std::string path;    // the target's path, percent-decoded: "/v1/users/u 1/recommendations"
  // The query's key=value pairs in order, percent-decoded ('+' is a space); a key without '='
  // has an empty value.
  std::vector<std::pair<std::string, std::string>> query;
  // Header names lower-cased.
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  std::string remote;  // the peer, "127.0.0.1:54321"

  // The first value of a query key; nullopt when absent.
  std::optional<std::string_view> Query(std::string_view key) const;
  // The first header of that name (any case); "" when absent.
  std::string_view Header(std::string_view name) const;
};

struct HttpResponse {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;  // extra headers
};

// Fills the response for the request. The request and the response are the connection's reused
// storage: valid only during the call. An exception becomes a 500 answer.
using HttpHandler = std::function<void(const HttpRequest&, HttpResponse*)>;

struct HttpServerOptions {
  // host:port to listen on; port 0 picks a free port (see HttpServer::port). Default
  // "127.0.0.1:8080".
  std::string listen = "127.0.0.1:8080";
  int threads = 0;                  // worker threads; 0 = one per core
  size_t max_header_bytes = 16384;  // larger request headers: 431
  size_t max_body_bytes = 1 << 20;  // larger request bodies: 413
  int idle_timeout_ms = 60000;      // a keep-alive connection idle this long is closed
  int request_timeout_ms = 10000;   // a request not read whole in this time: 408
  int shutdown_grace_ms = 10000;    // Stop waits this long for requests in flight
};

// "{"error":{"code":"<code>","message":"<message>"}}", JSON-escaped.
std::string JsonError(std::string_view code, std::string_view message);

class HttpServer {
 public:
  HttpServer(HttpServerOptions options, HttpHandler handler);
  ~HttpServer();  // Stop()
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Binds and starts the workers. Errors name the address: "listen 127.0.0.1:8080: Address
  // already in use", "listen bad:address: ...".
  Status Start();
  // The bound port (after Start).
  int port() const;
  // Stops accepting, answers no new request, lets those in flight finish (at most
  // shutdown_grace_ms), closes every connection and joins the workers. Idempotent.
  void Stop();
  // Requests answered so far (handler calls and the server's own error answers).
  int64_t requests() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Percent-decoding of a URL component; '+' becomes a space when plus_is_space. nullopt on a
// malformed escape.
std::optional<std::string> PercentDecode(std::string_view s, bool plus_is_space);

}  // namespace recsys
