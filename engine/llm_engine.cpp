#include "engine/llm_engine.h"

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <limits>
#include <random>
#include <thread>

#include "kernels/cpu/cpu_features.h"
#include "llm/error.h"

namespace llm {
namespace {

void check_config(const EngineConfig& c) {
  auto bad = [](const std::string& m) { throw Error(ErrorCode::kInvalidArgument, m); };
  if (c.block_size < 1 || c.block_size > 1024) bad("block_size must be in [1, 1024]");
  if (c.max_num_seqs < 1) bad("max_num_seqs must be >= 1");
  if (c.max_num_batched_tokens < c.max_num_seqs) {
    bad("max_num_batched_tokens (" + std::to_string(c.max_num_batched_tokens) +
        ") must be >= max_num_seqs (" + std::to_string(c.max_num_seqs) + ")");
  }
  if (c.max_prefill_tokens_per_step < 0) {
    bad("max_prefill_tokens_per_step must be >= 0 (0: only max_num_batched_tokens limits it)");
  }
  if (c.num_blocks < 0 || c.kv_cache_memory < 0) bad("num_blocks and kv_cache_memory must be >= 0");
  if (!(c.kv_cache_fraction > 0 && c.kv_cache_fraction <= 1))
    bad("kv_cache_fraction must be in (0, 1]");
  if (c.threads < 0 || c.threads > 1024) bad("threads must be in [0, 1024] (0: one per core)");
  if (c.backend != "auto" && c.backend != "cpu" && c.backend != "cuda" && c.backend != "simt") {
    bad("backend must be auto, cpu, cuda or simt, got '" + c.backend + "'");
  }
  if (!(c.gpu_memory_utilization > 0 && c.gpu_memory_utilization <= 1)) {
    bad("gpu_memory_utilization must be in (0, 1], got " +
        std::to_string(c.gpu_memory_utilization));
  }
  if (c.tensor_parallel_size < 1 || c.tensor_parallel_size > 64) {
    bad("tensor_parallel_size must be in [1, 64]");
  }
  if (c.tp_rank < 0 || c.tp_rank >= c.tensor_parallel_size) {
    bad("tp_rank " + std::to_string(c.tp_rank) + " is outside [0, " +
        std::to_string(c.tensor_parallel_size) + ")");
  }
  if (!c.tp_master.empty() && c.backend == "simt") {
    bad("ranks in separate processes (--tp-master) run the cpu or cuda backend: the emulator's "
        "NCCL joins the ranks of one process only (drop --tp-master)");
  }
  const auto t = dtype_from_name(c.dtype);
  if (c.dtype != "auto" && (!t || *t == DType::kI32 || dtype_is_quantized(*t))) {
    bad("dtype must be auto, f32, bf16 or f16, got '" + c.dtype + "'");
  }
  if (c.quantization != "none" && c.quantization != "int8" && c.quantization != "int4") {
    bad("quantization must be none, int8 or int4, got '" + c.quantization + "'");
  }
  // Last: it changes the process's kernels, and only for a config that is otherwise sound.
  if (auto error = cpu::set_cpu_isa(c.cpu_isa)) bad(*error);
}

// 53-bit mix of a request seed and the completion index, so the n completions of a seeded
// request differ from each other but each is reproducible.
uint64_t completion_seed(uint64_t seed, int index) {
  uint64_t x = seed + 0x9e3779b97f4a7c15ull * static_cast<uint64_t>(index + 1);
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

}  // namespace

std::unique_ptr<Engine> Engine::create(const EngineConfig& config) {
  return std::make_unique<LlmEngine>(config);
}

void Engine::serve_rank(const EngineConfig& config) {
  check_config(config);
  ModelRanks::serve(config);
}

LlmEngine::LlmEngine(const EngineConfig& config)
    : config_((check_config(config), config)),
      checkpoint_(Checkpoint::open(config.model_dir)),
      // A GGUF file carries its tokenizer; a directory has tokenizer.json or tokenizer.model.
      tokenizer_(checkpoint_.gguf_vocab() ? Tokenizer::from_gguf(*checkpoint_.gguf_vocab())
                                          : Tokenizer::load(config.model_dir)) {
  const ModelConfig& mc = checkpoint_.config();
  ranks_ = std::make_unique<ModelRanks>(config_, checkpoint_);
  checkpoint_.release_tensors();  // the backends hold copies; only the config is used from here
  const int num_blocks = static_cast<int>(ranks_->num_blocks());
  kv_manager_ = std::make_unique<KvCacheManager>(num_blocks, config_.block_size,
                                                 config_.enable_prefix_caching);
  scheduler_ = std::make_unique<Scheduler>(
      SchedulerConfig{config_.max_num_seqs, config_.max_num_batched_tokens,
                      config_.max_prefill_tokens_per_step},
      *kv_manager_);
  sampler_ = std::make_unique<Sampler>(mc.vocab_size);
  eos_ids_ = mc.eos_token_ids;
  long_rope_after_ = mc.rope_scaling.type == "longrope"
                         ? mc.rope_scaling.original_max_position_embeddings
                         : std::numeric_limits<int>::max();
  output_ = std::make_unique<OutputProcessor>(eos_ids_, tokenizer_.vocab_size());
  grammars_ = std::make_unique<GrammarCompiler>(tokenizer_, mc.vocab_size, eos_ids_);
  stats_.kv_blocks_total = num_blocks;
  // Fixed once loaded; publish_stats() starts from counters_.
  counters_.weight_bytes = static_cast<int64_t>(ranks_->weight_bytes());
  counters_.matmul_weight_bytes = static_cast<int64_t>(ranks_->matmul_weight_bytes());
  counters_.kv_cache_bytes = static_cast<int64_t>(ranks_->kv_cache_bytes());
  stats_.weight_bytes = counters_.weight_bytes;
  stats_.matmul_weight_bytes = counters_.matmul_weight_bytes;
  stats_.kv_cache_bytes = counters_.kv_cache_bytes;
  thread_ = std::thread([this] { loop(); });
}

LlmEngine::~LlmEngine() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

std::shared_ptr<RequestStream> LlmEngine::submit(Request req) {
  const ModelConfig& mc = checkpoint_.config();
  const SamplingParams& p = req.params;
  validate_request(req.prompt_token_ids, p,
                   {mc.vocab_size, mc.max_position_embeddings, config_.max_num_seqs});
  const int prompt_len = static_cast<int>(req.prompt_token_ids.size());
  const int total = prompt_len + p.max_tokens;
  const int64_t blocks = kv_manager_->blocks_needed(total);
  if (blocks > kv_manager_->pool().num_blocks()) {
    throw Error(ErrorCode::kInvalidArgument,
                "the request needs " + std::to_string(blocks) +
                    " KV blocks but the whole cache has " +
                    std::to_string(kv_manager_->pool().num_blocks()),
                "max_tokens");
  }

  // Compiled here, on the submitting thread: a new schema takes milliseconds, which the
  // engine's steps must not wait for. A schema it cannot enforce is refused before queueing.
  std::shared_ptr<const CompiledGrammar> grammar;
  if (p.structured_output) grammar = grammars_->compile(*p.structured_output);

  auto request = std::make_unique<RequestState>();
  RequestState& st = *request;
  st.params = p;
  st.num_prompt_tokens = prompt_len;
  std::lock_guard lock(mu_);
  if (!failure_.empty()) throw Error(ErrorCode::kUnavailable, failure_);
  if (config_.max_queue > 0 &&
      stats_.waiting + static_cast<int64_t>(inbox_.size()) >= config_.max_queue) {
    throw Error(ErrorCode::kResourceExhausted,
                "the waiting queue is full (" + std::to_string(config_.max_queue) + " requests)");
  }
  st.id = req.id.empty() ? "req-" + std::to_string(next_request_number_++) : req.id;
  st.stream = std::make_shared<RequestStream>(st.id, p.n);
  std::random_device rd;
  for (int i = 0; i < p.n; ++i) {
    auto seq = std::make_unique<Sequence>();
    seq->request = &st;
    seq->index = i;
    seq->tokens = req.prompt_token_ids;
    seq->tokens.reserve(static_cast<size_t>(total));
    seq->num_prompt_tokens = prompt_len;
    seq->rng.seed(p.seed ? completion_seed(*p.seed, i)
                         : (static_cast<uint64_t>(rd()) << 32 | rd()));
    seq->detokenizer.emplace(tokenizer_, req.prompt_token_ids);
    if (grammar) seq->matcher.emplace(grammar);
    seq->arrival = std::chrono::steady_clock::now();
    st.seqs.push_back(std::move(seq));
  }
  auto stream = st.stream;
  inbox_.push_back(std::move(request));
  cv_.notify_all();
  return stream;
}

void LlmEngine::abort(const std::string& request_id) {
  {
    std::lock_guard lock(mu_);
    aborts_.push_back(request_id);
  }
  cv_.notify_all();
}

void LlmEngine::abort_all() {
  {
    std::lock_guard lock(mu_);
    abort_all_ = true;
  }
  cv_.notify_all();
}

EngineStats LlmEngine::stats() const {
  std::lock_guard lock(mu_);
  return stats_;
}

void LlmEngine::loop() {
  for (;;) {
    std::vector<std::unique_ptr<RequestState>> inbox;
    std::vector<std::string> aborts;
    {
      std::unique_lock lock(mu_);
      cv_.wait(lock, [&] {
        return stopping_ || abort_all_ || !inbox_.empty() || !aborts_.empty() ||
               scheduler_->has_work();
      });
      if (stopping_) break;
      inbox.swap(inbox_);
      aborts.swap(aborts_);
      if (abort_all_) {
        abort_all_ = false;
        for (auto& r : inbox) aborts.push_back(r->id);
        for (auto& [id, r] : requests_) aborts.push_back(id);
      }
    }
    for (auto& r : inbox) admit(std::move(r));
    for (const std::string& id : aborts) {
      if (auto it = requests_.find(id); it != requests_.end()) abort_request(*it->second);
    }
    if (scheduler_->has_work()) {
      // A step fails only when the model cannot run at all (a tensor-parallel peer went away,
      // a broken invariant): stop here, give every request its finish, refuse new ones.
      try {
        run_step();
      } catch (const std::exception& e) {
        std::lock_guard lock(mu_);
        failure_ = std::string("the engine stopped after a failed step: ") + e.what();
        std::fprintf(stderr, "llm engine: %s\n", failure_.c_str());
        break;
      }
    }
    publish_stats();
  }
  // Shutting down: every open completion, queued or admitted, gets its one finish event. (After
  // a failure submit refuses new requests; on shutdown no caller is left to submit.)
  std::vector<std::unique_ptr<RequestState>> inbox;
  {
    std::lock_guard lock(mu_);
    inbox.swap(inbox_);
  }
  for (auto& r : inbox) admit(std::move(r));
  std::vector<RequestState*> open;
  for (auto& [id, r] : requests_) open.push_back(r.get());
  for (RequestState* r : open) abort_request(*r);
}

void LlmEngine::admit(std::unique_ptr<RequestState> request) {
  RequestState& r = *request;
  for (auto& s : r.seqs) s->seq_id = next_seq_id_++;
  scheduler_->add(r.seqs[0].get());
  // With prefix caching, completions 1..n-1 start once completion 0 has filled the prompt's
  // blocks, and then reuse them instead of computing the prompt n times.
  for (size_t i = 1; i < r.seqs.size(); ++i) {
    if (config_.enable_prefix_caching) {
      r.seqs[i]->status = SeqStatus::kParked;
      r.parked.push_back(r.seqs[i].get());
    } else {
      scheduler_->add(r.seqs[i].get());
    }
  }
  const std::string id = r.id;
  requests_[id] = std::move(request);
}

void LlmEngine::abort_request(RequestState& r) {
  // Finishing the last sequence erases the request: collect first.
  std::vector<Sequence*> live;
  for (auto& s : r.seqs) {
    if (s->status != SeqStatus::kFinished) live.push_back(s.get());
  }
  for (Sequence* s : live) finish(*s, FinishReason::kAbort, CompletionEvent{});
}

void LlmEngine::release_parked(RequestState& r) {
  for (auto it = r.parked.rbegin(); it != r.parked.rend(); ++it)
    scheduler_->add(*it, /*front=*/true);
  r.parked.clear();
}

void LlmEngine::run_step() {
  const SchedulerOutput out = scheduler_->schedule();
  if (out.empty()) return;
  auto context = [&](const Sequence& q) {
    return SamplingContext{
        std::span<const int32_t>(q.tokens).first(static_cast<size_t>(q.num_prompt_tokens)),
        std::span<const int32_t>(q.tokens).subspan(static_cast<size_t>(q.num_prompt_tokens)),
        eos_ids_};
  };
  entries_.clear();
  penalty_ids_.clear();
  penalty_counts_.clear();
  penalty_starts_.clear();
  const auto now = std::chrono::steady_clock::now();
  for (const ScheduledSeq& s : out.scheduled) {
    Sequence& q = *s.seq;
    if (!q.first_scheduled) q.first_scheduled = now;
    // A row that samples greedily from raw logits needs only its argmax: when all do, the
    // runner reads back ids instead of logits.
    const bool greedy =
        s.wants_logits && !q.matcher && Sampler::is_plain_greedy(q.request->params, context(q));
    // longrope switches to its long factors once the sequence is longer than the pretrained
    // context, counting the whole prompt from its first chunk on (transformers prefills it in
    // one forward).
    const int length = std::max(q.num_prompt_tokens, q.num_computed + s.num_tokens);
    const bool long_rope = length > long_rope_after_;
    entries_.push_back({std::span<const int32_t>(q.tokens).subspan(
                            static_cast<size_t>(q.num_computed), static_cast<size_t>(s.num_tokens)),
                        q.num_computed, q.block_table, s.wants_logits, greedy, long_rope});
    // A row the device may sample takes its one draw now; the host uses the same draw if the
    // step comes back as logits, so the generator advances the same either way.
    if (s.wants_logits && !greedy && !q.matcher) {
      if (auto rs = Sampler::device_sampling(q.request->params, context(q))) {
        if (rs->temperature > 0.0) rs->draw = Sampler::uniform(q.rng);
        if (rs->repetition_penalty != 1.0 || rs->presence_penalty != 0.0 ||
            rs->frequency_penalty != 0.0) {
          penalty_starts_.emplace_back(entries_.size() - 1, add_penalty_tokens(q));
        }
        entries_.back().sampling = rs;
      }
    }
    const bool decode = s.num_tokens == 1 && q.num_output_tokens() > 0 &&
                        q.num_computed == static_cast<int>(q.tokens.size()) - 1;
    if (!decode) counters_.prompt_tokens_computed += s.num_tokens;
  }
  // The lists are complete (no more reallocation): point the rows at theirs.
  for (size_t i = 0; i < penalty_starts_.size(); ++i) {
    const auto [entry, begin] = penalty_starts_[i];
    const size_t end =
        i + 1 < penalty_starts_.size() ? penalty_starts_[i + 1].second : penalty_ids_.size();
    RowSampling& rs = *entries_[entry].sampling;
    rs.penalty_ids = std::span<const int32_t>(penalty_ids_).subspan(begin, end - begin);
    rs.penalty_counts = std::span<const int32_t>(penalty_counts_).subspan(begin, end - begin);
  }
  const StepOutput step = ranks_->step(entries_);
  scheduler_->complete_step(out);
  ++counters_.num_steps;

  const size_t vocab = static_cast<size_t>(checkpoint_.config().vocab_size);
  // Structured output: every constrained row's mask at once, in parallel.
  const size_t words = TokenMatcher::mask_words(static_cast<int>(vocab));
  step_matchers_.clear();
  for (const ScheduledSeq& s : out.scheduled) {
    if (s.wants_logits && s.seq->matcher) step_matchers_.push_back(&*s.seq->matcher);
  }
  step_masks_.resize(step_matchers_.size() * words);
  if (!step_matchers_.empty()) {
    const auto mask_start = std::chrono::steady_clock::now();
    TokenMatcher::fill_masks(step_matchers_, step_masks_);
    counters_.grammar_mask_seconds +=
        std::chrono::duration<double>(std::chrono::steady_clock::now() - mask_start).count();
  }
  size_t row = 0, masked_row = 0, entry = 0;
  for (const ScheduledSeq& s : out.scheduled) {
    const BatchEntry& e = entries_[entry++];
    if (!s.wants_logits) continue;
    Sequence& q = *s.seq;
    const SamplingParams& p = q.request->params;
    CompletionEvent ev;
    ev.index = q.index;
    LogprobEntry lp;
    const size_t r = row++;
    SamplingContext ctx = context(q);
    if (q.matcher)
      ctx.allowed = std::span<const uint32_t>(step_masks_).subspan(masked_row++ * words, words);
    const int32_t token =
        !step.ids.empty() ? step.ids[r]
                          : sampler_->sample(step.logits.subspan(r * vocab, vocab), p, ctx, q.rng,
                                             p.logprobs >= 0 || p.track_logprob ? &lp : nullptr,
                                             e.sampling && e.sampling->temperature > 0.0
                                                 ? std::optional(e.sampling->draw)
                                                 : std::nullopt);
    if (!step.ids.empty() && !step.lp_values.empty() && e.sampling && e.sampling->logprobs >= 0) {
      // The device's logprobs: the chosen token's, then the alternatives'.
      const float* v = &step.lp_values[r * (1 + kDeviceTopLogprobs)];
      const int32_t* top = &step.lp_ids[r * kDeviceTopLogprobs];
      lp.sampled = {token, v[0]};
      for (int j = 0; j < std::max(p.logprobs, 0); ++j) lp.top.push_back({top[j], v[1 + j]});
    }
    if (q.matcher && !q.matcher->accept(token)) {
      // The mask allowed it, so the grammar must: a bug, which ends this completion only.
      std::fprintf(stderr, "llm engine: the grammar refused token %d it allowed (request %s)\n",
                   token, q.request->id.c_str());
      finish(q, FinishReason::kAbort, std::move(ev));
      continue;
    }
    q.tokens.push_back(token);
    ++counters_.generation_tokens;
    if (p.track_logprob) q.sum_logprob += lp.sampled.logprob;
    if (p.logprobs >= 0) ev.logprobs.push_back(std::move(lp));
    if (q.index == 0 && !q.request->parked.empty()) release_parked(*q.request);
    if (auto reason = output_->process(q, token, ev)) {
      finish(q, *reason, std::move(ev));
    } else {
      q.request->stream->push(std::move(ev));
    }
  }
}

size_t LlmEngine::add_penalty_tokens(const Sequence& q) {
  const size_t begin = penalty_ids_.size();
  token_counts_.resize(static_cast<size_t>(checkpoint_.config().vocab_size), 0);
  const auto prompt =
      std::span<const int32_t>(q.tokens).first(static_cast<size_t>(q.num_prompt_tokens));
  const auto output =
      std::span<const int32_t>(q.tokens).subspan(static_cast<size_t>(q.num_prompt_tokens));
  // Each token's output count (0 for one only in the prompt); -1 once it is listed.
  for (int32_t id : output) ++token_counts_[static_cast<size_t>(id)];
  for (auto span : {prompt, output}) {
    for (int32_t id : span) {
      int32_t& c = token_counts_[static_cast<size_t>(id)];
      if (c < 0) continue;  // listed already
      penalty_ids_.push_back(id);
      penalty_counts_.push_back(c);
      c = -1;
    }
  }
  for (size_t i = begin; i < penalty_ids_.size(); ++i) {
    token_counts_[static_cast<size_t>(penalty_ids_[i])] = 0;
  }
  return begin;
}

void LlmEngine::finish(Sequence& seq, FinishReason reason, CompletionEvent ev) {
  RequestState& r = *seq.request;
  if (seq.index == 0 && !r.parked.empty()) release_parked(r);
  scheduler_->remove(&seq);
  ev.index = seq.index;
  ev.finish = reason;
  ev.usage.prompt_tokens = seq.num_prompt_tokens;
  ev.usage.completion_tokens = seq.num_output_tokens();
  ev.usage.cached_prompt_tokens = seq.num_cached_prompt_tokens;
  ev.usage.sum_logprob = seq.sum_logprob;
  ev.queue_seconds =
      std::chrono::duration<double>(
          seq.first_scheduled.value_or(std::chrono::steady_clock::now()) - seq.arrival)
          .count();
  r.stream->push(std::move(ev));
  if (++r.num_finished == static_cast<int>(r.seqs.size())) {
    const std::string id = r.id;  // r (and seq) die with the erase
    requests_.erase(id);
  }
}

void LlmEngine::publish_stats() {
  EngineStats s = counters_;
  s.running = scheduler_->num_running();
  s.waiting = scheduler_->num_waiting();
  s.num_preemptions = scheduler_->num_preemptions();
  s.kv_blocks_total = kv_manager_->pool().num_blocks();
  s.kv_blocks_used = kv_manager_->pool().num_used();
  s.prefix_cache_queries = kv_manager_->prefix_queries();
  s.prefix_cache_hits = kv_manager_->prefix_hits();
  std::lock_guard lock(mu_);
  stats_ = s;
}

}  // namespace llm
