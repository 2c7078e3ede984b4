// The CUDA backend run by the host SIMT emulator (--backend simt): built only into
// llm_backend_simt, where kernels/cuda/cuda_api.h resolves to kernels/simt.
#include <cstdlib>
#include <mutex>

#include "engine/backend/cuda_backend.h"

namespace llm {

namespace {

// The emulated devices are process-wide; size them once, and only when the user did not.
void size_emulated_devices() {
  static std::once_flag sized;
  std::call_once(sized, [] {
    if (std::getenv("LLM_SIMT_DEVICE_MEMORY") == nullptr) {
      simt::set_device_memory_bytes(kSimtDefaultMemory);
    }
  });
}

}  // namespace

std::unique_ptr<Backend> make_simt_backend(const CudaBackendOptions& options) {
  size_emulated_devices();
  return std::make_unique<cuda::CudaBackend>(options, "simt");
}

std::vector<std::unique_ptr<Backend>> make_simt_backend_group(const CudaBackendOptions& options,
                                                              int size) {
  size_emulated_devices();
  return cuda::CudaBackend::make_group(options, size, "simt");
}

}  // namespace llm
