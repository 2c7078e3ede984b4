// The model's side of the roofline: bytes and FLOPs per generated token, and the bounds they
// give with the machine's measured limits.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>

#include "bench/machine_probe.h"
#include "llm/engine.h"
#include "llm/model_config.h"

namespace llm::bench {

struct ModelCost {
  int64_t params = 0;         // every weight in the checkpoint
  int64_t matmul_params = 0;  // weights multiplied per sampled token (all but the embedding lookup)
  int64_t head_params = 0;    // of those, the output head's: prompt tokens before the last skip it
  double checkpoint_bytes_per_param = 4;
  double runtime_bytes_per_param = 4;  // the dtype the weights are held in (--dtype)
  // The engine multiplies these weights with AVX-512 BF16 dot products (bf16 weights on a CPU
  // that has them): their peak, not the FMA peak, bounds batched work.
  bool bf16_dot = false;
  double weight_bytes_per_token() const { return matmul_params * runtime_bytes_per_param; }
  // Attention's own FLOPs (which grow with the context) are left out: at the lengths
  // benchmarked here they are a few percent of the projections'.
  double flops_per_token() const { return 2.0 * static_cast<double>(matmul_params); }
  // FLOPs of running `forward` tokens through the layers and `sampled` rows through the head
  // (a prompt: all its tokens forward, one sampled; a decode step: one of each).
  double flops(int64_t forward, int64_t sampled) const {
    return 2.0 * static_cast<double>(forward * (matmul_params - head_params) +
                                     sampled * head_params);
  }
};

// `weights`: the dtype the engine holds the weights in.
ModelCost model_cost(const ModelConfig& c, DType weights);
// The cost of the model a running engine holds: its matmul weights at the bytes they really take
// (quantized ones too). Quantized weights run integer kernels, whose peak is not probed: batched
// work is then measured against the FMA peak, a loose bound for them.
ModelCost engine_cost(const Engine& engine, const std::string& dtype_flag);

// What --dtype resolves to for this checkpoint ("auto": its own torch_dtype). Throws llm::Error
// for names that are no weight dtype.
DType runtime_dtype(const std::string& flag, const ModelConfig& c);

// The limits object every report carries: the machine's figures, the model's costs and the
// bounds `decode_bound_tokens_per_s` and `throughput_bound_tokens_per_s`. Its
// `gemm_gflop_per_s` is the peak of the instruction the engine multiplies these weights with
// (FMA, or BF16 dot products: see ModelCost::bf16_dot); `fma_gflop_per_s` is always FMA's.
// The compute peak the engine's matmul runs against for `cost`, from one probe's two figures.
double gemm_peak(const ModelCost& cost, double fma_gflop_per_s, double bf16_dot_gflop_per_s);
nlohmann::json limits_json(const ModelCost& cost, const MachineLimits& m);

}  // namespace llm::bench
