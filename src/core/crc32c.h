// CRC-32C (Castagnoli), the checksum of the event log's records. Uses the SSE4.2 instruction
// when the CPU has it, a table otherwise; both give the same values.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace recsys::crc32c {

// Extends crc (the CRC of some earlier bytes; 0 for none) with data[0, n).
uint32_t Extend(uint32_t crc, const char* data, size_t n);
inline uint32_t Value(const char* data, size_t n) { return Extend(0, data, n); }
inline uint32_t Value(std::string_view s) { return Extend(0, s.data(), s.size()); }

}  // namespace recsys::crc32c
