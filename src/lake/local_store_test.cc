#include <gtest/gtest.h>
#include <unistd.h>

#include <string>
#include <thread>
#include <vector>

#include "core/files.h"
#include "lake/object_store.h"

namespace recsys {
namespace {

class LocalStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/lake_local_store_test_XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    root_ = dir_ + "/lake";
    Result<std::unique_ptr<ObjectStore>> store = OpenLocalStore(root_);
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    store_ = std::move(*store);
  }
  void TearDown() override { (void)RemoveAll(dir_); }

  std::vector<std::string> Keys(std::string_view prefix) {
    Result<std::vector<ObjectInfo>> list = store_->List(prefix);
    EXPECT_TRUE(list.ok()) << list.status().ToString();
    std::vector<std::string> keys;
    if (list.ok()) {
      for (const ObjectInfo& o : *list) keys.push_back(o.key);
    }
    return keys;
  }

  std::string dir_;
  std::string root_;
  std::unique_ptr<ObjectStore> store_;
};

TEST_F(LocalStoreTest, PutGetOverwriteDelete) {
  ASSERT_TRUE(store_->Put("bronze/topics/a/x.json", "one\n").ok());
  EXPECT_EQ(*store_->Get("bronze/topics/a/x.json"), "one\n");
  // The object is a plain file at the key's path under the root.
  EXPECT_EQ(*ReadFile(root_ + "/bronze/topics/a/x.json"), "one\n");

  ASSERT_TRUE(store_->Put("bronze/topics/a/x.json", "two\n").ok());
  EXPECT_EQ(*store_->Get("bronze/topics/a/x.json"), "two\n");

  ASSERT_TRUE(store_->Put("empty", "").ok());
  EXPECT_EQ(*store_->Get("empty"), "");

  ASSERT_TRUE(store_->Delete("bronze/topics/a/x.json").ok());
  Result<std::string> gone = store_->Get("bronze/topics/a/x.json");
  ASSERT_FALSE(gone.ok());
  EXPECT_EQ(gone.status().code(), StatusCode::kNotFound);
  EXPECT_NE(gone.status().message().find("bronze/topics/a/x.json"), std::string::npos);
  // Deleting again, or a key that never existed, is fine (S3 semantics).
  EXPECT_TRUE(store_->Delete("bronze/topics/a/x.json").ok());
  EXPECT_TRUE(store_->Delete("no/such/key").ok());
}

TEST_F(LocalStoreTest, GetOfAFolderIsNotFound) {
  ASSERT_TRUE(store_->Put("a/b/c", "x").ok());
  EXPECT_EQ(store_->Get("a/b").status().code(), StatusCode::kNotFound);
  EXPECT_EQ(store_->Get("a/b/c/d").status().code(), StatusCode::kNotFound);
}

TEST_F(LocalStoreTest, ListIsRecursiveSortedAndFilteredByPrefix) {
  for (const char* key :
       {"t/b/2.json", "t/a/1.json", "t/a/10.json", "t/ab/3.json", "u/4.json", "t/a/sub/5.json"}) {
    ASSERT_TRUE(store_->Put(key, key).ok());
  }
  EXPECT_EQ(Keys(""), (std::vector<std::string>{"t/a/1.json", "t/a/10.json", "t/a/sub/5.json",
                                                "t/ab/3.json", "t/b/2.json", "u/4.json"}));
  EXPECT_EQ(Keys("t/a/"),
            (std::vector<std::string>{"t/a/1.json", "t/a/10.json", "t/a/sub/5.json"}));
  // A prefix need not end at a folder boundary.
  EXPECT_EQ(Keys("t/a"), (std::vector<std::string>{"t/a/1.json", "t/a/10.json", "t/a/sub/5.json",
                                                   "t/ab/3.json"}));
  EXPECT_EQ(Keys("t/a/1"), (std::vector<std::string>{"t/a/1.json", "t/a/10.json"}));
  EXPECT_TRUE(Keys("nothing/here/").empty());
  EXPECT_TRUE(Keys("t/a/1.json/x").empty());

  Result<std::vector<ObjectInfo>> list = store_->List("u/");
  ASSERT_TRUE(list.ok());
  ASSERT_EQ(list->size(), 1u);
  EXPECT_EQ((*list)[0].size, 8);
}

