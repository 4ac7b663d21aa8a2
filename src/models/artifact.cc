#include "models/artifact.h"

#include <cstring>

#include "core/crc32c.h"
#include "core/files.h"

namespace recsys {
namespace {

constexpr char kMagic[8] = {'R', 'E', 'C', 'S', 'Y', 'S', 'M', 'A'};
constexpr uint32_t kVersion = 1;
constexpr size_t kHeaderBytes = 8 + 4 + 4 + 8 + 8;

template <typename T>
void Put(std::string* out, T v) {
  char buf[sizeof(T)];
  std::memcpy(buf, &v, sizeof(T));  // little-endian hosts only (x86-64, arm64)
  out->append(buf, sizeof(T));
}

template <typename T>
T Get(const char* p) {
  T v;
  std::memcpy(&v, p, sizeof(T));
  return v;
}

template <typename T>
Status Write(const std::string& path, const DenseArray<T>& a, ArrayType type) {
  if (a.rows < 0 || a.cols < 0 || static_cast<int64_t>(a.values.size()) != a.rows * a.cols) {
    return Status::InvalidArgument("array for " + path + " has " + std::to_string(a.values.size()) +
                                   " values, not " + std::to_string(a.rows) + " x " +
                                   std::to_string(a.cols));
  }
  std::string out;
  const size_t bytes = a.values.size() * sizeof(T);
  out.reserve(kHeaderBytes + bytes + 4);
  out.append(kMagic, 8);
  Put<uint32_t>(&out, kVersion);
  Put<uint32_t>(&out, static_cast<uint32_t>(type));
  Put<int64_t>(&out, a.rows);
  Put<int64_t>(&out, a.cols);
  out.append(reinterpret_cast<const char*>(a.values.data()), bytes);
  Put<uint32_t>(&out, crc32c::Value(out.data() + kHeaderBytes, bytes));
  return WriteFileAtomic(path, out);
}

template <typename T>
Result<DenseArray<T>> Read(const std::string& path, ArrayType type) {
  RECSYS_ASSIGN_OR_RETURN(std::string data, ReadFile(path));
  auto bad = [&](const std::string& why) { return Status::Corruption(path + ": " + why); };
  if (data.size() < kHeaderBytes + 4 || std::memcmp(data.data(), kMagic, 8) != 0) {
    return bad("not a recsys model array");
  }
  uint32_t version = Get<uint32_t>(data.data() + 8);
  if (version != kVersion) return bad("format version " + std::to_string(version) + " unknown");
  if (Get<uint32_t>(data.data() + 12) != static_cast<uint32_t>(type)) {
    return bad("holds another element type");
  }
  DenseArray<T> a;
  a.rows = Get<int64_t>(data.data() + 16);
  a.cols = Get<int64_t>(data.data() + 24);
  if (a.rows < 0 || a.cols < 0 ||
      (a.cols > 0 && a.rows > static_cast<int64_t>(data.size()) / a.cols)) {
    return bad("bad dimensions");
  }
  const size_t bytes = static_cast<size_t>(a.rows * a.cols) * sizeof(T);
  if (data.size() != kHeaderBytes + bytes + 4) return bad("size does not match its dimensions");
  if (Get<uint32_t>(data.data() + kHeaderBytes + bytes) !=
      crc32c::Value(data.data() + kHeaderBytes, bytes)) {
    return bad("checksum mismatch");
  }
  a.values.resize(static_cast<size_t>(a.rows * a.cols));
  if (bytes > 0) std::memcpy(a.values.data(), data.data() + kHeaderBytes, bytes);  // else null
  return a;
}

}  // namespace

Status WriteArray(const std::string& path, const DenseArray<float>& a) {
  return Write(path, a, ArrayType::kFloat32);
}
Status WriteArray(const std::string& path, const DenseArray<int32_t>& a) {
  return Write(path, a, ArrayType::kInt32);
}
Status WriteArray(const std::string& path, const DenseArray<int64_t>& a) {
  return Write(path, a, ArrayType::kInt64);
}
Result<DenseArray<float>> ReadFloatArray(const std::string& path) {
  return Read<float>(path, ArrayType::kFloat32);
}
Result<DenseArray<int32_t>> ReadInt32Array(const std::string& path) {
  return Read<int32_t>(path, ArrayType::kInt32);
}
Result<DenseArray<int64_t>> ReadInt64Array(const std::string& path) {
  return Read<int64_t>(path, ArrayType::kInt64);
}

Status WriteModelSpec(const std::string& dir, const std::string& spec) {
  RECSYS_RETURN_IF_ERROR(CreateDirs(dir));
  return WriteFileAtomic(dir + "/model.txt", "recsys-model 1\n" + spec + "\n");
}

Result<std::string> ReadModelSpec(const std::string& dir) {
  RECSYS_ASSIGN_OR_RETURN(std::string text, ReadFile(dir + "/model.txt"));
  const std::string header = "recsys-model 1\n";
  if (text.rfind(header, 0) != 0) {
    return Status::Corruption(dir + "/model.txt: not a version-1 recsys model");
  }
  std::string spec = text.substr(header.size());
  while (!spec.empty() && spec.back() == '\n') spec.pop_back();
  return spec;
}

Status CheckModelSpec(const std::string& dir, const std::string& spec) {
  RECSYS_ASSIGN_OR_RETURN(std::string saved, ReadModelSpec(dir));
  if (saved != spec) {
    return Status::InvalidArgument(dir + " holds model '" + saved + "', not '" + spec + "'");
  }
  return Status::OK();
}

}  // namespace recsys
