#include "models/hybrid.h"

#include <algorithm>
#include <cstdio>
#include <limits>
#include <sstream>
#include <unordered_map>
#include <utility>

#include "core/files.h"
#include "models/artifact.h"
#include "models/model_factories.h"

namespace recsys {
namespace {

std::string FormatNumber(double v) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.17g", v);
  double back = 0;
  // The shortest of %g's precisions that reads back as v keeps specs readable ("0.5").
  for (int precision = 1; precision <= 17; ++precision) {
    char shorter[32];
    std::snprintf(shorter, sizeof(shorter), "%.*g", precision, v);
    if (std::sscanf(shorter, "%lf", &back) == 1 && back == v) return shorter;
  }
  return buf;
}

std::vector<std::string> SplitPlus(const std::string& s) {
  std::vector<std::string> out;
  size_t start = 0;
  while (true) {
    size_t plus = s.find('+', start);
    out.push_back(s.substr(start, plus == std::string::npos ? std::string::npos : plus - start));
    if (plus == std::string::npos) return out;
    start = plus + 1;
  }
}

// Min-max normalises a candidate list's scores into `blend` with `weight`.
void AddNormalised(const std::vector<ItemScore>& list, double weight,
                   std::unordered_map<int32_t, double>* blend) {
  if (list.empty()) return;
  float lo = list.front().score, hi = list.front().score;
  for (const ItemScore& s : list) {
    lo = std::min(lo, s.score);
    hi = std::max(hi, s.score);
  }
  for (const ItemScore& s : list) {
    // Into [kFloor, 1]: being a candidate counts, and a boost lifts even the weakest one.
    constexpr double kFloor = 0.01;
    const double norm =
        hi > lo ? kFloor + (1 - kFloor) * (double{s.score} - lo) / (double{hi} - lo) : 1.0;
    (*blend)[s.item] += weight * norm;
  }
}

// The best k of a blend, best first, ties by lower item index.
std::vector<ItemScore> BestOf(const std::unordered_map<int32_t, double>& blend, int k) {
  std::vector<ItemScore> out;
  out.reserve(blend.size());
  for (const auto& [item, score] : blend) out.push_back({item, static_cast<float>(score)});
  auto better = [](const ItemScore& a, const ItemScore& b) {
    return a.score > b.score || (a.score == b.score && a.item < b.item);
  };
  const size_t keep = std::min(out.size(), static_cast<size_t>(std::max(k, 0)));
  std::partial_sort(out.begin(), out.begin() + static_cast<int64_t>(keep), out.end(), better);
  out.resize(keep);
  return out;
}

}  // namespace

HybridRecommender::HybridRecommender(HybridParams params,
                                     std::vector<std::unique_ptr<Recommender>> components)
    : p_(std::move(params)), components_(std::move(components)) {}

std::string HybridRecommender::spec() const {
  std::string models, weights;
  for (size_t i = 0; i < p_.models.size(); ++i) {
    models += (i ? "+" : "") + p_.models[i];
    weights += (i ? "+" : "") + FormatNumber(p_.weights[i]);
  }
  return "hybrid:models=" + models + ",weights=" + weights +
         ",exclude_unavailable=" + (p_.exclude_unavailable ? "true" : "false") +
         ",boost_new_days=" + FormatNumber(p_.boost_new_days) + ",boost=" + FormatNumber(p_.boost);
}

Status HybridRecommender::Fit(const CsrMatrix& user_items, const FitOptions& options) {
  fitted_ = false;
  for (size_t i = 0; i < components_.size(); ++i) {
    Status st = components_[i]->Fit(user_items, options);
    if (!st.ok()) return st.WithContext("hybrid component " + p_.models[i]);
  }
  items_ = user_items.cols;
  available_.clear();
  multiplier_.clear();
  category_.clear();
  category_names_.clear();
  const ItemSideData* side = options.side;
  const size_t n = static_cast<size_t>(items_);
  if (side != nullptr) {
    if (p_.exclude_unavailable && side->available.size() == n) {
      available_.assign(side->available.begin(), side->available.end());
    }
    if (p_.boost_new_days > 0 && side->created_ms.size() == n) {
      int64_t now = side->now_ms;
      if (now == 0) now = *std::max_element(side->created_ms.begin(), side->created_ms.end());
      const double window_ms = p_.boost_new_days * 86'400'000.0;
      multiplier_.assign(n, 1.0f);
      for (size_t i = 0; i < n; ++i) {
        const int64_t created = side->created_ms[i];
        if (created > 0 && static_cast<double>(now - created) <= window_ms) {
          multiplier_[i] = static_cast<float>(p_.boost);
        }
      }
    }
    if (side->category.size() == n) {
      category_ = side->category;
      category_names_ = side->category_names;
    }
  }
  fitted_ = true;
  return Status::OK();
}

