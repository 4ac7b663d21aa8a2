#include "cli/application.h"

#include <cstdio>
#include <cstdlib>
#include <map>
#include <optional>

#include "cli/commands.h"
#include "cli/settings.h"

namespace recsys {
namespace {

constexpr const char* kVersion = "0.1.0";

struct ParsedArgs {
  std::vector<std::string> positional;
  std::vector<std::pair<std::string, std::string>> flags;  // "--name" -> value ("" for bare)
  bool help = false, json = false, version = false;
  std::optional<std::string> config_file;
};

// True if some setting answering to this flag takes a value (all but booleans).
bool FlagTakesValue(std::string_view flag) {
  if (flag.find('.') != std::string_view::npos) {
    for (const SettingSpec& s : AllSettings()) {
      if (flag == "--" + std::string(s.name)) return s.type != SettingType::kBool;
    }
    return true;
  }
  for (const SettingSpec& s : AllSettings()) {
    if (Config::FlagName(s.name) == flag && s.type != SettingType::kBool) return true;
  }
  return false;
}

Result<ParsedArgs> ParseArgs(int argc, char** argv) {
  ParsedArgs out;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--") {
      for (++i; i < argc; ++i) out.positional.push_back(argv[i]);
      break;
    }
    if (arg.rfind("--", 0) != 0 || arg == "-") {
      if (arg.size() > 1 && arg[0] == '-' && arg != "-") {
        if (arg == "-h") {
          out.help = true;
          continue;
        }
        if (arg == "-k") {  // the one short flag: the length of a list, as in `recommend -k 10`
          if (i + 1 >= argc) return Status::InvalidArgument("-k needs a value");
          out.flags.emplace_back("--k", argv[++i]);
          continue;
        }
        return Status::InvalidArgument("unknown flag " + arg + " (flags are --name value)");
      }
      out.positional.push_back(arg);
      continue;
    }
    std::string name = arg, value;
    bool has_value = false;
    if (size_t eq = arg.find('='); eq != std::string::npos) {
      name = arg.substr(0, eq);
      value = arg.substr(eq + 1);
      has_value = true;
    }
    if (name == "--help") {
      out.help = true;
    } else if (name == "--json") {
      out.json = true;
    } else if (name == "--version") {
      out.version = true;
    } else if (name == "--config") {
      if (!has_value) {
        if (i + 1 >= argc) return Status::InvalidArgument("--config needs a file");
        value = argv[++i];
      }
      out.config_file = value;
    } else {
      if (!has_value && FlagTakesValue(name)) {
        if (i + 1 >= argc) return Status::InvalidArgument(name + " needs a value");
        value = argv[++i];
        has_value = true;
      }
      out.flags.emplace_back(name, has_value ? value : "true");
    }
  }
  return out;
}

// The setting a flag names for this command: --section.key always works; --key works for the
// global settings and those of the command's sections.
const SettingSpec* SettingForFlag(const std::string& flag, const Command* command) {
  for (const SettingSpec& s : AllSettings()) {
    if (flag == "--" + std::string(s.name)) return &s;
  }
  // Global settings, then the command's sections in the order it lists them, so a command's own
  // section wins when two of its sections have the same key (tune.model over evaluate.model).
  for (const SettingSpec& s : AllSettings()) {
    if (Config::FlagName(s.name) == flag &&
        std::string_view(s.name).find('.') == std::string::npos) {
      return &s;
    }
  }
  if (command == nullptr) return nullptr;
  for (const std::string& section : command->sections) {
    for (const SettingSpec& s : AllSettings()) {
      std::string_view name = s.name;
      if (Config::FlagName(s.name) == flag && name.substr(0, name.find('.')) == section) return &s;
    }
  }
  return nullptr;
}

}  // namespace

std::string CommandContext::LakeDir() const {
  const std::string& lake = config->GetString("lake_dir");
  return lake.empty() ? DataDir() + "/lake" : lake;
}

