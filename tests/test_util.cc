#include "tests/test_util.h"

#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>

#include "core/files.h"
#include "lake/bronze_sink.h"

extern char** environ;

namespace recsys::testing {

namespace {

std::vector<char*> Argv(const std::vector<std::string>& args, std::vector<std::string>* storage) {
  storage->clear();
  storage->push_back(RECSYS_BIN);
  storage->insert(storage->end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (std::string& s : *storage) argv.push_back(s.data());
  argv.push_back(nullptr);
  return argv;
}

std::string Slurp(const std::string& path) {
  auto r = ReadFile(path);
  return r.ok() ? *r : "";
}

}  // namespace

CommandResult RunRecsys(const std::vector<std::string>& args, const std::vector<std::string>& env) {
  TempDir tmp;
  std::string out_path = tmp.path() + "/out", err_path = tmp.path() + "/err";
  std::vector<std::string> storage;
  std::vector<char*> argv = Argv(args, &storage);
  std::vector<std::string> env_storage;
  for (char** e = environ; *e; ++e) env_storage.emplace_back(*e);
  env_storage.insert(env_storage.end(), env.begin(), env.end());
  std::vector<char*> envp;
  for (std::string& s : env_storage) envp.push_back(s.data());
  envp.push_back(nullptr);

  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&actions, 1, out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC,
                                   0644);
  posix_spawn_file_actions_addopen(&actions, 2, err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC,
                                   0644);
  pid_t pid;
  CommandResult result;
  if (posix_spawn(&pid, RECSYS_BIN, &actions, nullptr, argv.data(), envp.data()) != 0) {
    posix_spawn_file_actions_destroy(&actions);
    result.err = "spawn failed";
    return result;
  }
  posix_spawn_file_actions_destroy(&actions);
  int status = 0;
  waitpid(pid, &status, 0);
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  result.out = Slurp(out_path);
  result.err = Slurp(err_path);
  return result;
}

pid_t SpawnRecsys(const std::vector<std::string>& args) {
  return SpawnRecsysTo(args, "/dev/null", "/dev/null");
}

pid_t SpawnRecsysTo(const std::vector<std::string>& args, const std::string& out_path,
                    const std::string& err_path) {
  std::vector<std::string> storage;
  std::vector<char*> argv = Argv(args, &storage);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&actions, 1, out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC,
                                   0644);
  posix_spawn_file_actions_addopen(&actions, 2, err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC,
                                   0644);
  pid_t pid = -1;
  if (posix_spawn(&pid, RECSYS_BIN, &actions, nullptr, argv.data(), environ) != 0) pid = -1;
  posix_spawn_file_actions_destroy(&actions);
  return pid;
}

std::map<std::string, std::string> ReadBronze(const std::string& lake) {
  std::map<std::string, std::string> files;
  std::string root = lake + "/bronze/topics";
  if (!FileExists(root)) return files;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(root)) {
    if (!entry.is_regular_file()) continue;
    std::string path = entry.path().string();
    std::string key = path.substr(lake.size() + 1);
    std::string data = Slurp(path);
    Compression c = Compression::kNone;
    if (key.ends_with(".gz")) c = Compression::kGzip;
    if (key.ends_with(".zst")) c = Compression::kZstd;
    auto plain = Decompress(c, data);
    files[key] = plain.ok() ? *plain : "<undecodable " + plain.status().ToString() + ">";
  }
  return files;
}

std::vector<std::string_view> Lines(std::string_view text) {
  std::vector<std::string_view> lines;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t nl = text.find('\n', pos);
    if (nl == std::string_view::npos) nl = text.size();
    lines.push_back(text.substr(pos, nl - pos));
    pos = nl + 1;
  }
  return lines;
}

}  // namespace recsys::testing
