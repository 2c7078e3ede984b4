#include "cli/model_config.h"

#include <cmath>
#include <fstream>
#include <set>
#include <sstream>

#include "llm/error.h"

namespace po = boost::program_options;

namespace llm {
namespace {

using ojson = nlohmann::ordered_json;

[[noreturn]] void bad(const std::string& where, const std::string& what) {
  throw Error(ErrorCode::kInvalidArgument, where + ": " + what);
}

void only_keys(const ojson& obj, const std::set<std::string>& allowed, const std::string& where) {
  if (!obj.is_object()) bad(where, "must be a JSON object");
  for (const auto& [key, unused] : obj.items()) {
    if (!allowed.contains(key)) {
      std::string list;
      for (const std::string& k : allowed) list += (list.empty() ? "" : ", ") + k;
      bad(where, "unknown key '" + key + "' (known: " + list + ")");
    }
  }
}

std::string string_at(const ojson& obj, const std::string& key, const std::string& where) {
  const auto it = obj.find(key);
  if (it == obj.end() || !it->is_string() || it->get<std::string>().empty())
    bad(where, "'" + key + "' must be a non-empty string");
  return it->get<std::string>();
}

std::string resolve_path(const std::string& p, const std::filesystem::path& base) {
  const std::filesystem::path path(p);
  return path.is_absolute() || base.empty() ? p : (base / path).string();
}

// A version's "flags" object applied over the command line's flags, by the same option
// descriptions (and so the same names, checks and messages) as llm-serve's.
void apply_flags(const ojson& flags, EngineFlags& engine, ChatFlags& chat,
                 const std::filesystem::path& base, const std::string& where) {
  if (!flags.is_object()) bad(where, "'flags' must be a JSON object");
  po::options_description d;
  add_engine_options(d, engine);
  add_chat_options(d, chat);
  std::vector<std::string> args;
  for (const auto& [key, value] : flags.items()) {
    if (key == "tp-rank" || key == "tp-master") {
      bad(where,
          "flag '" + key + "' is not supported per version (multi-process ranks serve one model)");
    }
    if (!d.find_nothrow(key, false)) bad(where, "unknown flag '" + key + "'");
    if (value.is_boolean()) {
      if (!value.get<bool>())
        bad(where, "flag '" + key + "': a switch is set with true; leave it out instead of false");
      args.push_back("--" + key);
    } else if (value.is_string()) {
      const std::string v = key == "chat-template" ? resolve_path(value.get<std::string>(), base)
                                                   : value.get<std::string>();
      args.push_back("--" + key + "=" + v);
    } else if (value.is_number()) {
      args.push_back("--" + key + "=" + value.dump());
    } else {
      bad(where, "flag '" + key + "' must be a string, a number or true");
    }
  }
  try {
    po::variables_map vm;
    po::store(po::command_line_parser(args).options(d).run(), vm);
    // Options the version does not set keep the command line's values, not po's defaults.
    for (auto it = vm.begin(); it != vm.end();)
      it = it->second.defaulted() ? vm.erase(it) : std::next(it);
    po::notify(vm);
    if (vm.count("chat-template") || vm.count("tool-call-parser") || vm.count("reasoning-parser")) {
      check_chat_flags(chat);
    }
  } catch (const po::error& e) {
    bad(where, std::string("flags: ") + e.what());
  }
}

}  // namespace

VersionSpec parse_version_spec(const ojson& j, const VersionDefaults& defaults,
                               const std::string& where_in) {
  only_keys(j, {"version", "model", "weight", "shadow", "flags"}, where_in);
  VersionSpec v;
  v.version = string_at(j, "version", where_in);
  const std::string where = where_in + ", version '" + v.version + "'";
  if (v.version.find(':') != std::string::npos) bad(where, "a version name must not contain ':'");
  v.model = resolve_path(string_at(j, "model", where), defaults.base_dir);
  if (const auto w = j.find("weight"); w != j.end()) {
    if (!w->is_number() || !std::isfinite(w->get<double>()) || w->get<double>() < 0)
      bad(where, "'weight' must be a number >= 0");
    v.weight = w->get<double>();
  }
  if (const auto s = j.find("shadow"); s != j.end()) {
    if (!s->is_boolean()) bad(where, "'shadow' must be true or false");
    v.shadow = s->get<bool>();
  }
  if (v.shadow && v.weight > 0)
    bad(where, "a shadow version takes no weight (it answers no client)");
  EngineFlags engine = defaults.engine;
  ChatFlags chat = defaults.chat;
  if (const auto f = j.find("flags"); f != j.end())
    apply_flags(*f, engine, chat, defaults.base_dir, where);
  v.engine = engine.resolve(v.model);
  v.chat = chat.options;
  return v;
}

std::vector<ModelSpec> parse_model_config(const ojson& config, const VersionDefaults& defaults,
                                          const std::string& where) {
  only_keys(config, {"models"}, where);
  const auto models = config.find("models");
  if (models == config.end() || !models->is_array() || models->empty())
    bad(where, "'models' must be a non-empty list");
  std::vector<ModelSpec> out;
  std::set<std::string> ids;  // names and aliases: one namespace
  for (const ojson& m : *models) {
    only_keys(m, {"name", "aliases", "sticky", "warmup", "golden", "monitor_logprobs", "versions"},
              where + ", a model");
    ModelSpec spec;
    spec.name = string_at(m, "name", where + ", a model");
    const std::string at = where + ", model '" + spec.name + "'";
    if (spec.name.find(':') != std::string::npos) bad(at, "a model name must not contain ':'");
    if (!ids.insert(spec.name).second) bad(at, "the name is used twice");
    if (const auto a = m.find("aliases"); a != m.end()) {
      if (!a->is_array()) bad(at, "'aliases' must be a list of names");
      for (const ojson& alias : *a) {
        if (!alias.is_string() || alias.get<std::string>().empty() ||
            alias.get<std::string>().find(':') != std::string::npos)
          bad(at, "'aliases' must be non-empty names without ':'");
        if (!ids.insert(alias.get<std::string>()).second)
          bad(at, "alias '" + alias.get<std::string>() + "' is used twice");
        spec.aliases.push_back(alias.get<std::string>());
      }
    }
    if (const auto s = m.find("sticky"); s != m.end()) {
      const std::string v = s->is_string() ? s->get<std::string>() : "";
      if (v == "user") {
        spec.sticky = StickyBy::kUser;
      } else if (v.rfind("header:", 0) == 0 && v.size() > 7) {
        spec.sticky = StickyBy::kHeader;
        spec.sticky_header = v.substr(7);
      } else {
        bad(at, "'sticky' must be \"user\" or \"header:NAME\"");
      }
    }
    if (const auto l = m.find("monitor_logprobs"); l != m.end()) {
      if (!l->is_boolean()) bad(at, "'monitor_logprobs' must be true or false");
      spec.monitor_logprobs = l->get<bool>();
    }
    if (const auto w = m.find("warmup"); w != m.end()) {
      if (!w->is_array()) bad(at, "'warmup' must be a list of prompts");
      for (const ojson& p : *w) {
        if (!p.is_string()) bad(at, "'warmup' must be a list of prompts");
        spec.warmup_prompts.push_back(p.get<std::string>());
      }
    }
    if (const auto g = m.find("golden"); g != m.end()) {
      if (!g->is_array()) bad(at, "'golden' must be a list");
      for (const ojson& c : *g) {
        only_keys(c, {"prompt", "max_tokens", "expected"}, at + ", a golden case");
        GoldenCase gc;
        gc.prompt = string_at(c, "prompt", at + ", a golden case");
        const auto e = c.find("expected");
        if (e == c.end() || !e->is_string()) bad(at, "a golden case needs 'expected' (a string)");
        gc.expected = e->get<std::string>();
        if (const auto n = c.find("max_tokens"); n != c.end()) {
          if (!n->is_number_integer() || n->get<int>() < 1)
            bad(at, "golden 'max_tokens' must be an integer >= 1");
          gc.max_tokens = n->get<int>();
        }
        spec.golden.push_back(std::move(gc));
      }
    }
    const auto versions = m.find("versions");
    if (versions == m.end() || !versions->is_array() || versions->empty())
      bad(at, "'versions' must be a non-empty list");
    std::set<std::string> seen;
    int shadows = 0;
    double weight = 0;
    for (const ojson& vj : *versions) {
      VersionSpec v = parse_version_spec(vj, defaults, at);
      if (!seen.insert(v.version).second) bad(at, "version '" + v.version + "' is declared twice");
      shadows += v.shadow ? 1 : 0;
      weight += v.weight;
      spec.versions.push_back(std::move(v));
    }
    if (shadows > 1) bad(at, "at most one version may be the shadow");
    if (weight <= 0) {
      // No weights given: the serving versions share the traffic equally.
      bool any_weight = false;
      for (const ojson& vj : *versions) any_weight = any_weight || vj.contains("weight");
      if (any_weight) bad(at, "the weights of its versions add up to 0: no version would serve");
      for (VersionSpec& v : spec.versions) v.weight = v.shadow ? 0 : 1;
      if (shadows == static_cast<int>(spec.versions.size()))
        bad(at, "it needs a version that is not the shadow");
    }
    out.push_back(std::move(spec));
  }
  return out;
}

std::vector<ModelSpec> read_model_config(const std::filesystem::path& file,
                                         const VersionDefaults& defaults_in) {
  std::ifstream in(file);
  if (!in) throw Error(ErrorCode::kInvalidArgument, "--config: cannot read " + file.string());
  std::stringstream text;
  text << in.rdbuf();
  ojson config;
  try {
    config = ojson::parse(text.str());
  } catch (const ojson::parse_error& e) {
    throw Error(ErrorCode::kInvalidArgument,
                "--config " + file.string() + ": not JSON: " + e.what());
  }
  VersionDefaults defaults = defaults_in;
  defaults.base_dir = file.parent_path();
  return parse_model_config(config, defaults, "--config " + file.string());
}

}  // namespace llm
