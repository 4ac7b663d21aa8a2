// TempDir: a fresh folder under $TMPDIR (default /tmp), removed with everything in it when the
// object goes: scratch space for a run (DuckDB spill and staging files) and for tests. Errors
// while cleaning up are ignored; path() is empty if the folder could not be made.
#pragma once

#include <stdlib.h>

#include <string>

#include "core/files.h"

namespace recsys {

class TempDir {
 public:
  explicit TempDir(const std::string& prefix = "recsys-test") {
    const char* base = ::getenv("TMPDIR");
    std::string tmpl =
        std::string(base != nullptr && *base != '\0' ? base : "/tmp") + "/" + prefix + "-XXXXXX";
    if (::mkdtemp(tmpl.data()) != nullptr) path_ = tmpl;
  }
  ~TempDir() {
    if (!path_.empty()) (void)RemoveAll(path_);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  // Empty if the folder could not be made.
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

}  // namespace recsys
