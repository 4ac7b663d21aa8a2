#include "serve/http_server.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "serve/http_client.h"

namespace recsys {
namespace {

using std::chrono::milliseconds;
using std::chrono::steady_clock;

// Answers {"method","path","query","body","remote"} as plain text lines, and a few special paths.
void EchoHandler(const HttpRequest& req, HttpResponse* resp) {
  if (req.path == "/throw") throw std::runtime_error("boom");
  if (req.path == "/slow") std::this_thread::sleep_for(milliseconds(300));
  resp->content_type = "text/plain";
  std::string out = req.method + "\n" + req.path + "\n";
  for (const auto& [k, v] : req.query) out += "[" + k + "=" + v + "]";
  out += "\n" + req.body + "\n" + req.remote + "\n" + std::string(req.Header("X-Test"));
  resp->body = out;
  if (req.path == "/extra") resp->headers.emplace_back("X-Extra", "yes");
}

HttpServerOptions TestOptions() {
  HttpServerOptions o;
  o.listen = "127.0.0.1:0";
  o.threads = 2;
  o.max_header_bytes = 2048;
  o.max_body_bytes = 1024;
  o.idle_timeout_ms = 2000;
  o.request_timeout_ms = 2000;
  o.shutdown_grace_ms = 2000;
  return o;
}

class HttpServerTest : public ::testing::Test {
 protected:
  void StartServer(HttpServerOptions options = TestOptions(), HttpHandler handler = EchoHandler) {
    server_ = std::make_unique<HttpServer>(std::move(options), std::move(handler));
    Status st = server_->Start();
    ASSERT_TRUE(st.ok()) << st.ToString();
    ASSERT_GT(server_->port(), 0);
  }
  HttpClient Client(int timeout_ms = 5000) {
    return HttpClient("127.0.0.1", server_->port(), timeout_ms);
  }

