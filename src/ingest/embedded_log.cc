#include "ingest/embedded_log.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <bit>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <cinttypes>
#include <cstdio>
#include <cstring>
#include <limits>
#include <map>
#include <mutex>
#include <shared_mutex>
#include <thread>
#include <utility>
#include <vector>

#include "core/crc32c.h"
#include "core/files.h"

namespace recsys {
namespace {

// The on-disk format is described in docs/formats/event-log.md; keep the two in step.
constexpr uint32_t kFormatVersion = 1;
constexpr char kSegmentMagic[8] = {'R', 'E', 'C', 'S', 'Y', 'S', 'L', 'G'};
constexpr char kIndexMagic[8] = {'R', 'E', 'C', 'S', 'Y', 'S', 'I', 'X'};
constexpr int64_t kHeaderSize = 32;
constexpr size_t kFrameHeader = 8;  // body length u32, CRC-32C of the body u32
constexpr size_t kBodyFixed = 20;   // offset i64, timestamp i64, key length u32
constexpr size_t kIndexHeaderSize = 40;
constexpr size_t kIndexEntrySize = 16;
constexpr char kTopicMetaName[] = "topic.meta";
constexpr char kTopicMetaMagic[] = "recsys-event-log-topic";
constexpr char kGroupOffsetMagic[] = "recsys-group-offset";
constexpr char kGroupsDir[] = "_groups";
constexpr char kWriterLockName[] = ".writer";
constexpr int kMaxPartitions = 1024;

// Not part of the format: readers accept any spacing of index entries.
constexpr int64_t kIndexIntervalBytes = 32 << 10;
// An Append writes at most this much per write() (more only for a single bigger record).
constexpr size_t kMaxWriteChunk = 4 << 20;
constexpr size_t kScanChunk = 1 << 20;
constexpr size_t kSkipChunk = 64 << 10;
// How long a first Append waits for a partition's writer lock that another log holds briefly
// (to repair a torn tail at open or to apply retention) before reporting it busy.
constexpr int kWriterLockWaitMs = 500;

void PutFixed32(char* p, uint32_t v) {
  if constexpr (std::endian::native != std::endian::little) v = __builtin_bswap32(v);
  std::memcpy(p, &v, 4);
}
void PutFixed64(char* p, uint64_t v) {
  if constexpr (std::endian::native != std::endian::little) v = __builtin_bswap64(v);
  std::memcpy(p, &v, 8);
}
uint32_t GetFixed32(const char* p) {
  uint32_t v;
  std::memcpy(&v, p, 4);
  if constexpr (std::endian::native != std::endian::little) v = __builtin_bswap32(v);
  return v;
}
uint64_t GetFixed64(const char* p) {
  uint64_t v;
  std::memcpy(&v, p, 8);
  if constexpr (std::endian::native != std::endian::little) v = __builtin_bswap64(v);
  return v;
}

// Closes the descriptor when the last user lets go, so a read in flight keeps a segment that
// retention unlinks readable.
class FileHandle {
 public:
  explicit FileHandle(int fd) : fd_(fd) {}
  ~FileHandle() {
    if (fd_ >= 0) ::close(fd_);
  }
  FileHandle(const FileHandle&) = delete;
  FileHandle& operator=(const FileHandle&) = delete;
  int fd() const { return fd_; }

 private:
  int fd_;
};

// Reads up to n bytes at pos; *got < n only at the end of the file.
Status PreadFull(int fd, char* buf, size_t n, int64_t pos, const std::string& path, size_t* got) {
  size_t done = 0;
  while (done < n) {
    ssize_t r = ::pread(fd, buf + done, n - done, static_cast<off_t>(pos + done));
    if (r < 0) {
      if (errno == EINTR) continue;
      return Status::FromErrno("read", path, errno);
    }
    if (r == 0) break;
    done += static_cast<size_t>(r);
  }
  *got = done;
  return Status::OK();
}

// *written (if given) says how much reached the file, also when it fails.
Status PwriteFull(int fd, const char* buf, size_t n, int64_t pos, const std::string& path,
                  size_t* written = nullptr) {
  size_t done = 0;
  Status st;
  while (done < n) {
    ssize_t r = ::pwrite(fd, buf + done, n - done, static_cast<off_t>(pos + done));
    if (r < 0) {
      if (errno == EINTR) continue;
      st = Status::FromErrno("write", path, errno);
      break;
    }
    done += static_cast<size_t>(r);
  }
  if (written != nullptr) *written = done;
  return st;
}

Status DataSync(int fd, const std::string& path) {
  if (::fdatasync(fd) != 0) return Status::FromErrno("fsync", path, errno);
  return Status::OK();
}

std::string SegmentFileName(int64_t base) {
  char name[32];
  std::snprintf(name, sizeof(name), "%020" PRId64 ".log", base);
  return name;
}

std::string IndexPathFor(const std::string& segment_path) {
  return segment_path.substr(0, segment_path.size() - 4) + ".index";
}

// "<20 digits>.log" -> base offset.
bool ParseSegmentFileName(std::string_view name, int64_t* base) {
  if (name.size() != 24 || name.substr(20) != ".log") return false;
  for (int i = 0; i < 20; ++i) {
    if (name[i] < '0' || name[i] > '9') return false;
  }
  auto [ptr, ec] = std::from_chars(name.data(), name.data() + 20, *base);
  return ec == std::errc() && ptr == name.data() + 20;
}

// Topic and group names: what Kafka allows in topic names ([A-Za-z0-9._-], at most 249), minus
// names starting with '.', which would collide with the log's own files.
bool ValidName(std::string_view name) {
  if (name.empty() || name.size() > 249 || name[0] == '.') return false;
  for (char c : name) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '-';
    if (!ok) return false;
  }
  return true;
}

bool ValidTopicName(std::string_view name) { return ValidName(name) && name != kGroupsDir; }

void EncodeSegmentHeader(int64_t base, char* h) {
  std::memset(h, 0, kHeaderSize);
  std::memcpy(h, kSegmentMagic, 8);
  PutFixed32(h + 8, kFormatVersion);
  PutFixed64(h + 16, static_cast<uint64_t>(base));
  PutFixed32(h + 28, crc32c::Value(h, 28));
}

enum class HeaderCheck { kOk, kDamaged, kUnsupportedVersion };

HeaderCheck CheckSegmentHeader(const char* h, int64_t base, uint32_t* version) {
  if (std::memcmp(h, kSegmentMagic, 8) != 0) return HeaderCheck::kDamaged;
  if (crc32c::Value(h, 28) != GetFixed32(h + 28)) return HeaderCheck::kDamaged;
  *version = GetFixed32(h + 8);
  if (*version != kFormatVersion) return HeaderCheck::kUnsupportedVersion;
  if (static_cast<int64_t>(GetFixed64(h + 16)) != base) return HeaderCheck::kDamaged;
  return HeaderCheck::kOk;
}

Status UnsupportedVersion(const std::string& path, uint32_t version) {
  return Status::Corruption(path + ": format version " + std::to_string(version) +
                            " is not supported (this build reads version " +
                            std::to_string(kFormatVersion) + ")");
}

Status CorruptAt(const std::string& path, int64_t pos, std::string_view what) {
  std::string msg = path + " at byte " + std::to_string(pos) + ": ";
  msg += what;
  return Status::Corruption(std::move(msg));
}

// Creates (or empties) a segment file holding just its header, made durable. The caller syncs
// the folder.
Result<int> CreateSegmentFile(const std::string& path, int64_t base) {
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return Status::FromErrno("create", path, errno);
  char header[kHeaderSize];
  EncodeSegmentHeader(base, header);
  Status st = PwriteFull(fd, header, kHeaderSize, 0, path);
  if (st.ok()) st = DataSync(fd, path);
  if (!st.ok()) {
    ::close(fd);
    return st;
  }
  return fd;
}

struct IndexEntry {
  int64_t offset;
  int64_t pos;  // file position of the record's frame
};

struct Segment {
  int64_t base = 0;
  std::string path;
  // Bytes of the file that hold known data, header included. Active segment: the end of the
  // last valid record, 0 while its header has not been seen valid. Closed segment: the file
  // size (closed segments are trusted; reads check every record they serve).
  int64_t size = 0;
  // Sparse: the first record and then one record at least kIndexIntervalBytes further on.
  std::vector<IndexEntry> index;
  // For a closed segment: whether `index` and max_timestamp cover the whole file. An active
  // segment's index always covers its known records.
  bool index_complete = false;
  int64_t max_timestamp = std::numeric_limits<int64_t>::min();  // of the indexed records