TEST_F(LocalStoreTest, KeysThatCouldEscapeTheRootAreRejected) {
  for (const char* key : {"", "/etc/passwd", "../x", "a/../../x", "a/./b", "a//b", "a/b/", "a/..",
                          "x.json.tmp-1-2"}) {
    Status st = store_->Put(key, "x");
    EXPECT_EQ(st.code(), StatusCode::kInvalidArgument) << "'" << key << "': " << st.ToString();
    EXPECT_EQ(store_->Get(key).status().code(), StatusCode::kInvalidArgument) << key;
    EXPECT_EQ(store_->Delete(key).code(), StatusCode::kInvalidArgument) << key;
  }
  EXPECT_EQ(store_->Put(std::string("a\0b", 3), "x").code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(store_->List("../").status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(store_->List("/abs").status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(store_->List("a/../b").status().code(), StatusCode::kInvalidArgument);
  EXPECT_FALSE(FileExists(dir_ + "/x"));
  EXPECT_TRUE(Keys("").empty());
}

TEST_F(LocalStoreTest, TemporaryFilesAreInvisibleAndCleaned) {
  ASSERT_TRUE(store_->Put("bronze/t/a.json", "a").ok());
  ASSERT_TRUE(store_->Put("other/b.json", "b").ok());
  // What a crash in the middle of Put leaves behind.
  ASSERT_TRUE(WriteFileAtomic(root_ + "/bronze/t/c.json.tmp-123-0", "partial").ok());
  ASSERT_TRUE(WriteFileAtomic(root_ + "/other/d.json.tmp-123-1", "partial").ok());
  EXPECT_EQ(Keys(""), (std::vector<std::string>{"bronze/t/a.json", "other/b.json"}));

  // Only the given prefix is cleaned.
  ASSERT_TRUE(store_->CleanTemporaryFiles("bronze/").ok());
  EXPECT_FALSE(FileExists(root_ + "/bronze/t/c.json.tmp-123-0"));
  EXPECT_TRUE(FileExists(root_ + "/other/d.json.tmp-123-1"));
  EXPECT_EQ(*store_->Get("bronze/t/a.json"), "a");

  ASSERT_TRUE(CleanTemporaryFiles(root_).ok());
  EXPECT_FALSE(FileExists(root_ + "/other/d.json.tmp-123-1"));
  EXPECT_EQ(Keys(""), (std::vector<std::string>{"bronze/t/a.json", "other/b.json"}));
  // A prefix with nothing under it is fine.
  EXPECT_TRUE(store_->CleanTemporaryFiles("missing/").ok());
}

TEST_F(LocalStoreTest, PutLeavesNoTemporaryFiles) {
  ASSERT_TRUE(store_->Put("a/b.json", std::string(100000, 'x')).ok());
  Result<std::vector<std::string>> names = ListDir(root_ + "/a");
  ASSERT_TRUE(names.ok());
  EXPECT_EQ(*names, std::vector<std::string>{"b.json"});
}

TEST_F(LocalStoreTest, DescribeNamesTheAbsoluteRootAndStoresReopen) {
  EXPECT_EQ(store_->Describe(), "file://" + root_);
  ASSERT_TRUE(store_->Put("k", "v").ok());
  // A relative root with a trailing slash and "." parts names the same folder.
  char cwd[4096];
  ASSERT_NE(::getcwd(cwd, sizeof(cwd)), nullptr);
  ASSERT_EQ(::chdir(dir_.c_str()), 0);
  Result<std::unique_ptr<ObjectStore>> again = OpenLocalStore("./lake/");
  ASSERT_EQ(::chdir(cwd), 0);
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  EXPECT_EQ((*again)->Describe(), "file://" + root_);
  EXPECT_EQ(*(*again)->Get("k"), "v");
}

TEST_F(LocalStoreTest, OpenRejectsAFileAsRoot) {
  ASSERT_TRUE(WriteFileAtomic(dir_ + "/plain", "x").ok());
  EXPECT_FALSE(OpenLocalStore(dir_ + "/plain").ok());
  EXPECT_EQ(OpenLocalStore("").status().code(), StatusCode::kInvalidArgument);
}

TEST_F(LocalStoreTest, ConcurrentPutsToNewFoldersAllLand) {
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([this, t] {
      for (int i = 0; i < 25; ++i) {
        std::string key =
            "p/" + std::to_string(i % 5) + "/q/" + std::to_string(t) + "-" + std::to_string(i);
        EXPECT_TRUE(store_->Put(key, key).ok()) << key;
      }
    });
  }
  for (std::thread& t : threads) t.join();
  std::vector<std::string> keys = Keys("p/");
  EXPECT_EQ(keys.size(), 100u);
  for (const std::string& k : keys) EXPECT_EQ(*store_->Get(k), k);
}

}  // namespace
}  // namespace recsys
