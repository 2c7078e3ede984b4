// AdminApi: /admin/... on llm-serve, behind its own key (--admin-key), to change the models a
// running server holds without a restart. Every body is JSON; every answer is the new state of
// all models (GET /admin/models alone only reads it).
//
//   POST /admin/models/load      {"model", "version": {"version", "model", "weight", "shadow",
//   "flags"}}
//        202: loads in the background; the version becomes routable once its warm-up and golden
//        checks pass. A failed load is reported in the state; running versions are untouched.
//   POST /admin/models/unload    {"model", "version"}    in-flight requests finish on it
//   POST /admin/models/weights   {"model", "weights": {"v1": 90, "v2": 10}}
//   POST /admin/models/promote   {"model", "version"}    all traffic to it
//   POST /admin/models/rollback  {"model"}               the weights before the last change
//   POST /admin/models/shadow    {"model", "version"}    a loaded version at weight 0; null: none
#pragma once

#include <functional>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "server/http_server.h"
#include "server/model_router.h"

namespace llm {

class AdminApi {
 public:
  // Reads a load request's version object (llm-serve's flags: cli/model_config.h).
  using ParseVersion =
      std::function<VersionSpec(const nlohmann::ordered_json& version, const std::string& where)>;

  AdminApi(ModelRouter& router, std::string key, RequestLimits limits, ParseVersion parse);
  ~AdminApi();  // waits for loads in progress
  AdminApi(const AdminApi&) = delete;
  AdminApi& operator=(const AdminApi&) = delete;

  // Throws ApiError: 401 without the key, 404 for an unknown path, 405, 400, 409.
  net::awaitable<void> handle(HttpExchange& ex, const std::string& path);

 private:
  void start_load(const std::string& model, const nlohmann::ordered_json& version);

  ModelRouter& router_;
  std::string key_;
  RequestLimits limits_;
  ParseVersion parse_;
  std::mutex mu_;
  std::vector<std::thread> loads_;
};

}  // namespace llm
