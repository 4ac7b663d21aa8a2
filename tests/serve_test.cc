// recsys serve and the demo's last step through the binary: the demo's curl line answers, a new
// model version published while clients send requests is picked up without a failed request,
// and SIGTERM stops the server cleanly.
#include <gtest/gtest.h>
#include <signal.h>
#include <simdjson.h>
#include <sys/wait.h>

#include <atomic>
#include <chrono>
#include <string>
#include <thread>

#include "core/clock.h"
#include "core/files.h"
#include "serve/http_client.h"
#include "tests/test_util.h"

namespace recsys::testing {
namespace {

using Clock = std::chrono::steady_clock;

std::string ReadOr(const std::string& path) {
  auto text = ReadFile(path);
  return text.ok() ? *text : std::string();
}

// Waits until the file holds `needle`; returns its text then, or "" after timeout_s.
std::string WaitForText(const std::string& path, const std::string& needle, int timeout_s,
                        pid_t pid) {
  const auto deadline = Clock::now() + std::chrono::seconds(timeout_s);
  while (Clock::now() < deadline) {
    std::string text = ReadOr(path);
    if (text.find(needle) != std::string::npos) return text;
    int status = 0;
    if (waitpid(pid, &status, WNOHANG) == pid) return "";  // exited early
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return "";
}

// "http://127.0.0.1:PORT" from the "listening on" line.
int PortOf(const std::string& out) {
  const std::string marker = "listening on http://127.0.0.1:";
  size_t at = out.find(marker);
  if (at == std::string::npos) return -1;
  return std::stoi(out.substr(at + marker.size()));
}

// SIGTERM, then the exit code (-1 if it did not exit within 30 s, then killed).
int Terminate(pid_t pid) {
  kill(pid, SIGTERM);
  const auto deadline = Clock::now() + std::chrono::seconds(30);
  while (Clock::now() < deadline) {
    int status = 0;
    if (waitpid(pid, &status, WNOHANG) == pid) {
      return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  kill(pid, SIGKILL);
  waitpid(pid, nullptr, 0);
  return -1;
}

bool WaitReady(HttpClient* client, int timeout_s) {
  const auto deadline = Clock::now() + std::chrono::seconds(timeout_s);
  while (Clock::now() < deadline) {
    auto r = client->Request("GET", "/readyz");
    if (r.ok() && r->status == 200) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return false;
}

std::string Field(const std::string& json, const char* key) {
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  std::string_view v;
  if (parser.parse(json).get(doc) || doc[key].get_string().get(v)) return "";
  return std::string(v);
}

size_t ItemCount(const std::string& json) {
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  simdjson::dom::array items;
  if (parser.parse(json).get(doc) || doc["items"].get_array().get(items)) return 0;
  return items.size();
}

TEST(ServeCommandTest, DemoEndsServingAndItsCurlLineReturnsRecommendations) {
  TempDir dir;
  const std::string data = dir.path() + "/demo";
  const std::string out = dir.path() + "/out.txt", err = dir.path() + "/err.txt";
  pid_t pid = SpawnRecsysTo({"demo", "--data-dir", data, "--users", "200", "--products", "60",
                             "--days", "4", "--quiet", "--listen", "127.0.0.1:0"},
                            out, err);
  ASSERT_GT(pid, 0);
  std::string text = WaitForText(out, "/recommendations?k=5'", 600, pid);
  ASSERT_FALSE(text.empty()) << "stdout:\n" << ReadOr(out) << "\nstderr:\n" << ReadOr(err);
  // The line: curl -s 'http://127.0.0.1:PORT/v1/users/<id>/recommendations?k=5'
  const size_t start = text.find("curl -s 'http://127.0.0.1:");
  ASSERT_NE(start, std::string::npos) << text;
  const size_t end = text.find('\'', start + 9);
  const std::string url = text.substr(start + 9, end - start - 9);
  const size_t path_at = url.find("/v1/");
  const int port = std::stoi(url.substr(17, path_at - 17));
  EXPECT_EQ(port, PortOf(text));
  HttpClient client("127.0.0.1", port);
  ASSERT_TRUE(WaitReady(&client, 120)) << ReadOr(err);
  auto r = client.Request("GET", url.substr(path_at));
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->status, 200) << r->body;
  EXPECT_EQ(ItemCount(r->body), 5u) << r->body;
  const std::string rec_id = Field(r->body, "rec_id");
  EXPECT_FALSE(rec_id.empty()) << r->body;

  // The loop closes through the demo's own server: a click on the list is taken (the log is the
  // demo's, already open in the same process) and attributed to the list's model.
  const std::string user =
      url.substr(url.find("/users/") + 7, url.find("/recommendations") - url.find("/users/") - 7);
  const std::string click = "{\"event_id\":\"click-" + rec_id +
                            "\",\"event_type\":\"recommendation_click\",\"event_time\":\"" +
                            FormatRfc3339Millis(SystemClock()->NowMillis()) +
                            "\",\"schema_version\":1,\"user_id\":\"" + user +
                            "\",\"session_id\":\"s-demo\",\"product_id\":\"p000001\","
                            "\"rec_id\":\"" +
                            rec_id + "\",\"position\":1}";
  auto posted = client.Request("POST", "/v1/events", click);
  ASSERT_TRUE(posted.ok()) << posted.status().ToString();
  EXPECT_EQ(posted->status, 202) << posted->body;
  auto analytics = client.Request("GET", "/v1/analytics/recommendations");
  ASSERT_TRUE(analytics.ok());
  EXPECT_NE(analytics->body.find("\"clicks\":1"), std::string::npos) << analytics->body;
  EXPECT_EQ(Terminate(pid), 0) << ReadOr(err);
  EXPECT_NE(ReadOr(out).find("recsys serve: stopped"), std::string::npos) << ReadOr(out);
}

TEST(ServeCommandTest, ANewVersionIsPickedUpWithoutAFailedRequest) {
  TempDir dir;
  const std::string data = dir.path() + "/data";
  CommandResult r = RunRecsys({"generate", "--data-dir", data, "--users", "300", "--products", "80",
                               "--days", "5", "--quiet"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  for (std::vector<std::string> step :
       {std::vector<std::string>{"sink", "--once"}, std::vector<std::string>{"process", "silver"},
        std::vector<std::string>{"process", "gold"},
        std::vector<std::string>{"train", "--threads", "1", "--models",
                                 "als:factors=8,iterations=3"}}) {
    step.insert(step.end(), {"--data-dir", data, "--quiet"});
    r = RunRecsys(step);
    ASSERT_EQ(r.exit_code, 0) << step[0] << ": " << r.err;
  }
  const std::string out = dir.path() + "/out.txt", err = dir.path() + "/err.txt";
  pid_t pid = SpawnRecsysTo({"serve", "--data-dir", data, "--listen", "127.0.0.1:0",
                             "--reload-interval-ms", "100", "--quiet"},
                            out, err);
  ASSERT_GT(pid, 0);
  const int port = PortOf(WaitForText(out, "listening on", 60, pid));
  ASSERT_GT(port, 0) << ReadOr(err);
  HttpClient probe("127.0.0.1", port);
  ASSERT_TRUE(WaitReady(&probe, 60)) << ReadOr(err);

  // Users of the model: the gold interactions' users, any of them.
  r = RunRecsys({"sql", "--data-dir", data, "--format", "csv",
                 "select user_id from interactions order by user_id limit 20"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::vector<std::string> users;
  for (std::string_view line : Lines(r.out)) {
    if (!line.empty() && line != "user_id") users.emplace_back(line);
  }
  ASSERT_FALSE(users.empty());

  std::atomic<bool> stop{false};
  std::atomic<int> ok{0}, failed{0};
  std::atomic<bool> saw_new{false};
  std::string first_failure;
  std::thread loop([&] {
    HttpClient client("127.0.0.1", port);
    for (size_t n = 0; !stop; ++n) {
      auto resp =
          client.Request("GET", "/v1/users/" + users[n % users.size()] + "/recommendations?k=5");
      if (resp.ok() && resp->status == 200 && ItemCount(resp->body) == 5) {
        ++ok;
        if (Field(resp->body, "model_version") == "v0002") saw_new = true;
      } else {
        if (failed++ == 0) {
          first_failure = resp.ok() ? std::to_string(resp->status) + " " + resp->body
                                    : resp.status().ToString();
        }
      }
    }
  });
  // The same spec on the same data: an equal metric, so v0002 becomes CURRENT.
  r = RunRecsys({"train", "--data-dir", data, "--quiet", "--threads", "1", "--models",
                 "als:factors=8,iterations=3"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto deadline = Clock::now() + std::chrono::seconds(60);
  while (!saw_new && Clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  stop = true;
  loop.join();
  EXPECT_TRUE(saw_new) << "v0002 was never served; stderr:\n" << ReadOr(err);
  EXPECT_EQ(failed.load(), 0) << first_failure;
  EXPECT_GT(ok.load(), 20);
  EXPECT_EQ(Terminate(pid), 0) << ReadOr(err);
}

TEST(ServeCommandTest, ABadListenAddressIsAnErrorNamingIt) {
  TempDir dir;
  CommandResult r =
      RunRecsys({"serve", "--data-dir", dir.path(), "--listen", "127.0.0.1:99999", "--quiet"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("127.0.0.1:99999"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace recsys::testing
