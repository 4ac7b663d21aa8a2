// The whole of Beast and Asio stays in this file: they are slow to compile.
//
// Design: N workers, each a thread running its own io_context (no strands, no locks on the hot
// path) with its own acceptor bound with SO_REUSEPORT to the same address, so the kernel spreads
// connections over the workers. A connection (Session) reuses its read buffer, its request and
// response objects and its response head buffer for every request; the parser is a thin
// basic_parser subclass that writes straight into the reused HttpRequest (no Beast fields
// container), and a response goes out in one async_write. Timeouts are deadlines checked by a
// per-worker sweep timer rather than a timer per read, so a request costs no timer syscalls.
#include "serve/http_server.h"

#include <netinet/in.h>
#include <sys/socket.h>
#include <time.h>

#include <algorithm>
#include <array>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/basic_parser.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/status.hpp>
#include <charconv>
#include <chrono>
#include <condition_variable>
#include <list>
#include <mutex>
#include <thread>

#include "core/json_writer.h"

namespace recsys {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = boost::beast::http;
using tcp = net::ip::tcp;
using boost::system::error_code;

namespace {

// Milliseconds on the coarse monotonic clock: deadlines need no better than its few
// milliseconds, and it costs a fraction of CLOCK_MONOTONIC on every request.
int64_t NowMs() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000 + ts.tv_nsec / 1000000;
}

char Lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (Lower(a[i]) != Lower(b[i])) return false;
  }
  return true;
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Appends the decoded s to *out; false on a malformed escape.
bool PercentDecodeTo(std::string_view s, bool plus_is_space, std::string* out) {
  if (s.find_first_of(plus_is_space ? "%+" : "%") == std::string_view::npos) {
    out->append(s);
    return true;
  }
  for (size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    if (c == '%') {
      if (i + 2 >= s.size()) return false;
      int hi = HexValue(s[i + 1]);
      int lo = HexValue(s[i + 2]);
      if (hi < 0 || lo < 0) return false;
      out->push_back(static_cast<char>(hi * 16 + lo));
      i += 2;
    } else if (c == '+' && plus_is_space) {
      out->push_back(' ');
    } else {
      out->push_back(c);
    }
  }
  return true;
}

// Fills req->path and req->query from req->target, reusing their storage; false on a malformed
// percent escape.
bool ParseTarget(HttpRequest* req) {
  std::string_view target = req->target;
  size_t q = target.find('?');
  std::string_view path = target.substr(0, q);
  std::string_view query = q == std::string_view::npos ? std::string_view() : target.substr(q + 1);
  size_t hash = query.find('#');
  if (hash != std::string_view::npos) query = query.substr(0, hash);
  req->path.clear();
  if (!PercentDecodeTo(path, /*plus_is_space=*/false, &req->path)) return false;
  size_t n = 0;
  bool ok = true;
  while (!query.empty() && ok) {
    size_t amp = query.find('&');
    std::string_view part = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
    if (part.empty()) continue;
    size_t eq = part.find('=');
    if (n == req->query.size()) req->query.emplace_back();
    auto& [key, value] = req->query[n++];
    key.clear();
    value.clear();
    ok = PercentDecodeTo(part.substr(0, eq), true, &key) &&
         (eq == std::string_view::npos || PercentDecodeTo(part.substr(eq + 1), true, &value));
  }
  req->query.resize(n);
  return ok;
}

// A request parser that writes into a reused HttpRequest. One per request (Beast parsers cannot
// be reset); it holds no heap memory of its own.
class RequestParser final : public http::basic_parser<true> {
 public:
  explicit RequestParser(HttpRequest* req) : req_(req) {}
  int version() const { return version_; }
  bool expect_continue() const { return expect_continue_; }