  std::unique_ptr<HttpServer> server_;
};

std::vector<std::string> Lines(const std::string& s) {
  std::vector<std::string> out;
  size_t start = 0;
  for (;;) {
    size_t nl = s.find('\n', start);
    out.push_back(s.substr(start, nl - start));
    if (nl == std::string::npos) return out;
    start = nl + 1;
  }
}

void ExpectJsonError(const HttpClientResponse& r, int status, const std::string& code) {
  EXPECT_EQ(r.status, status) << r.body;
  EXPECT_EQ(r.Header("content-type"), "application/json");
  EXPECT_EQ(r.body.rfind("{\"error\":{\"code\":\"" + code + "\",\"message\":\"", 0), 0u) << r.body;
  EXPECT_EQ(r.Header("connection"), "close");
}

TEST(HttpServerFunctionsTest, PercentDecode) {
  EXPECT_EQ(PercentDecode("a%20b+c", false), "a b+c");
  EXPECT_EQ(PercentDecode("a%20b+c", true), "a b c");
  EXPECT_EQ(PercentDecode("%e2%82%AC", false), "\xe2\x82\xac");
  EXPECT_EQ(PercentDecode("", false), "");
  EXPECT_EQ(PercentDecode("%", false), std::nullopt);
  EXPECT_EQ(PercentDecode("a%2", false), std::nullopt);
  EXPECT_EQ(PercentDecode("a%zz", false), std::nullopt);
}

TEST(HttpServerFunctionsTest, JsonErrorEscapes) {
  EXPECT_EQ(JsonError("bad_request", "say \"hi\"\n"),
            "{\"error\":{\"code\":\"bad_request\",\"message\":\"say \\\"hi\\\"\\n\"}}");
}

TEST(HttpServerFunctionsTest, StartReportsBadAddressesAndBusyPorts) {
  HttpServerOptions o = TestOptions();
  o.listen = "no-port-here";
  HttpServer bad(o, EchoHandler);
  Status st = bad.Start();
  EXPECT_FALSE(st.ok());
  EXPECT_NE(st.message().find("listen no-port-here"), std::string::npos) << st.ToString();

  HttpServer first(TestOptions(), EchoHandler);
  ASSERT_TRUE(first.Start().ok());
  o.listen = "127.0.0.1:" + std::to_string(first.port());
  HttpServer second(o, EchoHandler);
  st = second.Start();
  EXPECT_FALSE(st.ok());
  EXPECT_NE(st.message().find("listen " + o.listen + ": "), std::string::npos) << st.ToString();
}

TEST_F(HttpServerTest, KeepAliveServesManyRequestsOnOneConnection) {
  StartServer();
  HttpClient client = Client();
  std::string remote;
  for (int i = 0; i < 200; ++i) {
    auto r = client.Request("POST", "/echo?i=" + std::to_string(i), "body" + std::to_string(i));
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    ASSERT_EQ(r->status, 200);
    std::vector<std::string> lines = Lines(r->body);
    ASSERT_EQ(lines.size(), 6u) << r->body;
    EXPECT_EQ(lines[0], "POST");
    EXPECT_EQ(lines[2], "[i=" + std::to_string(i) + "]");
    EXPECT_EQ(lines[3], "body" + std::to_string(i));
    if (i == 0) remote = lines[4];
    EXPECT_EQ(lines[4], remote) << "a new connection was opened at request " << i;
    EXPECT_EQ(r->Header("connection"), "");
    EXPECT_EQ(r->Header("server"), "recsys");
    EXPECT_EQ(r->Header("content-type"), "text/plain");
    EXPECT_EQ(r->Header("content-length"), std::to_string(r->body.size()));
  }
  EXPECT_EQ(server_->requests(), 200);
}

TEST_F(HttpServerTest, DecodesPathQueryAndHeaders) {
  StartServer();
  HttpClient client = Client();
  auto r = client.Request("GET", "/v1/users/u%201/recs%2Fx?k=10&q=a+b%26c&flag&&e=&k=11", {},
                          {{"X-TEST", "hello"}});
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  std::vector<std::string> lines = Lines(r->body);
  ASSERT_EQ(lines.size(), 6u);
  EXPECT_EQ(lines[0], "GET");
  EXPECT_EQ(lines[1], "/v1/users/u 1/recs/x");
  EXPECT_EQ(lines[2], "[k=10][q=a b&c][flag=][e=][k=11]");
  EXPECT_EQ(lines[5], "hello");
  // The extra headers a handler sets are sent.
  r = client.Request("GET", "/extra");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->Header("x-extra"), "yes");
}

TEST_F(HttpServerTest, RequestAccessors) {
  HttpRequest req;
  req.query = {{"k", "10"}, {"k", "11"}, {"e", ""}};
  req.headers = {{"content-type", "text/plain"}};
  EXPECT_EQ(req.Query("k"), "10");
  EXPECT_EQ(req.Query("e"), "");
  EXPECT_EQ(req.Query("missing"), std::nullopt);
  EXPECT_EQ(req.Header("Content-Type"), "text/plain");
  EXPECT_EQ(req.Header("accept"), "");
}

TEST_F(HttpServerTest, BadPercentEscapeIs400) {
  StartServer();
  HttpClient client = Client();
  auto r = client.Request("GET", "/a%zz");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ExpectJsonError(*r, 400, "bad_request");
  EXPECT_FALSE(client.connected());
  r = client.Request("GET", "/x?q=%4");
  ASSERT_TRUE(r.ok());
  ExpectJsonError(*r, 400, "bad_request");
}

TEST_F(HttpServerTest, MalformedRequestLineIs400AndCloses) {
  StartServer();
  HttpClient client = Client();
  ASSERT_TRUE(client.SendRaw("GARBAGE\r\n\r\n").ok());
  auto r = client.ReadResponse();
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ExpectJsonError(*r, 400, "bad_request");
  EXPECT_FALSE(client.connected());

  HttpClient other = Client();
  ASSERT_TRUE(other.SendRaw("GET /x HTTP/9.9\r\n\r\n").ok());
  r = other.ReadResponse();
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ExpectJsonError(*r, 400, "bad_request");
}

TEST_F(HttpServerTest, OversizedBodyIs413) {
  StartServer();
  HttpClient client = Client();
  auto r = client.Request("POST", "/echo", std::string(1025, 'x'));
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ExpectJsonError(*r, 413, "payload_too_large");
  // At the limit is fine.
  r = client.Request("POST", "/echo", std::string(1024, 'x'));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->status, 200);
  // A chunked body over the limit too.
  HttpClient raw = Client();
  std::string chunk(600, 'y');
  ASSERT_TRUE(raw.SendRaw("POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                          "258\r\n" +
                          chunk + "\r\n258\r\n" + chunk + "\r\n0\r\n\r\n")
                  .ok());
  r = raw.ReadResponse();
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ExpectJsonError(*r, 413, "payload_too_large");
}

