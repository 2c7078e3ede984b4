// The seam between the engine and the CUDA backend plugin (libllm-backend-cuda.so).
//
// The real CUDA backend links the CUDA runtime, cuBLAS and NCCL, whose libraries alone make a
// process ~160 MB bigger before it does anything (cuBLASLt's static data is resident from the
// start). So, as llama.cpp does with its GGML_BACKEND_DL builds, the backend is a module loaded
// with dlopen the first time a CUDA device is asked for: CPU-only runs never map those
// libraries. Engine and plugin come from one build and one compiler, so the table passes C++
// types as they are; the ABI number catches a plugin left over from another build.
#pragma once

#include <array>
#include <memory>
#include <string>
#include <vector>

#include "engine/backend/backend.h"
#include "engine/backend/cuda_backend_factory.h"

namespace llm {

inline constexpr int kCudaPluginAbi = 1;

// What the plugin exports: its functions behind cuda_backend_factory.h's make_cuda_device_* and
// friends (see there for what each does).
struct CudaPluginApi {
  int abi = kCudaPluginAbi;
  std::unique_ptr<Backend> (*make_backend)(const CudaBackendOptions& options) = nullptr;
  std::vector<std::unique_ptr<Backend>> (*make_backend_group)(const CudaBackendOptions& options,
                                                              int size) = nullptr;
  std::array<char, 128> (*make_nccl_unique_id)() = nullptr;
  int (*device_count)(std::string* error) = nullptr;
};

// The plugin's one exported symbol (extern "C", so dlsym finds it by this name).
inline constexpr const char* kCudaPluginEntry = "llm_cuda_plugin_api";
using CudaPluginEntry = const CudaPluginApi* (*)();

}  // namespace llm
