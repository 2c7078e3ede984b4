// cuda_backend_factory.h's real-device functions, answered by the CUDA backend plugin
// (cuda_plugin_api.h says why it is a plugin). It is loaded on first use from LLM_CUDA_PLUGIN's
// path when that is set, else from the directory of the binary that holds this code (where the
// build puts it), else from the dynamic loader's search path.
#include <dlfcn.h>

#include <filesystem>
#include <mutex>

#include "engine/backend/cuda_plugin_api.h"
#include "llm/error.h"

namespace llm {
namespace {

constexpr const char* kPluginFile = "libllm-backend-cuda.so";

struct LoadedPlugin {
  const CudaPluginApi* api = nullptr;
  std::string error;  // why api is null
};

std::filesystem::path this_binary_dir() {
  Dl_info info{};
  if (dladdr(reinterpret_cast<const void*>(&this_binary_dir), &info) == 0 || !info.dli_fname)
    return {};
  std::error_code ec;
  const auto path = std::filesystem::canonical(info.dli_fname, ec);
  return ec ? std::filesystem::path() : path.parent_path();
}

LoadedPlugin load() {
  std::vector<std::string> tried;
  std::vector<std::string> candidates;
  if (const char* env = std::getenv("LLM_CUDA_PLUGIN"); env && *env) {
    candidates.emplace_back(env);  // asked for by name: only that one
  } else {
    if (const auto dir = this_binary_dir(); !dir.empty()) candidates.push_back(dir / kPluginFile);
    candidates.emplace_back(kPluginFile);
  }
  for (const std::string& path : candidates) {
    // RTLD_LOCAL: the plugin's copies of the shared code stay its own.
    void* handle = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (!handle) {
      const char* why = dlerror();
      tried.push_back(why ? why : path);
      continue;
    }
    // Never closed: backends it made may live until exit.
    auto entry = reinterpret_cast<CudaPluginEntry>(dlsym(handle, kCudaPluginEntry));
    if (!entry) return {nullptr, path + " has no " + kCudaPluginEntry};
    const CudaPluginApi* api = entry();
    if (!api || api->abi != kCudaPluginAbi) {
      return {nullptr, path + " is from another build (plugin ABI " +
                           (api ? std::to_string(api->abi) : "?") + ", engine " +
                           std::to_string(kCudaPluginAbi) + ")"};
    }
    return {api, ""};
  }
  std::string why = "the CUDA backend plugin could not be loaded:";
  for (const std::string& t : tried) why += " [" + t + "]";
  return {nullptr, why};
}

const LoadedPlugin& plugin() {
  static const LoadedPlugin loaded = load();
  return loaded;
}

const CudaPluginApi& api_or_throw() {
  const LoadedPlugin& p = plugin();
  if (!p.api) throw Error(ErrorCode::kUnsupported, "--backend cuda: " + p.error);
  return *p.api;
}

}  // namespace

std::unique_ptr<Backend> make_cuda_device_backend(const CudaBackendOptions& options) {
  return api_or_throw().make_backend(options);
}

std::vector<std::unique_ptr<Backend>> make_cuda_device_backend_group(
    const CudaBackendOptions& options, int size) {
  return api_or_throw().make_backend_group(options, size);
}

std::array<char, 128> make_nccl_unique_id() {
  return api_or_throw().make_nccl_unique_id();
}

bool cuda_driver_present() {
  // RTLD_LAZY and left loaded: the plugin needs the driver library anyway when it is there.
  static const bool present = dlopen("libcuda.so.1", RTLD_LAZY | RTLD_LOCAL) != nullptr;
  return present;
}

int cuda_device_count(std::string* error) {
  const LoadedPlugin& p = plugin();
  if (!p.api) {
    if (error) *error = p.error;
    return -1;
  }
  return p.api->device_count(error);
}

}  // namespace llm