Status HybridRecommender::Recommend(std::span<const int32_t> users, const CsrMatrix& history, int k,
                                    const RecommendOptions& options,
                                    std::vector<std::vector<ItemScore>>* out) const {
  if (!fitted_) return Status::InvalidArgument("hybrid: Recommend before Fit or Load");
  if (history.cols != items_) {
    return Status::InvalidArgument("hybrid: history has " + std::to_string(history.cols) +
                                   " items, the model " + std::to_string(items_));
  }
  if (!options.blend_weights.empty() && options.blend_weights.size() != p_.weights.size()) {
    return Status::InvalidArgument("hybrid: " + std::to_string(options.blend_weights.size()) +
                                   " blend weights given for " + std::to_string(p_.weights.size()) +
                                   " components");
  }
  const std::vector<double>& weights =
      options.blend_weights.empty() ? p_.weights : options.blend_weights;
  RecommendOptions inner = options;
  inner.blend_weights.clear();
  if (!available_.empty()) {
    inner.item_filter = [this, &options](int32_t item) {
      return available_[static_cast<size_t>(item)] != 0 &&
             (!options.item_filter || options.item_filter(item));
    };
  }
  const int candidates = std::min(std::max(4 * k, 100), std::max(items_, 1));
  std::vector<std::unordered_map<int32_t, double>> blends(users.size());
  std::vector<std::vector<ItemScore>> lists;
  for (size_t c = 0; c < components_.size(); ++c) {
    if (weights[c] == 0) continue;
    Status st = components_[c]->Recommend(users, history, candidates, inner, &lists);
    if (!st.ok()) return st.WithContext("hybrid component " + p_.models[c]);
    for (size_t n = 0; n < users.size(); ++n) AddNormalised(lists[n], weights[c], &blends[n]);
  }
  out->assign(users.size(), {});
  for (size_t n = 0; n < users.size(); ++n) {
    if (!multiplier_.empty()) {
      for (auto& [item, score] : blends[n]) score *= multiplier_[static_cast<size_t>(item)];
    }
    (*out)[n] = BestOf(blends[n], k);
  }
  return Status::OK();
}

Status HybridRecommender::SimilarItems(std::span<const int32_t> items, int k,
                                       std::vector<std::vector<ItemScore>>* out) const {
  if (!fitted_) return Status::InvalidArgument("hybrid: SimilarItems before Fit or Load");
  const int candidates = std::min(std::max(4 * k, 100), std::max(items_, 1));
  std::vector<std::unordered_map<int32_t, double>> blends(items.size());
  std::vector<std::vector<ItemScore>> lists;
  for (size_t c = 0; c < components_.size(); ++c) {
    if (p_.weights[c] == 0) continue;
    Status st = components_[c]->SimilarItems(items, candidates, &lists);
    if (!st.ok()) return st.WithContext("hybrid component " + p_.models[c]);
    for (size_t n = 0; n < items.size(); ++n) AddNormalised(lists[n], p_.weights[c], &blends[n]);
  }
  out->assign(items.size(), {});
  for (size_t n = 0; n < items.size(); ++n) {
    blends[n].erase(items[n]);
    (*out)[n] = BestOf(blends[n], k);
  }
  return Status::OK();
}

