#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <random>
#include <string>

#include "core/files.h"
#include "core/temp_dir.h"
#include "lake/bronze_sink.h"

namespace recsys {
namespace {

// Bronze-like text: JSON lines with some repetition and some noise, so codecs have work to do.
std::string SampleLines(size_t bytes) {
  std::mt19937_64 rng(7);
  std::string out;
  while (out.size() < bytes) {
    out += R"({"event_id":")" + std::to_string(rng()) +
           R"(","event_type":"page_view","user_id":"u)" + std::to_string(rng() % 5000) + "\"}\n";
  }
  out.resize(bytes);
  return out;
}

std::string RandomBytes(size_t n, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::string out(n, '\0');
  for (char& c : out) c = static_cast<char>(rng());
  return out;
}

// Runs a shell command and returns its stdout; fails the test if it exits non-zero.
std::string RunCommand(const std::string& cmd) {
  FILE* p = ::popen(cmd.c_str(), "r");
  EXPECT_NE(p, nullptr) << cmd;
  if (p == nullptr) return "";
  std::string out;
  char buf[1 << 16];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof(buf), p)) > 0) out.append(buf, n);
  EXPECT_EQ(::pclose(p), 0) << cmd;
  return out;
}

TEST(CompressionTest, ParseNamesAndExtensions) {
  EXPECT_EQ(*ParseCompression("none"), Compression::kNone);
  EXPECT_EQ(*ParseCompression("json"), Compression::kNone);
  EXPECT_EQ(*ParseCompression("gzip"), Compression::kGzip);
  EXPECT_EQ(*ParseCompression("gz"), Compression::kGzip);
  EXPECT_EQ(*ParseCompression("zstd"), Compression::kZstd);
  EXPECT_EQ(*ParseCompression("zst"), Compression::kZstd);
  Result<Compression> bad = ParseCompression("lz4");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(bad.status().message().find("lz4"), std::string::npos);
  EXPECT_EQ(CompressionExtension(Compression::kNone), ".json");
  EXPECT_EQ(CompressionExtension(Compression::kGzip), ".json.gz");
  EXPECT_EQ(CompressionExtension(Compression::kZstd), ".json.zst");
}

class RoundTripTest : public ::testing::TestWithParam<Compression> {};

TEST_P(RoundTripTest, EmptySmallAndLargeInputsComeBackUnchanged) {
  const Compression c = GetParam();
  for (const std::string& input : {std::string(), std::string("x"), SampleLines(1000),
                                   SampleLines(10 << 20), RandomBytes(300000, 1)}) {
    Result<std::string> packed = Compress(c, input);
    ASSERT_TRUE(packed.ok()) << packed.status().ToString();
    Result<std::string> back = Decompress(c, *packed);
    ASSERT_TRUE(back.ok()) << back.status().ToString();
    EXPECT_EQ(back->size(), input.size());
    EXPECT_TRUE(*back == input);
  }
}

TEST(CompressionTest, CodecsShrinkText) {
  std::string input = SampleLines(1 << 20);
  for (Compression c : {Compression::kGzip, Compression::kZstd}) {
    Result<std::string> packed = Compress(c, input);
    ASSERT_TRUE(packed.ok());
    EXPECT_LT(packed->size(), input.size() / 2);
  }
}

INSTANTIATE_TEST_SUITE_P(AllCodecs, RoundTripTest,
                         ::testing::Values(Compression::kNone, Compression::kGzip,
                                           Compression::kZstd));

TEST(CompressionTest, CommandLineToolsReadWhatWeWrite) {
  TempDir dir;
  std::string input = SampleLines(2 << 20);
  for (auto [c, tool] : {std::pair{Compression::kGzip, "gzip"}, {Compression::kZstd, "zstd"}}) {
    Result<std::string> packed = Compress(c, input);
    ASSERT_TRUE(packed.ok());
    std::string path = dir.path() + "/data" + std::string(CompressionExtension(c));
    ASSERT_TRUE(WriteFileAtomic(path, *packed).ok());
    std::string out = RunCommand(std::string(tool) + " -dc " + path);
    EXPECT_TRUE(out == input) << tool << " read " << out.size() << " bytes";
  }
}

