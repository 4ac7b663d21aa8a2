#include "core/crc32c.h"

#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

#include "core/crc32c_internal.h"

namespace recsys::crc32c {
namespace {

TEST(Crc32cTest, KnownVectors) {
  EXPECT_EQ(Value("123456789"), 0xE3069283u);
  EXPECT_EQ(Value(std::string(32, '\0')), 0x8A9136AAu);
  EXPECT_EQ(Value(std::string(32, '\xff')), 0x62A8AB43u);
  std::string ascending(32, '\0');
  for (int i = 0; i < 32; ++i) ascending[i] = static_cast<char>(i);
  EXPECT_EQ(Value(ascending), 0x46DD794Eu);
  std::string descending(32, '\0');
  for (int i = 0; i < 32; ++i) descending[i] = static_cast<char>(31 - i);
  EXPECT_EQ(Value(descending), 0x113FDB5Cu);
  EXPECT_EQ(Value("", 0), 0u);
}

TEST(Crc32cTest, PortableMatchesKnownVectors) {
  EXPECT_EQ(internal::ExtendPortable(0, "123456789", 9), 0xE3069283u);
  std::string zeros(32, '\0');
  EXPECT_EQ(internal::ExtendPortable(0, zeros.data(), zeros.size()), 0x8A9136AAu);
}

TEST(Crc32cTest, ExtendEqualsValueOfConcatenation) {
  const std::string a = "hello ", b = "world, this is a longer second part";
  EXPECT_EQ(Extend(Value(a), b.data(), b.size()), Value(a + b));
  EXPECT_NE(Value("a"), Value("b"));
}

TEST(Crc32cTest, HardwareAndPortableAgree) {
  if (!internal::HasHardwareSupport()) GTEST_SKIP() << "no SSE4.2 on this CPU";
  std::mt19937 rng(42);
  std::vector<char> buf(4096 + 16);
  for (char& c : buf) c = static_cast<char>(rng());
  for (size_t offset = 0; offset < 16; ++offset) {
    for (size_t len : {0u, 1u, 3u, 7u, 8u, 9u, 15u, 16u, 17u, 63u, 64u, 100u, 255u, 1000u, 4096u}) {
      const uint32_t seed = static_cast<uint32_t>(rng());
      const char* p = buf.data() + offset;
      EXPECT_EQ(internal::ExtendHardware(seed, p, len), internal::ExtendPortable(seed, p, len))
          << "offset " << offset << " length " << len;
    }
  }
}

}  // namespace
}  // namespace recsys::crc32c
