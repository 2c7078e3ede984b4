// ModelRouter: the models one server holds and which loaded version answers a request.
//
// A request names a model (or one of its aliases); its versions share the traffic by weight
// (a canary is a version with a small weight), pinned per user or header value when the model
// is sticky, and its shadow version, if any, gets a copy. "MODEL:VERSION" names one version
// directly. Every change (a version loaded or unloaded, new weights, promote, roll back, a new
// shadow) is one step under the lock, so a request sees the table before it or after it,
// never half of it; requests already routed keep their version (they hold it).
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "server/model_spec.h"
#include "server/model_version.h"

namespace llm {

struct RoutedRequest {
  std::shared_ptr<ModelVersion> primary;  // answers the client
  std::shared_ptr<ModelVersion> shadow;   // gets a copy, or null
};

class ModelRouter {
 public:
  explicit ModelRouter(std::vector<ModelSpec> models);

  // Throws ApiError 404 (model_not_found) for a name that is no model, alias or loaded
  // MODEL:VERSION, 503 when the model has no ready version. HEADER looks a request header up
  // (for models sticky by header).
  RoutedRequest route(const std::string& requested, const std::string& user,
                      const std::function<std::string(const std::string&)>& header) const;

  // The declared models, for loading them at start.
  std::vector<ModelSpec> models() const;
  // The name of the only model, or empty when there are several (a request must then say).
  std::string only_model() const;
  const ModelSpec& model(const std::string& name) const;  // throws ApiError 404

  // Loading a version: begin_load reserves its name (409 if taken) and reports it as loading;
  // finish_load makes it routable with its spec's weight (or the shadow); fail_load reports
  // the reason and frees the name. Running versions are untouched throughout.
  void begin_load(const std::string& model, const std::string& version);
  void finish_load(std::shared_ptr<ModelVersion> loaded);
  void fail_load(const std::string& model, const std::string& version, const std::string& error);

  // 409 when it is the last version with traffic (unload another or move weight first).
  void unload(const std::string& model, const std::string& version);
  // Sets the named versions' weights (the others keep theirs); 400 when one is unknown or the
  // shadow, or the weights would add up to 0. The previous weights are kept for rollback.
  void set_weights(const std::string& model, const std::map<std::string, double>& weights);
  // All the traffic to VERSION (the others stay loaded at weight 0, for rollback).
  void promote(const std::string& model, const std::string& version);
  // Back to the weights before the last set_weights or promote; 409 when there are none.
  void rollback(const std::string& model);
  // VERSION (loaded, not serving) becomes the shadow; empty: no shadow.
  void set_shadow(const std::string& model, const std::string& version);

  // True when every model has a ready version with traffic.
  bool ready() const;
  // Every model's versions: state (loading, ready, failed), weight, shadow, error.
  nlohmann::ordered_json status() const;
  // The ids /v1/models lists: every model name and alias.
  std::vector<std::string> ids() const;
  // Every loaded version (for metrics and shutdown).
  std::vector<std::shared_ptr<ModelVersion>> loaded() const;

 private:
  struct Slot {
    std::shared_ptr<ModelVersion> loaded;  // null while loading or after a failure
    std::string state = "loading";         // loading | ready | failed
    std::string error;
    double weight = 0;
  };
  struct Deployment {
    ModelSpec spec;
    std::map<std::string, Slot> versions;                // by version name
    std::string shadow;                                  // a version name, or empty
    std::vector<std::map<std::string, double>> history;  // weights before each change
  };

  Deployment& find(const std::string& model);  // by name or alias; throws ApiError 404
  const Deployment& find(const std::string& model) const;
  // set_weights' change, the lock held (promote shares it, so both are one step).
  static void apply_weights(Deployment& d, const std::map<std::string, double>& weights);
  static double total_weight(const Deployment& d);
  static std::map<std::string, double> weights_of(const Deployment& d);

  mutable std::mutex mu_;
  std::map<std::string, Deployment> deployments_;  // by model name
  std::map<std::string, std::string> names_;       // name or alias -> model name
};

}  // namespace llm
