// RoPE's rotation table for every position a model allows, made the way Hugging Face
// transformers makes its frequencies (modeling_rope_utils.py) for each rope_type we load.
#pragma once

#include <vector>

#include "llm/model_config.h"

namespace llm {

// The inverse frequencies [rotary_dim / 2] of `c`'s RoPE, and the scale transformers applies to
// cos and sin (yarn's attention factor; 1 otherwise).
struct RopeFrequencies {
  std::vector<double> inv_freq;
  double attention_scale = 1.0;
};
// long_factors: longrope's frequencies for sequences past original_max_position_embeddings.
RopeFrequencies rope_frequencies(const ModelConfig& c, bool long_factors = false);

// [max_position_embeddings, rotary_dim / 2, 2]: (cos, sin) of position * inv_freq[i], times the
// attention scale. Angles in double: they grow with the position, and f32 angles lose digits
// that show up in the logits at long contexts.
std::vector<float> rope_table(const ModelConfig& c, bool long_factors = false);

}  // namespace llm
