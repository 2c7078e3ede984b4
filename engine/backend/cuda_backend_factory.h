// Constructors of the CUDA backend in its two builds, free of CUDA headers so the engine can
// offer both: the real device (llm_backend_cuda, only when the build found nvcc) and the same
// source run by the host SIMT emulator (llm_backend_simt, always built).
#pragma once

#include <array>
#include <memory>
#include <string>
#include <vector>

#include "engine/backend/backend.h"

namespace llm {

struct CudaBackendOptions {
  int device = 0;
  // Context tokens per block of the split-KV decode pass (vLLM's paged attention v2 uses 512);
  // contexts up to this length take the single-pass kernel. A multiple of 32.
  int decode_partition_tokens = 512;
  // Capture decode steps into CUDA graphs, one per batch-size bucket (--cuda-graphs).
  bool cuda_graphs = false;
  // Sample on the device (Backend::sample) when every row's parameters allow; off, the engine
  // samples every non-greedy row on the host from copied-back logits.
  bool device_sampling = true;
  // Tensor parallelism: this rank of tp_size, joined through NCCL to the ranks given the same
  // nccl_id (an ncclUniqueId's bytes). Set by make_*_backend_group.
  int tp_rank = 0;
  int tp_size = 1;
  std::array<char, 128> nccl_id{};
};

// The emulated device ("simt"). Unless LLM_SIMT_DEVICE_MEMORY is set, the emulated device
// memory is kSimtDefaultMemory: cudaMalloc poisons what it returns, so a small pool keeps
// start-up fast.
inline constexpr size_t kSimtDefaultMemory = size_t{512} << 20;
std::unique_ptr<Backend> make_simt_backend(const CudaBackendOptions& options = {});
// The ranks of a model split over `size` emulated devices (rank r on device r), joined by the
// emulator's NCCL.
std::vector<std::unique_ptr<Backend>> make_simt_backend_group(const CudaBackendOptions& options,
                                                              int size);

// The real device ("cuda"). Only when the build has CUDA (LLM_HAVE_CUDA_BACKEND); answered by
// the plugin libllm-backend-cuda.so, loaded on first use (cuda_plugin.cpp). Each throws
// kUnsupported naming why when the plugin cannot be loaded.
std::unique_ptr<Backend> make_cuda_device_backend(const CudaBackendOptions& options = {});
// The ranks of a model split over devices 0..size-1 of this node (rank r on device r), joined by
// NCCL.
std::vector<std::unique_ptr<Backend>> make_cuda_device_backend_group(
    const CudaBackendOptions& options, int size);
// A fresh ncclUniqueId's bytes (CudaBackendOptions::nccl_id), for ranks in other processes.
std::array<char, 128> make_nccl_unique_id();
// Whether the NVIDIA driver's library (libcuda.so.1) can be loaded: without it there is no
// device, and "--backend auto" settles on the CPU without loading the plugin at all.
bool cuda_driver_present();
// cudaGetDeviceCount, or -1 with the runtime's (or the plugin loader's) message in *error.
int cuda_device_count(std::string* error);

}  // namespace llm
