#include "core/config.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include "core/files.h"

namespace recsys {
namespace {

const SettingSpec kSpecs[] = {
    {"data_dir", SettingType::kString, "./data", "where"},
    {"log.partitions", SettingType::kInt, "3", "n", 1, 1024},
    {"log.fsync", SettingType::kString, "interval", "when", 0, 0, "always|interval|never"},
    {"gen.bad_rate", SettingType::kDouble, "0", "share", 0, 1},
    {"sink.once", SettingType::kBool, "false", "drain"},
};

TEST(ConfigTest, DefaultsApply) {
  Config c(kSpecs);
  EXPECT_EQ(c.GetString("data_dir"), "./data");
  EXPECT_EQ(c.GetInt("log.partitions"), 3);
  EXPECT_EQ(c.GetDouble("gen.bad_rate"), 0.0);
  EXPECT_FALSE(c.GetBool("sink.once"));
  EXPECT_EQ(c.SourceOf("log.partitions"), SettingSource::kDefault);
}

TEST(ConfigTest, NamesMapToEnvironmentAndFlags) {
  EXPECT_EQ(Config::EnvName("log.fsync_interval_ms"), "RECSYS_LOG_FSYNC_INTERVAL_MS");
  EXPECT_EQ(Config::EnvName("data_dir"), "RECSYS_DATA_DIR");
  EXPECT_EQ(Config::FlagName("gen.bad_rate"), "--bad-rate");
  EXPECT_EQ(Config::FlagName("data_dir"), "--data-dir");
}

TEST(ConfigTest, ValuesAreCheckedAgainstTypeBoundsAndChoices) {
  Config c(kSpecs);
  EXPECT_FALSE(c.Set("log.partitions", "0", SettingSource::kFlag).ok());
  EXPECT_FALSE(c.Set("log.partitions", "3.5", SettingSource::kFlag).ok());
  EXPECT_FALSE(c.Set("log.partitions", "", SettingSource::kFlag).ok());
  EXPECT_FALSE(c.Set("log.fsync", "sometimes", SettingSource::kFlag).ok());
  EXPECT_FALSE(c.Set("gen.bad_rate", "2", SettingSource::kFlag).ok());
  EXPECT_FALSE(c.Set("sink.once", "maybe", SettingSource::kFlag).ok());
  Status st = c.Set("nope", "1", SettingSource::kFlag);
  EXPECT_NE(st.message().find("unknown setting 'nope'"), std::string::npos);
  st = c.Set("log.partitions", "5000", SettingSource::kEnvironment);
  EXPECT_NE(st.message().find("log.partitions (from env)"), std::string::npos) << st.message();
  EXPECT_EQ(c.GetInt("log.partitions"), 3) << "a refused value leaves the old one";
  ASSERT_TRUE(c.Set("sink.once", "yes", SettingSource::kFlag).ok());
  EXPECT_TRUE(c.GetBool("sink.once"));
}

TEST(ConfigTest, FileThenEnvironmentThenFlags) {
  char tmpl[] = "/tmp/recsys-config-XXXXXX";
  std::string dir = ::mkdtemp(tmpl);
  std::string path = dir + "/recsys.conf";
  ASSERT_TRUE(WriteFileAtomic(path,
                              "data_dir = \"/srv/shop # not a comment\"\n"
                              "[log]\n"
                              "partitions = 8  # comment\n"
                              "fsync = always\n"
                              "[sink]\n"
                              "once = true\n")
                  .ok());
  Config c(kSpecs);
  ASSERT_TRUE(c.LoadFile(path).ok());
  EXPECT_EQ(c.GetString("data_dir"), "/srv/shop # not a comment");
  EXPECT_EQ(c.GetInt("log.partitions"), 8);
  EXPECT_EQ(c.SourceOf("log.partitions"), SettingSource::kFile);

  ::setenv("RECSYS_LOG_PARTITIONS", "9", 1);
  ASSERT_TRUE(c.LoadEnvironment().ok());
  ::unsetenv("RECSYS_LOG_PARTITIONS");
  EXPECT_EQ(c.GetInt("log.partitions"), 9);
  EXPECT_EQ(c.SourceOf("log.partitions"), SettingSource::kEnvironment);
  EXPECT_EQ(c.GetString("log.fsync"), "always");

  ASSERT_TRUE(c.Set("log.partitions", "10", SettingSource::kFlag).ok());
  EXPECT_EQ(c.GetInt("log.partitions"), 10);
  EXPECT_EQ(c.SourceOf("log.partitions"), SettingSource::kFlag);
  (void)RemoveAll(dir);
}

TEST(ConfigTest, FileErrorsNameFileAndLine) {
  char tmpl[] = "/tmp/recsys-config-XXXXXX";
  std::string dir = ::mkdtemp(tmpl);
  std::string path = dir + "/bad.conf";
  ASSERT_TRUE(WriteFileAtomic(path, "[log]\npartitions = 2\nfsync = sometimes\n").ok());
  Config c(kSpecs);
  Status st = c.LoadFile(path);
  EXPECT_EQ(st.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(st.message().find(path + " line 3"), std::string::npos) << st.message();

  ASSERT_TRUE(WriteFileAtomic(path, "partitions 2\n").ok());
  st = c.LoadFile(path);
  EXPECT_NE(st.message().find("line 1: expected 'key = value'"), std::string::npos);

  EXPECT_EQ(c.LoadFile(dir + "/missing.conf").code(), StatusCode::kNotFound);
  (void)RemoveAll(dir);
}

}  // namespace
}  // namespace recsys
