#include "core/metrics.h"

#include <algorithm>
#include <cassert>
#include <charconv>
#include <cmath>
#include <cstdio>

namespace recsys {

namespace {

// Numbers as Prometheus clients print them: integral values as integers ("12"), others in the
// shortest form that reads back exactly ("0.0001", "2.5", "1e-07"), and +Inf, -Inf, NaN.
void AppendNumber(double v, std::string* out) {
  if (std::isnan(v)) {
    out->append("NaN");
    return;
  }
  if (std::isinf(v)) {
    out->append(v > 0 ? "+Inf" : "-Inf");
    return;
  }
  char buf[64];
  if (v == std::trunc(v) && std::fabs(v) < 1e15) {
    int n = std::snprintf(buf, sizeof(buf), "%lld", static_cast<long long>(v));
    out->append(buf, static_cast<size_t>(n));
    return;
  }
  auto r = std::to_chars(buf, buf + sizeof(buf), v, std::chars_format::general);
  out->append(buf, r.ptr);
}

void AppendEscaped(std::string_view s, bool escape_quote, std::string* out) {
  for (char c : s) {
    switch (c) {
      case '\\':
        out->append("\\\\");
        break;
      case '\n':
        out->append("\\n");
        break;
      case '"':
        if (escape_quote) {
          out->append("\\\"");
        } else {
          out->push_back(c);
        }
        break;
      default:
        out->push_back(c);
    }
  }
}

// `name{a="x",b="y"` with the braces left open when extra labels follow (histogram le).
void AppendSeries(std::string_view name, std::string_view suffix,
                  const std::vector<std::string>& label_names,
                  const std::vector<std::string>& values, std::string_view le, std::string* out) {
  out->append(name);
  out->append(suffix);
  if (label_names.empty() && le.empty()) return;
  out->push_back('{');
  for (size_t i = 0; i < label_names.size(); ++i) {
    if (i > 0) out->push_back(',');
    out->append(label_names[i]);
    out->append("=\"");
    AppendEscaped(values[i], /*escape_quote=*/true, out);
    out->push_back('"');
  }
  if (!le.empty()) {
    if (!label_names.empty()) out->push_back(',');
    out->append("le=\"");
    out->append(le);
    out->push_back('"');
  }
  out->push_back('}');
}

void AppendHeader(std::string_view name, std::string_view help, std::string_view type,
                  std::string* out) {
  out->append("# HELP ");
  out->append(name);
  out->push_back(' ');
  AppendEscaped(help, /*escape_quote=*/false, out);
  out->append("\n# TYPE ");
  out->append(name);
  out->push_back(' ');
  out->append(type);
  out->push_back('\n');
}

void AtomicAdd(std::atomic<double>* a, double v) {
  double cur = a->load(std::memory_order_relaxed);
  while (!a->compare_exchange_weak(cur, cur + v, std::memory_order_relaxed)) {
  }
}

template <typename Values>
std::string JoinKey(const Values& values) {
  std::string key;
  for (const auto& v : values) {
    key.append(v.data(), v.size());
    key.push_back('\xff');
  }
  return key;
}

}  // namespace

void Counter::Increment(double v) {
  assert(v >= 0);
  AtomicAdd(&value_, v);
}

void Gauge::Add(double v) { AtomicAdd(&value_, v); }

Histogram::Histogram(std::vector<double> bounds)
    : bounds_(std::move(bounds)), buckets_(new std::atomic<uint64_t>[bounds_.size() + 1]) {
  assert(std::is_sorted(bounds_.begin(), bounds_.end()));
  for (size_t i = 0; i <= bounds_.size(); ++i) buckets_[i].store(0, std::memory_order_relaxed);
}

void Histogram::Observe(double v) {
  // The first bucket whose bound is >= v ("le"); NaN lands in +Inf.
  size_t i =
      static_cast<size_t>(std::lower_bound(bounds_.begin(), bounds_.end(), v) - bounds_.begin());
  buckets_[i].fetch_add(1, std::memory_order_relaxed);
  AtomicAdd(&sum_, v);
}

uint64_t Histogram::CumulativeCount(size_t i) const {
  assert(i <= bounds_.size());
  uint64_t n = 0;
  for (size_t j = 0; j <= i; ++j) n += buckets_[j].load(std::memory_order_relaxed);
  return n;
}

uint64_t Histogram::count() const { return CumulativeCount(bounds_.size()); }

std::vector<double> DefaultLatencyBuckets() {
  return {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
          0.05,   0.1,     0.25,   0.5,   1,      2.5,   5,    10};
}

template <typename T>
template <typename Values>
T* MetricFamily<T>::Find(const Values& values) {
  assert(values.size() == label_names_.size());
  std::string key = JoinKey(values);
  std::lock_guard<std::mutex> lock(mu_);
  auto it = index_.find(key);
  if (it != index_.end()) return it->second;
  std::unique_ptr<T> child;
  if constexpr (std::is_same_v<T, Histogram>) {
    child = std::make_unique<Histogram>(bounds_);
  } else {
    child = std::make_unique<T>();
  }
  T* raw = child.get();
  std::vector<std::string> copy;
  copy.reserve(values.size());
  for (const auto& v : values) copy.emplace_back(v.data(), v.size());
  children_.emplace_back(std::move(copy), std::move(child));
  index_.emplace(std::move(key), raw);
  return raw;
}

template <typename T>
T* MetricFamily<T>::WithLabels(std::initializer_list<std::string_view> values) {
  return Find(values);
}

template <typename T>
T* MetricFamily<T>::WithLabels(const std::vector<std::string>& values) {
  return Find(values);
}

template class MetricFamily<Counter>;
template class MetricFamily<Gauge>;
template class MetricFamily<Histogram>;

namespace {
enum Kind { kCounter = 0, kGauge = 1, kHistogram = 2 };
}  // namespace

const std::string& MetricsRegistry::NameAt(std::pair<int, size_t> entry) const {
  switch (entry.first) {
    case kCounter:
      return counters_[entry.second]->name_;
    case kGauge:
      return gauges_[entry.second]->name_;
    default:
      return histograms_[entry.second]->name_;
  }
}

template <typename T>
MetricFamily<T>* MetricsRegistry::AddFamily(std::vector<std::unique_ptr<MetricFamily<T>>>* families,
                                            int kind, std::string name, std::string help,
                                            const char* type, std::vector<std::string> label_names,
                                            std::vector<double> bounds) {
  std::lock_guard<std::mutex> lock(mu_);
  for (const auto& entry : order_) {
    if (NameAt(entry) != name) continue;
    assert(entry.first == kind && "metric added twice with different types");
    if (entry.first != kind) continue;
    MetricFamily<T>* f = (*families)[entry.second].get();
    assert(f->label_names_ == label_names && "metric added twice with different labels");
    return f;
  }
  auto f = std::make_unique<MetricFamily<T>>();
  f->name_ = std::move(name);
  f->help_ = std::move(help);
  f->type_ = type;
  f->label_names_ = std::move(label_names);
  f->bounds_ = std::move(bounds);
  MetricFamily<T>* raw = f.get();
  families->push_back(std::move(f));
  order_.emplace_back(kind, families->size() - 1);
  // A family without labels has exactly one series; it exists (at zero) from the start.
  if (raw->label_names_.empty()) raw->WithLabels(std::vector<std::string>{});
  return raw;
}

CounterFamily* MetricsRegistry::AddCounter(std::string name, std::string help,
                                           std::vector<std::string> label_names) {
  return AddFamily(&counters_, kCounter, std::move(name), std::move(help), "counter",
                   std::move(label_names), {});
}

GaugeFamily* MetricsRegistry::AddGauge(std::string name, std::string help,
                                       std::vector<std::string> label_names) {
  return AddFamily(&gauges_, kGauge, std::move(name), std::move(help), "gauge",
                   std::move(label_names), {});
}

HistogramFamily* MetricsRegistry::AddHistogram(std::string name, std::string help,
                                               std::vector<std::string> label_names,
                                               std::vector<double> bounds) {
  return AddFamily(&histograms_, kHistogram, std::move(name), std::move(help), "histogram",
                   std::move(label_names), std::move(bounds));
}

namespace {

template <typename T>
void RenderFamily(
    const std::string& name, const std::string& help, const std::string& type,
    const std::vector<std::string>& label_names, std::mutex* mu,
    const std::vector<std::pair<std::vector<std::string>, std::unique_ptr<T>>>& children,
    std::string* out) {
  AppendHeader(name, help, type, out);
  std::lock_guard<std::mutex> lock(*mu);
  for (const auto& [values, child] : children) {
    if constexpr (std::is_same_v<T, Histogram>) {
      const std::vector<double>& bounds = child->bounds();
      uint64_t cumulative = 0;
      std::string le;
      for (size_t i = 0; i <= bounds.size(); ++i) {
        // Summed here from one read of each bucket so that the series is monotonic and
        // _count equals the +Inf bucket even while other threads observe.
        cumulative += child->BucketCount(i);
        le.clear();
        if (i == bounds.size()) {
          le = "+Inf";
        } else {
          AppendNumber(bounds[i], &le);
        }
        AppendSeries(name, "_bucket", label_names, values, le, out);
        out->push_back(' ');
        AppendNumber(static_cast<double>(cumulative), out);
        out->push_back('\n');
      }
      AppendSeries(name, "_sum", label_names, values, {}, out);
      out->push_back(' ');
      AppendNumber(child->sum(), out);
      out->push_back('\n');
      AppendSeries(name, "_count", label_names, values, {}, out);
      out->push_back(' ');
      AppendNumber(static_cast<double>(cumulative), out);
      out->push_back('\n');
    } else {
      AppendSeries(name, {}, label_names, values, {}, out);
      out->push_back(' ');
      AppendNumber(child->value(), out);
      out->push_back('\n');
    }
  }
}

}  // namespace

std::string MetricsRegistry::Render() const {
  std::string out;
  std::lock_guard<std::mutex> lock(mu_);
  for (const auto& [kind, i] : order_) {
    switch (kind) {
      case kCounter: {
        const CounterFamily& f = *counters_[i];
        RenderFamily(f.name_, f.help_, f.type_, f.label_names_, &f.mu_, f.children_, &out);
        break;
      }
      case kGauge: {
        const GaugeFamily& f = *gauges_[i];
        RenderFamily(f.name_, f.help_, f.type_, f.label_names_, &f.mu_, f.children_, &out);
        break;
      }
      default: {
        const HistogramFamily& f = *histograms_[i];
        RenderFamily(f.name_, f.help_, f.type_, f.label_names_, &f.mu_, f.children_, &out);
        break;
      }
    }
  }
  return out;
}

}  // namespace recsys
