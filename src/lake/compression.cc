// Whole-file compression for bronze: gzip (RFC 1952) through zlib and zstd frames.

#include <zlib.h>
#include <zstd.h>

#include <algorithm>
#include <cctype>
#include <memory>
#include <string>
#include <string_view>

#include "lake/bronze_sink.h"

namespace recsys {
namespace {

// zlib counts in uInt; larger inputs are fed in pieces of this size.
constexpr size_t kZlibChunk = size_t{1} << 30;

std::string ZlibMessage(const z_stream& zs, int rc) {
  if (zs.msg != nullptr) return zs.msg;
  return "zlib error " + std::to_string(rc);
}

Result<std::string> GzipCompress(std::string_view data, int level) {
  if (level == -1) level = Z_DEFAULT_COMPRESSION;
  if (level != Z_DEFAULT_COMPRESSION && (level < 0 || level > 9)) {
    return Status::InvalidArgument("gzip level " + std::to_string(level) + " is not in 0..9");
  }
  z_stream zs{};
  // windowBits 15 + 16: a gzip header and trailer instead of a zlib one.
  int rc = deflateInit2(&zs, level, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY);
  if (rc != Z_OK) return Status::Internal("deflateInit2: " + ZlibMessage(zs, rc));
  std::string out;
  out.resize(deflateBound(&zs, static_cast<uLong>(data.size())));
  size_t produced = 0;
  const char* in = data.data();
  size_t in_left = data.size();
  for (;;) {
    if (zs.avail_in == 0 && in_left > 0) {
      size_t n = std::min(in_left, kZlibChunk);
      zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in));
      zs.avail_in = static_cast<uInt>(n);
      in += n;
      in_left -= n;
    }
    if (produced == out.size()) out.resize(out.size() * 2 + 64);
    size_t room = std::min(out.size() - produced, kZlibChunk);
    zs.next_out = reinterpret_cast<Bytef*>(out.data() + produced);
    zs.avail_out = static_cast<uInt>(room);
    rc = deflate(&zs, in_left == 0 ? Z_FINISH : Z_NO_FLUSH);
    produced += room - zs.avail_out;
    if (rc == Z_STREAM_END) break;
    if (rc != Z_OK && rc != Z_BUF_ERROR) {
      std::string msg = ZlibMessage(zs, rc);
      deflateEnd(&zs);
      return Status::Internal("deflate: " + msg);
    }
  }
  deflateEnd(&zs);
  out.resize(produced);
  return out;
}

// Reads every gzip member in data (`gzip -d` accepts concatenated members, so do we).
Result<std::string> GzipDecompress(std::string_view data) {
  if (data.empty()) return Status::Corruption("gzip data is empty (not even a header)");
  z_stream zs{};
  int rc = inflateInit2(&zs, 15 + 16);
  if (rc != Z_OK) return Status::Internal("inflateInit2: " + ZlibMessage(zs, rc));
  std::string out;
  out.resize(std::max<size_t>(data.size() * 4, 1024));
  size_t produced = 0;
  const char* in = data.data();
  size_t in_left = data.size();
  Status error;
  for (;;) {
    if (zs.avail_in == 0 && in_left > 0) {
      size_t n = std::min(in_left, kZlibChunk);
      zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in));
      zs.avail_in = static_cast<uInt>(n);
      in += n;
      in_left -= n;
    }
    if (produced == out.size()) out.resize(out.size() * 2);
    size_t room = std::min(out.size() - produced, kZlibChunk);
    zs.next_out = reinterpret_cast<Bytef*>(out.data() + produced);
    zs.avail_out = static_cast<uInt>(room);
    rc = inflate(&zs, Z_NO_FLUSH);
    produced += room - zs.avail_out;
    if (rc == Z_STREAM_END) {
      if (zs.avail_in == 0 && in_left == 0) break;
      // Another member follows.
      rc = inflateReset(&zs);
      if (rc != Z_OK) {
        error = Status::Internal("inflateReset: " + ZlibMessage(zs, rc));
        break;
      }
      continue;
    }
    if (rc == Z_OK) continue;
    if (rc == Z_BUF_ERROR && zs.avail_out == 0) continue;  // only needs more room
    if (rc == Z_BUF_ERROR) {                               // room to write but no input left
      error = Status::Corruption("gzip data is truncated");
      break;
    }
    error = Status::Corruption("gzip data is corrupt: " + ZlibMessage(zs, rc));
    break;
  }
  inflateEnd(&zs);
  if (!error.ok()) return error;
  out.resize(produced);
  return out;
}

