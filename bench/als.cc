// bench/als: ALS fit time, achieved GFLOP/s, top-10 time for every user, ranking quality of the
// conjugate-gradient solver against the exact Cholesky solver, and peak memory.
//
// The matrix is random but shaped like a shop: item popularity follows a power law, and each
// user belongs to one of 50 taste groups whose items it picks half of the time, so a held-out
// split has something to find.
//
//   build/bin/bench_als [--users 50000] [--items 20000] [--nnz 1000000] [--factors 64]
//                       [--iterations 15] [--cg-steps 3] [--threads 0] [--repeat 3]
//                       [--quality 1] [--topk 1] [--seed 42]
//
// Reference (DESIGN.md §7): implicit's CG ALS with OpenBLAS fits the default problem in about
// 4.6 s on 2 cores; the target is 3 s or less, at the quality of the exact solver. Every figure
// is measured in the run that prints it; nothing is asserted.
#include "models/als.h"

#include <omp.h>
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "models/recommender.h"

namespace recsys {
namespace {

struct BenchOptions {
  int32_t users = 50000;
  int32_t items = 20000;
  int64_t nnz = 1000000;
  int factors = 64;
  int iterations = 15;
  int cg_steps = 3;
  int threads = 0;
  int repeat = 3;
  bool quality = true;
  bool topk = true;
  uint64_t seed = 42;
};

double Now() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

void Check(const Status& st, const char* what) {
  if (!st.ok()) {
    std::fprintf(stderr, "bench_als: %s: %s\n", what, st.ToString().c_str());
    std::exit(1);
  }
}

double PeakRssGiB() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return static_cast<double>(ru.ru_maxrss) / (1024.0 * 1024.0);  // ru_maxrss is in KiB
}

std::vector<Triplet> Generate(const BenchOptions& o) {
  std::mt19937_64 rng(o.seed);
  // Power-law popularity: item rank r drawn with weight 1 / (r + 1)^0.9, ranks shuffled onto ids.
  std::vector<double> cdf(static_cast<size_t>(o.items));
  double total = 0;
  for (int32_t r = 0; r < o.items; ++r) cdf[r] = total += 1.0 / std::pow(r + 1.0, 0.9);
  std::vector<int32_t> id_of_rank(static_cast<size_t>(o.items));
  for (int32_t i = 0; i < o.items; ++i) id_of_rank[i] = i;
  std::shuffle(id_of_rank.begin(), id_of_rank.end(), rng);
  constexpr int kGroups = 50;
  const int32_t group_span = std::max(1, o.items / kGroups);
  std::uniform_real_distribution<double> unit(0.0, 1.0);
  std::vector<Triplet> t(static_cast<size_t>(o.nnz));
  for (int64_t j = 0; j < o.nnz; ++j) {
    const int32_t u = static_cast<int32_t>(rng() % static_cast<uint64_t>(o.users));
    int32_t rank = static_cast<int32_t>(
        std::lower_bound(cdf.begin(), cdf.end(), unit(rng) * total) - cdf.begin());
    rank = std::min(rank, o.items - 1);
    int32_t item = id_of_rank[rank];
    if (rng() % 2 == 0) item = (u % kGroups) * group_span + rank % group_span;
    t[j] = {u, item % o.items, 1.0f + static_cast<float>(rng() % 4)};
  }
  return t;
}

std::string Spec(const BenchOptions& o, const char* solver) {
  return "als:factors=" + std::to_string(o.factors) +
         ",iterations=" + std::to_string(o.iterations) + ",cg_steps=" + std::to_string(o.cg_steps) +
         ",solver=" + solver;
}

std::unique_ptr<Recommender> Fit(const std::string& spec, const CsrMatrix& m, const BenchOptions& o,
                                 double* seconds) {
  auto model = CreateRecommender(spec);
  Check(model.status(), "spec");
  FitOptions fit;
  fit.threads = o.threads;
  fit.seed = o.seed;
  const double start = Now();
  Check((*model)->Fit(m, fit), "fit");
  *seconds = Now() - start;
  return std::move(model).value();
}

std::vector<std::vector<ItemScore>> TopTen(const Recommender& model, const CsrMatrix& m,
                                           double* seconds) {
  std::vector<int32_t> users(static_cast<size_t>(m.rows));
  for (int32_t u = 0; u < m.rows; ++u) users[u] = u;
  std::vector<std::vector<ItemScore>> out;
  const double start = Now();
  Check(model.Recommend(users, m, 10, {}, &out), "recommend");
  *seconds = Now() - start;
  return out;
}

struct Quality {
  double ndcg = 0, recall = 0;
};

// NDCG@10 and recall@10 over users with held-out items.
Quality Evaluate(const std::vector<std::vector<ItemScore>>& recs, const CsrMatrix& test) {
  Quality q;
  int evaluated = 0;
  for (int32_t u = 0; u < test.rows; ++u) {
    std::span<const int32_t> relevant = test.RowIndices(u);
    if (relevant.empty()) continue;
    double dcg = 0, idcg = 0;
    int hits = 0;
    for (size_t j = 0; j < recs[u].size(); ++j) {
      if (std::binary_search(relevant.begin(), relevant.end(), recs[u][j].item)) {
        dcg += 1.0 / std::log2(j + 2.0);
        ++hits;
      }
    }
    for (size_t j = 0; j < std::min<size_t>(10, relevant.size()); ++j) {
      idcg += 1.0 / std::log2(j + 2.0);
    }
    q.ndcg += dcg / idcg;
    q.recall += static_cast<double>(hits) / std::min<double>(10, relevant.size());
    ++evaluated;
  }
  if (evaluated > 0) {
    q.ndcg /= evaluated;
    q.recall /= evaluated;
  }
  return q;
}

double Overlap(const std::vector<std::vector<ItemScore>>& a,
               const std::vector<std::vector<ItemScore>>& b) {
  int64_t same = 0, total = 0;
  for (size_t u = 0; u < a.size(); ++u) {
    for (const ItemScore& x : a[u]) {
      for (const ItemScore& y : b[u]) same += x.item == y.item;
    }
    total += static_cast<int64_t>(b[u].size());
  }
  return total == 0 ? 1.0 : static_cast<double>(same) / static_cast<double>(total);
}

int Run(const BenchOptions& o) {
  const int threads = o.threads > 0 ? o.threads : omp_get_max_threads();
  std::printf(
      "bench_als: %d users x %d items, %lld interactions, %d factors, %d iterations, "
      "cg_steps %d, %d threads\n",
      o.users, o.items, static_cast<long long>(o.nnz), o.factors, o.iterations, o.cg_steps,
      threads);
  double start = Now();
  std::vector<Triplet> triplets = Generate(o);
  const CsrMatrix m = CsrMatrix::FromTriplets(o.users, o.items, std::move(triplets));
  std::printf("generated %lld distinct interactions in %.2f s\n", static_cast<long long>(m.nnz()),
              Now() - start);

  std::vector<double> fits;
  std::unique_ptr<Recommender> model;
  for (int r = 0; r < o.repeat; ++r) {
    double seconds = 0;
    model = Fit(Spec(o, "cg"), m, o, &seconds);
    fits.push_back(seconds);
    std::printf("  cg fit %d: %.3f s\n", r + 1, seconds);
  }
  std::sort(fits.begin(), fits.end());
  const double fit = fits[fits.size() / 2];
  const double flops = AlsLastFitFlops(*model);
  std::printf(
      "fit (cg, median of %d): %.3f s, %.4f s per iteration, %.1f GFLOP/s "
      "(%.1f GFLOP counted); reference: implicit 4.6 s, target <= 3 s\n",
      o.repeat, fit, fit / std::max(1, o.iterations), flops / fit / 1e9, flops / 1e9);
  std::printf("peak memory after fit (maxrss): %.3f GiB; target <= 4 GiB at 20M interactions\n",
              PeakRssGiB());

  if (o.topk) {
    double top_seconds = 0;
    (void)TopTen(*model, m, &top_seconds);
    std::printf("top-10 for all %d users: %.3f s (%.1f us per user); target <= 1.5 s\n", m.rows,
                top_seconds, top_seconds / m.rows * 1e6);
  }
  if (!o.quality) return 0;

  // Quality: hold out a random 10% of the interactions; fit on the rest with both solvers.
  std::mt19937_64 rng(o.seed + 1);
  std::vector<Triplet> train, test;
  for (int32_t u = 0; u < m.rows; ++u) {
    for (int64_t j = m.indptr[u]; j < m.indptr[u + 1]; ++j) {
      (rng() % 10 == 0 ? test : train).push_back({u, m.indices[j], m.data[j]});
    }
  }
  const CsrMatrix train_m = CsrMatrix::FromTriplets(o.users, o.items, std::move(train));
  const CsrMatrix test_m = CsrMatrix::FromTriplets(o.users, o.items, std::move(test));
  double cg_fit = 0, exact_fit = 0, unused = 0;
  auto cg = Fit(Spec(o, "cg"), train_m, o, &cg_fit);
  auto cg_recs = TopTen(*cg, train_m, &unused);
  auto exact = Fit(Spec(o, "cholesky"), train_m, o, &exact_fit);
  const double exact_flops = AlsLastFitFlops(*exact);
  auto exact_recs = TopTen(*exact, train_m, &unused);
  const Quality qc = Evaluate(cg_recs, test_m), qe = Evaluate(exact_recs, test_m);
  std::printf("held-out 10%% (%lld interactions), k=10:\n", static_cast<long long>(test_m.nnz()));
  std::printf("  cg:       NDCG %.4f  recall %.4f  fit %.3f s\n", qc.ndcg, qc.recall, cg_fit);
  std::printf("  cholesky: NDCG %.4f  recall %.4f  fit %.3f s (%.1f GFLOP/s)\n", qe.ndcg, qe.recall,
              exact_fit, exact_flops / exact_fit / 1e9);
  std::printf("  top-10 overlap cg vs cholesky: %.3f; NDCG ratio cg/cholesky: %.3f\n",
              Overlap(cg_recs, exact_recs), qe.ndcg > 0 ? qc.ndcg / qe.ndcg : 0.0);
  std::printf("peak memory (maxrss): %.3f GiB\n", PeakRssGiB());
  return 0;
}

}  // namespace
}  // namespace recsys

