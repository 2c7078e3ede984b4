#include "server/model_router.h"

#include <random>

#include "server/api_error.h"

namespace llm {
namespace {

using ojson = nlohmann::ordered_json;

// A point in [0, 1) for a sticky key: the same key lands on the same version while the
// weights stay (SplitMix64 over std::hash spreads similar keys).
double unit_point(const std::string& key) {
  uint64_t z = std::hash<std::string>{}(key) + 0x9E3779B97F4A7C15ull;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  z ^= z >> 31;
  return static_cast<double>(z >> 11) * 0x1.0p-53;
}

double random_point() {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  return std::uniform_real_distribution<double>(0.0, 1.0)(rng);
}

[[noreturn]] void conflict(const std::string& what) {
  throw ApiError(409, what);
}
[[noreturn]] void bad_request(const std::string& what) {
  throw ApiError(400, what);
}

}  // namespace

ModelRouter::ModelRouter(std::vector<ModelSpec> models) {
  for (ModelSpec& m : models) {
    names_[m.name] = m.name;
    for (const std::string& a : m.aliases) names_[a] = m.name;
    const std::string name = m.name;
    deployments_[name].spec = std::move(m);
  }
}

ModelRouter::Deployment& ModelRouter::find(const std::string& model) {
  const auto it = names_.find(model);
  if (it == names_.end()) {
    std::string known;
    for (const auto& [n, unused] : deployments_) known += (known.empty() ? "'" : ", '") + n + "'";
    throw ApiError(404, "the model '" + model + "' does not exist (this server has " + known + ")",
                   "model", "model_not_found");
  }
  return deployments_.at(it->second);
}

const ModelRouter::Deployment& ModelRouter::find(const std::string& model) const {
  return const_cast<ModelRouter*>(this)->find(model);
}

double ModelRouter::total_weight(const Deployment& d) {
  double total = 0;
  for (const auto& [name, slot] : d.versions) {
    if (slot.loaded && name != d.shadow) total += slot.weight;
  }
  return total;
}

std::map<std::string, double> ModelRouter::weights_of(const Deployment& d) {
  std::map<std::string, double> w;
  for (const auto& [name, slot] : d.versions) {
    if (slot.loaded) w[name] = slot.weight;
  }
  return w;
}

RoutedRequest ModelRouter::route(
    const std::string& requested, const std::string& user,
    const std::function<std::string(const std::string&)>& header) const {
  std::lock_guard lock(mu_);
  const size_t colon = requested.find(':');
  const Deployment& d = find(colon == std::string::npos ? requested : requested.substr(0, colon));
  RoutedRequest r;
  if (!d.shadow.empty()) r.shadow = d.versions.at(d.shadow).loaded;
  if (colon != std::string::npos) {
    // One version by name: no split, and no shadow (the client chose what it compares).
    const auto it = d.versions.find(requested.substr(colon + 1));
    if (it == d.versions.end() || !it->second.loaded) {
      throw ApiError(404,
                     "the model '" + requested + "' does not exist: '" + d.spec.name +
                         "' has no ready version '" + requested.substr(colon + 1) + "'",
                     "model", "model_not_found");
    }
    return {it->second.loaded, nullptr};
  }
  const double total = total_weight(d);
  if (total <= 0) throw ApiError(503, "the model '" + d.spec.name + "' has no version ready yet");
  std::string key;
  if (d.spec.sticky == StickyBy::kUser) key = user;
  if (d.spec.sticky == StickyBy::kHeader) key = header(d.spec.sticky_header);
  // Requests without a key (no user, no header) are spread like unpinned ones.
  double point = (key.empty() ? random_point() : unit_point(key)) * total;
  const Slot* last = nullptr;
  for (const auto& [name, slot] : d.versions) {
    if (!slot.loaded || name == d.shadow || slot.weight <= 0) continue;
    last = &slot;
    if (point < slot.weight) break;
    point -= slot.weight;
  }
  r.primary = last->loaded;
  return r;
}

std::vector<ModelSpec> ModelRouter::models() const {
  std::lock_guard lock(mu_);
  std::vector<ModelSpec> out;
  for (const auto& [n, d] : deployments_) out.push_back(d.spec);
  return out;
}

std::string ModelRouter::only_model() const {
  std::lock_guard lock(mu_);
  return deployments_.size() == 1 ? deployments_.begin()->first : std::string();
}

const ModelSpec& ModelRouter::model(const std::string& name) const {
  std::lock_guard lock(mu_);
  return find(name).spec;  // specs are never replaced, so the reference stays valid
}

void ModelRouter::begin_load(const std::string& model, const std::string& version) {
  std::lock_guard lock(mu_);
  Deployment& d = find(model);
  auto it = d.versions.find(version);
  if (it != d.versions.end() && it->second.state != "failed") {
    conflict("the model '" + d.spec.name + "' already has a version '" + version + "' (" +
             it->second.state + ")");
  }
  d.versions[version] = Slot{};
}

void ModelRouter::finish_load(std::shared_ptr<ModelVersion> loaded) {
  std::lock_guard lock(mu_);
  Deployment& d = find(loaded->model_name());
  Slot& s = d.versions[loaded->version()];
  s.weight = loaded->spec().weight;
  s.state = "ready";
  s.error.clear();
  if (loaded->spec().shadow) d.shadow = loaded->version();
  s.loaded = std::move(loaded);
}

void ModelRouter::fail_load(const std::string& model, const std::string& version,
                            const std::string& error) {
  std::lock_guard lock(mu_);
  Slot& s = find(model).versions[version];
  s = Slot{};
  s.state = "failed";
  s.error = error;
}

void ModelRouter::unload(const std::string& model, const std::string& version) {
  std::lock_guard lock(mu_);
  Deployment& d = find(model);
  const auto it = d.versions.find(version);
  if (it == d.versions.end())
    bad_request("the model '" + d.spec.name + "' has no version '" + version + "'");
  if (it->second.state == "loading") conflict("version '" + version + "' is still loading");
  if (it->second.loaded && version != d.shadow && it->second.weight > 0 &&
      total_weight(d) - it->second.weight <= 0) {
    conflict("version '" + version + "' is the last of '" + d.spec.name +
             "' with traffic: give another version weight first");
  }
  if (version == d.shadow) d.shadow.clear();
  d.versions.erase(it);
}

void ModelRouter::apply_weights(Deployment& d, const std::map<std::string, double>& weights) {
  // Everything is checked before anything changes: a refused change leaves the weights as
  // they were.
  double total = 0;
  for (const auto& [name, slot] : d.versions) {
    if (!slot.loaded || name == d.shadow) continue;
    const auto it = weights.find(name);
    total += it == weights.end() ? slot.weight : it->second;
  }
  for (const auto& [version, w] : weights) {
    const auto it = d.versions.find(version);
    if (it == d.versions.end() || !it->second.loaded)
      bad_request("the model '" + d.spec.name + "' has no ready version '" + version + "'");
    if (version == d.shadow)
      bad_request("version '" + version + "' is the shadow: it takes no weight");
    if (!(w >= 0) || w > 1e12) bad_request("weights must be numbers >= 0");
  }
  if (total <= 0) bad_request("the weights would add up to 0: no version would serve");
  d.history.push_back(weights_of(d));
  for (const auto& [version, w] : weights) d.versions[version].weight = w;
}

void ModelRouter::set_weights(const std::string& model,
                              const std::map<std::string, double>& weights) {
  std::lock_guard lock(mu_);
  apply_weights(find(model), weights);
}

void ModelRouter::promote(const std::string& model, const std::string& version) {
  std::lock_guard lock(mu_);
  Deployment& d = find(model);
  std::map<std::string, double> w;
  for (const auto& [name, slot] : d.versions) {
    if (slot.loaded && name != d.shadow) w[name] = name == version ? 1.0 : 0.0;
  }
  if (!w.contains(version))
    bad_request("the model '" + d.spec.name + "' has no ready serving version '" + version + "'");
  apply_weights(d, w);
}

void ModelRouter::rollback(const std::string& model) {
  std::lock_guard lock(mu_);
  Deployment& d = find(model);
  if (d.history.empty())
    conflict("the model '" + d.spec.name + "' has no earlier weights to roll back to");
  const std::map<std::string, double> previous = d.history.back();
  double total = 0;
  for (const auto& [name, w] : previous) {
    const auto it = d.versions.find(name);
    if (it != d.versions.end() && it->second.loaded && name != d.shadow) total += w;
  }
  if (total <= 0) conflict("the versions that had traffic before are no longer loaded");
  d.history.pop_back();
  for (auto& [name, slot] : d.versions) {
    const auto it = previous.find(name);
    slot.weight = it == previous.end() ? 0.0 : it->second;
  }
}

void ModelRouter::set_shadow(const std::string& model, const std::string& version) {
  std::lock_guard lock(mu_);
  Deployment& d = find(model);
  if (version.empty()) {
    d.shadow.clear();
    return;
  }
  const auto it = d.versions.find(version);
  if (it == d.versions.end() || !it->second.loaded)
    bad_request("the model '" + d.spec.name + "' has no ready version '" + version + "'");
  if (it->second.weight > 0)
    bad_request("version '" + version + "' serves traffic: set its weight to 0 first");
  d.shadow = version;
}

bool ModelRouter::ready() const {
  std::lock_guard lock(mu_);
  for (const auto& [n, d] : deployments_) {
    if (total_weight(d) <= 0) return false;
  }
  return true;
}

ojson ModelRouter::status() const {
  std::lock_guard lock(mu_);
  ojson models = ojson::array();
  for (const auto& [n, d] : deployments_) {
    const double total = total_weight(d);
    ojson versions = ojson::array();
    for (const auto& [name, slot] : d.versions) {
      ojson v = {{"version", name}, {"state", slot.state}};
      if (slot.loaded) {
        v["model"] = slot.loaded->spec().model;
        v["backend"] = slot.loaded->engine().backend_name();
        v["weight"] = slot.weight;
        v["traffic_share"] = name == d.shadow || total <= 0 ? 0.0 : slot.weight / total;
        v["shadow"] = name == d.shadow;
      }
      if (!slot.error.empty()) v["error"] = slot.error;
      versions.push_back(std::move(v));
    }
    models.push_back({{"name", d.spec.name},
                      {"aliases", d.spec.aliases},
                      {"ready", total > 0},
                      {"versions", std::move(versions)}});
  }
  return {{"models", std::move(models)}};
}

std::vector<std::string> ModelRouter::ids() const {
  std::lock_guard lock(mu_);
  std::vector<std::string> out;
  for (const auto& [n, d] : deployments_) {
    out.push_back(d.spec.name);
    for (const std::string& a : d.spec.aliases) out.push_back(a);
  }
  return out;
}

std::vector<std::shared_ptr<ModelVersion>> ModelRouter::loaded() const {
  std::lock_guard lock(mu_);
  std::vector<std::shared_ptr<ModelVersion>> out;
  for (const auto& [n, d] : deployments_) {
    for (const auto& [name, slot] : d.versions) {
      if (slot.loaded) out.push_back(slot.loaded);
    }
  }
  return out;
}

}  // namespace llm
