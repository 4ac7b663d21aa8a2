#include "models/als.h"

#include <cblas.h>
#include <immintrin.h>
#include <omp.h>

#include <Eigen/Dense>
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <random>

#include "models/artifact.h"
#include "models/model_factories.h"
#include "models/recommender.h"

namespace recsys {
namespace {

// Factor rows are padded with zeros to a multiple of kLanes floats so the AVX2 kernels need no
// tail loops; the padding stays zero through every solve.
constexpr int kLanes = 8;
// Users scored per matrix multiply in Recommend: 256 x 100,000 items is 100 MB of scores.
constexpr int kScoreBlock = 128;

int PaddedStride(int factors) { return (factors + kLanes - 1) / kLanes * kLanes; }

using RowMatrix = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

// The vector primitives of the CG solver, once portable and once with AVX2 and FMA. n is a
// multiple of kLanes. m is an n x n row-major symmetric matrix.
struct PortableOps {
  static float Dot(const float* a, const float* b, int n) {
    float s = 0;
    for (int i = 0; i < n; ++i) s += a[i] * b[i];
    return s;
  }
  static void Axpy(float a, const float* x, float* y, int n) {
    for (int i = 0; i < n; ++i) y[i] += a * x[i];
  }
  static void SymMatVec(const float* m, const float* x, float* y, int n) {
    for (int i = 0; i < n; ++i) y[i] = 0;
    for (int k = 0; k < n; ++k) Axpy(x[k], m + static_cast<size_t>(k) * n, y, n);
  }
};

struct Avx2Ops {
  __attribute__((target("avx2,fma"))) static float Dot(const float* a, const float* b, int n) {
    __m256 s0 = _mm256_setzero_ps(), s1 = _mm256_setzero_ps();
    int i = 0;
    for (; i + 2 * kLanes <= n; i += 2 * kLanes) {
      s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), s0);
      s1 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 8), _mm256_loadu_ps(b + i + 8), s1);
    }
    if (i < n) s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), s0);
    __m256 s = _mm256_add_ps(s0, s1);
    __m128 h = _mm_add_ps(_mm256_castps256_ps128(s), _mm256_extractf128_ps(s, 1));
    h = _mm_add_ps(h, _mm_movehl_ps(h, h));
    h = _mm_add_ss(h, _mm_shuffle_ps(h, h, 1));
    return _mm_cvtss_f32(h);
  }
  __attribute__((target("avx2,fma"))) static void Axpy(float a, const float* x, float* y, int n) {
    const __m256 va = _mm256_set1_ps(a);
    for (int i = 0; i < n; i += kLanes) {
      _mm256_storeu_ps(y + i, _mm256_fmadd_ps(va, _mm256_loadu_ps(x + i), _mm256_loadu_ps(y + i)));
    }
  }
  // y = m x, as a sum of m's rows weighted by x (m is symmetric): no horizontal sums.
  __attribute__((target("avx2,fma"))) static void SymMatVec(const float* m, const float* x,
                                                            float* y, int n) {
    if (n == 64) {  // the common case, with the accumulators held in registers
      __m256 acc[8];
#pragma GCC unroll 8
      for (int j = 0; j < 8; ++j) acc[j] = _mm256_setzero_ps();
      for (int k = 0; k < 64; ++k) {
        const __m256 xk = _mm256_set1_ps(x[k]);
        const float* row = m + k * 64;
#pragma GCC unroll 8
        for (int j = 0; j < 8; ++j) {
          acc[j] = _mm256_fmadd_ps(xk, _mm256_loadu_ps(row + j * 8), acc[j]);
        }
      }
#pragma GCC unroll 8
      for (int j = 0; j < 8; ++j) _mm256_storeu_ps(y + j * 8, acc[j]);
      return;
    }
    for (int i = 0; i < n; ++i) y[i] = 0;
    for (int k = 0; k < n; ++k) Axpy(x[k], m + static_cast<size_t>(k) * n, y, n);
  }
};

// Everything one half-step needs: solve the rows of `x` (one per row of `c`) against the fixed
// factors `y`, whose Gram matrix plus regularisation is `gram`.
struct HalfStep {
  const CsrMatrix* c;
  const float* y;
  const float* gram;  // stride x stride
  float* x;
  int factors, stride;
  float alpha;
  int cg_steps;
  int threads;
};

