// Helpers for tests that drive the recsys binary.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "core/temp_dir.h"

namespace recsys::testing {

using ::recsys::TempDir;

struct CommandResult {
  int exit_code = -1;
  std::string out;  // stdout
  std::string err;  // stderr
};

// Runs build/bin/recsys with the arguments and extra environment ("NAME=value"), waits.
CommandResult RunRecsys(const std::vector<std::string>& args,
                        const std::vector<std::string>& env = {});
// Starts it without waiting; stdout and stderr go to /dev/null.
pid_t SpawnRecsys(const std::vector<std::string>& args);
// Starts it without waiting, stdout and stderr written to these files (created or truncated).
pid_t SpawnRecsysTo(const std::vector<std::string>& args, const std::string& out_path,
                    const std::string& err_path);

// Every bronze file under lake/bronze/topics: key relative to the lake -> decompressed content.
std::map<std::string, std::string> ReadBronze(const std::string& lake);

// Splits text into lines (without the '\n'); a last line without '\n' counts too.
std::vector<std::string_view> Lines(std::string_view text);

}  // namespace recsys::testing