Status HybridRecommender::Save(const std::string& dir) const {
  if (!fitted_) return Status::InvalidArgument("hybrid: Save before Fit or Load");
  RECSYS_RETURN_IF_ERROR(WriteModelSpec(dir, spec()));
  RECSYS_RETURN_IF_ERROR(WriteArray(dir + "/item_count.i64", DenseArray<int64_t>{1, 1, {items_}}));
  RECSYS_RETURN_IF_ERROR(
      WriteArray(dir + "/item_available.i32",
                 DenseArray<int32_t>{static_cast<int64_t>(available_.size()), 1, available_}));
  RECSYS_RETURN_IF_ERROR(
      WriteArray(dir + "/item_multiplier.f32",
                 DenseArray<float>{static_cast<int64_t>(multiplier_.size()), 1, multiplier_}));
  RECSYS_RETURN_IF_ERROR(
      WriteArray(dir + "/item_category.i32",
                 DenseArray<int32_t>{static_cast<int64_t>(category_.size()), 1, category_}));
  std::string names;
  for (const std::string& name : category_names_) names += name + "\n";
  RECSYS_RETURN_IF_ERROR(WriteFileAtomic(dir + "/categories.txt", names));
  for (size_t c = 0; c < components_.size(); ++c) {
    RECSYS_RETURN_IF_ERROR(
        components_[c]->Save(dir + "/component-" + std::to_string(c) + "-" + p_.models[c]));
  }
  return Status::OK();
}

Status HybridRecommender::Load(const std::string& dir) {
  RECSYS_RETURN_IF_ERROR(CheckModelSpec(dir, spec()));
  RECSYS_ASSIGN_OR_RETURN(DenseArray<int64_t> count, ReadInt64Array(dir + "/item_count.i64"));
  RECSYS_ASSIGN_OR_RETURN(DenseArray<int32_t> available,
                          ReadInt32Array(dir + "/item_available.i32"));
  RECSYS_ASSIGN_OR_RETURN(DenseArray<float> multiplier,
                          ReadFloatArray(dir + "/item_multiplier.f32"));
  RECSYS_ASSIGN_OR_RETURN(DenseArray<int32_t> category, ReadInt32Array(dir + "/item_category.i32"));
  RECSYS_ASSIGN_OR_RETURN(std::string names, ReadFile(dir + "/categories.txt"));
  if (count.values.size() != 1 || count.values[0] < 0 || count.values[0] > INT32_MAX) {
    return Status::Corruption(dir + "/item_count.i64: not one item count");
  }
  const size_t n = static_cast<size_t>(count.values[0]);
  std::vector<std::string> category_names;
  std::stringstream ss(names);
  for (std::string line; std::getline(ss, line);) category_names.push_back(line);
  bool valid = (available.values.empty() || available.values.size() == n) &&
               (multiplier.values.empty() || multiplier.values.size() == n) &&
               (category.values.empty() || category.values.size() == n);
  for (int32_t c : category.values) {
    valid = valid && c >= -1 && c < static_cast<int32_t>(category_names.size());
  }
  if (!valid) return Status::Corruption(dir + ": item rules do not match the item count");
  for (size_t c = 0; c < components_.size(); ++c) {
    RECSYS_RETURN_IF_ERROR(
        components_[c]->Load(dir + "/component-" + std::to_string(c) + "-" + p_.models[c]));
  }
  items_ = static_cast<int32_t>(n);
  available_ = std::move(available.values);
  multiplier_ = std::move(multiplier.values);
  category_ = std::move(category.values);
  category_names_ = std::move(category_names);
  fitted_ = true;
  return Status::OK();
}

