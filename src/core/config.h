// Settings: every setting is declared once (name, type, default, bounds, help) and resolved from
// defaults < config file < RECSYS_* environment < command-line flags.
//
// Names are "section.key" ("log.fsync", "generate.users") or plain "key" for global settings
// ("data_dir"). The environment variable is RECSYS_ + the name upper-cased with '.' and '-' as
// '_' (RECSYS_LOG_FSYNC); the flag is --key with '_' as '-' (--fsync, --data-dir).
//
// Config file: lines "key = value", "[section]" headers, '#' comments; values may be quoted.
//   data_dir = "/var/lib/recsys"
//   [log]
//   fsync = "always"
#pragma once

#include <cstdint>
#include <map>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace recsys {

enum class SettingType { kInt, kDouble, kString, kBool };

struct SettingSpec {
  const char* name;  // "log.fsync"
  SettingType type;
  const char* default_value;  // as it would be written in the file
  const char* help;           // one line
  double min = -1e300;        // numeric bounds, inclusive
  double max = 1e300;
  const char* choices = "";  // for strings: "a|b|c"; empty = free text
  bool repeatable = false;   // strings: a flag given several times collects "a;b"
};

enum class SettingSource { kDefault, kFile, kEnvironment, kFlag };
std::string_view SettingSourceName(SettingSource source);

class Config {
 public:
  // REQUIRES: names are unique and defaults are valid (checked with assert).
  explicit Config(std::span<const SettingSpec> specs);

  // Applies a config file. Unknown keys and bad values are errors naming file and line.
  Status LoadFile(const std::string& path);
  // Applies every RECSYS_* variable that names a setting; others are ignored.
  Status LoadEnvironment();
  // Sets one value after checking its type and bounds; the error names the setting and source.
  Status Set(std::string_view name, std::string_view value, SettingSource source);

  bool Has(std::string_view name) const;
  // REQUIRES: the setting exists and has that type (asserted).
  int64_t GetInt(std::string_view name) const;
  double GetDouble(std::string_view name) const;
  const std::string& GetString(std::string_view name) const;
  bool GetBool(std::string_view name) const;
  SettingSource SourceOf(std::string_view name) const;

  std::span<const SettingSpec> specs() const { return specs_; }
  const SettingSpec* Find(std::string_view name) const;

  // "log.fsync" -> "RECSYS_LOG_FSYNC"; "generate.bad_rate" -> "--bad-rate".
  static std::string EnvName(std::string_view name);
  static std::string FlagName(std::string_view name);

 private:
  struct Value {
    std::string text;
    SettingSource source = SettingSource::kDefault;
  };
  std::span<const SettingSpec> specs_;
  std::map<std::string, Value, std::less<>> values_;
};

// Parses "true/false/1/0/yes/no/on/off".
Result<bool> ParseBool(std::string_view text);
// Parses a base-10 integer; the whole text must be the number.
Result<int64_t> ParseInt(std::string_view text);
Result<double> ParseDouble(std::string_view text);

}  // namespace recsys
