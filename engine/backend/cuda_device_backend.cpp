// The CUDA backend on a real device (--backend cuda): built only into llm_backend_cuda, with
// the CUDA runtime, cuBLAS and NCCL.
#include "engine/backend/cuda_backend.h"
// (cuda_backend.h brings kernels/cuda/cuda_api.h before these.)
#include <cstring>

#include "llm/error.h"

namespace llm {

std::unique_ptr<Backend> make_cuda_device_backend(const CudaBackendOptions& options) {
  return std::make_unique<cuda::CudaBackend>(options, "cuda");
}

std::vector<std::unique_ptr<Backend>> make_cuda_device_backend_group(
    const CudaBackendOptions& options, int size) {
  return cuda::CudaBackend::make_group(options, size, "cuda");
}

std::array<char, 128> make_nccl_unique_id() {
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

int cuda_device_count(std::string* error) {
  int count = 0;
  const cudaError_t err = cudaGetDeviceCount(&count);
  if (err != cudaSuccess) {
    if (error) *error = cudaGetErrorString(err);
    return -1;
  }
  return count;
}

}  // namespace llm
