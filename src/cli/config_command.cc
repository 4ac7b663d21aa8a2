// recsys config show: every setting, its effective value and where it came from.
#include <cstdio>

#include "cli/commands.h"

namespace recsys {

Status RunConfigShow(CommandContext& ctx) {
  const Config& c = *ctx.config;
  if (ctx.json) {
    JsonWriter j;
    j.BeginObject();
    j.Key("settings");
    j.BeginArray();
    for (const SettingSpec& s : c.specs()) {
      j.BeginObject();
      j.Key("name");
      j.String(s.name);
      j.Key("value");
      j.String(c.GetString(s.name));
      j.Key("source");
      j.String(SettingSourceName(c.SourceOf(s.name)));
      j.Key("env");
      j.String(Config::EnvName(s.name));
      j.Key("help");
      j.String(s.help);
      j.EndObject();
    }
    j.EndArray();
    j.EndObject();
    std::printf("%s\n", j.str().c_str());
    return Status::OK();
  }
  std::printf("%-34s %-22s %-8s %s\n", "setting", "value", "source", "help");
  for (const SettingSpec& s : c.specs()) {
    std::string value = c.GetString(s.name);
    if (value.empty()) value = "\"\"";
    std::printf("%-34s %-22s %-8s %s\n", s.name, value.c_str(),
                std::string(SettingSourceName(c.SourceOf(s.name))).c_str(), s.help);
  }
  return Status::OK();
}

}  // namespace recsys