Application::Application() {
  commands_ = {
      {"generate",
       "simulate a shop: catalog, users, sessions, funnels, bad records",
       "recsys generate [--users N] [--products N] [--days N] [--seed N] [--bad-rate R] "
       "[--rate EPS] [--out DIR]",
       "Simulates a shop whose visitors have hidden tastes, and appends its events to the event "
       "log (or, with --out, writes <out>/<topic>.jsonl files for `recsys ingest`). The same "
       "seed gives the same events. The hidden tastes go to <data-dir>/ground_truth/.",
       {"generate", "log"},
       RunGenerate},
      {"ingest",
       "append JSON lines from files or stdin to the event log",
       "recsys ingest [--topic T] [FILE...]   (no FILE or '-': stdin)",
       "Each line is one message. Its topic is --topic, else the file's name when it names a "
       "topic (clickstream.jsonl), else the line's event_type. Lines that are not JSON still go "
       "to the log (bronze keeps raw input; silver judges it) and are counted.",
       {"ingest", "log"},
       RunIngest},
      {"import",
       "a shop's past orders, ratings, catalog and customers from CSV, as events",
       "recsys import [--preset online-retail|dunnhumby|movielens] [mapping flags] FILE...",
       "Each row becomes a clickstream event: a purchase (order, quantity, unit price) or a "
       "product_view (with a rating). Every user and product becomes a signup or product_created "
       "event timed at its earliest row, with the attributes the source has. A preset knows a "
       "source's columns and times and reads the files beside FILE (dunnhumby: products.csv, "
       "demographics.csv; movielens: u.item, u.user or movies.csv); FILE may be its folder. "
       "Without a preset map --user-col, --item-col and --time-col at least, by header name or "
       "0-based index. Event ids are deterministic: importing a file twice adds nothing after "
       "silver's deduplication. Rows that cannot become events are counted by reason and kept "
       "in <data-dir>/refused/import-<ms>.jsonl.",
       {"import", "log"},
       RunImport},
      {"sink",
       "write the event log to bronze in the Kafka Connect S3 sink layout",
       "recsys sink [--once] [--compression none|gzip|zstd] [--flush-size N]",
       "Reads every topic from the committed offsets of its consumer group and writes "
       "bronze/topics/<topic>/year=/month=/day=/hour=/<topic>+<partition>+<offset>.json files "
       "into the lake. Files are renamed into place before offsets are committed, so a restart "
       "never writes an event twice. Without --once it follows the log until interrupted.",
       {"sink", "log"},
       RunSink},
      {"process silver",
       "bronze -> silver: validate, quarantine, deduplicate, sessionize",
       "recsys process silver",
       "Reads the bronze files not processed yet, validates every record (bad ones go to "
       "silver/_quarantine with a reason), drops duplicate event ids, types the columns, hashes "
       "emails, sessionizes the clickstream and writes Parquet partitioned by event_date. "
       "Prints the data-quality report: read = written + quarantined + duplicates.",
       {"process"},
       RunProcessSilver},
      {"process gold",
       "silver -> gold: RFM segments, clusters, product analytics, features",
       "recsys process gold",
       "Runs the gold SQL models in dependency order and the k-means clustering, writing a "
       "Parquet snapshot of each table: user_features, user_clusters, product_analytics(_daily), "
       "interactions, item_content, hybrid_features.",
       {"process"},
       RunProcessGold},
      {"sql",
       "SQL over every silver and gold table, by name",
       "recsys sql [--format table|csv|json] \"<query>\"",
       "Every silver table (clickstream, sessions, users, products, quarantine, ...) and every "
       "table of the current gold snapshot (user_features, interactions, ...) is a view. With "
       "--json (or --format json) rows print as a JSON array.",
       {"sql", "process"},
       RunSql,
       false},
      {"evaluate",
       "offline quality of the models beside the popularity baseline",
       "recsys evaluate [--models \"SPEC;SPEC\"] [--split SPLIT] [--seed N] [--k K] "
       "[--source gold|movielens:PATH]",
       "Splits the interactions (gold's, or a MovieLens ratings file's) into training and "
       "held-out parts, fits each model on the first and scores its top-k lists against the "
       "second: precision, recall, NDCG, MAP and hit rate at k, catalog coverage and fit time, "
       "as Microsoft Recommenders defines them (every held-out interaction relevant, training "
       "items left out of the lists). Several models go in one --models value separated by ';' "
       "(a repeated flag keeps only its last value). Without --models every model is evaluated "
       "with its defaults.",
       {"evaluate"},
       RunEvaluate},
      {"tune",
       "random search over a model's parameters on a validation split",
       "recsys tune --model NAME [--budget-seconds S] [--trials N] [--metric ndcg] "
       "[--source gold|movielens:PATH] [--seed N]",
       "Splits the interactions as `recsys evaluate` does (--split, --seed), then splits the "
       "training part again (random-per-user:0.75, seed + 1) into fit and validation parts; the "
       "held-out part is never used. Evaluates the model's default spec, then specs drawn at "
       "random from its search space, until --trials or --budget-seconds is reached, and prints "
       "the trials by validation metric and the best spec, which goes to "
       "<data-dir>/tuned/<model>.txt (unless --save=false): `recsys evaluate` without --models "
       "uses it.",
       {"tune", "evaluate"},
       RunTune},
      {"train",
       "train models on gold, evaluate them and publish versions to the registry",
       "recsys train [--models \"SPEC;SPEC\"] [--metric ndcg|precision|recall|map|hit_rate]",
       "Loads the lake's current gold interactions, evaluates each model (random-per-user:0.75, "
       "seed 42, k 10), fits it on all interactions and saves it as the next version under "
       "models/<name>/<version>/ with its id maps and manifest.json. The new version becomes "
       "CURRENT unless it loses to the current one on --metric (equal is fine); otherwise it "
       "is kept but not made current. Without --models every model is trained with its "
       "defaults; models that fail are reported and skipped.",
       {"train"},
       RunTrain},
      {"models list",
       "the registry: every model, its versions, metrics and which is current",
       "recsys models list",
       "Lists models/<name>/<version>/ in the lake with each version's spec, training time, "
       "data snapshot and metrics; * marks the current version.",
       {},
       RunModelsList},
      {"recommend",
       "top-k items for a user from the current version of a model, with reasons",
       "recsys recommend --user ID [--k 10] [--model NAME]",
       "Loads the current version of --model (default: the current version with the best "
       "train.metric among all models), leaves the user's gold history out and prints k items "
       "with scores and why: the history item most similar to each. Users without history get "
       "popular items.",
       {"recommend"},
       RunRecommend},
      {"serve",
       "the HTTP recommendation API: recommendations, tracking, profiles, analytics, admin",
       "recsys serve [--listen 127.0.0.1:8080] [--model NAME] [--admin-token T]",
       "Serves the current model versions of the lake's registry and its gold data over HTTP "
       "(docs/api.md; GET /openapi.json describes every route). Events POSTed to /v1/events go "
       "to the event log and count at once: a click changes the next list. Served lists are "
       "logged as recommendation_impression events, so click-through is measured per model and "
       "A/B variant. New model versions are picked up without a failed request. SIGTERM or "
       "SIGINT stops it after the requests in flight.",
       {"serve", "log"},
       RunServe,
       false},
      {"log topics",
       "list topics, partitions, offsets and the sink's lag",
       "recsys log topics",
       "Shows every topic of the embedded event log.",
       {"log", "sink"},
       RunLogTopics},
      {"log retention",
       "delete log segments beyond the retention settings now",
       "recsys log retention [--retention-bytes N] [--retention-ms N]",
       "Applies log.retention_bytes and log.retention_ms (also applied when segments roll).",
       {"log"},
       RunLogRetention},
      {"config show",
       "print every setting, its value and where it came from",
       "recsys config show",
       "Settings resolve as defaults < config file (--config or RECSYS_CONFIG) < RECSYS_* "
       "environment variables < flags.",
       {"log", "generate", "ingest", "sink"},
       RunConfigShow,
       false},
      {"demo",
       "generate a shop and run it through every stage",
       "recsys demo [--users N] [--days N]",
       "Generates a shop into a fresh data folder and runs it through the pipeline: event log, "
       "bronze, silver, gold; evaluates every model beside popularity, trains and publishes "
       "them, then serves them over HTTP (as `recsys serve`, until Ctrl-C; --serve=false ends "
       "after training) and prints a `curl` line that returns recommendations. 1% of the "
       "generated records are bad (--bad-rate changes it) so the quarantine has work. Refuses a "
       "data folder that holds data it did not make.",
       {"generate", "log", "sink", "process", "train", "demo", "serve"},
       RunDemo},
  };
}