 private:
  void on_request_impl(http::verb, beast::string_view method, beast::string_view target,
                       int version, error_code&) override {
    req_->method.assign(method.data(), method.size());
    req_->target.assign(target.data(), target.size());
    version_ = version;
  }
  void on_response_impl(int, beast::string_view, int, error_code&) override {}
  void on_field_impl(http::field field, beast::string_view name, beast::string_view value,
                     error_code&) override {
    if (headers_ == req_->headers.size()) req_->headers.emplace_back();
    auto& [n, v] = req_->headers[headers_++];
    n.resize(name.size());
    for (size_t i = 0; i < name.size(); ++i) n[i] = Lower(name[i]);
    v.assign(value.data(), value.size());
    if (field == http::field::expect &&
        EqualsIgnoreCase({value.data(), value.size()}, "100-continue")) {
      expect_continue_ = true;
    }
  }
  void on_header_impl(error_code&) override { req_->headers.resize(headers_); }
  void on_body_init_impl(const boost::optional<std::uint64_t>& length, error_code&) override {
    if (length) req_->body.reserve(static_cast<size_t>(*length));
  }
  size_t on_body_impl(beast::string_view body, error_code&) override {
    req_->body.append(body.data(), body.size());
    return body.size();
  }
  void on_chunk_header_impl(std::uint64_t, beast::string_view, error_code&) override {}
  size_t on_chunk_body_impl(std::uint64_t, beast::string_view body, error_code&) override {
    req_->body.append(body.data(), body.size());
    return body.size();
  }
  void on_finish_impl(error_code&) override {}

  HttpRequest* req_;
  size_t headers_ = 0;
  int version_ = 11;
  bool expect_continue_ = false;
};

using ReusePort = net::detail::socket_option::boolean<SOL_SOCKET, SO_REUSEPORT>;

constexpr size_t kReadChunk = 16384;
constexpr int kAcceptBurst = 64;  // connections taken per accept completion, beyond the first
constexpr int kLingerMs = 500;    // how long a closing connection may drain what the peer sends
constexpr int kMaxInlineWrites = 16;

class Session;

// What every worker reads: set before the workers start, then only `stopping` changes.
struct Shared {
  HttpServerOptions options;
  HttpHandler handler;
  std::atomic<bool> stopping{false};
  std::chrono::milliseconds sweep_interval{250};
};

// One worker: a thread, its io_context, its acceptor and its connections. Everything in it is
// touched only by its thread, except ioc (post, stop) and requests (read by requests()).
struct alignas(64) Worker {
  Shared* impl = nullptr;
  bool tearing_down = false;     // set once the thread is joined: the timers may be gone
  std::list<Session*> sessions;  // declared before ioc: sessions die with ioc's handlers
  net::io_context ioc{1};
  tcp::acceptor acceptor{ioc};
  net::steady_timer sweep{ioc};
  net::steady_timer accept_retry{ioc};
  std::thread thread;
  std::atomic<int64_t> requests{0};  // written by this worker only

  void Accept();
  void Sweep();
  void BeginStop();
};

}  // namespace

struct HttpServer::Impl : Shared {
  std::vector<std::unique_ptr<Worker>> workers;
  bool started = false;
  bool stopped = false;
  int port = 0;
  int64_t requests_after_stop = 0;

  std::mutex mu;
  std::condition_variable cv;
  int workers_done = 0;
};

namespace {

class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(Worker* worker, tcp::socket socket) : worker_(worker), socket_(std::move(socket)) {
    pos_ = worker_->sessions.insert(worker_->sessions.end(), this);
    error_code ec;
    socket_.non_blocking(true, ec);  // for the inline writes
    tcp::endpoint remote = socket_.remote_endpoint(ec);
    if (!ec) {
      if (remote.address().is_v6()) {
        remote_ = "[" + remote.address().to_string() + "]:" + std::to_string(remote.port());
      } else {
        remote_ = remote.address().to_string() + ":" + std::to_string(remote.port());
      }
    }
  }
  ~Session() {
    worker_->sessions.erase(pos_);
    // Stopping: the last connection gone, end the sweep so that the worker's run() returns.
    if (!worker_->tearing_down && worker_->sessions.empty() &&
        worker_->impl->stopping.load(std::memory_order_relaxed)) {
      worker_->sweep.cancel();
    }
  }

  void Start() {
    NewRequest();
    DoRead();
  }

  // Called by the sweep: acts on a passed deadline.
  void CheckDeadline(int64_t now) {
    if (now < deadline_ || state_ == State::kHandling || kicked_) return;
    switch (state_) {
      case State::kIdle:
      case State::kClosing:
        Close();
        break;
      case State::kReading:
        // Wake the pending read, which answers 408.
        kicked_ = true;
        CancelRead();
        break;
      case State::kWriting:  // the peer does not read its answer
        Close();
        break;
      default:
        break;
    }
  }

