// Model artifact files: dense arrays with a header and a checksum, and the spec of the model
// that wrote them. Format: docs/formats/model-artifacts.md.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/status.h"

namespace recsys {

enum class ArrayType : uint32_t { kFloat32 = 1, kInt32 = 2, kInt64 = 3 };

template <typename T>
struct DenseArray {
  int64_t rows = 0, cols = 0;
  std::vector<T> values;  // row-major, rows * cols
};

// Writes atomically (temporary file, fsync, rename). REQUIRES: values.size() == rows * cols.
Status WriteArray(const std::string& path, const DenseArray<float>& a);
Status WriteArray(const std::string& path, const DenseArray<int32_t>& a);
Status WriteArray(const std::string& path, const DenseArray<int64_t>& a);
// Corruption (naming the file) on a bad magic, version, type, size or checksum.
Result<DenseArray<float>> ReadFloatArray(const std::string& path);
Result<DenseArray<int32_t>> ReadInt32Array(const std::string& path);
Result<DenseArray<int64_t>> ReadInt64Array(const std::string& path);

// dir/model.txt: the model's spec string and the format version; Load checks both.
Status WriteModelSpec(const std::string& dir, const std::string& spec);
Result<std::string> ReadModelSpec(const std::string& dir);
// ReadModelSpec, then InvalidArgument (naming dir and both specs) unless it saved `spec`.
Status CheckModelSpec(const std::string& dir, const std::string& spec);

}  // namespace recsys