TEST_F(HttpServerTest, ChunkedBodyWithinLimitIsDecoded) {
  StartServer();
  HttpClient raw = Client();
  ASSERT_TRUE(raw.SendRaw("POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                          "5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n")
                  .ok());
  auto r = raw.ReadResponse();
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(Lines(r->body)[3], "hello world");
}

TEST_F(HttpServerTest, OversizedHeaderIs431) {
  StartServer();
  HttpClient client = Client();
  auto r = client.Request("GET", "/echo", {}, {{"X-Big", std::string(4096, 'h')}});
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ExpectJsonError(*r, 431, "header_too_large");
}

TEST_F(HttpServerTest, StalledRequestIs408) {
  HttpServerOptions o = TestOptions();
  o.request_timeout_ms = 200;
  StartServer(o);
  HttpClient client = Client();
  auto start = steady_clock::now();
  ASSERT_TRUE(
      client.SendRaw("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nonly part")
          .ok());
  auto r = client.ReadResponse();
  auto elapsed = steady_clock::now() - start;
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ExpectJsonError(*r, 408, "request_timeout");
  EXPECT_GE(elapsed, milliseconds(180));
  EXPECT_LT(elapsed, milliseconds(1500));
  // A stalled header too.
  HttpClient other = Client();
  ASSERT_TRUE(other.SendRaw("GET /echo HTTP/1.1\r\nHost:").ok());
  r = other.ReadResponse();
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ExpectJsonError(*r, 408, "request_timeout");
}

TEST_F(HttpServerTest, IdleConnectionIsClosedAfterIdleTimeout) {
  HttpServerOptions o = TestOptions();
  o.idle_timeout_ms = 200;
  StartServer(o);
  HttpClient client = Client();
  auto r = client.Request("GET", "/echo");
  ASSERT_TRUE(r.ok());
  ASSERT_TRUE(client.connected());
  auto start = steady_clock::now();
  EXPECT_TRUE(client.WaitForClose(3000).ok());
  auto elapsed = steady_clock::now() - start;
  EXPECT_GE(elapsed, milliseconds(150));
  EXPECT_LT(elapsed, milliseconds(1500));
  // The client reconnects transparently.
  r = client.Request("GET", "/echo");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->status, 200);
}

TEST_F(HttpServerTest, ClientReconnectsOnceWhenTheServerClosedAKeptConnection) {
  HttpServerOptions o = TestOptions();
  o.idle_timeout_ms = 100;
  StartServer(o);
  HttpClient client = Client();
  ASSERT_TRUE(client.Request("GET", "/a").ok());
  std::this_thread::sleep_for(milliseconds(400));  // the server closes; the client does not know
  ASSERT_TRUE(client.connected());
  auto r = client.Request("GET", "/b");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(Lines(r->body)[1], "/b");
}

TEST_F(HttpServerTest, HandlerExceptionIs500) {
  StartServer();
  HttpClient client = Client();
  auto r = client.Request("GET", "/throw");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ExpectJsonError(*r, 500, "internal");
  EXPECT_NE(r->body.find("boom"), std::string::npos);
  // The server is still there.
  r = client.Request("GET", "/fine");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->status, 200);
}

TEST_F(HttpServerTest, Http10AndConnectionCloseAreHonoured) {
  StartServer();
  HttpClient client = Client();
  ASSERT_TRUE(client.SendRaw("GET /ten HTTP/1.0\r\n\r\n").ok());
  auto r = client.ReadResponse();
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->Header("connection"), "close");
  EXPECT_FALSE(client.connected());

  // HTTP/1.0 with keep-alive is kept.
  ASSERT_TRUE(client.SendRaw("GET /ten HTTP/1.0\r\nConnection: keep-alive\r\n\r\n").ok());
  r = client.ReadResponse();
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->Header("connection"), "keep-alive");
  EXPECT_TRUE(client.connected());
  client.Close();

  r = client.Request("GET", "/x", {}, {{"Connection", "close"}});
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->Header("connection"), "close");
  EXPECT_FALSE(client.connected());
}

TEST_F(HttpServerTest, PipelinedRequestsAreAnsweredInOrder) {
  StartServer();
  HttpClient client = Client();
  ASSERT_TRUE(client
                  .SendRaw("GET /one HTTP/1.1\r\nHost: x\r\n\r\n"
                           "POST /two HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc")
                  .ok());
  auto r = client.ReadResponse();
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(Lines(r->body)[1], "/one");
  r = client.ReadResponse();
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(Lines(r->body)[1], "/two");
  EXPECT_EQ(Lines(r->body)[3], "abc");
  // HEAD: the length of the body a GET would get, and no body.
  auto head = client.Request("HEAD", "/three");
  ASSERT_TRUE(head.ok()) << head.status().ToString();
  EXPECT_EQ(head->status, 200);
  EXPECT_EQ(head->body, "");
  EXPECT_NE(head->Header("content-length"), "0");
}

TEST_F(HttpServerTest, ExpectContinueGetsInterimAnswer) {
  StartServer();
  HttpClient client = Client();
  ASSERT_TRUE(client
                  .SendRaw("POST /c HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\n"
                           "Content-Length: 4\r\n\r\n")
                  .ok());
  std::this_thread::sleep_for(milliseconds(50));
  ASSERT_TRUE(client.SendRaw("data").ok());
  auto r = client.ReadResponse();  // skips the 100
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(Lines(r->body)[3], "data");
}