  // Called when the server stops: a connection waiting for its next request is closed; one
  // with a request in flight finishes it (and closes after its answer).
  void OnStop() {
    if (state_ == State::kIdle) Close();
  }

 private:
  enum class State { kIdle, kReading, kHandling, kWriting, kClosing };

  const HttpServerOptions& options() const { return worker_->impl->options; }

  void NewRequest() {
    HttpRequest& r = req_;
    r.method.clear();
    r.target.clear();
    r.path.clear();
    r.body.clear();
    if (r.body.capacity() > 65536) r.body.shrink_to_fit();
    parser_.emplace(&req_);
    parser_->header_limit(static_cast<std::uint32_t>(
        std::min<size_t>(options().max_header_bytes, std::numeric_limits<std::uint32_t>::max())));
    parser_->body_limit(static_cast<std::uint64_t>(options().max_body_bytes));
    parser_->eager(true);
    continue_sent_ = false;
    state_ = State::kIdle;
    deadline_ = NowMs() + options().idle_timeout_ms;
  }

  void DoRead() {
    error_code ec;
    while (buffer_.size() > 0 && !parser_->is_done()) {
      size_t n = parser_->put(buffer_.data(), ec);
      buffer_.consume(n);
      if (ec == http::error::need_more) {
        ec = {};
        break;
      }
      if (ec) return ParseError(ec);
    }
    if (state_ == State::kIdle && (parser_->got_some() || buffer_.size() > 0)) {
      state_ = State::kReading;
      deadline_ = NowMs() + options().request_timeout_ms;
    }
    if (parser_->is_done()) return Handle();
    if (state_ == State::kIdle && worker_->impl->stopping.load(std::memory_order_relaxed)) {
      return Close();
    }
    if (parser_->is_header_done() && parser_->expect_continue() && !continue_sent_) {
      continue_sent_ = true;
      // 25 bytes into an empty socket buffer: a short write here means a broken peer.
      static constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
      size_t n = socket_.write_some(net::buffer(kContinue.data(), kContinue.size()), ec);
      if (ec || n != kContinue.size()) return Close();
    }
    inline_writes_ = 0;
    socket_.async_read_some(
        buffer_.prepare(kReadChunk),
        [self = shared_from_this()](error_code ec, size_t n) { self->OnRead(ec, n); });
  }

  void OnRead(error_code ec, size_t n) {
    if (kicked_) {
      kicked_ = false;
      if (state_ == State::kReading) {
        return SendError(408, "request_timeout",
                         "request not received whole within " +
                             std::to_string(options().request_timeout_ms) + " ms");
      }
      return Close();
    }
    if (ec) return Close();
    buffer_.commit(n);
    DoRead();
  }

  void CancelRead() {
    error_code ec;
    socket_.cancel(ec);
  }

  void ParseError(error_code ec) {
    if (ec == http::error::header_limit) {
      return SendError(
          431, "header_too_large",
          "request header over " + std::to_string(options().max_header_bytes) + " bytes");
    }
    if (ec == http::error::body_limit) {
      return SendError(413, "payload_too_large",
                       "request body over " + std::to_string(options().max_body_bytes) + " bytes");
    }
    SendError(400, "bad_request", "malformed HTTP request: " + ec.message());
  }

  void SendError(int status, std::string_view code, const std::string& message) {
    ResetResponse();
    resp_.status = status;
    resp_.body = JsonError(code, message);
    Write(/*keep_alive=*/false, /*head_only=*/false);
  }

  void ResetResponse() {
    resp_.status = 200;
    resp_.content_type.assign("application/json");
    resp_.body.clear();
    if (resp_.body.capacity() > 65536) resp_.body.shrink_to_fit();
    resp_.headers.clear();
  }

  void Handle() {
    state_ = State::kHandling;
    bool keep_alive = parser_->keep_alive();
    ResetResponse();
    if (!ParseTarget(&req_)) {
      return SendError(400, "bad_request", "malformed percent escape in target " + req_.target);
    }
    req_.remote = remote_;
    try {
      worker_->impl->handler(req_, &resp_);
    } catch (const std::exception& e) {
      return SendError(500, "internal", std::string("the handler failed: ") + e.what());
    } catch (...) {
      return SendError(500, "internal", "the handler failed");
    }
    Write(keep_alive, req_.method == "HEAD");
  }

