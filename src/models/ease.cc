// EASE (Steck 2019, "Embarrassingly Shallow Autoencoders for Sparse Data"): a dense item x item
// weight matrix B in closed form, P = (X^T X + lambda I)^-1, B = -P / diag(P) column-wise with a
// zero diagonal; a user's scores are x_u B. Memory is items^2 floats (B, computed in place),
// hence max_items.
#include <omp.h>

#include <algorithm>
#include <cstddef>
#include <memory>
#include <string>
#include <vector>

#include "models/artifact.h"
#include "models/model_factories.h"
#include "models/recommender.h"

// LAPACK (in OpenBLAS), Fortran calling convention: the trailing size_t is the hidden length
// of the character argument.
extern "C" {
void spotrf_(const char* uplo, const int* n, float* a, const int* lda, int* info, size_t uplo_len);
void spotri_(const char* uplo, const int* n, float* a, const int* lda, int* info, size_t uplo_len);
}

namespace recsys {
namespace {

struct EaseParams {
  double lambda = 500;
  int64_t max_items = 20000;
  bool binary = true;  // every interaction counts 1; otherwise its weight
};

class EaseRecommender : public Recommender {
 public:
  explicit EaseRecommender(const EaseParams& params) : p_(params) {}

  std::string name() const override { return "ease"; }
  std::string spec() const override {
    return "ease:lambda=" + FormatSpecDouble(p_.lambda) +
           ",max_items=" + std::to_string(p_.max_items) +
           ",binary=" + (p_.binary ? "true" : "false");
  }

  Status Fit(const CsrMatrix& user_items, const FitOptions& options) override {
    const int32_t n = user_items.cols;
    if (n > p_.max_items) {
      return Status::InvalidArgument("ease: the catalog has " + std::to_string(n) +
                                     " items, above max_items=" + std::to_string(p_.max_items) +
                                     " (B alone needs items^2 * 4 bytes = " +
                                     std::to_string(static_cast<int64_t>(n) * n * 4 / (1 << 20)) +
                                     " MiB)");
    }
    const CsrMatrix item_users = user_items.Transpose();
    auto value = [&](float v) { return p_.binary ? 1.0f : v; };
    const int threads = options.threads > 0 ? options.threads : omp_get_max_threads();
    const size_t size = static_cast<size_t>(n);
    // G = X^T X + lambda I, column-major; column a from the users of item a, so each thread
    // writes only the columns it owns.
    std::vector<float> g(size * size, 0.0f);
#pragma omp parallel for schedule(dynamic, 16) num_threads(threads)
    for (int32_t a = 0; a < n; ++a) {
      float* column = g.data() + static_cast<size_t>(a) * size;
      std::span<const int32_t> users = item_users.RowIndices(a);
      std::span<const float> values = item_users.RowData(a);
      for (size_t m = 0; m < users.size(); ++m) {
        const float xa = value(values[m]);
        std::span<const int32_t> row = user_items.RowIndices(users[m]);
        std::span<const float> row_values = user_items.RowData(users[m]);
        for (size_t e = 0; e < row.size(); ++e) column[row[e]] += xa * value(row_values[e]);
      }
    }
    for (size_t i = 0; i < size; ++i) g[i * size + i] += static_cast<float>(p_.lambda);
    // P = G^-1 in place through LAPACK's Cholesky routines (OpenBLAS): several times faster than
    // Eigen's LLT solve against the identity, and no second items^2 matrix.
    if (n > 0) {
      const char lower = 'L';
      int info = 0;
      spotrf_(&lower, &n, g.data(), &n, &info, 1);
      if (info == 0) spotri_(&lower, &n, g.data(), &n, &info, 1);
      if (info != 0) {
        return Status::InvalidArgument("ease: X^T X + lambda I is not positive definite (lambda=" +
                                       FormatSpecDouble(p_.lambda) +
                                       "; lambda=0 fails when an item has no interactions)");
      }
    }
    // Only the lower triangle of P is set. Mirrored to a full symmetric P, the column-major
    // storage read row-major is P itself, and B(i, j) = -P(i, j) / P(j, j) is written in place,
    // row-major, so that x_u B reads rows of B.
    std::vector<float> diagonal(size);
    for (size_t j = 0; j < size; ++j) {
      diagonal[j] = g[j * size + j];
      for (size_t i = j + 1; i < size; ++i) g[i * size + j] = g[j * size + i];
    }
#pragma omp parallel for schedule(static) num_threads(threads)
    for (int32_t i = 0; i < n; ++i) {
      float* row = g.data() + static_cast<size_t>(i) * size;
      for (size_t j = 0; j < size; ++j) row[j] = -row[j] / diagonal[j];
      row[i] = 0.0f;
    }
    b_ = std::move(g);
    items_ = n;
    return Status::OK();
  }

