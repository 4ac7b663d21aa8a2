// Metrics in the Prometheus text exposition format (version 0.0.4): counters, gauges and
// histograms in labelled families, rendered by MetricsRegistry::Render for `GET /metrics`.
//
//   MetricsRegistry m;
//   CounterFamily* requests = m.AddCounter("recsys_http_requests_total", "HTTP requests",
//                                          {"route", "status"});
//   requests->WithLabels({"/v1/products", "200"})->Increment();
//
// Thread safety: every method may be called from several threads at once. Children returned by
// WithLabels live as long as the registry; callers on hot paths keep the pointer. Increment,
// Set and Observe are lock-free.
#pragma once

#include <atomic>
#include <cstdint>
#include <initializer_list>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace recsys {

class Counter {
 public:
  // REQUIRES: v >= 0.
  void Increment(double v = 1);
  double value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0};
};

class Gauge {
 public:
  void Set(double v) { value_.store(v, std::memory_order_relaxed); }
  void Add(double v);
  double value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0};
};

class Histogram {
 public:
  // bounds: the upper bounds of the buckets, ascending (the +Inf bucket is implicit).
  explicit Histogram(std::vector<double> bounds);
  void Observe(double v);
  const std::vector<double>& bounds() const { return bounds_; }
  // Cumulative count of observations <= bounds()[i]; i == bounds().size() is +Inf.
  uint64_t CumulativeCount(size_t i) const;
  // Observations in bucket i alone: bounds()[i-1] < v <= bounds()[i].
  uint64_t BucketCount(size_t i) const { return buckets_[i].load(std::memory_order_relaxed); }
  uint64_t count() const;
  double sum() const { return sum_.load(std::memory_order_relaxed); }

 private:
  std::vector<double> bounds_;
  std::unique_ptr<std::atomic<uint64_t>[]> buckets_;  // per bucket, not cumulative
  std::atomic<double> sum_{0};
};

// Latency buckets in seconds, 100 microseconds to 10 seconds.
std::vector<double> DefaultLatencyBuckets();

// A named family of metrics of one type with the same label names; one child per label values.
template <typename T>
class MetricFamily {
 public:
  // The child for these label values (one per label name, in order), created on first use.
  // REQUIRES: values.size() == label_names.size().
  T* WithLabels(std::initializer_list<std::string_view> values);
  T* WithLabels(const std::vector<std::string>& values);

 private:
  friend class MetricsRegistry;
  std::string name_, help_, type_;
  std::vector<std::string> label_names_;
  std::vector<double> bounds_;  // histograms only
  mutable std::mutex mu_;
  std::vector<std::pair<std::vector<std::string>, std::unique_ptr<T>>> children_;
  // The label values joined with '\xff' -> the child, so WithLabels is one hash lookup.
  std::unordered_map<std::string, T*> index_;

  template <typename Values>
  T* Find(const Values& values);
};

using CounterFamily = MetricFamily<Counter>;
using GaugeFamily = MetricFamily<Gauge>;
using HistogramFamily = MetricFamily<Histogram>;

class MetricsRegistry {
 public:
  // Names follow Prometheus rules ([a-zA-Z_:][a-zA-Z0-9_:]*); adding a name twice returns the
  // existing family. REQUIRES: the same type and label names as the first time.
  CounterFamily* AddCounter(std::string name, std::string help,
                            std::vector<std::string> label_names = {});
  GaugeFamily* AddGauge(std::string name, std::string help,
                        std::vector<std::string> label_names = {});
  HistogramFamily* AddHistogram(std::string name, std::string help,
                                std::vector<std::string> label_names = {},
                                std::vector<double> bounds = DefaultLatencyBuckets());

  // Every family in the order added, each with # HELP and # TYPE lines and its children in the
  // order created; label values escaped as the format requires (\\, \", \n); histograms as
  // _bucket{le="..."} (cumulative, le="+Inf" last), _sum and _count.
  std::string Render() const;

 private:
  template <typename T>
  MetricFamily<T>* AddFamily(std::vector<std::unique_ptr<MetricFamily<T>>>* families, int kind,
                             std::string name, std::string help, const char* type,
                             std::vector<std::string> label_names, std::vector<double> bounds);
  const std::string& NameAt(std::pair<int, size_t> entry) const;

  mutable std::mutex mu_;
  std::vector<std::unique_ptr<CounterFamily>> counters_;
  std::vector<std::unique_ptr<GaugeFamily>> gauges_;
  std::vector<std::unique_ptr<HistogramFamily>> histograms_;
  // Render order: (kind, index) as added.
  std::vector<std::pair<int, size_t>> order_;
};

}  // namespace recsys
