// The model's side of the roofline: bytes and FLOPs per generated token, and the bounds they
// give with the machine's measured limits.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>

#include "bench/machine_probe.h"
#include "llm/model_config.h"

namespace llm::bench {

struct ModelCost {
  int64_t params = 0;         // every weight in the checkpoint
  int64_t matmul_params = 0;  // weights multiplied per token (all but the embedding lookup)
  double checkpoint_bytes_per_param = 4;
  double runtime_bytes_per_param = 4;  // the CPU backend widens every weight to f32 at load
  double weight_bytes_per_token() const { return matmul_params * runtime_bytes_per_param; }
  // Attention's own FLOPs (which grow with the context) are left out: at the lengths
  // benchmarked here they are a few percent of the projections'.
  double flops_per_token() const { return 2.0 * static_cast<double>(matmul_params); }
};

ModelCost model_cost(const ModelConfig& c);

// The limits object every report carries: the machine's figures, the model's costs and the
// bounds `decode_bound_tokens_per_s` and `throughput_bound_tokens_per_s`.
nlohmann::json limits_json(const ModelCost& cost, const MachineLimits& m);

}  // namespace llm::bench
