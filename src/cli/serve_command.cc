// recsys serve: the HTTP API (serve/api.h) over the lake's current models and gold, the event
// log for tracking, until SIGTERM or SIGINT, which stop it gracefully.
#include <signal.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <mutex>
#include <thread>

#include "cli/commands.h"
#include "core/clock.h"
#include "core/metrics.h"
#include "process/catalog.h"
#include "serve/api.h"
#include "serve/engine.h"
#include "serve/http_server.h"
#include "serve/live_events.h"

namespace recsys {
namespace {

volatile sig_atomic_t g_stop_signal = 0;

void OnStopSignal(int signal) { g_stop_signal = signal; }

void Print(const std::string& line) {
  std::fputs(line.c_str(), stdout);
  std::fflush(stdout);
}

// Loads the models at once, then looks for new versions every interval_ms (0: never) until
// stopped. Load errors are printed once per distinct message; serving goes on with what it has.
class Watcher {
 public:
  Watcher(Engine* engine, int interval_ms, bool quiet)
      : engine_(engine), interval_ms_(interval_ms), quiet_(quiet), thread_([this] { Run(); }) {}
  ~Watcher() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    thread_.join();
  }

 private:
  void Run() {
    std::string last_error;
    bool first = true;
    std::unique_lock<std::mutex> lock(mu_);
    while (!stop_) {
      lock.unlock();
      Result<bool> changed =
          first || !engine_->ready() ? engine_->Reload() : engine_->ReloadIfChanged();
      lock.lock();
      if (!changed.ok()) {
        if (changed.status().message() != last_error) {
          last_error = changed.status().message();
          std::fprintf(stderr, "recsys serve: %s\n", last_error.c_str());
        }
      } else if (*changed) {
        last_error.clear();
        if (!quiet_) {
          std::string line = "recsys serve: serving";
          for (const ServedModelInfo& m : engine_->Models()) {
            line += " " + m.name + " " + m.version + (m.ann ? " (HNSW)" : "") +
                    (m.is_default ? " [default]" : "");
          }
          Print(line + "\n");
        }
      }
      first = false;
      const int wait = interval_ms_ > 0 ? interval_ms_ : (engine_->ready() ? -1 : 2000);
      if (wait < 0) {
        cv_.wait(lock, [this] { return stop_; });
      } else {
        cv_.wait_for(lock, std::chrono::milliseconds(wait), [this] { return stop_; });
      }
    }
  }

  Engine* engine_;
  int interval_ms_;
  bool quiet_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  std::thread thread_;
};

}  // namespace

Status ServeStep(CommandContext& ctx, const std::string& hint, EventLog* open_log) {
  const Config& c = *ctx.config;
  RECSYS_ASSIGN_OR_RETURN(std::string root, LakeRoot(ctx));
  // The embedded log takes one writer per partition: a caller that has it open lends it.
  std::unique_ptr<EventLog> own_log;
  EventLog* log = open_log;
  if (log == nullptr) {
    RECSYS_ASSIGN_OR_RETURN(own_log, OpenLog(ctx));
    log = own_log.get();
  }

  // Fresh interactions are the events after gold's as_of: those before are in the models' data.
  LiveEventsOptions live_options;
  live_options.weight_view = c.GetDouble("process.weight_view");
  live_options.weight_click = c.GetDouble("process.weight_click");
  live_options.weight_cart = c.GetDouble("process.weight_cart");
  live_options.weight_purchase = c.GetDouble("process.weight_purchase");
  if (auto gold = ReadGoldCurrent(root); gold.ok() && !gold->as_of.empty()) {
    if (auto t = ParseRfc3339(gold->as_of)) live_options.since_ms = *t;
  }
  LiveEvents live(log, live_options);
  RECSYS_RETURN_IF_ERROR(live.Start());

  EngineOptions engine_options;
  engine_options.lake_root = root;
  engine_options.model = c.GetString("serve.model");
  engine_options.metric = c.GetString("train.metric");
  engine_options.ann_min_items = c.GetInt("serve.ann_min_items");
  engine_options.hnsw_m = static_cast<int>(c.GetInt("serve.hnsw_m"));
  engine_options.hnsw_ef_construction = static_cast<int>(c.GetInt("serve.hnsw_ef_construction"));
  engine_options.hnsw_ef_search = static_cast<int>(c.GetInt("serve.hnsw_ef_search"));
  engine_options.fold_in_cache = static_cast<size_t>(c.GetInt("serve.fold_in_cache"));
  engine_options.candidate_cache_items = c.GetInt("serve.candidate_cache_items");
  Engine engine(engine_options, &live);

  MetricsRegistry metrics;
  ApiOptions api_options;
  api_options.admin_token = c.GetString("serve.admin_token");
  api_options.max_batch_events = static_cast<size_t>(c.GetInt("serve.max_batch_events"));
  api_options.lake_root = root;
  Api api(api_options, &engine, &live, log, &metrics);

  HttpServerOptions http;
  http.listen = c.GetString("serve.listen");
  http.threads = static_cast<int>(c.GetInt("serve.threads"));
  http.max_body_bytes = static_cast<size_t>(c.GetInt("serve.max_body_bytes"));
  http.max_header_bytes = static_cast<size_t>(c.GetInt("serve.max_header_bytes"));
  http.idle_timeout_ms = static_cast<int>(c.GetInt("serve.idle_timeout_ms"));
  http.request_timeout_ms = static_cast<int>(c.GetInt("serve.request_timeout_ms"));
  http.shutdown_grace_ms = static_cast<int>(c.GetInt("serve.shutdown_grace_ms"));
  HttpServer server(http, [&api](const HttpRequest& request, HttpResponse* response) {
    api.Handle(request, response);
  });

  struct sigaction action = {};
  action.sa_handler = OnStopSignal;
  sigemptyset(&action.sa_mask);
  sigaction(SIGTERM, &action, nullptr);
  sigaction(SIGINT, &action, nullptr);
  g_stop_signal = 0;

  RECSYS_RETURN_IF_ERROR(server.Start());
  const std::string host = http.listen.substr(0, http.listen.rfind(':'));
  const std::string base = "http://" + host + ":" + std::to_string(server.port());
  Print("recsys serve: listening on " + base + " (lake " + root + ")\n");
  if (!hint.empty()) {
    std::string text = hint;
    for (size_t at = text.find("{base}"); at != std::string::npos; at = text.find("{base}")) {
      text.replace(at, 6, base);
    }
    Print(text);
  }
  {
    Watcher watcher(&engine, static_cast<int>(c.GetInt("serve.reload_interval_ms")), ctx.quiet());
    while (g_stop_signal == 0) std::this_thread::sleep_for(std::chrono::milliseconds(50));
    Print("recsys serve: stopping (finishing requests in flight)\n");
    server.Stop();
  }
  live.Stop();
  Print("recsys serve: stopped after " + std::to_string(server.requests()) + " requests\n");
  return Status::OK();
}

Status RunServe(CommandContext& ctx) {
  if (!ctx.args.empty()) return Status::InvalidArgument("unexpected argument " + ctx.args[0]);
  return ServeStep(ctx, "", nullptr);
}

}  // namespace recsys
