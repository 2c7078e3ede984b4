// The CUDA backend on a real device (--backend cuda): built only into the plugin
// libllm-backend-cuda.so, with the CUDA runtime, cuBLAS and NCCL. The engine reaches these
// functions through the table below (engine/backend/cuda_plugin.cpp loads it).
#include "engine/backend/cuda_backend.h"
// (cuda_backend.h brings kernels/cuda/cuda_api.h before these.)
#include <cstring>

#include "engine/backend/cuda_plugin_api.h"
#include "llm/error.h"

namespace llm {
namespace {

std::unique_ptr<Backend> make_backend(const CudaBackendOptions& options) {
  return std::make_unique<cuda::CudaBackend>(options, "cuda");
}

std::vector<std::unique_ptr<Backend>> make_backend_group(const CudaBackendOptions& options,
                                                         int size) {
  return cuda::CudaBackend::make_group(options, size, "cuda");
}

std::array<char, 128> nccl_unique_id() {
  ncclUniqueId id;
  const ncclResult_t r = ncclGetUniqueId(&id);
  if (r != ncclSuccess) {
    throw Error(ErrorCode::kUnavailable, std::string("ncclGetUniqueId: ") + ncclGetErrorString(r));
  }
  std::array<char, 128> bytes;
  static_assert(sizeof id.internal == std::tuple_size_v<std::array<char, 128>>);
  std::memcpy(bytes.data(), id.internal, bytes.size());
  return bytes;
}

int device_count(std::string* error) {
  int count = 0;
  const cudaError_t err = cudaGetDeviceCount(&count);
  if (err != cudaSuccess) {
    if (error) *error = std::string("cudaGetDeviceCount: ") + cudaGetErrorString(err);
    return -1;
  }
  return count;
}

}  // namespace
}  // namespace llm

extern "C" __attribute__((visibility("default"))) const llm::CudaPluginApi* llm_cuda_plugin_api() {
  static const llm::CudaPluginApi api{llm::kCudaPluginAbi, &llm::make_backend,
                                      &llm::make_backend_group, &llm::nccl_unique_id,
                                      &llm::device_count};
  return &api;
}