void Application::PrintHelp() const {
  std::string s =
      "recsys: an end-to-end e-commerce recommendation platform\n\n"
      "usage: recsys <command> [flags]\n\ncommands:\n";
  for (const Command& c : commands_) {
    char line[200];
    std::snprintf(line, sizeof(line), "  %-16s %s\n", c.name, c.summary);
    s += line;
  }
  s += "\nglobal flags:\n"
       "  --data-dir DIR   where the log, the lake and models live (default ./recsys-data)\n"
       "  --config FILE    settings file (also RECSYS_CONFIG)\n"
       "  --json           print one JSON summary object on stdout\n"
       "  --quiet          no progress lines\n"
       "  --help           help; `recsys <command> --help` for a command's flags\n"
       "  --version\n";
  std::fputs(s.c_str(), stdout);
}

void Application::PrintCommandHelp(const Command& c) const {
  std::string s = std::string("usage: ") + c.usage + "\n\n" + c.details + "\n\nflags:\n";
  auto add = [&](const SettingSpec& spec) {
    std::string flag = Config::FlagName(spec.name);
    if (spec.type != SettingType::kBool) flag += " V";
    char line[400];
    std::snprintf(line, sizeof(line), "  %-32s %s (default %s%s%s)\n", flag.c_str(), spec.help,
                  *spec.default_value ? spec.default_value : "\"\"", *spec.choices ? "; " : "",
                  spec.choices);
    s += line;
  };
  for (const std::string& section : c.sections) {
    for (const SettingSpec& spec : AllSettings()) {
      std::string_view name = spec.name;
      if (name.substr(0, name.find('.')) == section && name.find('.') != std::string_view::npos) {
        add(spec);
      }
    }
  }
  s += "\nglobal flags: --data-dir --lake-dir --config --json --quiet --help\n";
  s += "every flag can also be set in the config file or as RECSYS_<SECTION>_<KEY>\n";
  std::fputs(s.c_str(), stdout);
}

