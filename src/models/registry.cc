#include "models/registry.h"

#include <simdjson.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>

#include "core/clock.h"
#include "core/files.h"
#include "core/json_writer.h"
#include "process/catalog.h"

namespace recsys {
namespace {

constexpr const char* kManifest = "manifest.json";
constexpr const char* kCurrent = "CURRENT";

bool IsVersionName(std::string_view name) {
  if (name.size() < 2 || name[0] != 'v') return false;
  return std::all_of(name.begin() + 1, name.end(), [](char c) { return c >= '0' && c <= '9'; });
}

std::string VersionName(int64_t n) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "v%04lld", static_cast<long long>(n));
  return buf;
}

std::string ManifestJson(const ModelManifest& m) {
  JsonWriter j;
  j.BeginObject();
  j.Key("format");
  j.Int(1);
  j.Key("name");
  j.String(m.name);
  j.Key("version");
  j.String(m.version);
  j.Key("spec");
  j.String(m.spec);
  j.Key("data_snapshot");
  j.String(m.data_snapshot);
  j.Key("trained_at");
  j.String(m.trained_at);
  j.Key("training_seconds");
  j.Double(m.training_seconds);
  j.Key("users");
  j.Int(m.users);
  j.Key("items");
  j.Int(m.items);
  j.Key("interactions");
  j.Int(m.interactions);
  j.Key("metric");
  j.String(m.metric);
  j.Key("evaluation");
  j.BeginObject();
  j.Key("split");
  j.String(m.evaluation_split);
  j.Key("seed");
  j.Int(static_cast<int64_t>(m.evaluation_seed));
  j.Key("k");
  j.Int(m.metrics.k);
  j.Key("users");
  j.Int(m.metrics.users);
  for (const char* key :
       {"precision", "recall", "ndcg", "map", "map_full", "hit_rate", "coverage"}) {
    j.Key(key);
    j.Double(*MetricValue(m.metrics, key));
  }
  j.EndObject();
  j.EndObject();
  return j.str() + "\n";
}

Result<ModelManifest> ParseManifest(const std::string& path, const std::string& text) {
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  if (parser.parse(text).get(doc)) return Status::Corruption(path + ": not JSON");
  ModelManifest m;
  auto str = [&](simdjson::dom::element e, const char* key, std::string* out) -> Status {
    std::string_view v;
    if (e[key].get_string().get(v)) return Status::Corruption(path + ": no string " + key);
    *out = std::string(v);
    return Status::OK();
  };
  auto num = [&](simdjson::dom::element e, const char* key, double* out) -> Status {
    simdjson::dom::element v;
    if (e[key].get(v)) return Status::Corruption(path + ": no number " + key);
    if (v.is_null()) {
      *out = 0;
      return Status::OK();
    }
    if (v.get_double().get(*out)) return Status::Corruption(path + ": no number " + key);
    return Status::OK();
  };
  double d = 0;
  RECSYS_RETURN_IF_ERROR(num(doc, "format", &d));
  if (d != 1) return Status::Corruption(path + ": unknown manifest format");
  RECSYS_RETURN_IF_ERROR(str(doc, "name", &m.name));
  RECSYS_RETURN_IF_ERROR(str(doc, "version", &m.version));
  RECSYS_RETURN_IF_ERROR(str(doc, "spec", &m.spec));
  RECSYS_RETURN_IF_ERROR(str(doc, "data_snapshot", &m.data_snapshot));
  RECSYS_RETURN_IF_ERROR(str(doc, "trained_at", &m.trained_at));
  RECSYS_RETURN_IF_ERROR(str(doc, "metric", &m.metric));
  RECSYS_RETURN_IF_ERROR(num(doc, "training_seconds", &m.training_seconds));
  RECSYS_RETURN_IF_ERROR(num(doc, "users", &d));
  m.users = static_cast<int64_t>(d);
  RECSYS_RETURN_IF_ERROR(num(doc, "items", &d));
  m.items = static_cast<int64_t>(d);
  RECSYS_RETURN_IF_ERROR(num(doc, "interactions", &d));
  m.interactions = static_cast<int64_t>(d);
  simdjson::dom::element e;
  if (doc["evaluation"].get(e)) return Status::Corruption(path + ": no evaluation");
  RECSYS_RETURN_IF_ERROR(str(e, "split", &m.evaluation_split));
  RECSYS_RETURN_IF_ERROR(num(e, "seed", &d));
  m.evaluation_seed = static_cast<uint64_t>(d);
  RECSYS_RETURN_IF_ERROR(num(e, "k", &d));
  m.metrics.k = static_cast<int>(d);
  RECSYS_RETURN_IF_ERROR(num(e, "users", &d));
  m.metrics.users = static_cast<int64_t>(d);
  RankingMetrics& r = m.metrics;
  RECSYS_RETURN_IF_ERROR(num(e, "precision", &r.precision));
  RECSYS_RETURN_IF_ERROR(num(e, "recall", &r.recall));
  RECSYS_RETURN_IF_ERROR(num(e, "ndcg", &r.ndcg));
  RECSYS_RETURN_IF_ERROR(num(e, "map", &r.map));
  RECSYS_RETURN_IF_ERROR(num(e, "map_full", &r.map_full));
  RECSYS_RETURN_IF_ERROR(num(e, "hit_rate", &r.hit_rate));
  RECSYS_RETURN_IF_ERROR(num(e, "coverage", &r.coverage));
  return m;
}

