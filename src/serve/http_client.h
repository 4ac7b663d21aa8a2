// A small blocking HTTP/1.1 client over plain POSIX sockets, for tests and tools: one connection
// kept alive between requests, reopened once, transparently, when the server had closed it.
//
//   HttpClient client("127.0.0.1", server.port());
//   Result<HttpClientResponse> r = client.Request("GET", "/v1/health");
//
// Every wait (connect, send, receive) is bounded by the timeout, so a caller never hangs; a
// timeout is reported as Unavailable. Bodies are read by Content-Length, chunked encoding or
// until the server closes.
//
// Thread safety: none; one client per thread.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/status.h"

namespace recsys {

struct HttpClientResponse {
  int status = 0;
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;  // names lower-cased

  // The first header of that name (any case); "" when absent.
  std::string Header(std::string_view name) const;
};

class HttpClient {
 public:
  // timeout_ms bounds each connect, send and receive wait. Default 10 s.
  HttpClient(std::string host, int port, int timeout_ms = 10000);
  ~HttpClient();
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  // Sends one request and reads its answer. Adds Host, and Content-Length when there is a body
  // or the method is POST, PUT or PATCH, unless `headers` has them. Retries once on a fresh
  // connection when a reused connection turns out closed before any byte of the answer.
  Result<HttpClientResponse> Request(std::string_view method, std::string_view target,
                                     std::string_view body = {},
                                     std::vector<std::pair<std::string, std::string>> headers = {});

  // Sends bytes as they are (connecting first if needed), for tests of malformed requests.
  Status SendRaw(std::string_view bytes);
  // Reads one response from the connection (after SendRaw).
  Result<HttpClientResponse> ReadResponse();
  // OK once the server has closed the connection (EOF or reset) within timeout_ms; Unavailable
  // when it is still open then; bytes received meanwhile are discarded.
  Status WaitForClose(int timeout_ms);
  // Whether a connection is open now (from this side).
  bool connected() const { return fd_ >= 0; }
  void Close();

 private:
  Status Connect();
  Status SendAll(std::string_view bytes);
  // Reads more bytes into buf_; 0 at EOF.
  Result<size_t> ReadMore();

  std::string host_;
  int port_;
  int timeout_ms_;
  int fd_ = -1;
  bool reused_ = false;  // the connection has carried a whole exchange already
  std::string buf_;      // bytes received and not yet consumed
  size_t received_ = 0;  // bytes received since the last request was sent
  bool head_request_ = false;
};

}  // namespace recsys
