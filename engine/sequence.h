// Sequence: one completion's state as the engine tracks it from submission to finish: its
// tokens, how many are in the KV cache, its blocks, its sampler and output state.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "engine/grammar/token_matcher.h"
#include "llm/request.h"
#include "llm/request_stream.h"
#include "tokenizer/tokenizer.h"

namespace llm {

enum class SeqStatus { kParked, kWaiting, kRunning, kFinished };

struct RequestState;

struct Sequence {
  int64_t seq_id = 0;  // arrival order; FCFS ties break on it
  RequestState* request = nullptr;  // owns this sequence
  int index = 0;  // which of the request's n completions

  // Token state. tokens = prompt + generated; the first num_computed are in the KV cache.
  std::vector<int32_t> tokens;
  int num_prompt_tokens = 0;
  int num_computed = 0;
  int num_cached_prompt_tokens = 0;  // prompt tokens that came from the prefix cache

  // KV state, owned by KvCacheManager: block ids in order, and the hash chain of the leading
  // blocks already published to the prefix cache.
  std::vector<int32_t> block_table;
  std::vector<uint64_t> block_hashes;

  SeqStatus status = SeqStatus::kWaiting;
  std::chrono::steady_clock::time_point arrival;
  std::optional<std::chrono::steady_clock::time_point> first_scheduled;

  // Sampling and output state, owned by the engine's output processing.
  std::mt19937_64 rng;
  double sum_logprob = 0;  // SamplingParams::track_logprob
  std::optional<IncrementalDetokenizer> detokenizer;
  std::string held_text;  // decoded text withheld because it may start a stop string
  // Structured output: where the output stands in the request's grammar. It follows the output
  // tokens, which preemption keeps, so recomputing the KV cache leaves it as it is.
  std::optional<TokenMatcher> matcher;

  int num_output_tokens() const { return static_cast<int>(tokens.size()) - num_prompt_tokens; }
  int num_uncomputed() const { return static_cast<int>(tokens.size()) - num_computed; }
};

// One request as the engine holds it from submit until its last completion finishes: what its
// n completions share, and their sequences.
struct RequestState {
  std::string id;
  SamplingParams params;
  std::shared_ptr<RequestStream> stream;
  int num_prompt_tokens = 0;
  std::vector<std::unique_ptr<Sequence>> seqs;  // [n], by completion index
  std::vector<Sequence*> parked;  // completions 1..n-1 waiting for completion 0's prefill
  int num_finished = 0;
};

}  // namespace llm