// Conjugate gradient on (gram + Y' (C - I) Y) x = Y' C p for each row, warm-started from x.
// Returns the flops done.
template <typename Ops>
inline double CgRange(const HalfStep& h) {
  const int s = h.stride;
  double flops = 0;
#pragma omp parallel num_threads(h.threads) reduction(+ : flops)
  {
    std::vector<float> buf(static_cast<size_t>(3 * s));
    float* r = buf.data();
    float* p = r + s;
    float* ap = p + s;
    const double f = h.factors;
#pragma omp for schedule(dynamic, 256)
    for (int32_t u = 0; u < h.c->rows; ++u) {
      float* x = h.x + static_cast<size_t>(u) * s;
      const int64_t begin = h.c->indptr[u], end = h.c->indptr[u + 1];
      const int32_t* idx = h.c->indices.data();
      const float* val = h.c->data.data();
      // r = b - A x
      Ops::SymMatVec(h.gram, x, r, s);
      for (int i = 0; i < s; ++i) r[i] = -r[i];
      for (int64_t j = begin; j < end; ++j) {
        const float* yi = h.y + static_cast<size_t>(idx[j]) * s;
        const float cm1 = h.alpha * val[j];
        Ops::Axpy(1.0f + cm1 - cm1 * Ops::Dot(yi, x, s), yi, r, s);
      }
      float rsold = Ops::Dot(r, r, s);
      const double nnz = static_cast<double>(end - begin);
      flops += 2 * f * f + 4 * f * nnz + 3 * f;
      if (rsold < 1e-20f) continue;
      std::copy(r, r + s, p);
      for (int step = 0; step < h.cg_steps; ++step) {
        Ops::SymMatVec(h.gram, p, ap, s);
        for (int64_t j = begin; j < end; ++j) {
          const float* yi = h.y + static_cast<size_t>(idx[j]) * s;
          Ops::Axpy(h.alpha * val[j] * Ops::Dot(yi, p, s), yi, ap, s);
        }
        const float a = rsold / Ops::Dot(p, ap, s);
        Ops::Axpy(a, p, x, s);
        Ops::Axpy(-a, ap, r, s);
        const float rsnew = Ops::Dot(r, r, s);
        flops += 2 * f * f + 4 * f * nnz + 10 * f;
        if (rsnew < 1e-20f) break;
        const float beta = rsnew / rsold;
        for (int i = 0; i < s; ++i) p[i] = r[i] + beta * p[i];
        rsold = rsnew;
      }
    }
  }
  return flops;
}

__attribute__((target("avx2,fma"), flatten)) double CgAvx2(const HalfStep& h) {
  return CgRange<Avx2Ops>(h);
}

bool HasAvx2() {
  static const bool has = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  return has;
}

// Y'Y + reg I over the real factors (padding rows and columns zero), accumulated per thread.
template <typename Ops>
inline void GramRange(const float* y, int64_t rows, int factors, int stride, float reg, int threads,
                      float* gram) {
  const size_t ss = static_cast<size_t>(stride) * stride;
  std::fill(gram, gram + ss, 0.0f);
#pragma omp parallel num_threads(threads)
  {
    std::vector<float> local(ss, 0.0f);
#pragma omp for schedule(static)
    for (int64_t i = 0; i < rows; ++i) {
      const float* yi = y + static_cast<size_t>(i) * stride;
      for (int k = 0; k < factors; ++k) {
        if (yi[k] != 0.0f)
          Ops::Axpy(yi[k], yi, local.data() + static_cast<size_t>(k) * stride, stride);
      }
    }
#pragma omp critical
    for (size_t i = 0; i < ss; ++i) gram[i] += local[i];
  }
  for (int k = 0; k < factors; ++k) gram[static_cast<size_t>(k) * stride + k] += reg;
}

__attribute__((target("avx2,fma"), flatten)) void GramAvx2(const float* y, int64_t rows,
                                                           int factors, int stride, float reg,
                                                           int threads, float* gram) {
  GramRange<Avx2Ops>(y, rows, factors, stride, reg, threads, gram);
}