TEST_F(HttpServerTest, ConcurrentClientsAreAllAnswered) {
  StartServer();
  constexpr int kThreads = 8;
  constexpr int kRequests = 100;
  std::atomic<int> ok{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      HttpClient client("127.0.0.1", server_->port(), 5000);
      for (int i = 0; i < kRequests; ++i) {
        std::string body = std::to_string(t) + ":" + std::to_string(i);
        auto r = client.Request("POST", "/c", body);
        if (r.ok() && r->status == 200 && Lines(r->body)[3] == body) ok.fetch_add(1);
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(ok.load(), kThreads * kRequests);
  EXPECT_EQ(server_->requests(), kThreads * kRequests);
}

TEST_F(HttpServerTest, StopFinishesRequestsInFlightAndRefusesNewConnections) {
  std::atomic<bool> entered{false};
  StartServer(TestOptions(), [&](const HttpRequest& req, HttpResponse* resp) {
    if (req.path == "/slow") entered = true;
    EchoHandler(req, resp);
  });
  int port = server_->port();
  // An idle keep-alive connection, to be closed by Stop.
  HttpClient idle = Client();
  ASSERT_TRUE(idle.Request("GET", "/warm").ok());

  Result<HttpClientResponse> slow = Status::Internal("not answered");
  std::thread slow_client([&] {
    HttpClient client("127.0.0.1", port, 5000);
    slow = client.Request("GET", "/slow?x=1");
  });
  while (!entered) std::this_thread::sleep_for(milliseconds(1));
  auto start = steady_clock::now();
  server_->Stop();
  auto elapsed = steady_clock::now() - start;
  slow_client.join();
  ASSERT_TRUE(slow.ok()) << slow.status().ToString();
  EXPECT_EQ(slow->status, 200);
  EXPECT_EQ(Lines(slow->body)[1], "/slow");
  EXPECT_EQ(slow->Header("connection"), "close");
  EXPECT_LT(elapsed, milliseconds(1500));
  EXPECT_TRUE(idle.WaitForClose(1000).ok());

  HttpClient late("127.0.0.1", port, 1000);
  auto r = late.Request("GET", "/late");
  EXPECT_FALSE(r.ok());
  EXPECT_EQ(server_->requests(), 2);
  server_->Stop();  // idempotent
}

TEST_F(HttpServerTest, StopGivesUpAfterTheGracePeriod) {
  HttpServerOptions o = TestOptions();
  o.shutdown_grace_ms = 50;
  o.request_timeout_ms = 5000;
  StartServer(o);
  // A request whose body never comes: it is in flight, but it cannot finish.
  HttpClient client = Client();
  ASSERT_TRUE(client.SendRaw("POST /x HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n").ok());
  std::this_thread::sleep_for(milliseconds(50));
  auto start = steady_clock::now();
  server_->Stop();
  EXPECT_LT(steady_clock::now() - start, milliseconds(1000));
  EXPECT_TRUE(client.WaitForClose(1000).ok());
}

TEST_F(HttpServerTest, DestructorStopsARunningServer) {
  StartServer();
  HttpClient client = Client();
  ASSERT_TRUE(client.Request("GET", "/x").ok());
  server_.reset();
  EXPECT_TRUE(client.WaitForClose(1000).ok());
}

TEST_F(HttpServerTest, HttpClientTimesOutInsteadOfHanging) {
  StartServer();
  HttpClient client = Client(/*timeout_ms=*/100);
  auto start = steady_clock::now();
  auto r = client.Request("GET", "/slow");  // the handler takes 300 ms
  EXPECT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kUnavailable) << r.status().ToString();
  EXPECT_LT(steady_clock::now() - start, milliseconds(290));
}

TEST(HttpClientTest, ConnectionRefusedIsUnavailable) {
  int port;
  {
    HttpServer server(TestOptions(), EchoHandler);
    ASSERT_TRUE(server.Start().ok());
    port = server.port();
  }
  HttpClient client("127.0.0.1", port, 1000);
  auto r = client.Request("GET", "/");
  EXPECT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kUnavailable) << r.status().ToString();
  EXPECT_NE(r.status().message().find("connect 127.0.0.1:" + std::to_string(port)),
            std::string::npos);
}

TEST(HttpClientTest, ResponseHeaderLookupIgnoresCase) {
  HttpClientResponse r;
  r.headers = {{"content-type", "text/plain"}};
  EXPECT_EQ(r.Header("Content-Type"), "text/plain");
  EXPECT_EQ(r.Header("x"), "");
}

}  // namespace
}  // namespace recsys
