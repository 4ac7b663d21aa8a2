#include "process/kmeans.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <string>

namespace recsys {
namespace {

// splitmix64 (Steele, Lea, Flood 2014): tiny, fast, and the same on every platform.
class SplitMix64 {
 public:
  explicit SplitMix64(uint64_t seed) : state_(seed) {}
  uint64_t Next() {
    uint64_t z = (state_ += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }
  // Uniform in [0, 1), 53 bits.
  double Uniform() { return static_cast<double>(Next() >> 11) * 0x1.0p-53; }
  // Uniform in [0, n). REQUIRES: n > 0.
  size_t Below(size_t n) {
    return std::min(n - 1, static_cast<size_t>(Uniform() * static_cast<double>(n)));
  }

 private:
  uint64_t state_;
};

double SquaredDistance(const double* a, const double* b, size_t d) {
  double s = 0;
  for (size_t j = 0; j < d; ++j) {
    const double t = a[j] - b[j];
    s += t * t;
  }
  return s;
}

// k-means++ (Arthur and Vassilvitskii 2007): each next centre is a row drawn with probability
// proportional to its squared distance from the nearest centre so far. Stops early when every
// row coincides with a centre (fewer distinct rows than k). Returns the centres chosen.
DenseMatrix PlusPlusCentres(const DenseMatrix& data, int k, SplitMix64* rng) {
  const size_t n = data.rows, d = data.cols;
  std::vector<size_t> chosen = {rng->Below(n)};
  std::vector<double> d2(n);
  for (size_t i = 0; i < n; ++i) d2[i] = SquaredDistance(data.row(i), data.row(chosen[0]), d);
  while (static_cast<int>(chosen.size()) < k) {
    double total = 0;
    for (double v : d2) total += v;
    if (!(total > 0)) break;
    const double target = rng->Uniform() * total;
    size_t pick = n;
    double cumulative = 0;
    for (size_t i = 0; i < n; ++i) {
      if (d2[i] <= 0) continue;
      pick = i;  // the last positive row, should rounding leave target beyond the sum
      cumulative += d2[i];
      if (cumulative > target) break;
    }
    chosen.push_back(pick);
    for (size_t i = 0; i < n; ++i) {
      d2[i] = std::min(d2[i], SquaredDistance(data.row(i), data.row(pick), d));
    }
  }
  DenseMatrix centres(chosen.size(), d);
  for (size_t c = 0; c < chosen.size(); ++c) {
    std::copy_n(data.row(chosen[c]), d, centres.row(c));
  }
  return centres;
}

// Assigns each row to its nearest centre (the lowest index on ties). Returns the inertia and
// sets *changed to the number of rows whose cluster changed.
double Assign(const DenseMatrix& data, const DenseMatrix& centres, std::vector<int>* assignment,
              std::vector<double>* d2, size_t* changed) {
  double inertia = 0;
  *changed = 0;
  for (size_t i = 0; i < data.rows; ++i) {
    int best = 0;
    double best_d = std::numeric_limits<double>::infinity();
    for (size_t c = 0; c < centres.rows; ++c) {
      const double dist = SquaredDistance(data.row(i), centres.row(c), data.cols);
      if (dist < best_d) {
        best_d = dist;
        best = static_cast<int>(c);
      }
    }
    if ((*assignment)[i] != best) ++*changed;
    (*assignment)[i] = best;
    (*d2)[i] = best_d;
    inertia += best_d;
  }
  return inertia;
}

// Moves each centre to the mean of its rows. A centre left without rows jumps to the row
// farthest from its own centre (taken from a cluster that keeps at least one row), the usual
// remedy, so k clusters survive whenever there are k distinct rows.
void Update(const DenseMatrix& data, const std::vector<int>& assignment, std::vector<double> d2,
            DenseMatrix* centres) {
  const size_t k = centres->rows, d = data.cols;
  std::vector<size_t> counts(k, 0);
  std::fill(centres->values.begin(), centres->values.end(), 0.0);
  for (size_t i = 0; i < data.rows; ++i) {
    const int c = assignment[i];
    ++counts[c];
    double* centre = centres->row(c);
    const double* x = data.row(i);
    for (size_t j = 0; j < d; ++j) centre[j] += x[j];
  }
  for (size_t c = 0; c < k; ++c) {
    if (counts[c] == 0) continue;
    double* centre = centres->row(c);
    for (size_t j = 0; j < d; ++j) centre[j] /= static_cast<double>(counts[c]);
  }
  for (size_t c = 0; c < k; ++c) {
    if (counts[c] != 0) continue;
    size_t far = data.rows;
    for (size_t i = 0; i < data.rows; ++i) {
      if (counts[assignment[i]] > 1 && d2[i] > 0 && (far == data.rows || d2[i] > d2[far])) far = i;
    }
    if (far == data.rows) continue;  // nothing to give: the next assignment keeps it empty
    std::copy_n(data.row(far), d, centres->row(c));
    --counts[assignment[far]];
    counts[c] = 1;
    d2[far] = 0;
  }
}

// One Lloyd run from the given centres.
KMeansResult Lloyd(const DenseMatrix& data, DenseMatrix centres, const KMeansOptions& options) {
  KMeansResult r;
  r.assignment.assign(data.rows, -1);
  std::vector<double> d2(data.rows);
  size_t changed = 0;
  double inertia = Assign(data, centres, &r.assignment, &d2, &changed);
  while (r.iterations < options.max_iterations) {
    Update(data, r.assignment, d2, &centres);
    ++r.iterations;
    const double next = Assign(data, centres, &r.assignment, &d2, &changed);
    const double gain = inertia - next;
    inertia = next;
    if (changed == 0 || (gain >= 0 && gain <= options.tolerance * (inertia + gain))) break;
  }
  r.k = static_cast<int>(centres.rows);
  r.centroids = std::move(centres);
  r.inertia = inertia;
  r.distance.resize(data.rows);
  for (size_t i = 0; i < data.rows; ++i) r.distance[i] = std::sqrt(d2[i]);
  return r;
}

// Renumbers clusters by their first row, so equal partitions get equal labels; drops centres
// that ended without rows.
void Canonicalise(KMeansResult* r) {
  std::vector<int> label(r->centroids.rows, -1);
  int next = 0;
  for (int& a : r->assignment) {
    if (label[a] < 0) label[a] = next++;
    a = label[a];
  }
  DenseMatrix centres(static_cast<size_t>(next), r->centroids.cols);
  for (size_t c = 0; c < label.size(); ++c) {
    if (label[c] >= 0) std::copy_n(r->centroids.row(c), centres.cols, centres.row(label[c]));
  }
  r->centroids = std::move(centres);
  r->k = next;
}

Status Validate(const DenseMatrix& data) {
  if (data.values.size() != data.rows * data.cols) {
    return Status::InvalidArgument("kmeans: matrix has " + std::to_string(data.values.size()) +
                                   " values for " + std::to_string(data.rows) + " x " +
                                   std::to_string(data.cols));
  }
  if (data.rows > 0 && data.cols == 0)
    return Status::InvalidArgument("kmeans: rows without columns");
  for (size_t i = 0; i < data.values.size(); ++i) {
    if (!std::isfinite(data.values[i])) {
      return Status::InvalidArgument("kmeans: value at row " + std::to_string(i / data.cols) +
                                     ", column " + std::to_string(i % data.cols) +
                                     " is not finite");
    }
  }
  return Status::OK();
}

// A sorted sample of m of the n row indices (all of them when m >= n).
std::vector<size_t> SampleRows(size_t n, size_t m, uint64_t seed) {
  std::vector<size_t> idx(n);
  std::iota(idx.begin(), idx.end(), size_t{0});
  if (m >= n) return idx;
  SplitMix64 rng(seed);
  for (size_t i = 0; i < m; ++i) std::swap(idx[i], idx[i + rng.Below(n - i)]);
  idx.resize(m);
  std::sort(idx.begin(), idx.end());
  return idx;
}

DenseMatrix SelectRows(const DenseMatrix& data, const std::vector<size_t>& rows) {
  DenseMatrix out(rows.size(), data.cols);
  for (size_t i = 0; i < rows.size(); ++i) std::copy_n(data.row(rows[i]), data.cols, out.row(i));
  return out;
}

}  // namespace

Result<KMeansResult> KMeans(const DenseMatrix& data, const KMeansOptions& options) {
  if (options.k < 1) return Status::InvalidArgument("kmeans: k must be at least 1");
  if (options.max_iterations < 1 || options.restarts < 1) {
    return Status::InvalidArgument("kmeans: max_iterations and restarts must be at least 1");
  }
  RECSYS_RETURN_IF_ERROR(Validate(data));
  if (data.rows == 0) {
    KMeansResult empty;
    empty.centroids = DenseMatrix(0, data.cols);
    return empty;
  }
  SplitMix64 rng(options.seed);
  KMeansResult best;
  bool have_best = false;
  for (int start = 0; start < options.restarts; ++start) {
    KMeansResult r = Lloyd(data, PlusPlusCentres(data, options.k, &rng), options);
    if (!have_best || r.inertia < best.inertia) {
      best = std::move(r);
      have_best = true;
    }
  }
  Canonicalise(&best);
  return best;
}

double Silhouette(const DenseMatrix& data, const std::vector<int>& assignment, size_t max_points,
                  uint64_t seed) {
  const std::vector<size_t> rows = SampleRows(data.rows, std::max<size_t>(max_points, 2), seed);
  const size_t m = rows.size();
  if (m < 2) return 0;
  int labels = 0;
  for (size_t r : rows) labels = std::max(labels, assignment[r] + 1);
  std::vector<size_t> count(labels, 0);
  for (size_t r : rows) ++count[assignment[r]];
  if (std::count_if(count.begin(), count.end(), [](size_t c) { return c > 0; }) < 2) return 0;
  // sums[p * labels + c]: total distance from sampled row p to the sampled rows of cluster c.
  std::vector<double> sums(m * labels, 0.0);
  for (size_t p = 0; p < m; ++p) {
    for (size_t q = p + 1; q < m; ++q) {
      const double dist =
          std::sqrt(SquaredDistance(data.row(rows[p]), data.row(rows[q]), data.cols));
      sums[p * labels + assignment[rows[q]]] += dist;
      sums[q * labels + assignment[rows[p]]] += dist;
    }
  }
  double total = 0;
  for (size_t p = 0; p < m; ++p) {
    const int own = assignment[rows[p]];
    if (count[own] < 2) continue;  // a singleton's silhouette is 0 by convention
    const double a = sums[p * labels + own] / static_cast<double>(count[own] - 1);
    double b = std::numeric_limits<double>::infinity();
    for (int c = 0; c < labels; ++c) {
      if (c == own || count[c] == 0) continue;
      b = std::min(b, sums[p * labels + c] / static_cast<double>(count[c]));
    }
    const double denom = std::max(a, b);
    if (denom > 0) total += (b - a) / denom;
  }
  return total / static_cast<double>(m);
}

Result<KSelection> ChooseK(const DenseMatrix& data, const KMeansOptions& options,
                           const KSelectionOptions& selection) {
  if (selection.min_k < 2 || selection.max_k < selection.min_k) {
    return Status::InvalidArgument("kmeans: choosing k needs 2 <= min_k <= max_k, got [" +
                                   std::to_string(selection.min_k) + ", " +
                                   std::to_string(selection.max_k) + "]");
  }
  RECSYS_RETURN_IF_ERROR(Validate(data));
  const bool sampled = data.rows > selection.sample_rows;
  DenseMatrix sample;
  if (sampled)
    sample = SelectRows(data, SampleRows(data.rows, selection.sample_rows, options.seed));
  const DenseMatrix& fit_on = sampled ? sample : data;

  KSelection out;
  KMeansOptions o = options;
  int best_k = 0;
  double best_score = -std::numeric_limits<double>::infinity();
  KMeansResult best;
  for (int k = selection.min_k; k <= selection.max_k; ++k) {
    o.k = k;
    RECSYS_ASSIGN_OR_RETURN(KMeansResult r, KMeans(fit_on, o));
    if (r.k < k) break;  // fewer distinct rows than k: larger k cannot do better
    const double score =
        Silhouette(fit_on, r.assignment, selection.silhouette_points, options.seed);
    out.silhouettes.push_back(score);
    if (score > best_score) {
      best_score = score;
      best_k = k;
      best = std::move(r);
    }
  }
  if (best_k == 0 || sampled) {
    // Either too few distinct rows for min_k (KMeans then returns what there is) or the choice
    // was made on a sample: fit on every row.
    o.k = best_k == 0 ? selection.min_k : best_k;
    RECSYS_ASSIGN_OR_RETURN(best, KMeans(data, o));
  }
  out.result = std::move(best);
  return out;
}

}  // namespace recsys