TEST(CompressionTest, ReadsWhatCommandLineToolsWriteIncludingConcatenatedMembers) {
  TempDir dir;
  std::string a = SampleLines(100000);
  std::string b = "second part\n";
  ASSERT_TRUE(WriteFileAtomic(dir.path() + "/a", a).ok());
  ASSERT_TRUE(WriteFileAtomic(dir.path() + "/b", b).ok());
  // Two gzip members back to back, as `cat a.gz b.gz` makes; likewise two zstd frames, the
  // second streamed from a pipe so its header does not record its size.
  std::string gz = RunCommand("gzip -c " + dir.path() + "/a; gzip -c " + dir.path() + "/b");
  Result<std::string> from_gz = Decompress(Compression::kGzip, gz);
  ASSERT_TRUE(from_gz.ok()) << from_gz.status().ToString();
  EXPECT_TRUE(*from_gz == a + b);
  std::string zst =
      RunCommand("zstd -qc " + dir.path() + "/a; cat " + dir.path() + "/b | zstd -qc");
  Result<std::string> from_zst = Decompress(Compression::kZstd, zst);
  ASSERT_TRUE(from_zst.ok()) << from_zst.status().ToString();
  EXPECT_TRUE(*from_zst == a + b);
}

TEST(CompressionTest, LevelsOutsideTheCodecRangeAreRejected) {
  EXPECT_EQ(Compress(Compression::kGzip, "x", 10).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(Compress(Compression::kZstd, "x", 1000).status().code(), StatusCode::kInvalidArgument);
  std::string input = SampleLines(100000);
  Result<std::string> fast = Compress(Compression::kGzip, input, 1);
  Result<std::string> best = Compress(Compression::kGzip, input, 9);
  ASSERT_TRUE(fast.ok() && best.ok());
  EXPECT_LE(best->size(), fast->size());
  EXPECT_TRUE(*Decompress(Compression::kGzip, *best) == input);
}

class CorruptInputTest : public ::testing::TestWithParam<Compression> {};

TEST_P(CorruptInputTest, ReturnsCorruptionInsteadOfCrashing) {
  const Compression c = GetParam();
  std::string input = SampleLines(200000);
  std::string packed = *Compress(c, input);

  EXPECT_EQ(Decompress(c, "").status().code(), StatusCode::kCorruption);
  EXPECT_EQ(Decompress(c, "not compressed at all").status().code(), StatusCode::kCorruption);
  EXPECT_EQ(Decompress(c, RandomBytes(5000, 3)).status().code(), StatusCode::kCorruption);
  // Truncated.
  Result<std::string> cut = Decompress(c, std::string_view(packed).substr(0, packed.size() / 2));
  EXPECT_EQ(cut.status().code(), StatusCode::kCorruption);
  Result<std::string> no_trailer =
      Decompress(c, std::string_view(packed).substr(0, packed.size() - 1));
  EXPECT_FALSE(no_trailer.ok());
  // Trailing garbage after a complete stream.
  EXPECT_FALSE(Decompress(c, packed + "garbage!").ok());
  // Flipped bytes in the middle: caught by the codec or its checksum, never returned as data.
  for (size_t at : {packed.size() / 3, packed.size() / 2, packed.size() - 6}) {
    std::string bad = packed;
    bad[at] = static_cast<char>(bad[at] ^ 0x5a);
    Result<std::string> out = Decompress(c, bad);
    EXPECT_FALSE(out.ok() && *out != input) << "flip at " << at;
  }
}

INSTANTIATE_TEST_SUITE_P(Codecs, CorruptInputTest,
                         ::testing::Values(Compression::kGzip, Compression::kZstd));

}  // namespace
}  // namespace recsys
