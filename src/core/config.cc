#include "core/config.h"

#include <cassert>
#include <cctype>
#include <charconv>
#include <cstdlib>
#include <string>

#include "core/files.h"

namespace recsys {
namespace {

std::string_view Trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

std::string FormatNumber(double v) {
  char buf[32];
  auto r = std::to_chars(buf, buf + sizeof(buf), v);
  return std::string(buf, r.ptr);
}

}  // namespace

std::string_view SettingSourceName(SettingSource source) {
  switch (source) {
    case SettingSource::kDefault:
      return "default";
    case SettingSource::kFile:
      return "file";
    case SettingSource::kEnvironment:
      return "env";
    case SettingSource::kFlag:
      return "flag";
  }
  return "?";
}

Result<bool> ParseBool(std::string_view t) {
  if (t == "true" || t == "1" || t == "yes" || t == "on") return true;
  if (t == "false" || t == "0" || t == "no" || t == "off") return false;
  return Status::InvalidArgument("'" + std::string(t) + "' is not true or false");
}

Result<int64_t> ParseInt(std::string_view t) {
  int64_t v = 0;
  auto r = std::from_chars(t.data(), t.data() + t.size(), v);
  if (t.empty() || r.ec != std::errc() || r.ptr != t.data() + t.size()) {
    return Status::InvalidArgument("'" + std::string(t) + "' is not an integer");
  }
  return v;
}

Result<double> ParseDouble(std::string_view t) {
  double v = 0;
  auto r = std::from_chars(t.data(), t.data() + t.size(), v);
  if (t.empty() || r.ec != std::errc() || r.ptr != t.data() + t.size()) {
    return Status::InvalidArgument("'" + std::string(t) + "' is not a number");
  }
  return v;
}

Config::Config(std::span<const SettingSpec> specs) : specs_(specs) {
  for (const SettingSpec& spec : specs_) {
    assert(values_.count(spec.name) == 0);
    values_[spec.name] = Value{spec.default_value, SettingSource::kDefault};
    assert(Set(spec.name, spec.default_value, SettingSource::kDefault).ok());
  }
}

const SettingSpec* Config::Find(std::string_view name) const {
  for (const SettingSpec& spec : specs_) {
    if (name == spec.name) return &spec;
  }
  return nullptr;
}

bool Config::Has(std::string_view name) const { return Find(name) != nullptr; }

Status Config::Set(std::string_view name, std::string_view raw, SettingSource source) {
  const SettingSpec* spec = Find(name);
  if (spec == nullptr)
    return Status::InvalidArgument("unknown setting '" + std::string(name) + "'");
  std::string value(Trim(raw));
  auto bad = [&](const std::string& why) {
    return Status::InvalidArgument("setting " + std::string(name) + " (from " +
                                   std::string(SettingSourceName(source)) + "): " + why);
  };
  switch (spec->type) {
    case SettingType::kBool: {
      auto b = ParseBool(value);
      if (!b.ok()) return bad(b.status().message());
      value = *b ? "true" : "false";
      break;
    }
    case SettingType::kInt:
    case SettingType::kDouble: {
      double v;
      if (spec->type == SettingType::kInt) {
        auto i = ParseInt(value);
        if (!i.ok()) return bad(i.status().message());
        v = static_cast<double>(*i);
      } else {
        auto d = ParseDouble(value);
        if (!d.ok()) return bad(d.status().message());
        v = *d;
      }
      if (v < spec->min || v > spec->max) {
        return bad(value + " is out of range [" + FormatNumber(spec->min) + ", " +
                   FormatNumber(spec->max) + "]");
      }
      break;
    }
    case SettingType::kString: {
      std::string_view choices = spec->choices;
      if (!choices.empty()) {
        bool found = false;
        size_t start = 0;
        while (start <= choices.size()) {
          size_t bar = choices.find('|', start);
          if (bar == std::string_view::npos) bar = choices.size();
          if (choices.substr(start, bar - start) == value) found = true;
          start = bar + 1;
        }
        if (!found) return bad("'" + value + "' is not one of " + std::string(choices));
      }
      break;
    }
  }
  auto it = values_.find(name);
  it->second = Value{std::move(value), source};
  return Status::OK();
}

Status Config::LoadFile(const std::string& path) {
  RECSYS_ASSIGN_OR_RETURN(std::string text, ReadFile(path));
  std::string section;
  size_t line_no = 0;
  size_t pos = 0;
  while (pos <= text.size()) {
    size_t end = text.find('\n', pos);
    if (end == std::string::npos) end = text.size();
    std::string_view line(text.data() + pos, end - pos);
    pos = end + 1;
    ++line_no;
    auto where = [&] { return path + " line " + std::to_string(line_no); };
    // A '#' starts a comment unless it is inside quotes.
    bool in_quotes = false;
    for (size_t i = 0; i < line.size(); ++i) {
      if (line[i] == '"') in_quotes = !in_quotes;
      if (line[i] == '#' && !in_quotes) {
        line = line.substr(0, i);
        break;
      }
    }
    line = Trim(line);
    if (line.empty()) continue;
    if (line.front() == '[') {
      if (line.back() != ']') return Status::InvalidArgument(where() + ": unclosed section header");
      section = std::string(Trim(line.substr(1, line.size() - 2)));
      continue;
    }
    size_t eq = line.find('=');
    if (eq == std::string_view::npos) {
      return Status::InvalidArgument(where() + ": expected 'key = value'");
    }
    std::string key(Trim(line.substr(0, eq)));
    std::string_view value = Trim(line.substr(eq + 1));
    if (value.size() >= 2 && value.front() == '"' && value.back() == '"') {
      value = value.substr(1, value.size() - 2);
    }
    std::string name = section.empty() ? key : section + "." + key;
    for (char& c : name) {
      if (c == '-') c = '_';
    }
    if (!Has(name)) return Status::InvalidArgument(where() + ": unknown setting '" + name + "'");
    Status st = Set(name, value, SettingSource::kFile);
    if (!st.ok()) return st.WithContext(where());
  }
  return Status::OK();
}

Status Config::LoadEnvironment() {
  for (const SettingSpec& spec : specs_) {
    const char* v = std::getenv(EnvName(spec.name).c_str());
    if (v != nullptr) RECSYS_RETURN_IF_ERROR(Set(spec.name, v, SettingSource::kEnvironment));
  }
  return Status::OK();
}

int64_t Config::GetInt(std::string_view name) const {
  assert(Find(name) && Find(name)->type == SettingType::kInt);
  return *ParseInt(values_.find(name)->second.text);
}

double Config::GetDouble(std::string_view name) const {
  assert(Find(name) && Find(name)->type == SettingType::kDouble);
  return *ParseDouble(values_.find(name)->second.text);
}

const std::string& Config::GetString(std::string_view name) const {
  assert(Find(name) != nullptr);
  return values_.find(name)->second.text;
}

bool Config::GetBool(std::string_view name) const {
  assert(Find(name) && Find(name)->type == SettingType::kBool);
  return values_.find(name)->second.text == "true";
}

SettingSource Config::SourceOf(std::string_view name) const {
  auto it = values_.find(name);
  assert(it != values_.end());
  return it->second.source;
}

std::string Config::EnvName(std::string_view name) {
  std::string env = "RECSYS_";
  for (char c : name) {
    env += (c == '.' || c == '-') ? '_'
                                  : static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  }
  return env;
}

std::string Config::FlagName(std::string_view name) {
  size_t dot = name.rfind('.');
  std::string flag = "--";
  for (char c : name.substr(dot == std::string_view::npos ? 0 : dot + 1)) {
    flag += c == '_' ? '-' : c;
  }
  return flag;
}

}  // namespace recsys
