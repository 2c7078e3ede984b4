#include "bench/workload.h"

#include <random>
#include <string>

#include "llm/error.h"

namespace llm::bench {

std::vector<std::vector<int32_t>> random_prompts(int count, int len, int vocab, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::uniform_int_distribution<int32_t> id(3, vocab - 1);
  std::vector<std::vector<int32_t>> out(static_cast<size_t>(count));
  for (auto& p : out) {
    p.resize(static_cast<size_t>(len));
    for (auto& t : p) t = id(rng);
  }
  return out;
}

Request fixed_length_request(std::vector<int32_t> prompt, int output_len) {
  Request r;
  r.prompt_token_ids = std::move(prompt);
  r.params.temperature = 0.0;
  r.params.max_tokens = output_len;
  r.params.ignore_eos = true;
  return r;
}

void check_fits_context(const ModelConfig& c, int input_len, int output_len) {
  if (static_cast<int64_t>(input_len) + output_len > c.max_position_embeddings) {
    throw Error(ErrorCode::kInvalidArgument,
                "--input-len " + std::to_string(input_len) + " + --output-len " +
                    std::to_string(output_len) + " exceeds the model's context of " +
                    std::to_string(c.max_position_embeddings) + " tokens");
  }
}

}  // namespace llm::bench
