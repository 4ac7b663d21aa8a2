// The recsys command line: `recsys <command> [flags]`. Resolves settings (defaults < config file
// < RECSYS_* environment < flags), dispatches to a command, prints its summary and turns a
// failed Status into a one-line reason and a non-zero exit code.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "core/config.h"
#include "core/json_writer.h"
#include "core/status.h"

namespace recsys {

// What a command gets: the resolved settings, its positional arguments, and where to put its
// summary. A command fills `summary` (a JSON object's members) and `text` (the human version);
// the Application prints one or the other depending on --json.
struct CommandContext {
  const Config* config;
  std::vector<std::string> args;  // positional arguments after the command
  bool json = false;              // --json given
  JsonWriter summary;             // already inside an open object
  std::string text;               // human-readable summary lines

  bool quiet() const { return config->GetBool("quiet"); }
  std::string DataDir() const { return config->GetString("data_dir"); }
  std::string LakeDir() const;
  std::string LogDir() const { return DataDir() + "/log"; }
};

struct Command {
  const char* name;                   // "generate", or "log topics" for a sub-command
  const char* summary;                // one line for `recsys --help`
  const char* usage;                  // "recsys generate [flags]"
  const char* details;                // a paragraph for `recsys <command> --help`
  std::vector<std::string> sections;  // setting sections whose flags the command takes
  std::function<Status(CommandContext&)> run;
  bool has_summary = true;  // false: the command prints its own output (config show, sql)
};

class Application {
 public:
  Application();
  // Returns the process exit code: 0 success, 1 failure, 2 bad usage.
  int Run(int argc, char** argv);

 private:
  void PrintHelp() const;
  void PrintCommandHelp(const Command& command) const;
  std::vector<Command> commands_;
};

}  // namespace recsys