  void AddToIndex(int64_t offset, int64_t pos, int64_t timestamp) {
    if (index.empty() || pos - index.back().pos >= kIndexIntervalBytes) {
      index.push_back({offset, pos});
    }
    max_timestamp = std::max(max_timestamp, timestamp);
  }
};

struct ScanState {
  int64_t pos;          // where the next frame starts
  int64_t next_offset;  // the offset it must carry
};

// Walks the frames of a segment in [st->pos, file_end). Stops at file_end, before the first frame
// that is incomplete, has an impossible length, fails its CRC (when verify_crc) or does not carry
// st->next_offset, and before the frame of offset stop_offset (-1: none). On return st is just
// past the last good frame. Each good frame is added to *index_into if given. Only read errors
// are returned as errors.
Status ScanFrames(int fd, const std::string& path, int64_t file_end, bool verify_crc,
                  int64_t stop_offset, size_t chunk, Segment* index_into, ScanState* st) {
  thread_local std::string buf;
  int64_t buf_pos = 0;
  size_t buf_len = 0;
  auto fill = [&](int64_t pos, size_t want) -> Status {
    want = static_cast<size_t>(std::min<int64_t>(static_cast<int64_t>(want), file_end - pos));
    if (buf.size() < want) buf.resize(want);
    buf_pos = pos;
    return PreadFull(fd, buf.data(), want, pos, path, &buf_len);
  };
  for (;;) {
    if (st->next_offset == stop_offset) return Status::OK();
    const int64_t pos = st->pos;
    if (pos + static_cast<int64_t>(kFrameHeader) > file_end) return Status::OK();
    if (pos < buf_pos ||
        pos + static_cast<int64_t>(kFrameHeader) > buf_pos + static_cast<int64_t>(buf_len)) {
      RECSYS_RETURN_IF_ERROR(fill(pos, chunk));
      if (buf_len < kFrameHeader) return Status::OK();  // the file shrank under us
    }
    const char* frame = buf.data() + (pos - buf_pos);
    const uint32_t len = GetFixed32(frame);
    if (len < kBodyFixed) return Status::OK();
    const int64_t end = pos + static_cast<int64_t>(kFrameHeader) + len;
    if (end > file_end) return Status::OK();
    if (end > buf_pos + static_cast<int64_t>(buf_len)) {
      RECSYS_RETURN_IF_ERROR(fill(pos, std::max(chunk, kFrameHeader + len)));
      if (static_cast<int64_t>(buf_len) < end - pos) return Status::OK();
      frame = buf.data();
    }
    const char* body = frame + kFrameHeader;
    if (verify_crc && crc32c::Value(body, len) != GetFixed32(frame + 4)) return Status::OK();
    const auto offset = static_cast<int64_t>(GetFixed64(body));
    const uint32_t key_len = GetFixed32(body + 16);
    if (offset != st->next_offset || key_len > len - kBodyFixed) return Status::OK();
    if (index_into != nullptr) {
      index_into->AddToIndex(offset, pos, static_cast<int64_t>(GetFixed64(body + 8)));
    }
    st->pos = end;
    ++st->next_offset;
  }
}

std::string EncodeIndexFile(const Segment& s) {
  std::string out(kIndexHeaderSize + s.index.size() * kIndexEntrySize + 4, '\0');
  char* p = out.data();
  std::memcpy(p, kIndexMagic, 8);
  PutFixed32(p + 8, kFormatVersion);
  PutFixed32(p + 12, static_cast<uint32_t>(s.index.size()));
  PutFixed64(p + 16, static_cast<uint64_t>(s.base));
  PutFixed64(p + 24, static_cast<uint64_t>(s.size));
  PutFixed64(p + 32, static_cast<uint64_t>(s.max_timestamp));
  p += kIndexHeaderSize;
  for (const IndexEntry& e : s.index) {
    PutFixed64(p, static_cast<uint64_t>(e.offset));
    PutFixed64(p + 8, static_cast<uint64_t>(e.pos));
    p += kIndexEntrySize;
  }
  PutFixed32(p, crc32c::Value(out.data(), out.size() - 4));
  return out;
}

// Fills s->index from its .index file if that file is intact and was written for the segment as
// it is now (same base and size). Returns false otherwise; the index is then rebuilt by a scan.
bool DecodeIndexFile(std::string_view data, Segment* s) {
  if (data.size() < kIndexHeaderSize + 4) return false;
  const char* p = data.data();
  if (std::memcmp(p, kIndexMagic, 8) != 0) return false;
  if (crc32c::Value(p, data.size() - 4) != GetFixed32(p + data.size() - 4)) return false;
  if (GetFixed32(p + 8) != kFormatVersion) return false;
  const uint32_t count = GetFixed32(p + 12);
  if (data.size() != kIndexHeaderSize + size_t{count} * kIndexEntrySize + 4) return false;
  if (static_cast<int64_t>(GetFixed64(p + 16)) != s->base) return false;
  if (static_cast<int64_t>(GetFixed64(p + 24)) != s->size) return false;
  std::vector<IndexEntry> index(count);
  const char* e = p + kIndexHeaderSize;
  for (uint32_t i = 0; i < count; ++i, e += kIndexEntrySize) {
    index[i] = {static_cast<int64_t>(GetFixed64(e)), static_cast<int64_t>(GetFixed64(e + 8))};
    const bool ordered =
        i == 0 ? index[i].offset == s->base && index[i].pos == kHeaderSize
               : index[i].offset > index[i - 1].offset && index[i].pos > index[i - 1].pos;
    if (!ordered || index[i].pos >= s->size) return false;
  }
  s->index = std::move(index);
  s->max_timestamp = static_cast<int64_t>(GetFixed64(p + 32));
  s->index_complete = true;
  return true;
}

struct Partition {
  std::mutex mu;
  std::string topic;
  int id = 0;
  std::string dir;

  // Ascending by base; back() is the active segment. Empty only before the first segment of a
  // partition exists (then start = end = 0).
  std::vector<Segment> segments;
  int64_t end_offset = 0;
  // Size of the active segment's file when last looked at; more than segments.back().size
  // means a torn or corrupt tail that a writer must cut off.
  int64_t active_file_size = 0;
  // The active segment's header is missing or damaged and no valid record follows it.
  bool active_header_bad = false;
  // Set when the active segment's header is damaged but records follow it: neither served nor
  // appended to; someone has to look at the file.
  Status broken;

  // Writer state. lock_fd holds an flock on <dir>/.writer; `writer` means this log appends to
  // the partition and its in-memory state is the truth; otherwise it follows the files.
  int lock_fd = -1;
  bool writer = false;
  int write_fd = -1;
  bool dirty = false;  // appended since the last fsync
  int64_t last_sync_nanos = 0;

  // Reads: one open segment and where the last read stopped.
  int64_t read_file_base = -1;
  std::shared_ptr<FileHandle> read_file;
  int64_t cache_base = -1;
  int64_t cache_offset = -1;
  int64_t cache_pos = 0;

  int64_t start_offset() const { return segments.empty() ? end_offset : segments.front().base; }
  std::string Name() const { return topic + "/" + std::to_string(id); }
};

struct Topic {
  std::string name;
  std::vector<std::unique_ptr<Partition>> partitions;  // fixed after load
  std::atomic<uint32_t> round_robin{0};
};

// Grows without zero-filling and keeps its capacity across calls.
struct WriteBuffer {
  std::unique_ptr<char[]> data;
  size_t capacity = 0;
  void Ensure(size_t needed, size_t used) {
    if (needed <= capacity) return;
    size_t cap = std::max(needed, capacity * 2);
    std::unique_ptr<char[]> bigger(new char[cap]);
    if (used > 0) std::memcpy(bigger.get(), data.get(), used);
    data = std::move(bigger);
    capacity = cap;
  }
};

class EmbeddedLog final : public EventLog {
 public:
  EmbeddedLog(std::string dir, const EmbeddedLogOptions& options, int root_lock_fd)
      : dir_(std::move(dir)),
        options_(options),
        clock_(options.clock != nullptr ? options.clock : SystemClock()),
        root_lock_fd_(root_lock_fd) {}
  ~EmbeddedLog() override;