Result<std::string> ZstdCompress(std::string_view data, int level) {
  if (level == -1) level = ZSTD_CLEVEL_DEFAULT;
  if (level < ZSTD_minCLevel() || level > ZSTD_maxCLevel()) {
    return Status::InvalidArgument("zstd level " + std::to_string(level) + " is not in " +
                                   std::to_string(ZSTD_minCLevel()) + ".." +
                                   std::to_string(ZSTD_maxCLevel()));
  }
  // One context per thread: creating one costs more than compressing a small file.
  thread_local std::unique_ptr<ZSTD_CCtx, decltype(&ZSTD_freeCCtx)> cctx(ZSTD_createCCtx(),
                                                                         &ZSTD_freeCCtx);
  if (cctx == nullptr) return Status::Internal("ZSTD_createCCtx failed");
  ZSTD_CCtx_reset(cctx.get(), ZSTD_reset_session_and_parameters);
  // A content checksum, as the zstd tool writes by default: corrupt files fail to decompress.
  size_t rc = ZSTD_CCtx_setParameter(cctx.get(), ZSTD_c_compressionLevel, level);
  if (!ZSTD_isError(rc)) rc = ZSTD_CCtx_setParameter(cctx.get(), ZSTD_c_checksumFlag, 1);
  if (ZSTD_isError(rc)) return Status::Internal(std::string("zstd: ") + ZSTD_getErrorName(rc));
  std::string out;
  out.resize(ZSTD_compressBound(data.size()));
  size_t n = ZSTD_compress2(cctx.get(), out.data(), out.size(), data.data(), data.size());
  if (ZSTD_isError(n)) {
    return Status::Internal(std::string("ZSTD_compress2: ") + ZSTD_getErrorName(n));
  }
  out.resize(n);
  return out;
}

// Reads every frame in data, whether or not its header records the content size.
Result<std::string> ZstdDecompress(std::string_view data) {
  if (data.empty()) return Status::Corruption("zstd data is empty (not even a frame header)");
  ZSTD_DStream* ds = ZSTD_createDStream();
  if (ds == nullptr) return Status::Internal("ZSTD_createDStream failed");
  std::string out;
  unsigned long long hint = ZSTD_getFrameContentSize(data.data(), data.size());
  // The header's size is a hint only: a corrupt one must not make us allocate gigabytes.
  if (hint != ZSTD_CONTENTSIZE_UNKNOWN && hint != ZSTD_CONTENTSIZE_ERROR &&
      hint <= data.size() * 64ULL + (1 << 20)) {
    out.resize(static_cast<size_t>(hint) + 1);
  } else {
    out.resize(std::max<size_t>(data.size() * 4, ZSTD_DStreamOutSize()));
  }
  ZSTD_inBuffer in{data.data(), data.size(), 0};
  size_t produced = 0;
  size_t last = 0;
  Status error;
  while (in.pos < in.size) {
    if (produced == out.size()) out.resize(out.size() * 2);
    ZSTD_outBuffer ob{out.data() + produced, out.size() - produced, 0};
    last = ZSTD_decompressStream(ds, &ob, &in);
    produced += ob.pos;
    if (ZSTD_isError(last)) {
      error = Status::Corruption(std::string("zstd data is corrupt: ") + ZSTD_getErrorName(last));
      break;
    }
  }
  // The input is used up; a frame may still hold buffered output.
  while (error.ok() && last != 0) {
    if (produced == out.size()) out.resize(out.size() * 2);
    ZSTD_outBuffer ob{out.data() + produced, out.size() - produced, 0};
    last = ZSTD_decompressStream(ds, &ob, &in);
    produced += ob.pos;
    if (ZSTD_isError(last)) {
      error = Status::Corruption(std::string("zstd data is corrupt: ") + ZSTD_getErrorName(last));
    } else if (last != 0 && ob.pos == 0) {
      error = Status::Corruption("zstd data is truncated");
    }
  }
  ZSTD_freeDStream(ds);
  if (!error.ok()) return error;
  out.resize(produced);
  return out;
}

}  // namespace

std::string_view CompressionExtension(Compression c) {
  switch (c) {
    case Compression::kNone:
      return ".json";
    case Compression::kGzip:
      return ".json.gz";
    case Compression::kZstd:
      return ".json.zst";
  }
  return ".json";
}

Result<Compression> ParseCompression(std::string_view name) {
  std::string lower(name);
  std::transform(lower.begin(), lower.end(), lower.begin(),
                 [](unsigned char ch) { return static_cast<char>(std::tolower(ch)); });
  if (lower == "none" || lower == "json") return Compression::kNone;
  if (lower == "gzip" || lower == "gz") return Compression::kGzip;
  if (lower == "zstd" || lower == "zst") return Compression::kZstd;
  return Status::InvalidArgument("unknown compression '" + std::string(name) +
                                 "' (expected none, gzip or zstd)");
}

Result<std::string> Compress(Compression c, std::string_view data, int level) {
  switch (c) {
    case Compression::kNone:
      return std::string(data);
    case Compression::kGzip:
      return GzipCompress(data, level);
    case Compression::kZstd:
      return ZstdCompress(data, level);
  }
  return Status::InvalidArgument("unknown compression");
}

Result<std::string> Decompress(Compression c, std::string_view data) {
  switch (c) {
    case Compression::kNone:
      return std::string(data);
    case Compression::kGzip:
      return GzipDecompress(data);
    case Compression::kZstd:
      return ZstdDecompress(data);
  }
  return Status::InvalidArgument("unknown compression");
}

}  // namespace recsys
