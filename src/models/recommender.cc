#include "models/recommender.h"

#include <algorithm>
#include <charconv>

#include "models/model_factories.h"

namespace recsys {
namespace {

using Factory = Result<std::unique_ptr<Recommender>> (*)(const ModelSpec&);

const std::map<std::string, Factory>& Factories() {
  static const auto* factories = new std::map<std::string, Factory>{
      {"als", MakeAls},
      {"bpr", MakeBpr},
      {"content", MakeContent},
      {"ease", MakeEase},
      {"hybrid", MakeHybrid},
      {"itemknn", MakeItemKnn},
      {"popularity", MakePopularity},
  };
  return *factories;
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && s.front() == ' ') s.remove_prefix(1);
  while (!s.empty() && s.back() == ' ') s.remove_suffix(1);
  return s;
}

}  // namespace

Result<ModelSpec> ParseModelSpec(std::string_view text) {
  ModelSpec spec;
  text = Trim(text);
  size_t colon = text.find(':');
  spec.name = std::string(Trim(text.substr(0, colon)));
  if (spec.name.empty())
    return Status::InvalidArgument("model spec '" + std::string(text) + "' has no name");
  if (colon == std::string_view::npos) return spec;
  std::string_view rest = text.substr(colon + 1);
  while (!rest.empty()) {
    size_t comma = rest.find(',');
    std::string_view pair = Trim(rest.substr(0, comma));
    rest = comma == std::string_view::npos ? std::string_view() : rest.substr(comma + 1);
    if (pair.empty()) continue;
    size_t eq = pair.find('=');
    if (eq == std::string_view::npos || eq == 0) {
      return Status::InvalidArgument("model spec " + spec.name + ": '" + std::string(pair) +
                                     "' is not key=value");
    }
    std::string key(Trim(pair.substr(0, eq)));
    if (spec.params.count(key)) {
      return Status::InvalidArgument("model spec " + spec.name + ": " + key + " given twice");
    }
    spec.params[key] = std::string(Trim(pair.substr(eq + 1)));
  }
  return spec;
}

Result<double> ModelSpec::Double(const std::string& key, double def, double min, double max) const {
  used_[key] = true;
  auto it = params.find(key);
  if (it == params.end()) return def;
  double v = 0;
  const std::string& s = it->second;
  auto r = std::from_chars(s.data(), s.data() + s.size(), v);
  if (s.empty() || r.ec != std::errc() || r.ptr != s.data() + s.size()) {
    return Status::InvalidArgument(name + ": " + key + "=" + s + " is not a number");
  }
  if (v < min || v > max) {
    return Status::InvalidArgument(name + ": " + key + "=" + s + " is out of range [" +
                                   std::to_string(min) + ", " + std::to_string(max) + "]");
  }
  return v;
}

Result<int64_t> ModelSpec::Int(const std::string& key, int64_t def, int64_t min,
                               int64_t max) const {
  used_[key] = true;
  auto it = params.find(key);
  if (it == params.end()) return def;
  int64_t v = 0;
  const std::string& s = it->second;
  auto r = std::from_chars(s.data(), s.data() + s.size(), v);
  if (s.empty() || r.ec != std::errc() || r.ptr != s.data() + s.size()) {
    return Status::InvalidArgument(name + ": " + key + "=" + s + " is not an integer");
  }
  if (v < min || v > max) {
    return Status::InvalidArgument(name + ": " + key + "=" + s + " is out of range [" +
                                   std::to_string(min) + ", " + std::to_string(max) + "]");
  }
  return v;
}

Result<std::string> ModelSpec::String(const std::string& key, const std::string& def,
                                      std::initializer_list<std::string_view> choices) const {
  used_[key] = true;
  auto it = params.find(key);
  if (it == params.end()) return def;
  for (std::string_view c : choices) {
    if (c == it->second) return it->second;
  }
  std::string list;
  for (std::string_view c : choices) list += (list.empty() ? "" : "|") + std::string(c);
  return Status::InvalidArgument(name + ": " + key + "=" + it->second + " is not one of " + list);
}

Result<std::string> ModelSpec::Text(const std::string& key, const std::string& def) const {
  used_[key] = true;
  auto it = params.find(key);
  return it == params.end() ? def : it->second;
}

Status ModelSpec::CheckAllUsed() const {
  for (const auto& [key, value] : params) {
    if (!used_.count(key)) {
      return Status::InvalidArgument(name + " has no parameter '" + key + "'");
    }
  }
  return Status::OK();
}

Result<std::unique_ptr<Recommender>> CreateRecommender(std::string_view text) {
  RECSYS_ASSIGN_OR_RETURN(ModelSpec spec, ParseModelSpec(text));
  auto it = Factories().find(spec.name);
  if (it == Factories().end()) {
    std::string names;
    for (const std::string& n : RecommenderNames()) names += (names.empty() ? "" : ", ") + n;
    return Status::InvalidArgument("unknown model '" + spec.name + "' (models: " + names + ")");
  }
  RECSYS_ASSIGN_OR_RETURN(std::unique_ptr<Recommender> model, it->second(spec));
  RECSYS_RETURN_IF_ERROR(spec.CheckAllUsed());
  return model;
}

std::vector<std::string> RecommenderNames() {
  std::vector<std::string> names;
  for (const auto& [name, factory] : Factories()) names.push_back(name);
  return names;
}

std::string FormatSpecDouble(double v) {
  char buf[32];
  auto r = std::to_chars(buf, buf + sizeof(buf), v);
  return std::string(buf, r.ptr);
}

void TopK(std::span<const float> scores, int k, std::span<const int32_t> excluded,
          const std::function<bool(int32_t)>& filter, std::vector<ItemScore>* out) {
  out->clear();
  if (k <= 0) return;
  // A min-heap of the best k so far: O(n log k), no copy of the score vector.
  auto worse = [](const ItemScore& a, const ItemScore& b) {
    return a.score > b.score || (a.score == b.score && a.item < b.item);
  };
  size_t next_excluded = 0;  // excluded is sorted (a CSR row)
  for (int32_t i = 0; i < static_cast<int32_t>(scores.size()); ++i) {
    while (next_excluded < excluded.size() && excluded[next_excluded] < i) ++next_excluded;
    if (next_excluded < excluded.size() && excluded[next_excluded] == i) continue;
    float s = scores[static_cast<size_t>(i)];
    if (static_cast<int>(out->size()) < k) {
      if (filter && !filter(i)) continue;
      out->push_back({i, s});
      std::push_heap(out->begin(), out->end(), worse);
    } else if (s > out->front().score) {
      if (filter && !filter(i)) continue;
      std::pop_heap(out->begin(), out->end(), worse);
      out->back() = {i, s};
      std::push_heap(out->begin(), out->end(), worse);
    }
  }
  std::sort_heap(out->begin(), out->end(), worse);
}

Status CheckRecommendInput(std::string_view model, std::span<const int32_t> users,
                           const CsrMatrix& history, int64_t items) {
  const std::string prefix = std::string(model) + ": ";
  if (history.cols != items) {
    return Status::InvalidArgument(prefix + "history has " + std::to_string(history.cols) +
                                   " items, the model " + std::to_string(items));
  }
  for (int32_t u : users) {
    if (u < 0 || u >= history.rows) {
      return Status::InvalidArgument(prefix + "user " + std::to_string(u) +
                                     " is not a row of the history (" +
                                     std::to_string(history.rows) + " rows)");
    }
  }
  return Status::OK();
}

}  // namespace recsys