void Gram(const float* y, int64_t rows, int factors, int stride, float reg, int threads,
          float* gram) {
  if (HasAvx2()) {
    GramAvx2(y, rows, factors, stride, reg, threads, gram);
  } else {
    GramRange<PortableOps>(y, rows, factors, stride, reg, threads, gram);
  }
}

// The exact solve of one row: (gram + Y' (C - I) Y) x = Y' C p. Returns the flops done.
double SolveExact(std::span<const int32_t> items, std::span<const float> values, const float* y,
                  const float* gram, int factors, int stride, float alpha, float* x) {
  const int f = factors;
  const int n = static_cast<int>(items.size());
  Eigen::MatrixXf a(f, f);
  for (int i = 0; i < f; ++i) {
    for (int j = 0; j < f; ++j) a(i, j) = gram[static_cast<size_t>(i) * stride + j];
  }
  Eigen::VectorXf b = Eigen::VectorXf::Zero(f);
  if (n > 0) {
    RowMatrix yu(n, f);
    Eigen::VectorXf cm1(n);
    for (int j = 0; j < n; ++j) {
      yu.row(j) =
          Eigen::Map<const Eigen::RowVectorXf>(y + static_cast<size_t>(items[j]) * stride, f);
      cm1(j) = alpha * values[j];
    }
    a.noalias() += yu.transpose() * (cm1.asDiagonal() * yu);
    b.noalias() = yu.transpose() * (cm1.array() + 1.0f).matrix();
  }
  Eigen::LLT<Eigen::MatrixXf> llt(a);
  Eigen::VectorXf sol = llt.solve(b);
  if (llt.info() != Eigen::Success || !sol.allFinite()) sol.setZero();
  for (int k = 0; k < f; ++k) x[k] = sol(k);
  for (int k = f; k < stride; ++k) x[k] = 0.0f;
  const double fd = f;
  return 2 * fd * fd * n + 2 * fd * n + fd * fd * fd / 3 + 2 * fd * fd;
}

double CholeskyRange(const HalfStep& h) {
  double flops = 0;
#pragma omp parallel for num_threads(h.threads) schedule(dynamic, 64) reduction(+ : flops)
  for (int32_t u = 0; u < h.c->rows; ++u) {
    flops += SolveExact(h.c->RowIndices(u), h.c->RowData(u), h.y, h.gram, h.factors, h.stride,
                        h.alpha, h.x + static_cast<size_t>(u) * h.stride);
  }
  return flops;
}

// Running top-k of one user while its scores stream past in increasing item order; the same
// order, ties and exclusions as TopK (recommender.h).
struct UserTop {
  int k = 0;  // 0: the user gets nothing
  int32_t n_items = 0;
  std::span<const int32_t> excluded;  // sorted
  const std::function<bool(int32_t)>* filter = nullptr;
  std::vector<ItemScore>* heap = nullptr;
  float threshold = -std::numeric_limits<float>::infinity();  // scores at or below cannot enter

  static bool Worse(const ItemScore& a, const ItemScore& b) {
    return a.score > b.score || (a.score == b.score && a.item < b.item);
  }
  void Offer(int32_t item, float score) {
    if (item >= n_items || !(score > threshold)) return;
    if (std::binary_search(excluded.begin(), excluded.end(), item)) return;
    if (*filter && !(*filter)(item)) return;
    if (static_cast<int>(heap->size()) == k) {
      std::pop_heap(heap->begin(), heap->end(), Worse);
      heap->back() = {item, score};
    } else {
      heap->push_back({item, score});
    }
    std::push_heap(heap->begin(), heap->end(), Worse);
    if (static_cast<int>(heap->size()) == k) threshold = heap->front().score;
  }
  void Finish() { std::sort_heap(heap->begin(), heap->end(), Worse); }
};

// Item factors in panels of kPanel items: panel p holds, factor by factor, the kPanel items'
// values side by side, so a tile of users times a panel is a small matrix product with
// contiguous loads. Items past the end are zero (and never offered).
constexpr int kPanel = 16;
constexpr int kTileUsers = 6;
// Panels scored by a block of users before moving on: 128 panels x 64 factors is 512 KiB, which
// stays in L2 while every tile of the block passes over it.
constexpr int kPanelChunk = 4;