  Status DiscoverTopics();

  Status CreateTopic(std::string_view topic, int partitions) override;
  Result<std::vector<TopicInfo>> ListTopics() override;
  Result<int> PartitionCount(std::string_view topic) override;
  Status Append(std::string_view topic, std::span<const LogRecord> records) override;
  Status Read(std::string_view topic, int partition, int64_t offset, size_t max_records,
              size_t max_bytes, FetchedBatch* out) override;
  Result<PartitionInfo> GetPartitionInfo(std::string_view topic, int partition) override;
  Result<std::optional<int64_t>> CommittedOffset(std::string_view group, std::string_view topic,
                                                 int partition) override;
  Status Commit(std::string_view group, std::string_view topic, int partition,
                int64_t next_offset) override;
  Status Sync() override;

  Status ApplyRetentionAll(int64_t* deleted);

 private:
  Result<Topic*> FindTopic(std::string_view name);
  Result<Topic*> LoadTopicLocked(std::string_view name);
  Result<Topic*> CreateTopicImpl(std::string_view name, int partitions, bool require_count);
  Status CreateTopicFiles(const std::string& name, int partitions);
  Result<Partition*> GetPartition(Topic* t, int partition);
  std::string TopicDir(std::string_view topic) const { return JoinPath(dir_, topic); }
  std::string GroupOffsetPath(std::string_view group, std::string_view topic, int partition) const;

  // All REQUIRE p->mu.
  Status LoadPartition(Partition* p);
  Status SyncFromDisk(Partition* p, bool force_relist);
  Status ScanActive(Partition* p);
  Status Relist(Partition* p);
  Status TryLockWriter(Partition* p, bool* locked);
  Status LockWriterWaiting(Partition* p);
  void UnlockWriter(Partition* p);
  Status RepairLocked(Partition* p);
  Status BecomeWriter(Partition* p);
  Status AppendToPartition(Partition* p, std::span<const LogRecord> records, const uint32_t* order,
                           size_t count, int64_t now_ms);
  Status Roll(Partition* p);
  Status SyncPartition(Partition* p);
  Status EnsureIndex(Partition* p, Segment* s);
  Status RetentionLocked(Partition* p, int64_t* deleted);
  PartitionInfo InfoLocked(const Partition& p) const;

