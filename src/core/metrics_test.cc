#include "core/metrics.h"

#include <gtest/gtest.h>

#include <limits>
#include <string>
#include <thread>
#include <vector>

namespace recsys {
namespace {

TEST(MetricsTest, RenderSmallRegistryExactly) {
  MetricsRegistry m;
  CounterFamily* requests =
      m.AddCounter("recsys_http_requests_total", "HTTP requests answered", {"route", "status"});
  GaugeFamily* up = m.AddGauge("recsys_up", "1 while serving");
  HistogramFamily* latency = m.AddHistogram("recsys_http_latency_seconds", "Request latency",
                                            {"route"}, {0.0001, 0.005, 0.25, 1});
  requests->WithLabels({"/v1/products", "200"})->Increment();
  requests->WithLabels({"/v1/products", "200"})->Increment(11);
  requests->WithLabels({"/v1/users", "404"})->Increment(0.5);
  up->WithLabels({})->Set(1);
  Histogram* h = latency->WithLabels({"/v1/products"});
  h->Observe(0.00005);
  h->Observe(0.005);  // on a bound: counted in that bucket ("le")
  h->Observe(0.1);
  h->Observe(3);

  EXPECT_EQ(m.Render(),
            "# HELP recsys_http_requests_total HTTP requests answered\n"
            "# TYPE recsys_http_requests_total counter\n"
            "recsys_http_requests_total{route=\"/v1/products\",status=\"200\"} 12\n"
            "recsys_http_requests_total{route=\"/v1/users\",status=\"404\"} 0.5\n"
            "# HELP recsys_up 1 while serving\n"
            "# TYPE recsys_up gauge\n"
            "recsys_up 1\n"
            "# HELP recsys_http_latency_seconds Request latency\n"
            "# TYPE recsys_http_latency_seconds histogram\n"
            "recsys_http_latency_seconds_bucket{route=\"/v1/products\",le=\"0.0001\"} 1\n"
            "recsys_http_latency_seconds_bucket{route=\"/v1/products\",le=\"0.005\"} 2\n"
            "recsys_http_latency_seconds_bucket{route=\"/v1/products\",le=\"0.25\"} 3\n"
            "recsys_http_latency_seconds_bucket{route=\"/v1/products\",le=\"1\"} 3\n"
            "recsys_http_latency_seconds_bucket{route=\"/v1/products\",le=\"+Inf\"} 4\n"
            "recsys_http_latency_seconds_sum{route=\"/v1/products\"} 3.10505\n"
            "recsys_http_latency_seconds_count{route=\"/v1/products\"} 4\n");
}

TEST(MetricsTest, UnlabelledSeriesExistAtZeroAndHistogramWithoutLabels) {
  MetricsRegistry m;
  m.AddCounter("c_total", "a counter");
  m.AddHistogram("h_seconds", "a histogram", {}, {1, 2.5});
  EXPECT_EQ(m.Render(),
            "# HELP c_total a counter\n"
            "# TYPE c_total counter\n"
            "c_total 0\n"
            "# HELP h_seconds a histogram\n"
            "# TYPE h_seconds histogram\n"
            "h_seconds_bucket{le=\"1\"} 0\n"
            "h_seconds_bucket{le=\"2.5\"} 0\n"
            "h_seconds_bucket{le=\"+Inf\"} 0\n"
            "h_seconds_sum 0\n"
            "h_seconds_count 0\n");
}

TEST(MetricsTest, LabelledFamilyWithoutChildrenHasOnlyHelpAndType) {
  MetricsRegistry m;
  m.AddGauge("g", "a gauge", {"shard"});
  EXPECT_EQ(m.Render(), "# HELP g a gauge\n# TYPE g gauge\n");
}

TEST(MetricsTest, EscapesLabelValuesAndHelp) {
  MetricsRegistry m;
  CounterFamily* c = m.AddCounter("c_total", "help with \\ and\nnewline \"quoted\"", {"path"});
  c->WithLabels({"a\"b\\c\nd"})->Increment();
  EXPECT_EQ(m.Render(),
            "# HELP c_total help with \\\\ and\\nnewline \"quoted\"\n"
            "# TYPE c_total counter\n"
            "c_total{path=\"a\\\"b\\\\c\\nd\"} 1\n");
}

TEST(MetricsTest, NumberFormatting) {
  MetricsRegistry m;
  GaugeFamily* g = m.AddGauge("g", "h", {"k"});
  g->WithLabels({"big"})->Set(123456789012);
  g->WithLabels({"neg"})->Set(-3);
  g->WithLabels({"frac"})->Set(0.125);
  g->WithLabels({"tiny"})->Set(1e-7);
  g->WithLabels({"inf"})->Set(std::numeric_limits<double>::infinity());
  g->WithLabels({"nan"})->Set(std::numeric_limits<double>::quiet_NaN());
  EXPECT_EQ(m.Render(),
            "# HELP g h\n# TYPE g gauge\n"
            "g{k=\"big\"} 123456789012\n"
            "g{k=\"neg\"} -3\n"
            "g{k=\"frac\"} 0.125\n"
            "g{k=\"tiny\"} 1e-07\n"
            "g{k=\"inf\"} +Inf\n"
            "g{k=\"nan\"} NaN\n");
}

TEST(MetricsTest, DefaultLatencyBucketsRender) {
  MetricsRegistry m;
  m.AddHistogram("h", "h");
  std::string out = m.Render();
  EXPECT_NE(out.find("h_bucket{le=\"0.0001\"} 0\n"), std::string::npos) << out;
  EXPECT_NE(out.find("h_bucket{le=\"0.00025\"} 0\n"), std::string::npos) << out;
  EXPECT_NE(out.find("h_bucket{le=\"10\"} 0\nh_bucket{le=\"+Inf\"} 0\n"), std::string::npos) << out;
}

TEST(MetricsTest, AddingTwiceReturnsTheSameFamilyAndWithLabelsTheSameChild) {
  MetricsRegistry m;
  CounterFamily* a = m.AddCounter("x_total", "x", {"k"});
  CounterFamily* b = m.AddCounter("x_total", "x", {"k"});
  EXPECT_EQ(a, b);
  Counter* c1 = a->WithLabels({"v"});
  Counter* c2 = a->WithLabels(std::vector<std::string>{"v"});
  EXPECT_EQ(c1, c2);
  EXPECT_NE(c1, a->WithLabels({"w"}));
}

TEST(MetricsTest, ConcurrentIncrementsObservationsAndRendersAddUp) {
  MetricsRegistry m;
  CounterFamily* c = m.AddCounter("c_total", "c", {"thread_mod"});
  HistogramFamily* h = m.AddHistogram("h", "h", {}, {0.5});
  GaugeFamily* g = m.AddGauge("g", "g");
  constexpr int kThreads = 8;
  constexpr int kPerThread = 20000;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      Counter* mine = c->WithLabels({std::to_string(t % 2)});
      for (int i = 0; i < kPerThread; ++i) {
        mine->Increment();
        c->WithLabels({"shared"})->Increment(2);
        h->WithLabels({})->Observe(i % 2 == 0 ? 0.25 : 1.0);
        g->WithLabels({})->Add(1);
        if (i % 5000 == 0) m.Render();  // rendering while others write must be safe
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(c->WithLabels({"0"})->value(), kThreads / 2 * kPerThread);
  EXPECT_EQ(c->WithLabels({"1"})->value(), kThreads / 2 * kPerThread);
  EXPECT_EQ(c->WithLabels({"shared"})->value(), 2.0 * kThreads * kPerThread);
  Histogram* hist = h->WithLabels({});
  EXPECT_EQ(hist->count(), uint64_t{kThreads} * kPerThread);
  EXPECT_EQ(hist->CumulativeCount(0), uint64_t{kThreads} * kPerThread / 2);
  EXPECT_DOUBLE_EQ(hist->sum(), kThreads * kPerThread / 2 * 1.25);
  EXPECT_EQ(g->WithLabels({})->value(), kThreads * kPerThread);
  std::string out = m.Render();
  EXPECT_NE(out.find("c_total{thread_mod=\"shared\"} 320000\n"), std::string::npos) << out;
  EXPECT_NE(out.find("h_count 160000\n"), std::string::npos) << out;
}

}  // namespace
}  // namespace recsys
