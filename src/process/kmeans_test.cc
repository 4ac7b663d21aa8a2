#include "process/kmeans.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <vector>

namespace recsys {
namespace {

// Three tight blobs of `per_blob` points each, rows in blob order: centres (0, 0), (10, 10),
// (20, 0), each point within 0.5 of its centre on a fixed pattern.
DenseMatrix Blobs(int per_blob) {
  const double centres[3][2] = {{0, 0}, {10, 10}, {20, 0}};
  DenseMatrix m(3 * per_blob, 2);
  for (int b = 0; b < 3; ++b) {
    for (int i = 0; i < per_blob; ++i) {
      double* row = m.row(b * per_blob + i);
      row[0] = centres[b][0] + 0.3 * std::cos(i * 2.1);
      row[1] = centres[b][1] + 0.3 * std::sin(i * 1.3);
    }
  }
  return m;
}

std::vector<int> BlobLabels(int per_blob) {
  std::vector<int> labels;
  for (int b = 0; b < 3; ++b) labels.insert(labels.end(), per_blob, b);
  return labels;
}

TEST(KMeansTest, RecoversThreeSeparatedBlobs) {
  DenseMatrix data = Blobs(30);
  KMeansOptions options;
  options.k = 3;
  Result<KMeansResult> r = KMeans(data, options);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->k, 3);
  // Clusters are numbered by their first row, and rows come in blob order.
  EXPECT_EQ(r->assignment, BlobLabels(30));
  const double expected[3][2] = {{0, 0}, {10, 10}, {20, 0}};
  for (int c = 0; c < 3; ++c) {
    EXPECT_NEAR(r->centroids.row(c)[0], expected[c][0], 0.3);
    EXPECT_NEAR(r->centroids.row(c)[1], expected[c][1], 0.3);
  }
  for (double d : r->distance) EXPECT_LT(d, 0.8);
  EXPECT_LT(r->iterations, options.max_iterations);
}

TEST(KMeansTest, SilhouetteOfATinyClusteringIsTheTextbookValue) {
  // Points 0, 1 | 10, 11 on a line: a = 1 for every point; b = 10.5 for the outer points and
  // 9.5 for the inner ones; s = (b - a) / b.
  DenseMatrix data(4, 1);
  data.values = {0, 1, 10, 11};
  const double expected = (9.5 / 10.5 + 8.5 / 9.5) / 2;
  EXPECT_NEAR(Silhouette(data, {0, 0, 1, 1}), expected, 1e-12);
  // A clustering that mixes the groups scores worse.
  EXPECT_LT(Silhouette(data, {0, 1, 0, 1}), 0);
  EXPECT_EQ(Silhouette(data, {0, 0, 0, 0}), 0);
}

TEST(KMeansTest, SilhouetteChoosesThreeOnThreeBlobs) {
  Result<KSelection> s = ChooseK(Blobs(30), KMeansOptions{}, KSelectionOptions{2, 6});
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  EXPECT_EQ(s->result.k, 3);
  ASSERT_EQ(s->silhouettes.size(), 5u);  // k = 2..6
  for (size_t i = 0; i < s->silhouettes.size(); ++i) {
    if (i != 1) {
      EXPECT_LT(s->silhouettes[i], s->silhouettes[1]) << "k = " << i + 2;
    }
  }
  EXPECT_EQ(s->result.assignment, BlobLabels(30));
}

TEST(KMeansTest, ChoosingOnASampleStillFitsEveryRow) {
  KSelectionOptions selection{2, 5};
  selection.sample_rows = 40;  // of 300 rows
  selection.silhouette_points = 30;
  Result<KSelection> s = ChooseK(Blobs(100), KMeansOptions{}, selection);
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  EXPECT_EQ(s->result.k, 3);
  EXPECT_EQ(s->result.assignment, BlobLabels(100));
}

TEST(KMeansTest, SameSeedGivesTheSameClusters) {
  // Structureless points, where the outcome depends on the starts.
  DenseMatrix data(500, 3);
  uint64_t x = 12345;
  for (double& v : data.values) {
    x = x * 6364136223846793005ULL + 1442695040888963407ULL;
    v = static_cast<double>(x >> 40) / static_cast<double>(1 << 24);
  }
  KMeansOptions options;
  options.k = 5;
  options.seed = 7;
  Result<KMeansResult> a = KMeans(data, options);
  Result<KMeansResult> b = KMeans(data, options);
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(a->assignment, b->assignment);
  EXPECT_EQ(a->centroids.values, b->centroids.values);
  EXPECT_EQ(a->inertia, b->inertia);
  EXPECT_EQ(a->k, 5);
  // More starts never end worse than fewer: the best inertia is kept.
  options.restarts = 1;
  Result<KMeansResult> one = KMeans(data, options);
  ASSERT_TRUE(one.ok());
  EXPECT_LE(a->inertia, one->inertia);
}

TEST(KMeansTest, FewerDistinctPointsThanK) {
  DenseMatrix data(3, 2);
  data.values = {1, 1, 5, 5, 1, 1};
  KMeansOptions options;
  options.k = 5;
  Result<KMeansResult> r = KMeans(data, options);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->k, 2);
  EXPECT_EQ(r->assignment, (std::vector<int>{0, 1, 0}));
  EXPECT_EQ(r->inertia, 0);
  EXPECT_EQ(r->centroids.rows, 2u);
}

TEST(KMeansTest, IdenticalPointsFormOneCluster) {
  DenseMatrix data(10, 2);
  std::fill(data.values.begin(), data.values.end(), 3.5);
  KMeansOptions options;
  options.k = 3;
  Result<KMeansResult> r = KMeans(data, options);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->k, 1);
  EXPECT_EQ(r->assignment, std::vector<int>(10, 0));
  EXPECT_EQ(r->distance, std::vector<double>(10, 0.0));

  Result<KSelection> s = ChooseK(data, KMeansOptions{}, KSelectionOptions{2, 8});
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  EXPECT_EQ(s->result.k, 1);
  EXPECT_TRUE(s->silhouettes.empty());
  EXPECT_EQ(Silhouette(data, r->assignment), 0);
}

TEST(KMeansTest, EmptyAndSinglePointInputs) {
  Result<KMeansResult> empty = KMeans(DenseMatrix(0, 4), KMeansOptions{});
  ASSERT_TRUE(empty.ok());
  EXPECT_EQ(empty->k, 0);
  EXPECT_TRUE(empty->assignment.empty());

  DenseMatrix one(1, 2);
  one.values = {2, 3};
  Result<KSelection> s = ChooseK(one, KMeansOptions{}, KSelectionOptions{2, 4});
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->result.k, 1);
  EXPECT_EQ(s->result.assignment, std::vector<int>{0});
}

TEST(KMeansTest, RejectsBadInput) {
  DenseMatrix data(2, 1);
  data.values = {1, NAN};
  Result<KMeansResult> r = KMeans(data, KMeansOptions{});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(r.status().message().find("row 1"), std::string::npos) << r.status().message();

  data.values = {1, 2};
  KMeansOptions zero;
  zero.k = 0;
  EXPECT_FALSE(KMeans(data, zero).ok());
  EXPECT_FALSE(ChooseK(data, KMeansOptions{}, KSelectionOptions{1, 3}).ok());
  EXPECT_FALSE(ChooseK(data, KMeansOptions{}, KSelectionOptions{4, 3}).ok());
}

}  // namespace
}  // namespace recsys