  Status Recommend(std::span<const int32_t> users, const CsrMatrix& history, int k,
                   const RecommendOptions& options,
                   std::vector<std::vector<ItemScore>>* out) const override {
    if (items_ < 0) return Status::InvalidArgument("ease: Recommend before Fit or Load");
    RECSYS_RETURN_IF_ERROR(CheckRecommendInput("ease", users, history, items_));
    out->assign(users.size(), {});
    const int64_t count = static_cast<int64_t>(users.size());
#pragma omp parallel if (count > 16)
    {
      std::vector<float> scores(static_cast<size_t>(items_));
#pragma omp for schedule(dynamic, 4)
      for (int64_t n = 0; n < count; ++n) {
        std::fill(scores.begin(), scores.end(), 0.0f);
        std::span<const int32_t> seen = history.RowIndices(users[n]);
        std::span<const float> values = history.RowData(users[n]);
        for (size_t m = 0; m < seen.size(); ++m) {
          const float x = p_.binary ? 1.0f : values[m];
          const float* row = b_.data() + static_cast<size_t>(seen[m]) * items_;
          for (int32_t j = 0; j < items_; ++j) scores[j] += x * row[j];
        }
        TopK(scores, k, options.exclude_history ? seen : std::span<const int32_t>(),
             options.item_filter, &(*out)[n]);
      }
    }
    return Status::OK();
  }

  // Item i's similar items are the scores of a user who saw only i: row i of B.
  Status SimilarItems(std::span<const int32_t> items, int k,
                      std::vector<std::vector<ItemScore>>* out) const override {
    if (items_ < 0) return Status::InvalidArgument("ease: SimilarItems before Fit or Load");
    out->assign(items.size(), {});
    for (size_t n = 0; n < items.size(); ++n) {
      const int32_t item = items[n];
      if (item < 0 || item >= items_) {
        return Status::InvalidArgument("ease: item " + std::to_string(item) +
                                       " is not in the model (" + std::to_string(items_) +
                                       " items)");
      }
      const int32_t self[1] = {item};
      TopK(std::span<const float>(b_.data() + static_cast<size_t>(item) * items_,
                                  static_cast<size_t>(items_)),
           k, self, nullptr, &(*out)[n]);
    }
    return Status::OK();
  }

  Status Save(const std::string& dir) const override {
    if (items_ < 0) return Status::InvalidArgument("ease: Save before Fit or Load");
    RECSYS_RETURN_IF_ERROR(WriteModelSpec(dir, spec()));
    return WriteArray(dir + "/weights.f32", DenseArray<float>{items_, items_, b_});
  }

  Status Load(const std::string& dir) override {
    RECSYS_RETURN_IF_ERROR(CheckModelSpec(dir, spec()));
    RECSYS_ASSIGN_OR_RETURN(DenseArray<float> b, ReadFloatArray(dir + "/weights.f32"));
    if (b.rows != b.cols || b.rows > p_.max_items) {
      return Status::Corruption(dir + "/weights.f32: " + std::to_string(b.rows) + " x " +
                                std::to_string(b.cols) + " is not a square matrix of at most " +
                                std::to_string(p_.max_items) + " items");
    }
    b_ = std::move(b.values);
    items_ = static_cast<int32_t>(b.rows);
    return Status::OK();
  }

 private:
  EaseParams p_;
  int32_t items_ = -1;    // -1 until fitted or loaded
  std::vector<float> b_;  // items x items, row-major
};

}  // namespace

Result<std::unique_ptr<Recommender>> MakeEase(const ModelSpec& spec) {
  EaseParams p;
  RECSYS_ASSIGN_OR_RETURN(p.lambda, spec.Double("lambda", p.lambda, 0, 1e12));
  RECSYS_ASSIGN_OR_RETURN(p.max_items, spec.Int("max_items", p.max_items, 1, 100'000));
  Result<std::string> binary = spec.String("binary", "true", {"true", "false"});
  if (!binary.ok()) return binary.status();
  p.binary = binary.value() == "true";
  return std::unique_ptr<Recommender>(std::make_unique<EaseRecommender>(p));
}

}  // namespace recsys