  const std::string dir_;
  const EmbeddedLogOptions options_;
  Clock* const clock_;
  const int root_lock_fd_;  // <dir>/.lock: held exclusively while a topic is created
  std::shared_mutex topics_mu_;
  // Never shrinks: Topic pointers stay valid for the life of the log.
  std::map<std::string, std::unique_ptr<Topic>, std::less<>> topics_;
};

EmbeddedLog::~EmbeddedLog() {
  for (auto& [name, topic] : topics_) {
    for (auto& p : topic->partitions) {
      std::lock_guard lock(p->mu);
      if (p->write_fd >= 0) {
        // Errors cannot be reported from here; callers who need them call Sync() first.
        if (p->dirty) (void)::fdatasync(p->write_fd);
        ::close(p->write_fd);
        p->write_fd = -1;
      }
      UnlockWriter(p.get());
    }
  }
  if (root_lock_fd_ >= 0) ::close(root_lock_fd_);
}

// ---------------------------------------------------------------------------------------------
// Topics

std::string EncodeTopicMeta(int partitions) {
  return std::string(kTopicMetaMagic) + " " + std::to_string(kFormatVersion) + "\npartitions " +
         std::to_string(partitions) + "\n";
}

Result<int> DecodeTopicMeta(const std::string& path, std::string_view text) {
  auto bad = [&](std::string_view why) {
    return Status::Corruption(path + ": " + std::string(why));
  };
  std::string_view magic = kTopicMetaMagic;
  if (text.substr(0, magic.size() + 1) != std::string(magic) + " ") {
    return bad("not a topic metadata file");
  }
  text.remove_prefix(magic.size() + 1);
  uint32_t version = 0;
  auto [p1, e1] = std::from_chars(text.data(), text.data() + text.size(), version);
  if (e1 != std::errc()) return bad("bad format version");
  if (version != kFormatVersion) return UnsupportedVersion(path, version);
  text.remove_prefix(static_cast<size_t>(p1 - text.data()));
  constexpr std::string_view kKey = "\npartitions ";
  if (text.substr(0, kKey.size()) != kKey) return bad("no partition count");
  text.remove_prefix(kKey.size());
  int partitions = 0;
  auto [p2, e2] = std::from_chars(text.data(), text.data() + text.size(), partitions);
  if (e2 != std::errc() || std::string_view(p2, text.data() + text.size() - p2) != "\n" ||
      partitions < 1 || partitions > kMaxPartitions) {
    return bad("bad partition count");
  }
  return partitions;
}

Result<Topic*> EmbeddedLog::FindTopic(std::string_view name) {
  {
    std::shared_lock lock(topics_mu_);
    auto it = topics_.find(name);
    if (it != topics_.end()) return it->second.get();
  }
  if (!ValidTopicName(name)) {
    return Status::InvalidArgument("invalid topic name '" + std::string(name) +
                                   "' (use 1-249 of [A-Za-z0-9._-], not starting with '.')");
  }
  // Another process may have created it since we looked.
  std::unique_lock lock(topics_mu_);
  auto it = topics_.find(name);
  if (it != topics_.end()) return it->second.get();
  return LoadTopicLocked(name);
}

Result<Topic*> EmbeddedLog::LoadTopicLocked(std::string_view name) {
  const std::string meta_path = JoinPath(TopicDir(name), kTopicMetaName);
  Result<std::string> meta = ReadFile(meta_path);
  if (!meta.ok()) {
    if (meta.status().code() == StatusCode::kNotFound) {
      return Status::NotFound("topic " + std::string(name) + " does not exist in log " + dir_);
    }
    return meta.status();
  }
  RECSYS_ASSIGN_OR_RETURN(int partitions, DecodeTopicMeta(meta_path, *meta));
  auto topic = std::make_unique<Topic>();
  topic->name = std::string(name);
  for (int i = 0; i < partitions; ++i) {
    auto p = std::make_unique<Partition>();
    p->topic = topic->name;
    p->id = i;
    p->dir = JoinPath(TopicDir(name), std::to_string(i));
    std::lock_guard lock(p->mu);
    RECSYS_RETURN_IF_ERROR(LoadPartition(p.get()));
    topic->partitions.push_back(std::move(p));
  }
  Topic* raw = topic.get();
  topics_.emplace(topic->name, std::move(topic));
  return raw;
}

Status EmbeddedLog::DiscoverTopics() {
  RECSYS_ASSIGN_OR_RETURN(std::vector<std::string> names, ListDir(dir_));
  for (const std::string& name : names) {
    if (!ValidTopicName(name)) continue;
    {
      std::shared_lock lock(topics_mu_);
      if (topics_.count(name) != 0) continue;
    }
    if (!FileExists(JoinPath(TopicDir(name), kTopicMetaName))) continue;
    RECSYS_ASSIGN_OR_RETURN(Topic * t, FindTopic(name));
    (void)t;
  }
  return Status::OK();
}

Status EmbeddedLog::CreateTopicFiles(const std::string& name, int partitions) {
  const std::string topic_dir = TopicDir(name);
  RECSYS_RETURN_IF_ERROR(CreateDirs(topic_dir));
  for (int i = 0; i < partitions; ++i) {
    const std::string pdir = JoinPath(topic_dir, std::to_string(i));
    RECSYS_RETURN_IF_ERROR(CreateDirs(pdir));
    RECSYS_ASSIGN_OR_RETURN(std::vector<std::string> entries, ListDir(pdir));
    bool has_segment = false;
    for (const std::string& e : entries) {
      int64_t base;
      has_segment = has_segment || ParseSegmentFileName(e, &base);
    }
    if (!has_segment) {
      RECSYS_ASSIGN_OR_RETURN(int fd, CreateSegmentFile(JoinPath(pdir, SegmentFileName(0)), 0));
      ::close(fd);
    }
    RECSYS_RETURN_IF_ERROR(SyncDir(pdir));
  }
  // The metadata goes last: a topic whose metadata exists has all its partition folders.
  RECSYS_RETURN_IF_ERROR(
      WriteFileAtomic(JoinPath(topic_dir, kTopicMetaName), EncodeTopicMeta(partitions)));
  return SyncDir(dir_);
}

Result<Topic*> EmbeddedLog::CreateTopicImpl(std::string_view name, int partitions,
                                            bool require_count) {
  auto check = [&](Topic* t) -> Result<Topic*> {
    const int have = static_cast<int>(t->partitions.size());
    if (require_count && have != partitions) {
      return Status::InvalidArgument("topic " + std::string(name) + " already exists with " +
                                     std::to_string(have) + " partitions, not " +
                                     std::to_string(partitions));
    }
    return t;
  };
  std::unique_lock lock(topics_mu_);
  auto it = topics_.find(name);
  if (it != topics_.end()) return check(it->second.get());
  // Serializes creation with other processes sharing the folder.
  while (::flock(root_lock_fd_, LOCK_EX) != 0) {
    if (errno != EINTR) return Status::FromErrno("lock", JoinPath(dir_, ".lock"), errno);
  }
  struct Unlock {
    int fd;
    ~Unlock() { ::flock(fd, LOCK_UN); }
  } unlock{root_lock_fd_};
  Result<Topic*> loaded = LoadTopicLocked(name);
  if (loaded.ok()) return check(*loaded);
  if (loaded.status().code() != StatusCode::kNotFound) return loaded.status();
  RECSYS_RETURN_IF_ERROR(CreateTopicFiles(std::string(name), partitions));
  return LoadTopicLocked(name);
}

Status EmbeddedLog::CreateTopic(std::string_view topic, int partitions) {
  if (!ValidTopicName(topic)) {
    return Status::InvalidArgument("invalid topic name '" + std::string(topic) +
                                   "' (use 1-249 of [A-Za-z0-9._-], not starting with '.')");
  }
  if (partitions < 1 || partitions > kMaxPartitions) {
    return Status::InvalidArgument("topic " + std::string(topic) + ": " +
                                   std::to_string(partitions) + " partitions is outside [1, 1024]");
  }
  return CreateTopicImpl(topic, partitions, /*require_count=*/true).status();
}

Result<int> EmbeddedLog::PartitionCount(std::string_view topic) {
  RECSYS_ASSIGN_OR_RETURN(Topic * t, FindTopic(topic));
  return static_cast<int>(t->partitions.size());
}

Result<Partition*> EmbeddedLog::GetPartition(Topic* t, int partition) {
  if (partition < 0 || partition >= static_cast<int>(t->partitions.size())) {
    return Status::NotFound("topic " + t->name + " has " + std::to_string(t->partitions.size()) +
                            " partitions; no partition " + std::to_string(partition));
  }
  return t->partitions[static_cast<size_t>(partition)].get();
}

PartitionInfo EmbeddedLog::InfoLocked(const Partition& p) const {
  PartitionInfo info{p.id, p.start_offset(), p.end_offset, 0};
  for (const Segment& s : p.segments) info.bytes += s.size;
  return info;
}

Result<std::vector<TopicInfo>> EmbeddedLog::ListTopics() {
  RECSYS_RETURN_IF_ERROR(DiscoverTopics());
  std::vector<TopicInfo> out;
  std::shared_lock lock(topics_mu_);
  for (auto& [name, topic] : topics_) {
    TopicInfo info{name, {}};
    for (auto& p : topic->partitions) {
      std::lock_guard plock(p->mu);
      if (!p->writer) RECSYS_RETURN_IF_ERROR(SyncFromDisk(p.get(), /*force_relist=*/true));
      info.partitions.push_back(InfoLocked(*p));
    }
    out.push_back(std::move(info));
  }
  return out;
}

Result<PartitionInfo> EmbeddedLog::GetPartitionInfo(std::string_view topic, int partition) {
  RECSYS_ASSIGN_OR_RETURN(Topic * t, FindTopic(topic));
  RECSYS_ASSIGN_OR_RETURN(Partition * p, GetPartition(t, partition));
  std::lock_guard lock(p->mu);
  if (!p->writer) RECSYS_RETURN_IF_ERROR(SyncFromDisk(p, /*force_relist=*/true));
  return InfoLocked(*p);
}

// ---------------------------------------------------------------------------------------------
// Following the files: load, refresh, repair

Status EmbeddedLog::LoadPartition(Partition* p) {
  RECSYS_RETURN_IF_ERROR(SyncFromDisk(p, /*force_relist=*/true));
  const bool needs_repair =
      p->segments.empty() || p->active_header_bad || p->active_file_size > p->segments.back().size;
  // A broken partition is reported by reads and appends; the rest of the log opens.
  if (!needs_repair || !p->broken.ok()) return Status::OK();
  // Repair only when no other process writes the partition: its tail may be a write in flight.
  bool locked = false;
  RECSYS_RETURN_IF_ERROR(TryLockWriter(p, &locked));
  if (!locked) return Status::OK();
  Status st = RepairLocked(p);
  UnlockWriter(p);
  return st;
}

// Catches up with what other processes did to the partition's files: records appended to the
// active segment, segments rolled, segments deleted by retention. Changes no file.
Status EmbeddedLog::SyncFromDisk(Partition* p, bool force_relist) {
  if (!p->segments.empty()) {
    struct stat st;
    if (::stat(p->segments.back().path.c_str(), &st) == 0) {
      if (st.st_size > p->segments.back().size) {
        const int64_t before = p->end_offset;
        RECSYS_RETURN_IF_ERROR(ScanActive(p));
        if (!force_relist && p->end_offset > before) return Status::OK();
      }
    } else if (errno != ENOENT) {
      return Status::FromErrno("stat", p->segments.back().path, errno);
    }
  }
  return Relist(p);
}

Status EmbeddedLog::Relist(Partition* p) {
  const int64_t old_active = p->segments.empty() ? -1 : p->segments.back().base;
  auto known_closed = [&](int64_t base) {
    auto it = std::lower_bound(p->segments.begin(), p->segments.end(), base,
                               [](const Segment& s, int64_t b) { return s.base < b; });
    return it != p->segments.end() && it->base == base && base != old_active;
  };
  std::vector<int64_t> bases;
  std::map<int64_t, int64_t> closed_sizes;  // of segments that are closed but were not before
  for (int attempt = 0;; ++attempt) {
    Result<std::vector<std::string>> names = ListDir(p->dir);
    if (!names.ok() && names.status().code() != StatusCode::kNotFound) return names.status();
    bases.clear();
    if (names.ok()) {
      for (const std::string& name : *names) {
        int64_t base;
        if (ParseSegmentFileName(name, &base)) bases.push_back(base);
      }
    }
    std::sort(bases.begin(), bases.end());
    closed_sizes.clear();
    bool vanished = false;
    for (size_t i = 0; i + 1 < bases.size() && !vanished; ++i) {
      if (known_closed(bases[i])) continue;
      const std::string path = JoinPath(p->dir, SegmentFileName(bases[i]));
      struct stat st;
      if (::stat(path.c_str(), &st) != 0) {
        // Retention in the writing process deleted it since we listed the folder.
        if (errno != ENOENT || attempt >= 3) return Status::FromErrno("stat", path, errno);
        vanished = true;
      } else {
        closed_sizes[bases[i]] = st.st_size;
      }
    }
    if (!vanished) break;
  }
  bool unchanged = bases.size() == p->segments.size();
  for (size_t i = 0; unchanged && i < bases.size(); ++i) {
    unchanged = bases[i] == p->segments[i].base;
  }
  if (unchanged) return Status::OK();

  std::vector<Segment> segments;
  segments.reserve(bases.size());
  size_t j = 0;
  for (int64_t base : bases) {
    while (j < p->segments.size() && p->segments[j].base < base) ++j;
    if (j < p->segments.size() && p->segments[j].base == base) {
      segments.push_back(std::move(p->segments[j++]));
    } else {
      Segment s;
      s.base = base;
      s.path = JoinPath(p->dir, SegmentFileName(base));
      segments.push_back(std::move(s));
    }
    auto size = closed_sizes.find(base);
    if (size != closed_sizes.end()) {
      // Closed segments are trusted at their file size; an index built while the segment was
      // active here may cover only part of it.
      segments.back().size = size->second;
      segments.back().index_complete = false;
    }
  }
  p->segments = std::move(segments);
  if (p->segments.empty()) return Status::OK();
  if (p->segments.back().base != old_active) {
    Segment& a = p->segments.back();
    a.size = 0;
    a.index.clear();
    p->end_offset = a.base;
    p->active_header_bad = false;
    p->broken = Status::OK();
    RECSYS_RETURN_IF_ERROR(ScanActive(p));
  }
  if (p->cache_base >= 0 && p->cache_base < p->segments.front().base) p->cache_base = -1;
  return Status::OK();
}

// Reads the active segment from where the known data ends: its header first if not seen yet,
// then every valid record. Stops at the first torn or bad frame without changing the file.
Status EmbeddedLog::ScanActive(Partition* p) {
  Segment& a = p->segments.back();
  int fd = ::open(a.path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) return Status::OK();  // deleted under us; the next relist sees it
    return Status::FromErrno("open", a.path, errno);
  }
  FileHandle file(fd);
  struct stat st;
  if (::fstat(fd, &st) != 0) return Status::FromErrno("stat", a.path, errno);
  const int64_t file_size = st.st_size;
  p->active_file_size = file_size;
  if (a.size == 0) {
    p->active_header_bad = true;
    if (file_size < kHeaderSize) return Status::OK();  // being created, or torn at creation
    char header[kHeaderSize];
    size_t got = 0;
    RECSYS_RETURN_IF_ERROR(PreadFull(fd, header, kHeaderSize, 0, a.path, &got));
    if (got < static_cast<size_t>(kHeaderSize)) return Status::OK();
    uint32_t version = 0;
    switch (CheckSegmentHeader(header, a.base, &version)) {
      case HeaderCheck::kUnsupportedVersion:
        return UnsupportedVersion(a.path, version);
      case HeaderCheck::kDamaged: {
        ScanState probe{kHeaderSize, a.base};
        RECSYS_RETURN_IF_ERROR(
            ScanFrames(fd, a.path, file_size, true, a.base + 1, kSkipChunk, nullptr, &probe));
        if (probe.next_offset > a.base) {
          p->broken = Status::Corruption(
              a.path + ": damaged segment header in front of valid records; the partition " +
              p->Name() + " is neither read nor written past offset " + std::to_string(a.base) +
              " until the file is moved away");
        }
        return Status::OK();
      }
      case HeaderCheck::kOk:
        break;
    }
    p->active_header_bad = false;
    a.size = kHeaderSize;
    p->end_offset = a.base;
  }
  ScanState scan{a.size, p->end_offset};
  RECSYS_RETURN_IF_ERROR(
      ScanFrames(fd, a.path, file_size, /*verify_crc=*/true, -1, kScanChunk, &a, &scan));
  a.size = scan.pos;
  p->end_offset = scan.next_offset;
  return Status::OK();
}

