// The two implementations behind crc32c::Extend, exposed so tests can check that they agree.
#pragma once

#include <cstddef>
#include <cstdint>

namespace recsys::crc32c::internal {

// Table-driven (slicing-by-8); works on every CPU.
uint32_t ExtendPortable(uint32_t crc, const char* data, size_t n);
// True if this CPU has the SSE4.2 CRC32 instruction.
bool HasHardwareSupport();
// REQUIRES: HasHardwareSupport().
uint32_t ExtendHardware(uint32_t crc, const char* data, size_t n);

}  // namespace recsys::crc32c::internal
