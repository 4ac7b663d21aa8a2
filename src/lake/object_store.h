// ObjectStore: the lake's storage, with S3's semantics (DESIGN.md §2, §4).
//
// Keys are '/'-separated paths such as "bronze/topics/clickstream/year=2024/.../x.json".
// The first implementation is a local folder; an S3 implementation comes later behind the same
// interface. Thread safety: every method may be called from several threads at once.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace recsys {

struct ObjectWrite {
  std::string_view key;
  std::string_view data;
};

struct ObjectInfo {
  std::string key;
  int64_t size = 0;
};

class ObjectStore {
 public:
  virtual ~ObjectStore() = default;
  // Writes the object whole. Atomic: a reader sees the old object or the whole new one, and
  // after a crash the key holds one or the other, never a part. Durable when it returns.
  virtual Status Put(std::string_view key, std::string_view data) = 0;
  // Writes several objects, each atomically as Put does, all durable when it returns. A store
  // may make this much cheaper than one Put each (one sync for the batch, parallel uploads).
  // If it fails, any subset of the objects may have been written, each whole. Default: Put each.
  virtual Status PutMany(std::span<const ObjectWrite> objects) {
    for (const ObjectWrite& o : objects) RECSYS_RETURN_IF_ERROR(Put(o.key, o.data));
    return Status::OK();
  }
  virtual Result<std::string> Get(std::string_view key) = 0;
  // Objects whose key starts with prefix, sorted by key.
  virtual Result<std::vector<ObjectInfo>> List(std::string_view prefix) = 0;
  // Deleting a missing key is not an error (as in S3).
  virtual Status Delete(std::string_view key) = 0;
  // "file:///abs/root" or "s3://bucket/prefix": where the objects are, for messages.
  virtual std::string Describe() const = 0;
  // Removes what writers that crashed left under prefix (a local store's ".tmp-*" files) and
  // never touches objects. REQUIRES: no Put under prefix is in flight (its temporary file would
  // vanish and the Put fail). Default: nothing to clean.
  virtual Status CleanTemporaryFiles(std::string_view /*prefix*/) { return Status::OK(); }
};

// A local folder laid out like the bucket: key "a/b/c" is file root/a/b/c. Put writes a
// temporary file beside the target, fsyncs it, renames it into place and fsyncs the folder
// (creating missing folders, each fsynced into its parent). PutMany writes every temporary
// file, makes them durable with one syncfs(2), renames them all and syncs again: two journal
// commits for the batch instead of two per file, which is what makes thousands of small
// hourly bronze files per second possible on ext4. Temporary files left by a crash
// (names containing ".tmp-") are invisible to List and removed by Put's owner via
// CleanTemporaryFiles. Keys are checked: empty keys, a leading '/', empty, "." or ".." segments,
// NUL bytes and names containing ".tmp-" are InvalidArgument, so no key escapes the root.
// The root folder is created if missing.
Result<std::unique_ptr<ObjectStore>> OpenLocalStore(const std::string& root);

// Removes the temporary files (".tmp-*") under root/prefix, recursively; prefix "" means the
// whole root. A missing folder is not an error. Same REQUIRES as ObjectStore::CleanTemporaryFiles.
Status CleanTemporaryFiles(const std::string& root, std::string_view prefix = {});

}  // namespace recsys
