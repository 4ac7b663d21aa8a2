#include "core/files.h"

#include <gtest/gtest.h>
#include <stdlib.h>

namespace recsys {
namespace {

class FilesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/recsys-files-XXXXXX";
    dir_ = ::mkdtemp(tmpl);
  }
  void TearDown() override { (void)RemoveAll(dir_); }
  std::string dir_;
};

TEST_F(FilesTest, AtomicWriteReplacesWholeAndLeavesNoTemporaries) {
  std::string path = dir_ + "/a/b/file.txt";
  ASSERT_TRUE(CreateDirs(dir_ + "/a/b").ok());
  ASSERT_TRUE(WriteFileAtomic(path, "first").ok());
  ASSERT_TRUE(WriteFileAtomic(path, "second version").ok());
  auto data = ReadFile(path);
  ASSERT_TRUE(data.ok());
  EXPECT_EQ(*data, "second version");
  auto names = ListDir(dir_ + "/a/b");
  ASSERT_TRUE(names.ok());
  EXPECT_EQ(*names, std::vector<std::string>{"file.txt"});
}

TEST_F(FilesTest, ErrorsNameThePath) {
  auto data = ReadFile(dir_ + "/missing");
  EXPECT_EQ(data.status().code(), StatusCode::kNotFound);
  EXPECT_NE(data.status().message().find(dir_ + "/missing"), std::string::npos);
  EXPECT_FALSE(WriteFileAtomic(dir_ + "/no/such/dir/file", "x").ok());
  EXPECT_EQ(ListDir(dir_ + "/nothing").status().code(), StatusCode::kNotFound);
}

TEST_F(FilesTest, JoinPath) {
  EXPECT_EQ(JoinPath("a", "b"), "a/b");
  EXPECT_EQ(JoinPath("a/", "b"), "a/b");
  EXPECT_EQ(JoinPath("", "b"), "b");
}

TEST(StatusTest, ContextAndResults) {
  Status st = Status::IOError("disk full").WithContext("bronze/x.json");
  EXPECT_EQ(st.ToString(), "IOError: bronze/x.json: disk full");
  EXPECT_TRUE(Status::OK().WithContext("ignored").ok());
  Result<int> r = Status::NotFound("k");
  EXPECT_FALSE(r.ok());
  Result<int> v = 3;
  EXPECT_EQ(*v, 3);
}

}  // namespace
}  // namespace recsys