Status HybridRecommender::Explain(int32_t user, const CsrMatrix& history,
                                  std::span<const int32_t> items,
                                  const std::function<std::string(int32_t)>& item_name,
                                  std::vector<std::string>* out) const {
  if (!fitted_) return Status::InvalidArgument("hybrid: Explain before Fit or Load");
  if (user < 0 || user >= history.rows) {
    return Status::InvalidArgument("hybrid: user " + std::to_string(user) +
                                   " is not a row of the history (" + std::to_string(history.rows) +
                                   " rows)");
  }
  auto name_of = [&](int32_t item) {
    return item_name ? item_name(item) : "item " + std::to_string(item);
  };
  // The similarity-based components' neighbours of the user's history items.
  std::span<const int32_t> seen = history.RowIndices(user);
  std::vector<std::vector<ItemScore>> neighbours;
  std::vector<size_t> owner;  // for each list in neighbours, the index in seen
  for (size_t c = 0; c < components_.size(); ++c) {
    if (p_.models[c] != "itemknn" && p_.models[c] != "content") continue;
    std::vector<std::vector<ItemScore>> lists;
    RECSYS_RETURN_IF_ERROR(components_[c]->SimilarItems(seen, items_, &lists));
    for (size_t m = 0; m < lists.size(); ++m) {
      neighbours.push_back(std::move(lists[m]));
      owner.push_back(m);
    }
  }
  out->clear();
  for (int32_t item : items) {
    if (item < 0 || item >= items_) {
      return Status::InvalidArgument("hybrid: item " + std::to_string(item) +
                                     " is not in the model (" + std::to_string(items_) + " items)");
    }
    int32_t because = -1;
    float best = 0;
    for (size_t l = 0; l < neighbours.size(); ++l) {
      for (const ItemScore& s : neighbours[l]) {
        const int32_t source = seen[owner[l]];
        if (s.item == item && s.score > 0 &&
            (because < 0 || s.score > best || (s.score == best && source < because))) {
          because = source;
          best = s.score;
        }
      }
    }
    const int32_t c = category_.empty() ? -1 : category_[static_cast<size_t>(item)];
    if (because >= 0) {
      out->push_back("because you viewed " + name_of(because));
    } else if (c >= 0) {
      out->push_back("popular in " + category_names_[static_cast<size_t>(c)]);
    } else {
      out->push_back("popular overall");
    }
  }
  return Status::OK();
}

Result<std::unique_ptr<Recommender>> MakeHybrid(const ModelSpec& spec) {
  HybridParams p;
  RECSYS_ASSIGN_OR_RETURN(std::string models, spec.Text("models", "als+itemknn+popularity"));
  RECSYS_ASSIGN_OR_RETURN(std::string weights, spec.Text("weights", ""));
  p.models = SplitPlus(models);
  p.weights.clear();
  if (weights.empty()) {
    p.weights.assign(p.models.size(), 1.0 / static_cast<double>(p.models.size()));
    if (models == "als+itemknn+popularity") p.weights = {0.5, 0.3, 0.2};
  } else {
    for (const std::string& w : SplitPlus(weights)) {
      double v = 0;
      char tail = 0;
      if (std::sscanf(w.c_str(), "%lf%c", &v, &tail) != 1 || !(v >= 0) || v > 1e6) {
        return Status::InvalidArgument("hybrid: weights=" + weights + ": '" + w +
                                       "' is not a number in [0, 1e6]");
      }
      p.weights.push_back(v);
    }
  }
  if (p.weights.size() != p.models.size()) {
    return Status::InvalidArgument("hybrid: " + std::to_string(p.models.size()) + " models (" +
                                   models + ") but " + std::to_string(p.weights.size()) +
                                   " weights (" + weights + ")");
  }
  RECSYS_ASSIGN_OR_RETURN(std::string exclude,
                          spec.String("exclude_unavailable", "true", {"true", "false"}));
  p.exclude_unavailable = exclude == "true";
  RECSYS_ASSIGN_OR_RETURN(p.boost_new_days, spec.Double("boost_new_days", 0, 0, 1e5));
  RECSYS_ASSIGN_OR_RETURN(p.boost, spec.Double("boost", 1.2, 0, 1e6));
  std::vector<std::unique_ptr<Recommender>> components;
  for (const std::string& name : p.models) {
    if (name == "hybrid") return Status::InvalidArgument("hybrid: a hybrid cannot be a component");
    auto component = CreateRecommender(name);
    if (!component.ok()) return component.status().WithContext("hybrid: models=" + models);
    components.push_back(std::move(component).value());
  }
  return std::unique_ptr<Recommender>(
      std::make_unique<HybridRecommender>(std::move(p), std::move(components)));
}

}  // namespace recsys
