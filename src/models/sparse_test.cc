#include "models/sparse.h"

#include <gtest/gtest.h>

#include <vector>

namespace recsys {
namespace {

std::vector<int32_t> Row(const CsrMatrix& m, int32_t r) {
  return {m.RowIndices(r).begin(), m.RowIndices(r).end()};
}
std::vector<float> RowValues(const CsrMatrix& m, int32_t r) {
  return {m.RowData(r).begin(), m.RowData(r).end()};
}

TEST(SparseTest, FromTripletsSortsColumnsAndSumsDuplicates) {
  const CsrMatrix m = CsrMatrix::FromTriplets(
      4, 5, {{2, 4, 1.0f}, {0, 3, 2.0f}, {2, 1, 0.5f}, {0, 3, 1.5f}, {0, 0, 1.0f}});
  EXPECT_EQ(m.rows, 4);
  EXPECT_EQ(m.cols, 5);
  EXPECT_EQ(m.nnz(), 4);
  ASSERT_EQ(m.indptr.size(), 5u);
  EXPECT_EQ(Row(m, 0), (std::vector<int32_t>{0, 3}));
  EXPECT_EQ(RowValues(m, 0), (std::vector<float>{1.0f, 3.5f}));
  EXPECT_TRUE(Row(m, 1).empty());
  EXPECT_EQ(Row(m, 2), (std::vector<int32_t>{1, 4}));
  EXPECT_EQ(RowValues(m, 2), (std::vector<float>{0.5f, 1.0f}));
  EXPECT_TRUE(Row(m, 3).empty());  // trailing empty rows still exist
}

TEST(SparseTest, EmptyMatrixHasRowsButNoEntries) {
  const CsrMatrix m = CsrMatrix::FromTriplets(3, 2, {});
  EXPECT_EQ(m.nnz(), 0);
  ASSERT_EQ(m.indptr.size(), 4u);
  for (int32_t r = 0; r < 3; ++r) EXPECT_TRUE(Row(m, r).empty());
  const CsrMatrix t = m.Transpose();
  EXPECT_EQ(t.rows, 2);
  EXPECT_EQ(t.cols, 3);
  EXPECT_EQ(t.nnz(), 0);
}

TEST(SparseTest, TransposeSwapsRowsAndColumnsKeepingValues) {
  const CsrMatrix m = CsrMatrix::FromTriplets(
      3, 4, {{0, 1, 1.0f}, {0, 3, 2.0f}, {1, 1, 3.0f}, {2, 0, 4.0f}, {2, 3, 5.0f}});
  const CsrMatrix t = m.Transpose();
  EXPECT_EQ(t.rows, 4);
  EXPECT_EQ(t.cols, 3);
  EXPECT_EQ(Row(t, 0), (std::vector<int32_t>{2}));
  EXPECT_EQ(Row(t, 1), (std::vector<int32_t>{0, 1}));
  EXPECT_EQ(RowValues(t, 1), (std::vector<float>{1.0f, 3.0f}));
  EXPECT_TRUE(Row(t, 2).empty());
  EXPECT_EQ(Row(t, 3), (std::vector<int32_t>{0, 2}));
  EXPECT_EQ(RowValues(t, 3), (std::vector<float>{2.0f, 5.0f}));

  const CsrMatrix back = t.Transpose();
  EXPECT_EQ(back.indptr, m.indptr);
  EXPECT_EQ(back.indices, m.indices);
  EXPECT_EQ(back.data, m.data);
}

TEST(SparseTest, IdMapNumbersIdsInOrderOfFirstSight) {
  IdMap ids;
  EXPECT_EQ(ids.GetOrAdd("u42"), 0);
  EXPECT_EQ(ids.GetOrAdd("u7"), 1);
  EXPECT_EQ(ids.GetOrAdd("u42"), 0);
  EXPECT_EQ(ids.size(), 2);
  EXPECT_EQ(ids.Find("u7"), 1);
  EXPECT_EQ(ids.Find("nobody"), -1);
  EXPECT_EQ(ids.Name(1), "u7");
  EXPECT_EQ(ids.names(), (std::vector<std::string>{"u42", "u7"}));
}

TEST(SparseTest, InteractionDataBecomesAUserByItemMatrix) {
  InteractionData data;
  const int32_t alice = data.users.GetOrAdd("alice");
  const int32_t bob = data.users.GetOrAdd("bob");
  const int32_t shoe = data.items.GetOrAdd("shoe");
  const int32_t hat = data.items.GetOrAdd("hat");
  data.entries = {{bob, hat, 2.0f}, {alice, shoe, 1.0f}, {alice, hat, 3.0f}};
  const CsrMatrix m = data.ToMatrix();
  EXPECT_EQ(m.rows, 2);
  EXPECT_EQ(m.cols, 2);
  EXPECT_EQ(Row(m, alice), (std::vector<int32_t>{shoe, hat}));
  EXPECT_EQ(RowValues(m, alice), (std::vector<float>{1.0f, 3.0f}));
  EXPECT_EQ(Row(m, bob), (std::vector<int32_t>{hat}));
}

}  // namespace
}  // namespace recsys
