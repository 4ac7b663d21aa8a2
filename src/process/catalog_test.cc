#include "process/catalog.h"

#include <gtest/gtest.h>

#include "core/files.h"
#include "core/temp_dir.h"

namespace recsys {
namespace {

TEST(CatalogTest, ViewsForSilverTablesAndTheCurrentGoldSnapshot) {
  TempDir lake;
  auto db = DuckDb::Open("");
  ASSERT_TRUE(db.ok());
  std::string r = lake.path();
  ASSERT_TRUE(CreateDirs(r + "/silver/clickstream/event_date=2024-01-01").ok());
  ASSERT_TRUE(CreateDirs(r + "/silver/_quarantine/run=x").ok());
  ASSERT_TRUE(CreateDirs(r + "/gold/user_features/snapshot=old").ok());
  ASSERT_TRUE(CreateDirs(r + "/gold/user_features/snapshot=new").ok());
  ASSERT_TRUE(
      (*db)
          ->Execute("COPY (SELECT 'e1' AS event_id) TO " +
                    DuckDb::Quote(r + "/silver/clickstream/event_date=2024-01-01/part-a.parquet") +
                    "; COPY (SELECT 'bad' AS raw) TO " +
                    DuckDb::Quote(r + "/silver/_quarantine/run=x/part-0.parquet") +
                    "; COPY (SELECT 'u1' AS user_id, 'Lost' AS segment) TO " +
                    DuckDb::Quote(r + "/gold/user_features/snapshot=old/part-0.parquet") +
                    "; COPY (SELECT 'u1' AS user_id, 'Champions' AS segment) TO " +
                    DuckDb::Quote(r + "/gold/user_features/snapshot=new/part-0.parquet"))
          .ok());
  ASSERT_TRUE(WriteFileAtomic(r + "/gold/_current.json",
                              R"({"snapshot":"new","tables":["user_features","missing"]})")
                  .ok());
  auto views = RegisterLakeViews(db->get(), r);
  ASSERT_TRUE(views.ok()) << views.status().ToString();
  ASSERT_EQ(views->size(), 3u);
  EXPECT_EQ((*views)[0].name, "clickstream");
  EXPECT_EQ((*views)[1].name, "quarantine");
  EXPECT_EQ((*views)[2].name, "user_features");
  EXPECT_EQ((*db)->QueryString("SELECT event_id || event_date FROM clickstream").value(),
            "e12024-01-01");
  EXPECT_EQ((*db)->QueryString("SELECT segment FROM user_features").value(), "Champions");
  EXPECT_FALSE((*db)->Execute("SELECT * FROM sessions").ok()) << "no files, no view";
}

TEST(CatalogTest, EmptyLakeHasNoViewsAndBadCurrentFileIsReported) {
  TempDir lake;
  auto db = DuckDb::Open("");
  ASSERT_TRUE(db.ok());
  auto views = RegisterLakeViews(db->get(), lake.path());
  ASSERT_TRUE(views.ok());
  EXPECT_TRUE(views->empty());
  ASSERT_TRUE(CreateDirs(lake.path() + "/gold").ok());
  ASSERT_TRUE(WriteFileAtomic(lake.path() + "/gold/_current.json", "{oops").ok());
  views = RegisterLakeViews(db->get(), lake.path());
  EXPECT_EQ(views.status().code(), StatusCode::kCorruption);
  EXPECT_NE(views.status().message().find("_current.json"), std::string::npos);
}

}  // namespace
}  // namespace recsys