std::vector<float> MakePanels(const std::vector<float>& items, int32_t n_items, int stride) {
  const int64_t n_panels = (n_items + kPanel - 1) / kPanel;
  std::vector<float> panels(static_cast<size_t>(n_panels) * stride * kPanel, 0.0f);
  for (int32_t i = 0; i < n_items; ++i) {
    float* dst = panels.data() + static_cast<size_t>(i / kPanel) * stride * kPanel + i % kPanel;
    const float* src = items.data() + static_cast<size_t>(i) * stride;
    for (int k = 0; k < stride; ++k) dst[static_cast<size_t>(k) * kPanel] = src[k];
  }
  return panels;
}

// Scores panels [begin, end) for kTileUsers users (x: kTileUsers x stride, rows of users that
// get nothing may hold anything) and offers every score above a user's threshold.
__attribute__((target("avx2,fma"))) void ScanPanelsAvx2(const float* panels, int64_t begin,
                                                        int64_t end, int stride, const float* x,
                                                        UserTop* tops) {
  for (int64_t p = begin; p < end; ++p) {
    const float* panel = panels + static_cast<size_t>(p) * stride * kPanel;
    __m256 acc[kTileUsers][2];
#pragma GCC unroll 8
    for (int r = 0; r < kTileUsers; ++r) acc[r][0] = acc[r][1] = _mm256_setzero_ps();
    for (int k = 0; k < stride; ++k) {
      const __m256 y0 = _mm256_loadu_ps(panel + k * kPanel);
      const __m256 y1 = _mm256_loadu_ps(panel + k * kPanel + 8);
#pragma GCC unroll 8
      for (int r = 0; r < kTileUsers; ++r) {
        const __m256 b = _mm256_broadcast_ss(x + r * stride + k);
        acc[r][0] = _mm256_fmadd_ps(b, y0, acc[r][0]);
        acc[r][1] = _mm256_fmadd_ps(b, y1, acc[r][1]);
      }
    }
    for (int r = 0; r < kTileUsers; ++r) {
      if (tops[r].k == 0) continue;
      const __m256 t = _mm256_set1_ps(tops[r].threshold);
      unsigned mask =
          static_cast<unsigned>(_mm256_movemask_ps(_mm256_cmp_ps(acc[r][0], t, _CMP_GT_OQ))) |
          static_cast<unsigned>(_mm256_movemask_ps(_mm256_cmp_ps(acc[r][1], t, _CMP_GT_OQ))) << 8;
      if (mask == 0) continue;
      alignas(32) float s[kPanel];
      _mm256_store_ps(s, acc[r][0]);
      _mm256_store_ps(s + 8, acc[r][1]);
      for (; mask != 0; mask &= mask - 1) {
        const int j = __builtin_ctz(mask);
        tops[r].Offer(static_cast<int32_t>(p * kPanel + j), s[j]);
      }
    }
  }
}

class Als final : public Recommender {
 public:
  explicit Als(const AlsOptions& o) : o_(o), stride_(PaddedStride(o.factors)) {}

  std::string name() const override { return "als"; }
  std::string spec() const override {
    std::string s = "als:factors=" + std::to_string(o_.factors) +
                    ",iterations=" + std::to_string(o_.iterations) +
                    ",regularization=" + FormatSpecDouble(o_.regularization) +
                    ",alpha=" + FormatSpecDouble(o_.alpha) +
                    ",cg_steps=" + std::to_string(o_.cg_steps) +
                    ",solver=" + (o_.use_cg ? "cg" : "cholesky");
    if (o_.seed >= 0) s += ",seed=" + std::to_string(o_.seed);
    return s;
  }