  void Write(bool keep_alive, bool head_only) {
    state_ = State::kWriting;
    if (worker_->impl->stopping.load(std::memory_order_relaxed)) keep_alive = false;
    worker_->requests.store(worker_->requests.load(std::memory_order_relaxed) + 1,
                            std::memory_order_relaxed);
    int status = resp_.status;
    bool has_body = !(status < 200 || status == 204 || status == 304);
    head_.clear();
    head_.append("HTTP/1.1 ");
    char digits[24];
    char* end = std::to_chars(digits, digits + sizeof(digits), status).ptr;
    head_.append(digits, end);
    head_.push_back(' ');
    beast::string_view reason = http::obsolete_reason(static_cast<http::status>(status));
    head_.append(reason.data(), reason.size());
    head_.append("\r\nServer: recsys\r\n");
    if (!resp_.content_type.empty() && has_body) {
      head_.append("Content-Type: ");
      head_.append(resp_.content_type);
      head_.append("\r\n");
    }
    if (has_body) {
      head_.append("Content-Length: ");
      end = std::to_chars(digits, digits + sizeof(digits), resp_.body.size()).ptr;
      head_.append(digits, end);
      head_.append("\r\n");
    }
    for (const auto& [name, value] : resp_.headers) {
      head_.append(name);
      head_.append(": ");
      head_.append(value);
      head_.append("\r\n");
    }
    if (!keep_alive) {
      head_.append("Connection: close\r\n");
    } else if (parser_->version() < 11) {
      head_.append("Connection: keep-alive\r\n");
    }
    head_.append("\r\n");
    bool send_body = has_body && !head_only && !resp_.body.empty();
    // Small bodies are copied so the answer is one contiguous send.
    if (send_body && resp_.body.size() <= 4096) {
      head_.append(resp_.body);
      send_body = false;
    }
    deadline_ = NowMs() + options().request_timeout_ms;
    std::array<net::const_buffer, 2> buffers = {
        net::buffer(head_), send_body ? net::buffer(resp_.body) : net::const_buffer()};
    // Usually the whole answer fits the socket buffer: send it now and go on without a trip
    // through the scheduler. A bounded number of times in a row, for a pipelining peer.
    size_t sent = 0;
    if (inline_writes_ < kMaxInlineWrites) {
      error_code ec;
      sent = socket_.write_some(buffers, ec);
      if (ec && ec != net::error::would_block) return Close();
      if (sent == buffers[0].size() + buffers[1].size()) {
        ++inline_writes_;
        return OnWrite({}, keep_alive);
      }
    }
    if (sent >= buffers[0].size()) {
      buffers[1] += sent - buffers[0].size();
      buffers[0] = net::const_buffer();
    } else {
      buffers[0] += sent;
    }
    net::async_write(socket_, buffers,
                     [self = shared_from_this(), keep_alive](error_code ec, size_t) {
                       self->OnWrite(ec, keep_alive);
                     });
  }

  void OnWrite(error_code ec, bool keep_alive) {
    if (ec) return Close();
    if (!keep_alive || worker_->impl->stopping.load(std::memory_order_relaxed)) {
      return LingerClose();
    }
    NewRequest();
    DoRead();
  }

  // Closes our side, then drains what the peer still sends until it closes too, so that an
  // unread request body does not turn our close into a reset that would lose the answer.
  void LingerClose() {
    state_ = State::kClosing;
    deadline_ = NowMs() + std::min(kLingerMs, std::max(1, options().idle_timeout_ms));
    error_code ec;
    socket_.shutdown(tcp::socket::shutdown_send, ec);
    if (ec) return Close();
    Drain();
  }

  void Drain() {
    buffer_.clear();
    socket_.async_read_some(buffer_.prepare(kReadChunk),
                            [self = shared_from_this()](error_code ec, size_t) {
                              if (ec || self->state_ != State::kClosing) return self->Close();
                              self->Drain();
                            });
  }

  void Close() {
    if (closed_) return;
    closed_ = true;
    state_ = State::kClosing;
    error_code ec;
    socket_.shutdown(tcp::socket::shutdown_both, ec);
    socket_.close(ec);
  }