Status EmbeddedLog::TryLockWriter(Partition* p, bool* locked) {
  *locked = false;
  if (p->lock_fd >= 0) {
    *locked = true;
    return Status::OK();
  }
  RECSYS_RETURN_IF_ERROR(CreateDirs(p->dir));
  const std::string path = JoinPath(p->dir, kWriterLockName);
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) return Status::FromErrno("open", path, errno);
  while (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    if (errno == EINTR) continue;
    int err = errno;
    ::close(fd);
    if (err == EWOULDBLOCK) return Status::OK();
    return Status::FromErrno("lock", path, err);
  }
  p->lock_fd = fd;
  *locked = true;
  return Status::OK();
}

Status EmbeddedLog::LockWriterWaiting(Partition* p) {
  for (int waited_ms = 0;; waited_ms += 5) {
    bool locked = false;
    RECSYS_RETURN_IF_ERROR(TryLockWriter(p, &locked));
    if (locked) return Status::OK();
    if (waited_ms >= kWriterLockWaitMs) {
      return Status::Unavailable("partition " + p->Name() + " of log " + dir_ +
                                 " is being written by another process (lock " +
                                 JoinPath(p->dir, kWriterLockName) + ")");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
}

void EmbeddedLog::UnlockWriter(Partition* p) {
  if (p->lock_fd >= 0) ::close(p->lock_fd);  // releases the flock
  p->lock_fd = -1;
}

// With the writer lock held: catch up with the files, then cut a torn or corrupt tail off the
// active segment, recreate an active segment whose header is damaged and holds no records,
// create the first segment of a partition that has none.
Status EmbeddedLog::RepairLocked(Partition* p) {
  RECSYS_RETURN_IF_ERROR(SyncFromDisk(p, /*force_relist=*/true));
  if (!p->broken.ok()) return p->broken;
  if (p->segments.empty() || p->active_header_bad) {
    const int64_t base = p->segments.empty() ? p->end_offset : p->segments.back().base;
    const std::string path = JoinPath(p->dir, SegmentFileName(base));
    RECSYS_ASSIGN_OR_RETURN(int fd, CreateSegmentFile(path, base));
    ::close(fd);
    RECSYS_RETURN_IF_ERROR(SyncDir(p->dir));
    if (p->segments.empty()) {
      p->segments.emplace_back();
      p->segments.back().base = base;
      p->segments.back().path = path;
    }
    Segment& a = p->segments.back();
    a.size = kHeaderSize;
    a.index.clear();
    a.max_timestamp = std::numeric_limits<int64_t>::min();
    p->end_offset = base;
    p->active_file_size = kHeaderSize;
    p->active_header_bad = false;
    return Status::OK();
  }
  Segment& a = p->segments.back();
  if (p->active_file_size > a.size) {
    int fd = ::open(a.path.c_str(), O_WRONLY | O_CLOEXEC);
    if (fd < 0) return Status::FromErrno("open", a.path, errno);
    FileHandle file(fd);
    if (::ftruncate(fd, a.size) != 0) return Status::FromErrno("truncate", a.path, errno);
    RECSYS_RETURN_IF_ERROR(DataSync(fd, a.path));
    p->active_file_size = a.size;
  }
  return Status::OK();
}

Status EmbeddedLog::BecomeWriter(Partition* p) {
  if (p->writer) return Status::OK();
  RECSYS_RETURN_IF_ERROR(LockWriterWaiting(p));
  Status st = RepairLocked(p);
  if (st.ok()) {
    const std::string& path = p->segments.back().path;
    p->write_fd = ::open(path.c_str(), O_WRONLY | O_CLOEXEC);
    if (p->write_fd < 0) st = Status::FromErrno("open", path, errno);
  }
  if (!st.ok()) {
    UnlockWriter(p);
    return st;
  }
  p->writer = true;
  p->dirty = false;
  p->last_sync_nanos = clock_->MonotonicNanos();
  return Status::OK();
}

// ---------------------------------------------------------------------------------------------
// Append

Status EmbeddedLog::Append(std::string_view topic, std::span<const LogRecord> records) {
  for (const LogRecord& r : records) {
    const size_t size = r.key.size() + r.value.size();
    if (size > options_.max_record_bytes) {
      return Status::InvalidArgument("topic " + std::string(topic) + ": a record of " +
                                     std::to_string(size) +
                                     " bytes (key + value) exceeds max_record_bytes " +
                                     std::to_string(options_.max_record_bytes));
    }
  }
  Result<Topic*> found = FindTopic(topic);
  if (!found.ok() && found.status().code() == StatusCode::kNotFound) {
    found = CreateTopicImpl(topic, options_.default_partitions, /*require_count=*/false);
  }
  if (!found.ok()) return found.status();
  Topic* t = *found;
  if (records.empty()) return Status::OK();
  const int64_t now_ms = clock_->NowMillis();
  const size_t n = t->partitions.size();
  if (n == 1) {
    return AppendToPartition(t->partitions[0].get(), records, nullptr, records.size(), now_ms);
  }

  // Group the records by partition, keeping their order: a counting sort into `order`.
  thread_local std::vector<uint32_t> part;
  thread_local std::vector<uint32_t> order;
  thread_local std::vector<uint32_t> begin;
  part.resize(records.size());
  order.resize(records.size());
  begin.assign(n + 1, 0);
  uint32_t empty_keys = 0;
  for (const LogRecord& r : records) empty_keys += r.key.empty() ? 1 : 0;
  uint32_t next_rr = empty_keys > 0 ? t->round_robin.fetch_add(empty_keys) : 0;
  for (size_t i = 0; i < records.size(); ++i) {
    const std::string_view key = records[i].key;
    part[i] = key.empty() ? next_rr++ % static_cast<uint32_t>(n)
                          : static_cast<uint32_t>(PartitionForKey(key, static_cast<int>(n)));
    ++begin[part[i] + 1];
  }
  for (size_t p = 0; p < n; ++p) begin[p + 1] += begin[p];
  {
    thread_local std::vector<uint32_t> fill;
    fill.assign(begin.begin(), begin.end() - 1);
    for (size_t i = 0; i < records.size(); ++i) order[fill[part[i]]++] = static_cast<uint32_t>(i);
  }
  for (size_t p = 0; p < n; ++p) {
    const size_t count = begin[p + 1] - begin[p];
    if (count == 0) continue;
    RECSYS_RETURN_IF_ERROR(
        AppendToPartition(t->partitions[p].get(), records, order.data() + begin[p], count, now_ms));
  }
  return Status::OK();
}

// Appends records[order[i]] for i < count (records[i] when order is null) to one partition: the
// frames are built in one buffer and written with one write() per segment they land in.
Status EmbeddedLog::AppendToPartition(Partition* p, std::span<const LogRecord> records,
                                      const uint32_t* order, size_t count, int64_t now_ms) {
  thread_local WriteBuffer buf;
  std::lock_guard lock(p->mu);
  RECSYS_RETURN_IF_ERROR(BecomeWriter(p));

  Segment* active = &p->segments.back();
  size_t used = 0;
  int64_t next_offset = p->end_offset;
  // What to restore if the write fails.
  size_t index_before = active->index.size();
  int64_t max_ts_before = active->max_timestamp;

  auto flush = [&]() -> Status {
    if (used == 0) return Status::OK();
    size_t written = 0;
    Status st = PwriteFull(p->write_fd, buf.data.get(), used, active->size, active->path, &written);
    if (!st.ok()) {
      // Keep the whole frames that made it (readers in other processes may have served them
      // already: they are the appended prefix) and cut the partial one off, best effort (the
      // next writer would anyway). max_timestamp may stay a little high: retention then keeps
      // the segment a little longer.
      size_t keep = 0;
      int64_t kept_records = 0;
      while (keep + kFrameHeader <= written) {
        const size_t frame_len = kFrameHeader + GetFixed32(buf.data.get() + keep);
        if (keep + frame_len > written) break;
        keep += frame_len;
        ++kept_records;
      }
      (void)::ftruncate(p->write_fd, active->size + static_cast<int64_t>(keep));
      const int64_t new_size = active->size + static_cast<int64_t>(keep);
      while (active->index.size() > index_before && active->index.back().pos >= new_size) {
        active->index.pop_back();
      }
      if (keep == 0) active->max_timestamp = max_ts_before;
      active->size = new_size;
      p->active_file_size = new_size;
      p->end_offset += kept_records;
      p->dirty = p->dirty || keep > 0;
      used = 0;
      return st;
    }
    active->size += static_cast<int64_t>(used);
    p->active_file_size = active->size;
    p->end_offset = next_offset;
    p->dirty = true;
    used = 0;
    index_before = active->index.size();
    max_ts_before = active->max_timestamp;
    return Status::OK();
  };

  for (size_t i = 0; i < count; ++i) {
    const LogRecord& r = records[order != nullptr ? order[i] : i];
    const size_t body_len = kBodyFixed + r.key.size() + r.value.size();
    const size_t frame_len = kFrameHeader + body_len;
    const int64_t pos = active->size + static_cast<int64_t>(used);
    if (pos > kHeaderSize && pos + static_cast<int64_t>(frame_len) > options_.segment_bytes) {
      RECSYS_RETURN_IF_ERROR(flush());
      RECSYS_RETURN_IF_ERROR(Roll(p));
      active = &p->segments.back();
      index_before = active->index.size();
      max_ts_before = active->max_timestamp;
    } else if (used > 0 && used + frame_len > kMaxWriteChunk) {
      RECSYS_RETURN_IF_ERROR(flush());
    }
    buf.Ensure(used + frame_len, used);
    char* frame = buf.data.get() + used;
    char* body = frame + kFrameHeader;
    const int64_t ts = r.timestamp_ms != 0 ? r.timestamp_ms : now_ms;
    PutFixed32(frame, static_cast<uint32_t>(body_len));
    PutFixed64(body, static_cast<uint64_t>(next_offset));
    PutFixed64(body + 8, static_cast<uint64_t>(ts));
    PutFixed32(body + 16, static_cast<uint32_t>(r.key.size()));
    if (!r.key.empty()) std::memcpy(body + kBodyFixed, r.key.data(), r.key.size());
    if (!r.value.empty()) {
      std::memcpy(body + kBodyFixed + r.key.size(), r.value.data(), r.value.size());
    }
    PutFixed32(frame + 4, crc32c::Value(body, body_len));
    active->AddToIndex(next_offset, active->size + static_cast<int64_t>(used), ts);
    used += frame_len;
    ++next_offset;
  }
  RECSYS_RETURN_IF_ERROR(flush());

  switch (options_.fsync) {
    case FsyncPolicy::kAlways:
      return SyncPartition(p);
    case FsyncPolicy::kInterval:
      if (clock_->MonotonicNanos() - p->last_sync_nanos >= options_.fsync_interval_ms * 1000000) {
        return SyncPartition(p);
      }
      return Status::OK();
    case FsyncPolicy::kNever:
      return Status::OK();
  }
  return Status::OK();
}

Status EmbeddedLog::SyncPartition(Partition* p) {
  if (!p->writer || !p->dirty) return Status::OK();
  RECSYS_RETURN_IF_ERROR(DataSync(p->write_fd, p->segments.back().path));
  p->dirty = false;
  p->last_sync_nanos = clock_->MonotonicNanos();
  return Status::OK();
}

// Closes the active segment (durably, with its index) and starts the next one at end_offset.
Status EmbeddedLog::Roll(Partition* p) {
  p->dirty = true;  // the roll always syncs the segment it closes
  RECSYS_RETURN_IF_ERROR(SyncPartition(p));
  Segment& old = p->segments.back();
  old.index_complete = true;
  {
    // The index is a cache: written without fsync, checked by CRC and size when loaded.
    const std::string index_path = IndexPathFor(old.path);
    const std::string tmp = index_path + ".tmp";
    const std::string data = EncodeIndexFile(old);
    int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd >= 0) {
      bool ok = PwriteFull(fd, data.data(), data.size(), 0, tmp).ok();
      ::close(fd);
      if (!ok || ::rename(tmp.c_str(), index_path.c_str()) != 0) ::unlink(tmp.c_str());
    }
  }
  const int64_t base = p->end_offset;
  const std::string path = JoinPath(p->dir, SegmentFileName(base));
  RECSYS_ASSIGN_OR_RETURN(int fd, CreateSegmentFile(path, base));
  Status st = SyncDir(p->dir);
  if (!st.ok()) {
    ::close(fd);
    return st;
  }
  ::close(p->write_fd);
  p->write_fd = fd;
  Segment s;
  s.base = base;
  s.path = path;
  s.size = kHeaderSize;
  p->segments.push_back(std::move(s));
  p->active_file_size = kHeaderSize;
  p->dirty = false;
  return RetentionLocked(p, nullptr);
}

Status EmbeddedLog::Sync() {
  std::shared_lock lock(topics_mu_);
  Status result;
  for (auto& [name, topic] : topics_) {
    for (auto& p : topic->partitions) {
      std::lock_guard plock(p->mu);
      Status st = SyncPartition(p.get());
      if (result.ok()) result = st;
    }
  }
  return result;
}

// ---------------------------------------------------------------------------------------------
// Retention

// Makes sure a closed segment's index (and newest timestamp) covers the whole file: from its
// .index file, else by scanning the segment (then rewriting the .index file if we write here).
Status EmbeddedLog::EnsureIndex(Partition* p, Segment* s) {
  if (s->index_complete) return Status::OK();
  Result<std::string> data = ReadFile(IndexPathFor(s->path));
  if (data.ok() && DecodeIndexFile(*data, s)) return Status::OK();
  int fd = ::open(s->path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return Status::FromErrno("open", s->path, errno);
  FileHandle file(fd);
  Segment rebuilt;
  rebuilt.base = s->base;
  ScanState scan{kHeaderSize, s->base};
  RECSYS_RETURN_IF_ERROR(
      ScanFrames(fd, s->path, s->size, /*verify_crc=*/true, -1, kScanChunk, &rebuilt, &scan));
  // If the scan stopped early, reads past that point meet the bad record and report it.
  s->index = std::move(rebuilt.index);
  s->max_timestamp = rebuilt.max_timestamp;
  s->index_complete = true;
  if (p->lock_fd >= 0 && scan.pos == s->size) {
    (void)WriteFileAtomic(IndexPathFor(s->path), EncodeIndexFile(*s));
  }
  return Status::OK();
}

Status EmbeddedLog::RetentionLocked(Partition* p, int64_t* deleted) {
  if (options_.retention_bytes < 0 && options_.retention_ms < 0) return Status::OK();
  int64_t total = 0;
  for (const Segment& s : p->segments) total += s.size;
  const int64_t now = clock_->NowMillis();
  while (p->segments.size() > 1) {
    Segment& oldest = p->segments.front();
    bool expired = options_.retention_bytes >= 0 && total > options_.retention_bytes;
    if (!expired && options_.retention_ms >= 0) {
      RECSYS_RETURN_IF_ERROR(EnsureIndex(p, &oldest));
      expired = oldest.index.empty() || now - oldest.max_timestamp > options_.retention_ms;
    }
    if (!expired) break;
    if (::unlink(oldest.path.c_str()) != 0 && errno != ENOENT) {
      return Status::FromErrno("delete", oldest.path, errno);
    }
    ::unlink(IndexPathFor(oldest.path).c_str());
    total -= oldest.size;
    if (p->read_file_base == oldest.base) {
      p->read_file_base = -1;
      p->read_file.reset();
    }
    if (p->cache_base == oldest.base) p->cache_base = -1;
    p->segments.erase(p->segments.begin());
    if (deleted != nullptr) ++*deleted;
  }
  return Status::OK();
}

Status EmbeddedLog::ApplyRetentionAll(int64_t* deleted) {
  RECSYS_RETURN_IF_ERROR(DiscoverTopics());
  std::shared_lock lock(topics_mu_);
  for (auto& [name, topic] : topics_) {
    for (auto& part : topic->partitions) {
      Partition* p = part.get();
      std::lock_guard plock(p->mu);
      if (p->writer) {
        RECSYS_RETURN_IF_ERROR(RetentionLocked(p, deleted));
        continue;
      }
      // A partition another process writes is trimmed by that process when it rolls.
      bool locked = false;
      RECSYS_RETURN_IF_ERROR(TryLockWriter(p, &locked));
      if (!locked) continue;
      Status st = RepairLocked(p);
      if (st.ok()) st = RetentionLocked(p, deleted);
      UnlockWriter(p);
      if (!p->broken.ok()) continue;  // its reads and appends say so
      RECSYS_RETURN_IF_ERROR(st);
    }
  }
  return Status::OK();
}

// ---------------------------------------------------------------------------------------------
// Read

Status EmbeddedLog::Read(std::string_view topic, int partition, int64_t offset, size_t max_records,
                         size_t max_bytes, FetchedBatch* out) {
  out->clear();
  RECSYS_ASSIGN_OR_RETURN(Topic * t, FindTopic(topic));
  RECSYS_ASSIGN_OR_RETURN(Partition * p, GetPartition(t, partition));
  if (max_records == 0) max_records = 1;

  // Under the lock: where to read. The I/O happens without it.
  std::shared_ptr<FileHandle> file;
  std::string path;
  int64_t seg_base = 0;
  int64_t pos = 0;         // a frame boundary at or before the wanted record
  int64_t pos_offset = 0;  // the offset of the record at pos
  int64_t limit = 0;       // end of the known data of the segment
  int64_t read_limit = 0;  // no wanted record lies past this
  {
    std::lock_guard lock(p->mu);
    if (!p->writer && offset >= p->end_offset) {
      RECSYS_RETURN_IF_ERROR(SyncFromDisk(p, /*force_relist=*/false));
    }
    if (!p->broken.ok() && !p->segments.empty() && offset >= p->segments.back().base) {
      return p->broken;
    }
    if (offset < p->start_offset()) {
      return Status::OutOfRange("partition " + p->Name() + " of log " + dir_ + ": offset " +
                                std::to_string(offset) + " is before its start offset " +
                                std::to_string(p->start_offset()));
    }
    if (offset >= p->end_offset) return Status::OK();
    auto it = std::upper_bound(p->segments.begin(), p->segments.end(), offset,
                               [](int64_t o, const Segment& s) { return o < s.base; });
    Segment& s = *(it - 1);
    const bool active = &s == &p->segments.back();
    seg_base = s.base;
    path = s.path;
    limit = s.size;
    if (p->cache_base == s.base && p->cache_offset == offset) {
      pos = p->cache_pos;
      pos_offset = offset;
    } else {
      pos = kHeaderSize;
      pos_offset = s.base;
      if (offset != s.base) {
        if (!active) RECSYS_RETURN_IF_ERROR(EnsureIndex(p, &s));
        auto e = std::upper_bound(s.index.begin(), s.index.end(), offset,
                                  [](int64_t o, const IndexEntry& x) { return o < x.offset; });
        if (e != s.index.begin()) {
          pos = (e - 1)->pos;
          pos_offset = (e - 1)->offset;
        }
      }
    }
    read_limit = limit;
    const int64_t past = offset + static_cast<int64_t>(std::min<size_t>(max_records, 1 << 30));
    auto e = std::lower_bound(s.index.begin(), s.index.end(), past,
                              [](const IndexEntry& x, int64_t o) { return x.offset < o; });
    if (e != s.index.end()) read_limit = std::min(read_limit, e->pos);
    if (p->read_file_base != s.base) {
      int fd = ::open(s.path.c_str(), O_RDONLY | O_CLOEXEC);
      if (fd < 0) {
        if (errno == ENOENT && !p->writer) {
          return Status::OutOfRange("partition " + p->Name() + " of log " + dir_ + ": offset " +
                                    std::to_string(offset) +
                                    " was deleted by retention while being read");
        }
        return Status::FromErrno("open", s.path, errno);
      }
      auto handle = std::make_shared<FileHandle>(fd);
      char header[kHeaderSize];
      size_t got = 0;
      RECSYS_RETURN_IF_ERROR(PreadFull(fd, header, kHeaderSize, 0, s.path, &got));
      uint32_t version = 0;
      HeaderCheck check = got == static_cast<size_t>(kHeaderSize)
                              ? CheckSegmentHeader(header, s.base, &version)
                              : HeaderCheck::kDamaged;
      if (check == HeaderCheck::kUnsupportedVersion) return UnsupportedVersion(s.path, version);
      if (check == HeaderCheck::kDamaged) return CorruptAt(s.path, 0, "damaged segment header");
      p->read_file_base = s.base;
      p->read_file = std::move(handle);
    }
    file = p->read_file;
  }

  const int fd = file->fd();
  if (pos_offset < offset) {
    ScanState skip{pos, pos_offset};
    RECSYS_RETURN_IF_ERROR(
        ScanFrames(fd, path, limit, /*verify_crc=*/false, offset, kSkipChunk, nullptr, &skip));
    if (skip.next_offset != offset) {
      return CorruptAt(path, skip.pos,
                       "bad record frame while looking for offset " + std::to_string(offset));
    }
    pos = skip.pos;
  }
  if (pos >= limit) {
    return CorruptAt(path, pos, "segment ends before offset " + std::to_string(offset));
  }

  // Read the records straight into the batch's buffer; the views point into it, so it is not
  // resized once the first view exists.
  const size_t avail = static_cast<size_t>(limit - pos);
  size_t want = std::min(static_cast<size_t>(std::max<int64_t>(read_limit - pos, 0)),
                         std::max(max_bytes, kFrameHeader + kBodyFixed));
  want = std::min(std::max(want, kFrameHeader), avail);
  std::string& buffer = out->buffer;
  buffer.resize(want);
  size_t got = 0;
  RECSYS_RETURN_IF_ERROR(PreadFull(fd, buffer.data(), want, pos, path, &got));
  if (got < want) {
    return CorruptAt(path, pos + static_cast<int64_t>(got), "segment is shorter than expected");
  }
  const uint32_t first_len = GetFixed32(buffer.data());
  if (first_len < kBodyFixed || kFrameHeader + first_len > avail) {
    return CorruptAt(path, pos, "bad record length " + std::to_string(first_len));
  }
  if (kFrameHeader + first_len > want) {
    const size_t have = want;
    want = kFrameHeader + first_len;
    buffer.resize(want);
    RECSYS_RETURN_IF_ERROR(
        PreadFull(fd, buffer.data() + have, want - have, pos + have, path, &got));
    if (got < want - have) return CorruptAt(path, pos + want, "segment is shorter than expected");
  }

  size_t at = 0;
  int64_t expected = offset;
  while (out->records.size() < max_records && at + kFrameHeader <= buffer.size()) {
    const char* frame = buffer.data() + at;
    const uint32_t len = GetFixed32(frame);
    if (len >= kBodyFixed && at + kFrameHeader + len > buffer.size()) break;  // past max_bytes
    const char* body = frame + kFrameHeader;
    const char* problem = nullptr;
    if (len < kBodyFixed) {
      problem = "bad record length";
    } else if (crc32c::Value(body, len) != GetFixed32(frame + 4)) {
      problem = "record CRC mismatch";
    } else if (static_cast<int64_t>(GetFixed64(body)) != expected) {
      problem = "record carries the wrong offset";
    } else if (GetFixed32(body + 16) > len - kBodyFixed) {
      problem = "record key length exceeds the record";
    }
    if (problem != nullptr) {
      // Serve what is good; the next read starts at the bad record and reports it.
      if (!out->records.empty()) break;
      return CorruptAt(path, pos + static_cast<int64_t>(at),
                       std::string(problem) + " (reading offset " + std::to_string(expected) +
                           " of partition " + p->Name() + ")");
    }
    const uint32_t key_len = GetFixed32(body + 16);
    FetchedRecord rec;
    rec.offset = expected;
    rec.timestamp_ms = static_cast<int64_t>(GetFixed64(body + 8));
    rec.key = std::string_view(body + kBodyFixed, key_len);
    rec.value = std::string_view(body + kBodyFixed + key_len, len - kBodyFixed - key_len);
    out->records.push_back(rec);
    ++expected;
    at += kFrameHeader + len;
  }

  std::lock_guard lock(p->mu);
  p->cache_base = seg_base;
  p->cache_offset = expected;
  p->cache_pos = pos + static_cast<int64_t>(at);
  return Status::OK();
}

// ---------------------------------------------------------------------------------------------
// Consumer groups

std::string EmbeddedLog::GroupOffsetPath(std::string_view group, std::string_view topic,
                                         int partition) const {
  return JoinPath(JoinPath(JoinPath(JoinPath(dir_, kGroupsDir), group), topic),
                  std::to_string(partition) + ".offset");
}

Result<std::optional<int64_t>> EmbeddedLog::CommittedOffset(std::string_view group,
                                                            std::string_view topic, int partition) {
  if (!ValidName(group)) {
    return Status::InvalidArgument("invalid consumer group name '" + std::string(group) + "'");
  }
  if (!ValidTopicName(topic)) {
    return Status::InvalidArgument("invalid topic name '" + std::string(topic) + "'");
  }
  if (partition < 0) {
    return Status::InvalidArgument("negative partition " + std::to_string(partition));
  }
  const std::string path = GroupOffsetPath(group, topic, partition);
  Result<std::string> data = ReadFile(path);
  if (!data.ok()) {
    if (data.status().code() == StatusCode::kNotFound) return std::optional<int64_t>();
    return data.status();
  }
  std::string_view text = *data;
  const std::string prefix = std::string(kGroupOffsetMagic) + " ";
  if (text.substr(0, prefix.size()) != prefix) {
    return Status::Corruption(path + ": not a consumer group offset file");
  }
  text.remove_prefix(prefix.size());
  uint32_t version = 0;
  auto [p1, e1] = std::from_chars(text.data(), text.data() + text.size(), version);
  if (e1 != std::errc()) return Status::Corruption(path + ": bad format version");
  if (version != kFormatVersion) return UnsupportedVersion(path, version);
  text.remove_prefix(static_cast<size_t>(p1 - text.data()));
  if (text.empty() || text[0] != '\n') return Status::Corruption(path + ": bad offset");
  text.remove_prefix(1);
  int64_t offset = -1;
  auto [p2, e2] = std::from_chars(text.data(), text.data() + text.size(), offset);
  if (e2 != std::errc() || offset < 0 ||
      std::string_view(p2, text.data() + text.size() - p2) != "\n") {
    return Status::Corruption(path + ": bad offset");
  }
  return std::optional<int64_t>(offset);
}

Status EmbeddedLog::Commit(std::string_view group, std::string_view topic, int partition,
                           int64_t next_offset) {
  if (!ValidName(group)) {
    return Status::InvalidArgument("invalid consumer group name '" + std::string(group) + "'");
  }
  if (next_offset < 0) {
    return Status::InvalidArgument("group " + std::string(group) + ": negative offset " +
                                   std::to_string(next_offset) + " for " + std::string(topic) +
                                   "/" + std::to_string(partition));
  }
  RECSYS_ASSIGN_OR_RETURN(Topic * t, FindTopic(topic));
  RECSYS_ASSIGN_OR_RETURN(Partition * p, GetPartition(t, partition));
  (void)p;
  const std::string groups_dir = JoinPath(dir_, kGroupsDir);
  const std::string group_dir = JoinPath(groups_dir, group);
  const std::string topic_dir = JoinPath(group_dir, topic);
  if (!FileExists(topic_dir)) {
    RECSYS_RETURN_IF_ERROR(CreateDirs(topic_dir));
    // New folders are durable once their parents are synced.
    RECSYS_RETURN_IF_ERROR(SyncDir(group_dir));
    RECSYS_RETURN_IF_ERROR(SyncDir(groups_dir));
    RECSYS_RETURN_IF_ERROR(SyncDir(dir_));
  }
  return WriteFileAtomic(GroupOffsetPath(group, topic, partition),
                         std::string(kGroupOffsetMagic) + " " + std::to_string(kFormatVersion) +
                             "\n" + std::to_string(next_offset) + "\n");
}

}  // namespace

Result<std::unique_ptr<EventLog>> OpenEmbeddedLog(const std::string& dir,
                                                  const EmbeddedLogOptions& options) {
  auto bad = [&](std::string_view what) {
    return Status::InvalidArgument("event log " + dir + ": " + std::string(what));
  };
  if (options.segment_bytes < 64 || options.segment_bytes > (int64_t{1} << 40)) {
    return bad("segment_bytes must be in [64, 2^40]");
  }
  if (options.fsync_interval_ms < 0) return bad("fsync_interval_ms must be >= 0");
  if (options.max_record_bytes < 1 || options.max_record_bytes > (size_t{1} << 30)) {
    return bad("max_record_bytes must be in [1, 2^30]");
  }
  if (options.default_partitions < 1 || options.default_partitions > kMaxPartitions) {
    return bad("default_partitions must be in [1, 1024]");
  }
  RECSYS_RETURN_IF_ERROR(CreateDirs(dir));
  const std::string lock_path = JoinPath(dir, ".lock");
  int lock_fd = ::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (lock_fd < 0) return Status::FromErrno("open", lock_path, errno);
  auto log = std::make_unique<EmbeddedLog>(dir, options, lock_fd);
  RECSYS_RETURN_IF_ERROR(log->DiscoverTopics().WithContext("opening event log " + dir));
  return std::unique_ptr<EventLog>(std::move(log));
}

Status ApplyRetention(EventLog* log, int64_t* deleted) {
  if (deleted != nullptr) *deleted = 0;
  auto* embedded = dynamic_cast<EmbeddedLog*>(log);
  if (embedded == nullptr) return Status::InvalidArgument("ApplyRetention needs an embedded log");
  return embedded->ApplyRetentionAll(deleted);
}

}  // namespace recsys
