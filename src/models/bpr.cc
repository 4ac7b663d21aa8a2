// BPR (Rendle et al. 2009) matrix factorisation with an item bias, trained as implicit's
// BayesianPersonalizedRanking: each epoch draws as many (user, liked, disliked) triples as there
// are interactions, the liked pair a random interaction and the disliked item the item of another
// random interaction (so negatives follow popularity), and applies one SGD step per triple.
//
// Threads update the shared factors without locks (Hogwild): a triple touches one user row and two
// item rows, collisions are rare and only cost a lost update. Each thread draws from its own
// generator seeded from (spec seed, FitOptions::seed, epoch, thread), so with threads=1 a fit is
// deterministic; with more threads the result varies slightly with thread timing.
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/progress.h"
#include "models/artifact.h"
#include "models/model_factories.h"
#include "models/recommender.h"

namespace recsys {
namespace {

uint64_t Mix(uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

// splitmix64: small, fast, and the same sequence on every platform.
class Rng {
 public:
  explicit Rng(uint64_t seed) : state_(seed) {}
  uint64_t Next() {
    state_ += 0x9e3779b97f4a7c15ULL;
    uint64_t z = state_;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }
  // Uniform in [0, n). REQUIRES: n > 0.
  int64_t Below(int64_t n) {
    const uint64_t un = static_cast<uint64_t>(n);
    if (un <= UINT32_MAX) return static_cast<int64_t>(((Next() >> 32) * un) >> 32);
    return static_cast<int64_t>(Next() % un);
  }
  // Uniform in [0, 1).
  float Uniform() { return static_cast<float>(Next() >> 40) * (1.0f / 16777216.0f); }

 private:
  uint64_t state_;
};

struct BprParams {
  int64_t factors = 64;
  double learning_rate = 0.01;
  double regularization = 0.01;
  int64_t iterations = 100;
  int64_t seed = 42;
  bool verify_negative_samples = true;  // skip a disliked item the user has in fact interacted with
};

class BprRecommender : public Recommender {
 public:
  explicit BprRecommender(const BprParams& params) : p_(params) {}

  std::string name() const override { return "bpr"; }
  std::string spec() const override {
    return "bpr:factors=" + std::to_string(p_.factors) +
           ",learning_rate=" + FormatSpecDouble(p_.learning_rate) +
           ",regularization=" + FormatSpecDouble(p_.regularization) +
           ",iterations=" + std::to_string(p_.iterations) + ",seed=" + std::to_string(p_.seed) +
           ",verify_negative_samples=" + (p_.verify_negative_samples ? "true" : "false");
  }

  Status Fit(const CsrMatrix& user_items, const FitOptions& options) override {
    const int64_t f = p_.factors;
    const int64_t width = f + 1;  // the last column: 1 for users, the bias for items
    const int64_t nnz = user_items.nnz();
    users_ = user_items.rows;
    items_ = user_items.cols;
    const uint64_t base = Mix(static_cast<uint64_t>(p_.seed) ^ Mix(options.seed));

    std::vector<int32_t> userids(static_cast<size_t>(nnz));
    std::vector<int64_t> item_count(static_cast<size_t>(items_), 0);
    for (int32_t u = 0; u < users_; ++u) {
      for (int64_t e = user_items.indptr[u]; e < user_items.indptr[u + 1]; ++e) {
        userids[e] = u;
        ++item_count[user_items.indices[e]];
      }
    }
    // Users and items without interactions keep zero factors: they never get a gradient.
    Rng init(base);
    user_factors_.assign(static_cast<size_t>(users_ * width), 0.0f);
    item_factors_.assign(static_cast<size_t>(items_ * width), 0.0f);
    for (int32_t u = 0; u < users_; ++u) {
      float* row = &user_factors_[u * width];
      if (user_items.indptr[u + 1] > user_items.indptr[u]) {
        for (int64_t j = 0; j < f; ++j) row[j] = (init.Uniform() - 0.5f) / static_cast<float>(f);
      }
      row[f] = 1.0f;
    }
    for (int32_t i = 0; i < items_; ++i) {
      if (item_count[i] == 0) continue;
      float* row = &item_factors_[i * width];
      for (int64_t j = 0; j < width; ++j) {
        row[j] = (init.Uniform() - 0.5f) / static_cast<float>(f);
      }
    }

    const int threads = options.threads > 0 ? options.threads : omp_get_max_threads();
    const float lr = static_cast<float>(p_.learning_rate);
    const float reg = static_cast<float>(p_.regularization);
    float* x = user_factors_.data();
    float* y = item_factors_.data();
    Progress progress("bpr", "epochs", p_.iterations, options.verbose);
    for (int64_t epoch = 0; epoch < p_.iterations && nnz > 0; ++epoch) {
#pragma omp parallel num_threads(threads)
      {
        Rng rng(Mix(base + Mix(static_cast<uint64_t>(epoch) * 0x10000ULL +
                               static_cast<uint64_t>(omp_get_thread_num()) + 1)));
#pragma omp for schedule(static)
        for (int64_t s = 0; s < nnz; ++s) {
          const int64_t liked_at = rng.Below(nnz);
          const int32_t user = userids[liked_at];
          const int32_t liked = user_items.indices[liked_at];
          const int32_t disliked = user_items.indices[rng.Below(nnz)];
          if (disliked == liked ||
              (p_.verify_negative_samples &&
               std::binary_search(user_items.indices.begin() + user_items.indptr[user],
                                  user_items.indices.begin() + user_items.indptr[user + 1],
                                  disliked))) {
            continue;
          }
          float* xu = x + user * width;
          float* yl = y + liked * width;
          float* yd = y + disliked * width;
          float score = 0;
          for (int64_t j = 0; j < width; ++j) score += xu[j] * (yl[j] - yd[j]);
          const float z = 1.0f / (1.0f + std::exp(score));  // 1 - sigmoid(score)
          for (int64_t j = 0; j < f; ++j) {
            const float xj = xu[j];
            xu[j] += lr * (z * (yl[j] - yd[j]) - reg * xj);
            yl[j] += lr * (z * xj - reg * yl[j]);
            yd[j] += lr * (-z * xj - reg * yd[j]);
          }
          yl[f] += lr * (z - reg * yl[f]);
          yd[f] += lr * (-z - reg * yd[f]);
        }
      }
      progress.Update(epoch + 1);
    }
    progress.Finish(p_.iterations);
    ComputeItemNorms();
    return Status::OK();
  }

  Status Recommend(std::span<const int32_t> users, const CsrMatrix& history, int k,
                   const RecommendOptions& options,
                   std::vector<std::vector<ItemScore>>* out) const override {
    if (items_ < 0) return Status::InvalidArgument("bpr: Recommend before Fit or Load");
    if (history.cols != items_) {
      return Status::InvalidArgument("bpr: history has " + std::to_string(history.cols) +
                                     " items, the model " + std::to_string(items_));
    }
    for (int32_t u : users) {
      if (u < 0 || u >= history.rows || (u >= users_ && !options.fold_in)) {
        return Status::InvalidArgument("bpr: user " + std::to_string(u) +
                                       " is not a fitted user with history (" +
                                       std::to_string(users_) + " users fitted, " +
                                       std::to_string(history.rows) + " history rows)");
      }
    }
    const int64_t width = p_.factors + 1;
    out->assign(users.size(), {});
    const int64_t count = static_cast<int64_t>(users.size());
#pragma omp parallel if (count > 16)
    {
      std::vector<float> scores(static_cast<size_t>(items_));
      std::vector<float> folded(static_cast<size_t>(width));
#pragma omp for schedule(dynamic, 4)
      for (int64_t n = 0; n < count; ++n) {
        const float* xu = &user_factors_[users[n] * width];
        if (options.fold_in) {
          FoldIn(history.RowIndices(users[n]), history.RowData(users[n]), folded.data());
          xu = folded.data();
        }
        for (int32_t i = 0; i < items_; ++i) {
          const float* yi = &item_factors_[i * width];
          float s = 0;
          for (int64_t j = 0; j < width; ++j) s += xu[j] * yi[j];
          scores[i] = s;
        }
        TopK(scores, k,
             options.exclude_history ? history.RowIndices(users[n]) : std::span<const int32_t>(),
             options.item_filter, &(*out)[n]);
      }
    }
    return Status::OK();
  }

  // Cosine similarity of the item factors, bias left out.
  Status SimilarItems(std::span<const int32_t> items, int k,
                      std::vector<std::vector<ItemScore>>* out) const override {
    if (items_ < 0) return Status::InvalidArgument("bpr: SimilarItems before Fit or Load");
    const int64_t width = p_.factors + 1;
    out->assign(items.size(), {});
    std::vector<float> scores(static_cast<size_t>(items_));
    for (size_t n = 0; n < items.size(); ++n) {
      const int32_t item = items[n];
      if (item < 0 || item >= items_) {
        return Status::InvalidArgument("bpr: item " + std::to_string(item) +
                                       " is not in the model (" + std::to_string(items_) +
                                       " items)");
      }
      const float* a = &item_factors_[item * width];
      for (int32_t i = 0; i < items_; ++i) {
        const float* b = &item_factors_[i * width];
        float dot = 0;
        for (int64_t j = 0; j < p_.factors; ++j) dot += a[j] * b[j];
        const float norms = item_norms_[item] * item_norms_[i];
        scores[i] = norms > 0 ? dot / norms : 0.0f;
      }
      const int32_t self[1] = {item};
      TopK(scores, k, self, nullptr, &(*out)[n]);
    }
    return Status::OK();
  }

  Status Save(const std::string& dir) const override {
    if (items_ < 0) return Status::InvalidArgument("bpr: Save before Fit or Load");
    RECSYS_RETURN_IF_ERROR(WriteModelSpec(dir, spec()));
    const int64_t width = p_.factors + 1;
    RECSYS_RETURN_IF_ERROR(
        WriteArray(dir + "/user_factors.f32", DenseArray<float>{users_, width, user_factors_}));
    return WriteArray(dir + "/item_factors.f32", DenseArray<float>{items_, width, item_factors_});
  }

  Status Load(const std::string& dir) override {
    RECSYS_RETURN_IF_ERROR(CheckModelSpec(dir, spec()));
    RECSYS_ASSIGN_OR_RETURN(DenseArray<float> x, ReadFloatArray(dir + "/user_factors.f32"));
    RECSYS_ASSIGN_OR_RETURN(DenseArray<float> y, ReadFloatArray(dir + "/item_factors.f32"));
    const int64_t width = p_.factors + 1;
    if (x.cols != width || y.cols != width || x.rows > INT32_MAX || y.rows > INT32_MAX) {
      return Status::Corruption(dir + ": factor arrays are not " + std::to_string(width) +
                                " columns wide");
    }
    users_ = static_cast<int32_t>(x.rows);
    items_ = static_cast<int32_t>(y.rows);
    user_factors_ = std::move(x.values);
    item_factors_ = std::move(y.values);
    ComputeItemNorms();
    return Status::OK();
  }

 private:
  void ComputeItemNorms() {
    const int64_t width = p_.factors + 1;
    item_norms_.assign(static_cast<size_t>(items_), 0.0f);
    for (int32_t i = 0; i < items_; ++i) {
      double sum = 0;
      for (int64_t j = 0; j < p_.factors; ++j) {
        sum += static_cast<double>(item_factors_[i * width + j]) * item_factors_[i * width + j];
      }
      item_norms_[i] = static_cast<float>(std::sqrt(sum));
    }
  }

  // A user vector from a history alone: the weighted mean of the item factors (bias left out)
  // and the constant 1 that meets the item bias. BPR has no closed-form solve; the mean points
  // where the user's items are, which is what the learned vectors do too.
  void FoldIn(std::span<const int32_t> items, std::span<const float> weights, float* out) const {
    const int64_t width = p_.factors + 1;
    std::fill(out, out + width, 0.0f);
    double total = 0;
    for (size_t n = 0; n < items.size(); ++n) {
      const float w = weights.empty() ? 1.0f : weights[n];
      const float* yi = &item_factors_[items[n] * width];
      for (int64_t j = 0; j < p_.factors; ++j) out[j] += w * yi[j];
      total += w;
    }
    if (total > 0) {
      for (int64_t j = 0; j < p_.factors; ++j) out[j] = static_cast<float>(out[j] / total);
    }
    out[p_.factors] = 1.0f;
  }

  class Factors final : public FactorModel {
   public:
    explicit Factors(const BprRecommender* m) : m_(m) {}
    int dims() const override { return m_->p_.factors + 1; }
    int32_t item_count() const override { return m_->items_; }
    const float* ItemVector(int32_t item) const override {
      return m_->item_factors_.data() + static_cast<size_t>(item) * dims();
    }
    bool UserVector(int32_t fitted_user, std::span<const int32_t> items,
                    std::span<const float> weights, float* out) const override {
      if (items.empty()) {
        if (fitted_user < 0 || fitted_user >= m_->users_) return false;
        std::copy_n(m_->user_factors_.data() + static_cast<size_t>(fitted_user) * dims(), dims(),
                    out);
        return true;
      }
      m_->FoldIn(items, weights, out);
      return true;
    }

   private:
    const BprRecommender* m_;
  };

 public:
  const FactorModel* factors() const override { return items_ >= 0 ? &factors_ : nullptr; }

 private:
  Factors factors_{this};
  BprParams p_;
  int32_t users_ = -1, items_ = -1;  // -1 until fitted or loaded
  // Row-major, factors + 1 columns: users end in a constant 1, items in their bias.
  std::vector<float> user_factors_, item_factors_;
  std::vector<float> item_norms_;  // of the factor columns, bias left out
};

}  // namespace

Result<std::unique_ptr<Recommender>> MakeBpr(const ModelSpec& spec) {
  BprParams p;
  RECSYS_ASSIGN_OR_RETURN(p.factors, spec.Int("factors", p.factors, 1, 4096));
  RECSYS_ASSIGN_OR_RETURN(p.learning_rate, spec.Double("learning_rate", p.learning_rate, 0, 10));
  RECSYS_ASSIGN_OR_RETURN(p.regularization,
                          spec.Double("regularization", p.regularization, 0, 1000));
  RECSYS_ASSIGN_OR_RETURN(p.iterations, spec.Int("iterations", p.iterations, 0, 1'000'000));
  RECSYS_ASSIGN_OR_RETURN(p.seed, spec.Int("seed", p.seed, 0, INT64_MAX));
  Result<std::string> verify = spec.String("verify_negative_samples", "true", {"true", "false"});
  if (!verify.ok()) return verify.status();
  p.verify_negative_samples = verify.value() == "true";
  return std::unique_ptr<Recommender>(std::make_unique<BprRecommender>(p));
}

}  // namespace recsys