int Application::Run(int argc, char** argv) {
  auto parsed = ParseArgs(argc, argv);
  if (!parsed.ok()) {
    std::fprintf(stderr, "recsys: %s\n", parsed.status().message().c_str());
    return 2;
  }
  ParsedArgs& args = *parsed;
  if (args.version) {
    std::printf("recsys %s\n", kVersion);
    return 0;
  }
  // The command is the longest name matching the leading positional words.
  const Command* command = nullptr;
  size_t words = 0;
  for (const Command& c : commands_) {
    std::string name = c.name;
    size_t n = name.find(' ') == std::string::npos ? 1 : 2;
    if (args.positional.size() < n) continue;
    std::string candidate = args.positional[0] + (n == 2 ? " " + args.positional[1] : "");
    if (candidate == name && n > words) {
      command = &c;
      words = n;
    }
  }
  if (command == nullptr) {
    if (args.positional.empty() || args.help) {
      PrintHelp();
      return args.positional.empty() && !args.help ? 2 : 0;
    }
    std::fprintf(stderr, "recsys: unknown command '%s'; `recsys --help` lists them\n",
                 args.positional[0].c_str());
    return 2;
  }
  if (args.help) {
    PrintCommandHelp(*command);
    return 0;
  }

  Config config(AllSettings());
  std::string config_file = args.config_file.value_or("");
  if (config_file.empty()) {
    if (const char* env = std::getenv("RECSYS_CONFIG")) config_file = env;
  }
  Status st;
  if (!config_file.empty()) st = config.LoadFile(config_file);
  if (st.ok()) st = config.LoadEnvironment();
  for (const auto& [flag, value] : args.flags) {
    if (!st.ok()) break;
    const SettingSpec* spec = SettingForFlag(flag, command);
    if (spec == nullptr) {
      std::fprintf(stderr, "recsys %s: unknown flag %s; `recsys %s --help` lists the flags\n",
                   command->name, flag.c_str(), command->name);
      return 2;
    }
    // A repeatable setting given several times collects its values, separated by ';'.
    std::string v = value;
    if (spec->repeatable && config.SourceOf(spec->name) == SettingSource::kFlag) {
      v = config.GetString(spec->name) + ";" + value;
    }
    st = config.Set(spec->name, v, SettingSource::kFlag);
  }
  if (!st.ok()) {
    std::fprintf(stderr, "recsys: %s\n", st.message().c_str());
    return 2;
  }

  CommandContext ctx;
  ctx.config = &config;
  ctx.args.assign(args.positional.begin() + static_cast<long>(words), args.positional.end());
  ctx.json = args.json;
  ctx.summary.BeginObject();
  ctx.summary.Key("command");
  ctx.summary.String(command->name);
  st = command->run(ctx);
  if (!st.ok()) {
    std::fprintf(stderr, "recsys %s: %s\n", command->name, st.message().c_str());
    return 1;
  }
  if (command->has_summary) {
    ctx.summary.EndObject();
    if (ctx.json) {
      std::printf("%s\n", ctx.summary.str().c_str());
    } else {
      std::fputs(ctx.text.c_str(), stdout);
    }
  }
  std::fflush(stdout);
  return 0;
}

}  // namespace recsys