std::string Trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == ' ')) s.pop_back();
  return s;
}

}  // namespace

Result<double> MetricValue(const RankingMetrics& m, std::string_view metric) {
  if (metric == "ndcg") return m.ndcg;
  if (metric == "precision") return m.precision;
  if (metric == "recall") return m.recall;
  if (metric == "map") return m.map;
  if (metric == "map_full") return m.map_full;
  if (metric == "hit_rate") return m.hit_rate;
  if (metric == "coverage") return m.coverage;
  return Status::InvalidArgument("metric '" + std::string(metric) +
                                 "': expected ndcg, precision, recall, map, map_full, hit_rate "
                                 "or coverage");
}

Status WriteIdMap(const std::string& path, const IdMap& ids) {
  std::string text;
  for (const std::string& id : ids.names()) {
    if (id.find('\n') != std::string::npos) {
      return Status::InvalidArgument(path + ": id '" + id + "' holds a newline");
    }
    text += id;
    text += '\n';
  }
  return WriteFileAtomic(path, text);
}

Result<IdMap> ReadIdMap(const std::string& path) {
  RECSYS_ASSIGN_OR_RETURN(std::string text, ReadFile(path));
  IdMap ids;
  size_t begin = 0;
  int64_t line = 0;
  while (begin < text.size()) {
    size_t end = text.find('\n', begin);
    if (end == std::string::npos) {
      return Status::Corruption(path + ": last line has no newline");
    }
    ++line;
    if (ids.GetOrAdd(std::string_view(text).substr(begin, end - begin)) != ids.size() - 1) {
      return Status::Corruption(path + " line " + std::to_string(line) + ": repeated id");
    }
    begin = end + 1;
  }
  return ids;
}

Result<std::string> CurrentGoldSnapshot(const std::string& lake_root) {
  RECSYS_ASSIGN_OR_RETURN(GoldCurrent current, ReadGoldCurrent(lake_root));
  return current.snapshot;
}

ModelRegistry::ModelRegistry(std::string lake_root) : root_(std::move(lake_root) + "/models") {}

std::string ModelRegistry::VersionDir(const std::string& name, const std::string& version) const {
  return root_ + "/" + name + "/" + version;
}

Result<std::vector<std::string>> ModelRegistry::Names() const {
  std::vector<std::string> out;
  auto entries = ListDir(root_);
  if (!entries.ok()) {
    if (entries.status().code() == StatusCode::kNotFound) return out;
    return entries.status();
  }
  for (const std::string& name : *entries) {
    RECSYS_ASSIGN_OR_RETURN(std::vector<std::string> versions, Versions(name));
    if (!versions.empty()) out.push_back(name);
  }
  return out;
}

Result<std::vector<std::string>> ModelRegistry::Versions(const std::string& name) const {
  std::vector<std::string> out;
  auto entries = ListDir(root_ + "/" + name);
  if (!entries.ok()) {
    if (entries.status().code() == StatusCode::kNotFound) return out;
    return entries.status();
  }
  for (const std::string& e : *entries) {
    if (IsVersionName(e)) out.push_back(e);
  }
  // Numeric order, so v10000 follows v9999.
  std::sort(out.begin(), out.end(), [](const std::string& a, const std::string& b) {
    return a.size() != b.size() ? a.size() < b.size() : a < b;
  });
  return out;
}

