// Small file helpers that return Status: whole-file reads, atomic writes, fsync of folders.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace recsys {

Result<std::string> ReadFile(const std::string& path);
// Writes to "<path>.tmp-<pid>-<n>", fsyncs, renames over path, fsyncs the parent folder.
Status WriteFileAtomic(const std::string& path, std::string_view data);
// mkdir -p.
Status CreateDirs(const std::string& path);
Status SyncDir(const std::string& path);
bool FileExists(const std::string& path);
// Names (not paths) of the entries of a folder, sorted. NotFound if the folder is missing.
Result<std::vector<std::string>> ListDir(const std::string& path);
// Removes a file or a whole tree; missing is not an error.
Status RemoveAll(const std::string& path);
std::string JoinPath(std::string_view a, std::string_view b);

}  // namespace recsys