  Status Fit(const CsrMatrix& m, const FitOptions& options) override {
    if (m.rows <= 0 || m.cols <= 0) {
      return Status::InvalidArgument("als: the interaction matrix is empty (" +
                                     std::to_string(m.rows) + " x " + std::to_string(m.cols) + ")");
    }
    if (m.indptr.size() != static_cast<size_t>(m.rows) + 1 || m.data.size() != m.indices.size() ||
        m.indptr.back() != m.nnz()) {
      return Status::InvalidArgument("als: the interaction matrix is not valid CSR");
    }
    for (int64_t j = 0; j < m.nnz(); ++j) {
      if (!(m.data[j] > 0.0f) || !std::isfinite(m.data[j]) || m.indices[j] < 0 ||
          m.indices[j] >= m.cols) {
        return Status::InvalidArgument(
            "als: interaction " + std::to_string(j) + " (item " + std::to_string(m.indices[j]) +
            ", value " + std::to_string(m.data[j]) + ") is not a positive weight of a valid item");
      }
    }
    const int threads = options.threads > 0 ? options.threads : omp_get_max_threads();
    const CsrMatrix mt = m.Transpose();
    const uint64_t seed = o_.seed >= 0 ? static_cast<uint64_t>(o_.seed) : options.seed;
    n_users_ = m.rows;
    n_items_ = m.cols;
    user_.assign(static_cast<size_t>(n_users_) * stride_, 0.0f);
    item_.assign(static_cast<size_t>(n_items_) * stride_, 0.0f);
    std::mt19937_64 rng(seed);
    std::uniform_real_distribution<float> uniform(0.0f, 0.01f);
    for (int32_t u = 0; u < n_users_; ++u) {
      for (int k = 0; k < o_.factors; ++k)
        user_[static_cast<size_t>(u) * stride_ + k] = uniform(rng);
    }
    for (int32_t i = 0; i < n_items_; ++i) {
      for (int k = 0; k < o_.factors; ++k)
        item_[static_cast<size_t>(i) * stride_ + k] = uniform(rng);
    }
    std::vector<float> gram(static_cast<size_t>(stride_) * stride_);
    const float reg = static_cast<float>(o_.regularization);
    const double f = o_.factors;
    last_fit_flops_ = 0;
    const double start = omp_get_wtime();
    for (int it = 0; it < o_.iterations; ++it) {
      Gram(item_.data(), n_items_, o_.factors, stride_, reg, threads, gram.data());
      last_fit_flops_ += 2 * f * f * n_items_;
      last_fit_flops_ += HalfSolve(m, item_.data(), gram.data(), user_.data(), threads);
      Gram(user_.data(), n_users_, o_.factors, stride_, reg, threads, gram.data());
      last_fit_flops_ += 2 * f * f * n_users_;
      last_fit_flops_ += HalfSolve(mt, user_.data(), gram.data(), item_.data(), threads);
      if (options.verbose) {
        std::fprintf(stderr, "als: iteration %d of %d done at %.3f s\n", it + 1, o_.iterations,
                     omp_get_wtime() - start);
      }
    }
    Finish(threads);
    return Status::OK();
  }

