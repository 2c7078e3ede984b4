// The CUDA backend run by the host SIMT emulator (--backend simt): built only into
// llm_backend_simt, where kernels/cuda/cuda_api.h resolves to kernels/simt.
#include <cstdlib>
#include <mutex>

#include "engine/backend/cuda_backend.h"

namespace llm {

std::unique_ptr<Backend> make_simt_backend(const CudaBackendOptions& options) {
  // The emulated device is process-wide; size it once, and only when the user did not.
  static std::once_flag sized;
  std::call_once(sized, [] {
    if (std::getenv("LLM_SIMT_DEVICE_MEMORY") == nullptr) {
      simt::set_device_memory_bytes(kSimtDefaultMemory);
    }
  });
  return std::make_unique<cuda::CudaBackend>(options, "simt");
}

}  // namespace llm
