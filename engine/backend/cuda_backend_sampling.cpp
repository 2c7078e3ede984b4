// CudaBackend's device-side sampling: argmax and sample() through kernels/cuda/sampling.h, so
// a step downloads ids (and logprobs) instead of its logits.
#include "engine/backend/cuda_backend.h"
// (cuda_backend.h brings kernels/cuda/cuda_api.h before these.)
#include <vector>

#include "engine/backend/backend_common.h"
#include "engine/backend/cuda_status.h"
#include "kernels/cuda/sampling.h"

namespace llm::cuda {
inline namespace LLM_CUDA_ABI {

bool CudaBackend::argmax(Tensor logits, Tensor ids) {
  bind();
  expect_f32(*this, logits, "argmax input");
  llm::cuda::argmax(logits.as<float>(), logits.size(0), logits.size(1), ids.as<int>(), stream_);
  check_launch("argmax");
  return true;
}

bool CudaBackend::sample(Tensor logits, std::span<const RowSampling> rows, Tensor ids,
                         Tensor lp_values, Tensor lp_ids) {
  static_assert(kDeviceTopLogprobs == llm::cuda::kMaxTopLogprobs);
  if (!options_.device_sampling) return false;
  bind();
  expect_f32(*this, logits, "sample input");
  expect(*this, static_cast<int64_t>(rows.size()) == logits.size(0), "one RowSampling per row");
  // Reused every step: no allocation once the largest step has been seen.
  std::vector<llm::cuda::SampleRow>& host = sample_rows_host_;
  host.assign(rows.size(), {});
  std::vector<int32_t>& tokens = penalty_tokens_host_;
  tokens.clear();
  for (const RowSampling& in : rows)
    tokens.insert(tokens.end(), in.penalty_ids.begin(), in.penalty_ids.end());
  const size_t listed = tokens.size();
  for (const RowSampling& in : rows) {
    tokens.insert(tokens.end(), in.penalty_counts.begin(), in.penalty_counts.end());
  }
  size_t next = 0;
  for (size_t r = 0; r < rows.size(); ++r) {
    const RowSampling& in = rows[r];
    expect(*this, in.penalty_ids.size() == in.penalty_counts.size(), "penalty ids and counts");
    host[r] = {.inv_temperature = in.temperature > 0.0 ? 1.0 / in.temperature : 0.0,
               .top_p = in.top_p,
               .min_p = in.min_p,
               .draw = in.draw,
               .top_k = in.top_k,
               .logprobs = in.logprobs,
               .repetition = in.repetition_penalty,
               .presence = in.presence_penalty,
               .frequency = in.frequency_penalty,
               .penalty_begin = static_cast<int>(next),
               .penalty_end = static_cast<int>(next + in.penalty_ids.size())};
    next += in.penalty_ids.size();
  }
  auto* dev = static_cast<llm::cuda::SampleRow*>(
      scratch(sample_rows_, host.size() * sizeof(llm::cuda::SampleRow)));
  // Pageable source: staged before cudaMemcpyAsync returns, so `host` may go.
  check(cudaMemcpyAsync(dev, host.data(), host.size() * sizeof(host[0]), cudaMemcpyHostToDevice,
                        stream_),
        "sampling parameters");
  // Penalties rewrite a copy of the logits: logprobs are of the raw ones, as on the host.
  const float* to_sample = logits.as<float>();
  if (listed > 0) {
    auto* tok = static_cast<int32_t*>(scratch(penalty_tokens_, tokens.size() * sizeof(int32_t)));
    check(cudaMemcpyAsync(tok, tokens.data(), tokens.size() * sizeof(int32_t),
                          cudaMemcpyHostToDevice, stream_),
          "penalty tokens");
    auto* work = static_cast<float*>(scratch(penalised_logits_, logits.nbytes()));
    llm::cuda::apply_penalties(logits.as<float>(), work, logits.size(0), logits.size(1), dev, tok,
                               tok + listed, stream_);
    check_launch("apply_penalties");
    to_sample = work;
  }
  llm::cuda::sample(to_sample, logits.size(0), logits.size(1), dev, ids.as<int>(), stream_);
  check_launch("sample");
  if (std::any_of(rows.begin(), rows.end(), [](const RowSampling& r) { return r.logprobs >= 0; })) {
    llm::cuda::logprobs(logits.as<float>(), logits.size(0), logits.size(1), dev, ids.as<int>(),
                        lp_values.as<float>(), lp_ids.as<int>(), stream_);
    check_launch("logprobs");
  }
  return true;
}

}  // namespace LLM_CUDA_ABI
}  // namespace llm::cuda