  Status Recommend(std::span<const int32_t> users, const CsrMatrix& history, int k,
                   const RecommendOptions& options,
                   std::vector<std::vector<ItemScore>>* out) const override {
    if (!fitted_) return Status::InvalidArgument("als: Recommend before Fit or Load");
    RECSYS_RETURN_IF_ERROR(CheckRecommendInput("als", users, history, n_items_));
    out->assign(users.size(), {});
    if (k <= 0 || n_items_ == 0) return Status::OK();
    if (HasAvx2()) return RecommendFused(users, history, k, options, out);
    const int threads = omp_get_max_threads();
    const size_t n = users.size();
    RowMatrix block(kScoreBlock, stride_);
    std::vector<float> scores(static_cast<size_t>(kScoreBlock) * n_items_);
    std::vector<char> has_vector(kScoreBlock);
    for (size_t start = 0; start < n; start += kScoreBlock) {
      const int rows = static_cast<int>(std::min<size_t>(kScoreBlock, n - start));
#pragma omp parallel for num_threads(threads) schedule(dynamic, 4)
      for (int r = 0; r < rows; ++r) {
        has_vector[r] = UserVector(users[start + r], history, options.fold_in, block.row(r).data());
      }
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, rows, n_items_, stride_, 1.0f,
                  block.data(), stride_, item_.data(), stride_, 0.0f, scores.data(), n_items_);
#pragma omp parallel for num_threads(threads) schedule(dynamic, 4)
      for (int r = 0; r < rows; ++r) {
        if (!has_vector[r]) continue;
        const int32_t u = users[start + r];
        std::span<const int32_t> excluded;
        if (options.exclude_history) excluded = history.RowIndices(u);
        TopK({scores.data() + static_cast<size_t>(r) * n_items_, static_cast<size_t>(n_items_)}, k,
             excluded, options.item_filter, &(*out)[start + r]);
      }
    }
    return Status::OK();
  }

  Status SimilarItems(std::span<const int32_t> items, int k,
                      std::vector<std::vector<ItemScore>>* out) const override {
    if (!fitted_) return Status::InvalidArgument("als: SimilarItems before Fit or Load");
    for (int32_t i : items) {
      if (i < 0 || i >= n_items_) {
        return Status::InvalidArgument("als: item " + std::to_string(i) + " is not in the model (" +
                                       std::to_string(n_items_) + " items)");
      }
    }
    out->assign(items.size(), {});
    if (k <= 0) return Status::OK();
    const int threads = omp_get_max_threads();
    std::vector<float> scores(static_cast<size_t>(kScoreBlock) * n_items_);
    for (size_t start = 0; start < items.size(); start += kScoreBlock) {
      const int rows = static_cast<int>(std::min<size_t>(kScoreBlock, items.size() - start));
      RowMatrix block(rows, stride_);
      for (int r = 0; r < rows; ++r) {
        block.row(r) = Eigen::Map<const Eigen::RowVectorXf>(
            normalized_.data() + static_cast<size_t>(items[start + r]) * stride_, stride_);
      }
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, rows, n_items_, stride_, 1.0f,
                  block.data(), stride_, normalized_.data(), stride_, 0.0f, scores.data(),
                  n_items_);
#pragma omp parallel for num_threads(threads) schedule(dynamic, 4)
      for (int r = 0; r < rows; ++r) {
        const int32_t self = items[start + r];
        TopK({scores.data() + static_cast<size_t>(r) * n_items_, static_cast<size_t>(n_items_)}, k,
             std::span<const int32_t>(&self, 1), nullptr, &(*out)[start + r]);
      }
    }
    return Status::OK();
  }

  Status Save(const std::string& dir) const override {
    if (!fitted_) return Status::InvalidArgument("als: Save before Fit or Load");
    RECSYS_RETURN_IF_ERROR(WriteModelSpec(dir, spec()));
    RECSYS_RETURN_IF_ERROR(WriteArray(dir + "/user_factors.f32", Unpad(user_, n_users_)));
    return WriteArray(dir + "/item_factors.f32", Unpad(item_, n_items_));
  }

  Status Load(const std::string& dir) override {
    RECSYS_ASSIGN_OR_RETURN(std::string stored, ReadModelSpec(dir));
    if (stored != spec()) {
      return Status::InvalidArgument(dir + ": holds a model '" + stored + "', not '" + spec() +
                                     "'");
    }
    RECSYS_ASSIGN_OR_RETURN(DenseArray<float> users, ReadFloatArray(dir + "/user_factors.f32"));
    RECSYS_ASSIGN_OR_RETURN(DenseArray<float> items, ReadFloatArray(dir + "/item_factors.f32"));
    if (users.cols != o_.factors || items.cols != o_.factors ||
        users.rows > std::numeric_limits<int32_t>::max() ||
        items.rows > std::numeric_limits<int32_t>::max()) {
      return Status::Corruption(dir + ": factor arrays are " + std::to_string(users.rows) + " x " +
                                std::to_string(users.cols) + " and " + std::to_string(items.rows) +
                                " x " + std::to_string(items.cols) + ", expected " +
                                std::to_string(o_.factors) + " columns");
    }
    n_users_ = static_cast<int32_t>(users.rows);
    n_items_ = static_cast<int32_t>(items.rows);
    user_ = Pad(users);
    item_ = Pad(items);
    Finish(omp_get_max_threads());
    return Status::OK();
  }

  double last_fit_flops() const { return last_fit_flops_; }

 private:
  double HalfSolve(const CsrMatrix& c, const float* y, const float* gram, float* x, int threads) {
    HalfStep h{&c,          y,      gram, x, o_.factors, stride_, static_cast<float>(o_.alpha),
               o_.cg_steps, threads};
    if (!o_.use_cg) return CholeskyRange(h);
    return HasAvx2() ? CgAvx2(h) : CgRange<PortableOps>(h);
  }

  // Scores and ranks in one pass over item panels, blocks of users per thread: the score matrix
  // is never stored. REQUIRES: AVX2 and FMA.
  Status RecommendFused(std::span<const int32_t> users, const CsrMatrix& history, int k,
                        const RecommendOptions& options,
                        std::vector<std::vector<ItemScore>>* out) const {
    constexpr int kBlockUsers = 16 * kTileUsers;
    const int64_t n = static_cast<int64_t>(users.size());
    const int64_t n_panels = (n_items_ + kPanel - 1) / kPanel;
#pragma omp parallel
    {
      std::vector<float> x(static_cast<size_t>(kBlockUsers) * stride_);
      std::vector<UserTop> tops(kBlockUsers);
#pragma omp for schedule(dynamic, 1)
      for (int64_t start = 0; start < n; start += kBlockUsers) {
        const int rows = static_cast<int>(std::min<int64_t>(kBlockUsers, n - start));
        for (int r = 0; r < kBlockUsers; ++r) {
          UserTop& t = tops[r];
          t = UserTop();
          float* xr = x.data() + static_cast<size_t>(r) * stride_;
          if (r >= rows || !UserVector(users[start + r], history, options.fold_in, xr)) {
            std::fill(xr, xr + stride_, 0.0f);
            continue;
          }
          const int32_t u = users[start + r];
          t.k = k;
          t.n_items = n_items_;
          if (options.exclude_history) t.excluded = history.RowIndices(u);
          t.filter = &options.item_filter;
          t.heap = &(*out)[static_cast<size_t>(start + r)];
          t.heap->reserve(static_cast<size_t>(std::min(k, n_items_)));
        }
        for (int64_t chunk = 0; chunk < n_panels; chunk += kPanelChunk) {
          const int64_t chunk_end = std::min<int64_t>(n_panels, chunk + kPanelChunk);
          for (int r = 0; r < rows; r += kTileUsers) {
            ScanPanelsAvx2(panels_.data(), chunk, chunk_end, stride_,
                           x.data() + static_cast<size_t>(r) * stride_, tops.data() + r);
          }
        }
        for (int r = 0; r < rows; ++r) {
          if (tops[r].k > 0) tops[r].Finish();
        }
      }
    }
    return Status::OK();
  }

  // After Fit or Load: what serving needs besides the factors.
  void Finish(int threads) {
    gram_.assign(static_cast<size_t>(stride_) * stride_, 0.0f);
    Gram(item_.data(), n_items_, o_.factors, stride_, static_cast<float>(o_.regularization),
         threads, gram_.data());
    if (HasAvx2()) panels_ = MakePanels(item_, n_items_, stride_);
    normalized_ = item_;
    for (int32_t i = 0; i < n_items_; ++i) {
      float* v = normalized_.data() + static_cast<size_t>(i) * stride_;
      float norm = 0;
      for (int k = 0; k < stride_; ++k) norm += v[k] * v[k];
      norm = std::sqrt(norm);
      if (norm > 0) {
        for (int k = 0; k < stride_; ++k) v[k] /= norm;
      }
    }
    fitted_ = true;
  }

  // The user's factor row (padded) into x: learned for a fitted user (unless fold_in), folded in
  // from the history row otherwise. False when the user has neither.
  bool UserVector(int32_t u, const CsrMatrix& history, bool fold_in, float* x) const {
    if (u < n_users_ && !fold_in) {
      std::copy_n(user_.data() + static_cast<size_t>(u) * stride_, stride_, x);
      return true;
    }
    if (history.indptr[u] == history.indptr[u + 1]) return false;
    SolveExact(history.RowIndices(u), history.RowData(u), item_.data(), gram_.data(), o_.factors,
               stride_, static_cast<float>(o_.alpha), x);
    return true;
  }

  // Serving's view of the factors: padded rows (the padding is zero, so dot products agree).
  class Factors final : public FactorModel {
   public:
    explicit Factors(const Als* m) : m_(m) {}
    int dims() const override { return m_->stride_; }
    int32_t item_count() const override { return m_->n_items_; }
    const float* ItemVector(int32_t item) const override {
      return m_->item_.data() + static_cast<size_t>(item) * m_->stride_;
    }
    bool UserVector(int32_t fitted_user, std::span<const int32_t> items,
                    std::span<const float> weights, float* out) const override {
      if (items.empty()) {
        if (fitted_user < 0 || fitted_user >= m_->n_users_) return false;
        std::copy_n(m_->user_.data() + static_cast<size_t>(fitted_user) * m_->stride_, m_->stride_,
                    out);
        return true;
      }
      SolveExact(items, weights, m_->item_.data(), m_->gram_.data(), m_->o_.factors, m_->stride_,
                 static_cast<float>(m_->o_.alpha), out);
      return true;
    }

   private:
    const Als* m_;
  };
  const FactorModel* factors() const override { return fitted_ ? &factors_ : nullptr; }

  DenseArray<float> Unpad(const std::vector<float>& padded, int32_t rows) const {
    DenseArray<float> a;
    a.rows = rows;
    a.cols = o_.factors;
    a.values.resize(static_cast<size_t>(rows) * o_.factors);
    for (int32_t r = 0; r < rows; ++r) {
      std::copy_n(padded.data() + static_cast<size_t>(r) * stride_, o_.factors,
                  a.values.data() + static_cast<size_t>(r) * o_.factors);
    }
    return a;
  }

  std::vector<float> Pad(const DenseArray<float>& a) const {
    std::vector<float> padded(static_cast<size_t>(a.rows) * stride_, 0.0f);
    for (int64_t r = 0; r < a.rows; ++r) {
      std::copy_n(a.values.data() + static_cast<size_t>(r) * o_.factors, o_.factors,
                  padded.data() + static_cast<size_t>(r) * stride_);
    }
    return padded;
  }

  AlsOptions o_;
  int stride_;
  bool fitted_ = false;
  int32_t n_users_ = 0, n_items_ = 0;
  std::vector<float> user_, item_;  // rows x stride_, row-major, zero padding
  std::vector<float> gram_;         // item Gram matrix plus regularisation, for fold-in
  std::vector<float> normalized_;   // item factors scaled to unit length, for SimilarItems
  std::vector<float> panels_;       // item factors in panels (MakePanels), for RecommendFused
  double last_fit_flops_ = 0;
  Factors factors_{this};
};

}  // namespace

