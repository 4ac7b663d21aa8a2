// The local-folder ObjectStore: key "a/b/c" is the file <root>/a/b/c.

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <filesystem>
#include <functional>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

#include "core/files.h"
#include "lake/object_store.h"

namespace recsys {
namespace {

namespace fs = std::filesystem;

// Written by WriteFileAtomic beside its target: "<name>.tmp-<pid>-<n>".
constexpr std::string_view kTempMarker = ".tmp-";

bool IsTemporaryName(std::string_view name) { return name.find(kTempMarker) != name.npos; }

// A bad segment in the folder part of a key or prefix: one that could leave the root or that
// has no file-system meaning.
bool IsBadSegment(std::string_view seg) { return seg.empty() || seg == "." || seg == ".."; }

Status CheckKey(std::string_view key) {
  auto bad = [&](std::string_view why) {
    return Status::InvalidArgument("object key '" + std::string(key) + "': " + std::string(why));
  };
  if (key.empty()) return bad("is empty");
  if (key.front() == '/') return bad("must not start with '/'");
  if (key.find('\0') != key.npos) return bad("contains a NUL byte");
  size_t start = 0;
  for (;;) {
    size_t slash = key.find('/', start);
    std::string_view seg = key.substr(start, slash == key.npos ? key.npos : slash - start);
    if (IsBadSegment(seg)) return bad("has an empty, '.' or '..' segment");
    if (IsTemporaryName(seg)) return bad("contains \".tmp-\", reserved for temporary files");
    if (slash == key.npos) break;
    start = slash + 1;
  }
  return Status::OK();
}

// A prefix need not end at a segment boundary ("bronze/topics/click"), so its last part is free;
// the folders before it must be valid segments.
Status CheckPrefix(std::string_view prefix) {
  auto bad = [&](std::string_view why) {
    return Status::InvalidArgument("key prefix '" + std::string(prefix) + "': " + std::string(why));
  };
  if (prefix.empty()) return Status::OK();
  if (prefix.front() == '/') return bad("must not start with '/'");
  if (prefix.find('\0') != prefix.npos) return bad("contains a NUL byte");
  size_t start = 0;
  for (;;) {
    size_t slash = prefix.find('/', start);
    if (slash == prefix.npos) break;
    if (IsBadSegment(prefix.substr(start, slash - start))) {
      return bad("has an empty, '.' or '..' segment");
    }
    start = slash + 1;
  }
  return Status::OK();
}

// Calls fn(key, size) for every regular file under root whose key starts with prefix, in no
// particular order. root_slash is the root folder with a trailing '/'.
Status Walk(const std::string& root_slash, std::string_view prefix,
            const std::function<void(std::string key, int64_t size)>& fn) {
  std::string_view folder = prefix.substr(0, prefix.rfind('/') + 1);  // "" or "a/b/"
  std::string start = root_slash + std::string(folder);
  std::error_code ec;
  fs::recursive_directory_iterator it(start, ec);
  if (ec) {
    if (ec == std::errc::no_such_file_or_directory || ec == std::errc::not_a_directory) {
      return Status::OK();
    }
    return Status::IOError("list " + start + ": " + ec.message());
  }
  for (; it != fs::recursive_directory_iterator(); it.increment(ec)) {
    if (ec) break;
    const fs::directory_entry& entry = *it;
    std::string key = entry.path().string().substr(root_slash.size());
    std::error_code type_ec;
    if (entry.is_directory(type_ec)) {
      // Descend only where keys with the prefix can be.
      std::string dir = key + '/';
      if (!dir.starts_with(prefix) && !prefix.starts_with(dir)) it.disable_recursion_pending();
      continue;
    }
    if (!entry.is_regular_file(type_ec) || !key.starts_with(prefix)) continue;
    std::error_code size_ec;
    uintmax_t size = entry.file_size(size_ec);
    if (size_ec) continue;  // removed while we looked
    fn(std::move(key), static_cast<int64_t>(size));
  }
  if (ec && ec != std::errc::no_such_file_or_directory) {
    return Status::IOError("list " + start + ": " + ec.message());
  }
  return Status::OK();
}

class LocalStore : public ObjectStore {
 public:
  explicit LocalStore(std::string root) : root_(std::move(root)), root_slash_(root_ + '/') {
    root_fd_ = ::open(root_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  }
  ~LocalStore() override {
    if (root_fd_ >= 0) ::close(root_fd_);
  }

  Status PutMany(std::span<const ObjectWrite> objects) override {
    if (objects.size() < 2 || root_fd_ < 0) return ObjectStore::PutMany(objects);
    std::vector<std::string> paths, temps;
    paths.reserve(objects.size());
    temps.reserve(objects.size());
    auto discard = [&temps] {
      for (const std::string& t : temps) ::unlink(t.c_str());
    };
    for (const ObjectWrite& o : objects) {
      RECSYS_RETURN_IF_ERROR(CheckKey(o.key));
      paths.push_back(root_slash_ + std::string(o.key));
      const std::string& path = paths.back();
      Status st = EnsureDir(path.substr(0, path.rfind('/')), /*sync=*/false);
      if (st.ok()) st = WriteTemporary(path, o.data, &temps);
      if (!st.ok()) {
        discard();
        return st.WithContext("put " + Name(o.key));
      }
    }
    // One sync makes every temporary file (and new folder) durable before any rename, so no
    // crash can leave a renamed object with missing bytes; the second makes the renames durable.
    if (::syncfs(root_fd_) != 0) {
      int err = errno;
      discard();
      return Status::FromErrno("syncfs", root_, err);
    }
    for (size_t i = 0; i < paths.size(); ++i) {
      if (::rename(temps[i].c_str(), paths[i].c_str()) != 0) {
        int err = errno;
        temps.erase(temps.begin(), temps.begin() + static_cast<long>(i));
        discard();
        return Status::FromErrno("rename", paths[i], err);
      }
    }
    if (::syncfs(root_fd_) != 0) return Status::FromErrno("syncfs", root_, errno);
    return Status::OK();
  }

  Status Put(std::string_view key, std::string_view data) override {
    RECSYS_RETURN_IF_ERROR(CheckKey(key));
    std::string path = root_slash_ + std::string(key);
    size_t slash = path.rfind('/');
    RECSYS_RETURN_IF_ERROR(EnsureDir(path.substr(0, slash)));
    return WriteFileAtomic(path, data).WithContext("put " + Name(key));
  }

  Result<std::string> Get(std::string_view key) override {
    RECSYS_RETURN_IF_ERROR(CheckKey(key));
    std::string path = root_slash_ + std::string(key);
    struct stat st;
    if (::stat(path.c_str(), &st) != 0) {
      if (errno == ENOENT || errno == ENOTDIR) return Status::NotFound("no object " + Name(key));
    } else if (S_ISDIR(st.st_mode)) {
      return Status::NotFound("no object " + Name(key) + " (a folder of other objects)");
    }
    Result<std::string> data = ReadFile(path);
    if (!data.ok()) return data.status().WithContext("get " + Name(key));
    return data;
  }

  Result<std::vector<ObjectInfo>> List(std::string_view prefix) override {
    RECSYS_RETURN_IF_ERROR(CheckPrefix(prefix));
    std::vector<ObjectInfo> out;
    RECSYS_RETURN_IF_ERROR(Walk(root_slash_, prefix, [&](std::string key, int64_t size) {
      if (!IsTemporaryName(key.substr(key.rfind('/') + 1))) {
        out.push_back(ObjectInfo{std::move(key), size});
      }
    }));
    std::sort(out.begin(), out.end(),
              [](const ObjectInfo& a, const ObjectInfo& b) { return a.key < b.key; });
    return out;
  }

  Status Delete(std::string_view key) override {
    RECSYS_RETURN_IF_ERROR(CheckKey(key));
    std::string path = root_slash_ + std::string(key);
    if (::unlink(path.c_str()) != 0 && errno != ENOENT && errno != ENOTDIR && errno != EISDIR) {
      return Status::FromErrno("delete", path, errno);
    }
    return Status::OK();
  }

  std::string Describe() const override { return "file://" + root_; }

  Status CleanTemporaryFiles(std::string_view prefix) override {
    return ::recsys::CleanTemporaryFiles(root_, prefix);
  }

 private:
  std::string Name(std::string_view key) const {
    return "file://" + root_slash_ + std::string(key);
  }

  // Creates dir and the missing folders above it (up to the root, which exists). With sync,
  // fsyncs each new folder's parent so the new entry survives a crash; without, the caller
  // makes it durable (PutMany's syncfs).
  Status EnsureDir(const std::string& dir, bool sync = true) const {
    struct stat st;
    if (dir.size() <= root_.size() || ::stat(dir.c_str(), &st) == 0) return Status::OK();
    std::string parent = dir.substr(0, dir.rfind('/'));
    RECSYS_RETURN_IF_ERROR(EnsureDir(parent, sync));
    if (::mkdir(dir.c_str(), 0755) != 0) {
      if (errno == EEXIST) return Status::OK();  // another writer made it
      return Status::FromErrno("mkdir", dir, errno);
    }
    return sync ? SyncDir(parent) : Status::OK();
  }

  // Writes data to a new temporary file beside path (not synced) and adds its name to *temps.
  static Status WriteTemporary(const std::string& path, std::string_view data,
                               std::vector<std::string>* temps) {
    static std::atomic<uint64_t> counter{0};
    std::string tmp = path + ".tmp-" + std::to_string(::getpid()) + "-" + std::to_string(counter++);
    int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) return Status::FromErrno("create", tmp, errno);
    temps->push_back(tmp);
    while (!data.empty()) {
      ssize_t n = ::write(fd, data.data(), data.size());
      if (n < 0) {
        if (errno == EINTR) continue;
        int err = errno;
        ::close(fd);
        return Status::FromErrno("write", tmp, err);
      }
      data.remove_prefix(static_cast<size_t>(n));
    }
    if (::close(fd) != 0) return Status::FromErrno("close", tmp, errno);
    return Status::OK();
  }

