// ALS for implicit feedback (Hu, Koren, Volinsky 2008): confidence c = 1 + alpha * value,
// preference 1 for every observed (user, item), 0 elsewhere. Each half-step solves every user (or
// item) against the fixed other side either exactly (Cholesky) or with a few conjugate-gradient
// steps warm-started from the previous factors (Takács, Pilászy, Tikk 2011), both in float32.
//
// Spec: "als:factors=100,iterations=15,regularization=0.01,alpha=1,cg_steps=3,solver=cg,seed=N"
// (defaults as benfred/implicit; seed, when absent, comes from FitOptions).
#pragma once

#include <cstdint>
#include <string>

namespace recsys {

struct AlsOptions {
  int factors = 100;             // [1, 1024]
  int iterations = 15;           // [0, 10000]
  double regularization = 0.01;  // [0, 1e9], added to the diagonal of every normal equation
  double alpha = 1.0;            // [0, 1e9], confidence = 1 + alpha * value
  int cg_steps = 3;              // [1, 1000], conjugate-gradient steps per user and iteration
  bool use_cg = true;            // false: exact Cholesky solve per user ("solver=cholesky")
  int64_t seed = -1;             // initial factors; -1: FitOptions::seed
};

// Floating point operations of the last Fit (the solver's arithmetic, for benchmarks).
// 0 before a Fit. REQUIRES: model is an ALS model made by CreateRecommender.
class Recommender;
double AlsLastFitFlops(const Recommender& model);

}  // namespace recsys