  Worker* worker_;
  tcp::socket socket_;
  std::list<Session*>::iterator pos_;
  std::string remote_;
  beast::flat_buffer buffer_;
  std::optional<RequestParser> parser_;
  HttpRequest req_;
  HttpResponse resp_;
  std::string head_;
  State state_ = State::kIdle;
  int64_t deadline_ = 0;  // NowMs() past which the current state times out
  bool kicked_ = false;   // the sweep cancelled the read because the deadline passed
  bool continue_sent_ = false;
  int inline_writes_ = 0;  // answers sent inline since the last asynchronous read
  bool closed_ = false;
};

}  // namespace

void Worker::Accept() {
  acceptor.async_accept(ioc, [this](error_code ec, tcp::socket socket) {
    if (!acceptor.is_open() || impl->stopping.load(std::memory_order_relaxed)) return;
    if (ec) {
      // Out of descriptors or memory: try again shortly rather than spin.
      accept_retry.expires_after(std::chrono::milliseconds(50));
      accept_retry.async_wait([this](error_code ec) {
        if (!ec) Accept();
      });
      return;
    }
    error_code ignored;
    socket.set_option(tcp::no_delay(true), ignored);
    std::make_shared<Session>(this, std::move(socket))->Start();
    // Take the connections already waiting too, not one per pass of the event loop: under load
    // a burst of new clients would otherwise queue behind every ready read.
    for (int n = 0; n < kAcceptBurst; ++n) {
      tcp::socket more(ioc);
      error_code more_ec;
      acceptor.accept(more, more_ec);  // the acceptor is non-blocking: would_block when none
      if (more_ec) break;
      more.set_option(tcp::no_delay(true), ignored);
      std::make_shared<Session>(this, std::move(more))->Start();
    }
    Accept();
  });
}

void Worker::Sweep() {
  sweep.expires_after(impl->sweep_interval);
  sweep.async_wait([this](error_code ec) {
    if (ec) return;
    int64_t now = NowMs();
    for (Session* s : sessions) s->CheckDeadline(now);
    // Once stopping, the sweep ends with the last connection so that run() can return.
    if (impl->stopping.load(std::memory_order_relaxed) && sessions.empty()) return;
    Sweep();
  });
}

void Worker::BeginStop() {
  error_code ec;
  acceptor.close(ec);
  accept_retry.cancel();
  for (Session* s : sessions) s->OnStop();
  if (sessions.empty()) sweep.cancel();
}

std::optional<std::string_view> HttpRequest::Query(std::string_view key) const {
  for (const auto& [k, v] : query) {
    if (k == key) return std::string_view(v);
  }
  return std::nullopt;
}

std::string_view HttpRequest::Header(std::string_view name) const {
  for (const auto& [k, v] : headers) {
    if (EqualsIgnoreCase(k, name)) return v;
  }
  return {};
}

std::string JsonError(std::string_view code, std::string_view message) {
  std::string out = "{\"error\":{\"code\":";
  AppendJsonString(code, &out);
  out.append(",\"message\":");
  AppendJsonString(message, &out);
  out.append("}}");
  return out;
}

std::optional<std::string> PercentDecode(std::string_view s, bool plus_is_space) {
  std::string out;
  if (!PercentDecodeTo(s, plus_is_space, &out)) return std::nullopt;
  return out;
}

HttpServer::HttpServer(HttpServerOptions options, HttpHandler handler)
    : impl_(std::make_unique<Impl>()) {
  impl_->options = std::move(options);
  impl_->handler = std::move(handler);
}

HttpServer::~HttpServer() { Stop(); }

int HttpServer::port() const { return impl_->port; }

int64_t HttpServer::requests() const {
  int64_t n = impl_->requests_after_stop;
  for (const auto& w : impl_->workers) n += w->requests.load(std::memory_order_relaxed);
  return n;
}

namespace {

Result<tcp::endpoint> ResolveListen(const std::string& listen) {
  size_t colon = listen.rfind(':');
  if (colon == std::string::npos) {
    return Status::InvalidArgument("listen " + listen + ": expected host:port");
  }
  std::string host = listen.substr(0, colon);
  std::string port_text = listen.substr(colon + 1);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  if (host.empty()) host = "0.0.0.0";
  int port = -1;
  if (!port_text.empty() && port_text.size() <= 5 &&
      std::all_of(port_text.begin(), port_text.end(),
                  [](char c) { return c >= '0' && c <= '9'; })) {
    port = std::stoi(port_text);
  }
  if (port < 0 || port > 65535) {
    return Status::InvalidArgument("listen " + listen + ": bad port '" + port_text + "'");
  }
  error_code ec;
  net::ip::address address = net::ip::make_address(host, ec);
  if (!ec) return tcp::endpoint(address, static_cast<unsigned short>(port));
  net::io_context ioc;
  tcp::resolver resolver(ioc);
  auto results = resolver.resolve(host, port_text, ec);
  if (ec || results.empty()) {
    return Status::InvalidArgument("listen " + listen + ": " +
                                   (ec ? ec.message() : std::string("host not found")));
  }
  return results.begin()->endpoint();
}

}  // namespace

