// KMeans: Lloyd's algorithm with k-means++ starts on a dense matrix, and the silhouette score
// used to choose k. Deterministic: the same data, options and seed give the same clusters, with
// every random choice drawn from a splitmix64 stream (no std:: distributions, whose output
// differs between standard libraries).
//
// Thread safety: the functions keep no state; call them from any thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "core/status.h"

namespace recsys {

// Row-major: row i is values[i * cols, (i + 1) * cols).
struct DenseMatrix {
  size_t rows = 0, cols = 0;
  std::vector<double> values;

  DenseMatrix() = default;
  DenseMatrix(size_t r, size_t c) : rows(r), cols(c), values(r * c, 0.0) {}
  double* row(size_t i) { return values.data() + i * cols; }
  const double* row(size_t i) const { return values.data() + i * cols; }
};

struct KMeansOptions {
  int k = 8;                 // clusters wanted (>= 1); fewer when there are fewer distinct rows
  int max_iterations = 100;  // Lloyd iterations per start
  int restarts = 4;          // independent k-means++ starts; the lowest inertia wins
  double tolerance = 1e-7;   // stop when inertia falls by less than this fraction
  uint64_t seed = 42;
};

struct KMeansResult {
  int k = 0;                     // clusters found: min(options.k, distinct rows)
  DenseMatrix centroids;         // k x cols
  std::vector<int> assignment;   // per row, in [0, k); clusters numbered by first row in them
  std::vector<double> distance;  // per row: Euclidean distance to its centroid
  double inertia = 0;            // sum of squared distances
  int iterations = 0;            // Lloyd iterations of the winning start
};

// Clusters the rows of data. Empty data gives k = 0; identical rows give one cluster.
// InvalidArgument if k < 1, values.size() != rows * cols, or a value is not finite.
Result<KMeansResult> KMeans(const DenseMatrix& data, const KMeansOptions& options);

// The mean silhouette coefficient of a clustering, in [-1, 1] (higher: tighter, better separated
// clusters); 0 when fewer than two clusters are present. Computed on at most max_points rows,
// drawn without replacement with a seeded splitmix64 stream when there are more, so the cost is
// O(max_points^2 * cols). REQUIRES: assignment.size() == data.rows, labels >= 0.
double Silhouette(const DenseMatrix& data, const std::vector<int>& assignment,
                  size_t max_points = 2000, uint64_t seed = 42);

struct KSelectionOptions {
  int min_k = 2;
  int max_k = 8;
  // k is chosen on at most this many rows (a seeded sample) and then fitted on all of them, so
  // choosing costs about as much as a fit on the sample per candidate k.
  size_t sample_rows = 20000;
  size_t silhouette_points = 2000;
};

struct KSelection {
  KMeansResult result;              // the chosen k, fitted on every row
  std::vector<double> silhouettes;  // per k tried, from min_k upwards
};

// Fits k = min_k..max_k and keeps the k with the best silhouette (the smaller k on ties). Stops
// early when the data has fewer distinct rows than k; with fewer than two distinct rows the
// result is a single cluster (or none for empty data). options.k is ignored.
// InvalidArgument for min_k < 2 or max_k < min_k, or as KMeans.
Result<KSelection> ChooseK(const DenseMatrix& data, const KMeansOptions& options,
                           const KSelectionOptions& selection);

}  // namespace recsys