Result<std::unique_ptr<Recommender>> MakeAls(const ModelSpec& spec) {
  AlsOptions o;
  RECSYS_ASSIGN_OR_RETURN(int64_t factors, spec.Int("factors", o.factors, 1, 1024));
  RECSYS_ASSIGN_OR_RETURN(int64_t iterations, spec.Int("iterations", o.iterations, 0, 10000));
  RECSYS_ASSIGN_OR_RETURN(o.regularization,
                          spec.Double("regularization", o.regularization, 0, 1e9));
  RECSYS_ASSIGN_OR_RETURN(o.alpha, spec.Double("alpha", o.alpha, 0, 1e9));
  RECSYS_ASSIGN_OR_RETURN(int64_t cg_steps, spec.Int("cg_steps", o.cg_steps, 1, 1000));
  RECSYS_ASSIGN_OR_RETURN(std::string solver, spec.String("solver", "cg", {"cg", "cholesky"}));
  RECSYS_ASSIGN_OR_RETURN(o.seed, spec.Int("seed", -1, 0, std::numeric_limits<int64_t>::max()));
  o.factors = static_cast<int>(factors);
  o.iterations = static_cast<int>(iterations);
  o.cg_steps = static_cast<int>(cg_steps);
  o.use_cg = solver == "cg";
  return std::unique_ptr<Recommender>(new Als(o));
}

double AlsLastFitFlops(const Recommender& model) {
  const auto* als = dynamic_cast<const Als*>(&model);
  return als == nullptr ? 0 : als->last_fit_flops();
}

}  // namespace recsys