int main(int argc, char** argv) {
  recsys::BenchOptions o;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (i + 1 >= argc) {
      std::fprintf(stderr, "bench_als: %s needs a value\n", a.c_str());
      return 2;
    }
    const char* v = argv[++i];
    if (a == "--users") {
      o.users = std::atoi(v);
    } else if (a == "--items") {
      o.items = std::atoi(v);
    } else if (a == "--nnz") {
      o.nnz = std::atoll(v);
    } else if (a == "--factors") {
      o.factors = std::atoi(v);
    } else if (a == "--iterations") {
      o.iterations = std::atoi(v);
    } else if (a == "--cg-steps") {
      o.cg_steps = std::atoi(v);
    } else if (a == "--threads") {
      o.threads = std::atoi(v);
    } else if (a == "--repeat") {
      o.repeat = std::max(1, std::atoi(v));
    } else if (a == "--quality") {
      o.quality = std::atoi(v) != 0;
    } else if (a == "--topk") {
      o.topk = std::atoi(v) != 0;
    } else if (a == "--seed") {
      o.seed = std::strtoull(v, nullptr, 10);
    } else {
      std::fprintf(stderr, "bench_als: unknown flag %s\n", a.c_str());
      return 2;
    }
  }
  if (o.users <= 0 || o.items <= 0 || o.nnz <= 0) {
    std::fprintf(stderr, "bench_als: --users, --items and --nnz must be positive\n");
    return 2;
  }
  return recsys::Run(o);
}
