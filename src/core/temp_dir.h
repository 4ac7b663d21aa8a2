// TempDir: a fresh folder under /tmp for a test, removed with everything in it when the object
// goes. Test support; not for production code (it ignores errors while cleaning up).
#pragma once

#include <stdlib.h>

#include <string>

#include "core/files.h"

namespace recsys {

class TempDir {
 public:
  explicit TempDir(const std::string& prefix = "recsys-test") {
    std::string tmpl = "/tmp/" + prefix + "-XXXXXX";
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