Result<std::string> ModelRegistry::Current(const std::string& name) const {
  const std::string path = root_ + "/" + name + "/" + kCurrent;
  if (!FileExists(path)) return Status::NotFound("model " + name + " has no current version");
  RECSYS_ASSIGN_OR_RETURN(std::string text, ReadFile(path));
  std::string version = Trim(text);
  if (!IsVersionName(version) || !FileExists(VersionDir(name, version))) {
    return Status::Corruption(path + ": names no version ('" + version + "')");
  }
  return version;
}

Result<ModelManifest> ModelRegistry::ReadManifest(const std::string& name,
                                                  const std::string& version) const {
  const std::string path = VersionDir(name, version) + "/" + kManifest;
  RECSYS_ASSIGN_OR_RETURN(std::string text, ReadFile(path));
  return ParseManifest(path, text);
}

Result<LoadedModel> ModelRegistry::Load(const std::string& name, const std::string& version) const {
  const std::string dir = VersionDir(name, version);
  LoadedModel out;
  RECSYS_ASSIGN_OR_RETURN(out.manifest, ReadManifest(name, version));
  RECSYS_ASSIGN_OR_RETURN(out.model, CreateRecommender(out.manifest.spec));
  Status st = out.model->Load(dir);
  if (!st.ok()) return st.WithContext("model " + dir);
  RECSYS_ASSIGN_OR_RETURN(out.users, ReadIdMap(dir + "/users.txt"));
  RECSYS_ASSIGN_OR_RETURN(out.items, ReadIdMap(dir + "/items.txt"));
  return out;
}

Result<PublishResult> ModelRegistry::Publish(const Recommender& model, const IdMap& users,
                                             const IdMap& items, ModelManifest manifest) {
  if (manifest.name.empty() || manifest.name.find('/') != std::string::npos ||
      manifest.name[0] == '.') {
    return Status::InvalidArgument("model name '" + manifest.name + "' cannot be a folder");
  }
  RECSYS_ASSIGN_OR_RETURN(double value, MetricValue(manifest.metrics, manifest.metric));
  const std::string model_dir = root_ + "/" + manifest.name;
  RECSYS_RETURN_IF_ERROR(CreateDirs(model_dir));
  RECSYS_ASSIGN_OR_RETURN(std::vector<std::string> versions, Versions(manifest.name));
  int64_t next = 1;
  if (!versions.empty()) next = std::stoll(versions.back().substr(1)) + 1;
  manifest.version = VersionName(next);
  manifest.trained_at = FormatRfc3339Millis(SystemClock()->NowMillis());

  PublishResult result;
  result.version = manifest.version;
  result.value = value;
  auto current = Current(manifest.name);
  if (current.ok()) {
    result.previous = *current;
    RECSYS_ASSIGN_OR_RETURN(ModelManifest previous, ReadManifest(manifest.name, *current));
    RECSYS_ASSIGN_OR_RETURN(result.previous_value, MetricValue(previous.metrics, manifest.metric));
  } else if (current.status().code() != StatusCode::kNotFound) {
    return current.status();
  }

  // Everything goes into a temporary folder first; a crash leaves only that behind, which no
  // reader lists.
  const std::string tmp = model_dir + "/.tmp-" + manifest.version + "-" + std::to_string(getpid());
  RECSYS_RETURN_IF_ERROR(RemoveAll(tmp));
  Status st = CreateDirs(tmp);
  if (st.ok()) st = model.Save(tmp);
  if (st.ok()) st = WriteIdMap(tmp + "/users.txt", users);
  if (st.ok()) st = WriteIdMap(tmp + "/items.txt", items);
  if (st.ok()) st = WriteFileAtomic(tmp + "/" + kManifest, ManifestJson(manifest));
  if (st.ok()) st = SyncDir(tmp);
  const std::string final_dir = VersionDir(manifest.name, manifest.version);
  if (st.ok() && ::rename(tmp.c_str(), final_dir.c_str()) != 0) {
    st = Status::FromErrno("rename", final_dir, errno);
  }
  if (st.ok()) st = SyncDir(model_dir);
  if (!st.ok()) {
    (void)RemoveAll(tmp);
    return st.WithContext("publishing " + manifest.name + " " + manifest.version);
  }

  result.current = result.previous.empty() || value >= result.previous_value;
  if (result.current) {
    RECSYS_RETURN_IF_ERROR(WriteFileAtomic(model_dir + "/" + kCurrent, manifest.version + "\n"));
  }
  return result;
}

}  // namespace recsys