Status HttpServer::Start() {
  Impl& s = *impl_;
  if (s.started) return Status::InvalidArgument("HttpServer::Start called twice");
  RECSYS_ASSIGN_OR_RETURN(tcp::endpoint endpoint, ResolveListen(s.options.listen));
  int threads = s.options.threads > 0
                    ? s.options.threads
                    : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  int min_timeout = std::max(1, std::min(s.options.idle_timeout_ms, s.options.request_timeout_ms));
  s.sweep_interval = std::chrono::milliseconds(std::clamp(min_timeout / 8, 5, 250));
  auto fail = [&](const error_code& ec) {
    s.workers.clear();
    return Status::IOError("listen " + s.options.listen + ": " + ec.message());
  };
  error_code ec;
  // SO_REUSEPORT would let us share the port with another server of the same user without a
  // word; a plain bind first reports "Address already in use" as a user expects.
  if (threads > 1 && endpoint.port() != 0) {
    net::io_context ioc;
    tcp::acceptor probe(ioc);
    probe.open(endpoint.protocol(), ec);
    if (!ec) probe.set_option(net::socket_base::reuse_address(true), ec);
    if (!ec) probe.bind(endpoint, ec);
    if (ec) return fail(ec);
  }
  for (int i = 0; i < threads; ++i) {
    auto w = std::make_unique<Worker>();
    w->impl = &s;
    tcp::acceptor& a = w->acceptor;
    a.open(endpoint.protocol(), ec);
    if (!ec) a.set_option(net::socket_base::reuse_address(true), ec);
    if (!ec && threads > 1) a.set_option(ReusePort(true), ec);
    if (!ec) a.bind(endpoint, ec);
    if (!ec) a.listen(net::socket_base::max_listen_connections, ec);
    if (!ec) a.non_blocking(true, ec);  // for the burst of accepts after each completion
    if (ec) return fail(ec);
    if (i == 0) {
      // Port 0: the others join the port the first one got.
      endpoint.port(a.local_endpoint(ec).port());
      if (ec) return fail(ec);
      s.port = endpoint.port();
    }
    s.workers.push_back(std::move(w));
  }
  s.started = true;
  for (auto& w : s.workers) {
    Worker* worker = w.get();
    worker->Accept();
    worker->Sweep();
    worker->thread = std::thread([worker, &s] {
      for (;;) {
        try {
          worker->ioc.run();
          break;
        } catch (...) {
          // Handlers catch what the user's code throws; anything else must not end the worker.
        }
      }
      std::lock_guard<std::mutex> lock(s.mu);
      ++s.workers_done;
      s.cv.notify_all();
    });
  }
  return Status::OK();
}

void HttpServer::Stop() {
  Impl& s = *impl_;
  if (!s.started || s.stopped) return;
  s.stopped = true;
  s.stopping.store(true);
  for (auto& w : s.workers) {
    Worker* worker = w.get();
    net::post(worker->ioc, [worker] { worker->BeginStop(); });
  }
  {
    std::unique_lock<std::mutex> lock(s.mu);
    int n = static_cast<int>(s.workers.size());
    s.cv.wait_for(lock, std::chrono::milliseconds(std::max(0, s.options.shutdown_grace_ms)),
                  [&] { return s.workers_done == n; });
  }
  // Past the grace period: abandon what is left (run() returns after the current handler).
  for (auto& w : s.workers) w->ioc.stop();
  for (auto& w : s.workers) {
    if (w->thread.joinable()) w->thread.join();
  }
  for (auto& w : s.workers) {
    s.requests_after_stop += w->requests.load();
    w->tearing_down = true;
  }
  // Destroying each io_context destroys the pending handlers, hence the connections.
  s.workers.clear();
}

}  // namespace recsys