  const std::string root_;        // absolute, normalised, no trailing '/'
  int root_fd_ = -1;              // for syncfs; -1 if the root could not be opened
  const std::string root_slash_;  // root_ + '/'
};

}  // namespace

Result<std::unique_ptr<ObjectStore>> OpenLocalStore(const std::string& root) {
  if (root.empty()) return Status::InvalidArgument("local store root is empty");
  std::error_code ec;
  fs::path abs = fs::absolute(root, ec);
  if (ec) return Status::IOError("local store root " + root + ": " + ec.message());
  std::string normal = abs.lexically_normal().string();
  while (normal.size() > 1 && normal.back() == '/') normal.pop_back();
  if (normal == "/") return Status::InvalidArgument("local store root must not be '/'");
  RECSYS_RETURN_IF_ERROR(CreateDirs(normal));
  if (!fs::is_directory(normal, ec)) {
    return Status::InvalidArgument("local store root " + normal + " is not a folder");
  }
  return std::unique_ptr<ObjectStore>(new LocalStore(normal));
}

Status CleanTemporaryFiles(const std::string& root, std::string_view prefix) {
  RECSYS_RETURN_IF_ERROR(CheckPrefix(prefix));
  std::string root_slash = root;
  if (root_slash.empty() || root_slash.back() != '/') root_slash += '/';
  std::vector<std::string> doomed;
  RECSYS_RETURN_IF_ERROR(Walk(root_slash, prefix, [&](std::string key, int64_t) {
    if (IsTemporaryName(key.substr(key.rfind('/') + 1))) doomed.push_back(root_slash + key);
  }));
  for (const std::string& path : doomed) {
    if (::unlink(path.c_str()) != 0 && errno != ENOENT) {
      return Status::FromErrno("remove temporary file", path, errno);
    }
  }
  return Status::OK();
}

}  // namespace recsys
