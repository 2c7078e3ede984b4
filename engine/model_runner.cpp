#include "engine/model_runner.h"

#include <algorithm>

#include "llm/error.h"

namespace llm {
namespace {

OwnedTensor make_i32(Backend& be, int64_t n) {
  OwnedTensor t;
  t.buffer = be.alloc(static_cast<size_t>(n) * sizeof(int32_t));
  t.tensor = t.buffer.view(DType::kI32, {n});
  return t;
}

Tensor prefix(const OwnedTensor& t, int64_t n) {
  return t.tensor.rows(0, n);
}

}  // namespace

ModelRunner::ModelRunner(Backend& backend, const LlamaModel& model, const KvCache& cache,
                         int max_num_tokens, int max_num_seqs, bool cuda_graphs)
    : backend_(&backend),
      model_(&model),
      cache_(&cache),
      max_num_tokens_(max_num_tokens),
      max_num_seqs_(max_num_seqs),
      max_blocks_per_seq_((model.config().max_position_embeddings + cache.block_size() - 1) /
                          cache.block_size()),
      vocab_(model.config().vocab_size),
      cuda_graphs_(cuda_graphs),
      shard_(model.shard()),
      ws_(model.make_workspace(max_num_tokens)) {
  ids_ = make_i32(backend, max_num_tokens);
  positions_ = make_i32(backend, max_num_tokens);
  slots_ = make_i32(backend, max_num_tokens);
  query_start_ = make_i32(backend, max_num_seqs + 1);
  seq_lens_ = make_i32(backend, max_num_seqs);
  block_tables_.buffer = backend.alloc(static_cast<size_t>(max_num_seqs) * max_blocks_per_seq_ * 4);
  block_tables_.tensor =
      block_tables_.buffer.view(DType::kI32, {max_num_seqs, max_blocks_per_seq_});
  logits_indices_ = make_i32(backend, max_num_seqs);
  argmax_ = make_i32(backend, max_num_seqs);
  h_argmax_ = HostArray<int32_t>(backend, static_cast<size_t>(max_num_seqs));
  h_argmax_.assign(h_argmax_.capacity(), 0);
  const int64_t local_vocab = shard_.vocab_rows;
  logits_.buffer = backend.alloc(static_cast<size_t>(max_num_seqs * local_vocab) * sizeof(float));
  logits_.tensor = logits_.buffer.view(DType::kF32, {max_num_seqs, local_vocab});
  if (shard_.size > 1) {
    const int64_t per_rank = max_num_seqs * local_vocab;
    gathered_.buffer = backend.alloc(static_cast<size_t>(shard_.size * per_rank) * sizeof(float));
    gathered_.tensor = gathered_.buffer.view(DType::kF32, {shard_.size, per_rank});
    h_gathered_ = HostArray<float>(backend, static_cast<size_t>(shard_.size * per_rank));
    h_gathered_.assign(h_gathered_.capacity(), 0.0f);
  }
  const auto tokens = static_cast<size_t>(max_num_tokens), seqs = static_cast<size_t>(max_num_seqs);
  h_ids_ = HostArray<int32_t>(backend, tokens);
  h_positions_ = HostArray<int32_t>(backend, tokens);
  h_slots_ = HostArray<int32_t>(backend, tokens);
  h_query_start_ = HostArray<int32_t>(backend, seqs + 1);
  h_seq_lens_ = HostArray<int32_t>(backend, seqs);
  h_logits_indices_ = HostArray<int32_t>(backend, seqs);
  h_tables_ = HostArray<int32_t>(backend, seqs * static_cast<size_t>(max_blocks_per_seq_));
  h_tables_.assign(h_tables_.capacity(), 0);
  h_logits_ = HostArray<float>(backend, seqs * static_cast<size_t>(vocab_));
  h_logits_.assign(h_logits_.capacity(), 0.0f);
  lp_values_.buffer = backend.alloc(seqs * (1 + kDeviceTopLogprobs) * sizeof(float));
  lp_values_.tensor = lp_values_.buffer.view(DType::kF32, {max_num_seqs, 1 + kDeviceTopLogprobs});
  lp_ids_.buffer = backend.alloc(seqs * kDeviceTopLogprobs * sizeof(int32_t));
  lp_ids_.tensor = lp_ids_.buffer.view(DType::kI32, {max_num_seqs, kDeviceTopLogprobs});
  h_lp_values_ = HostArray<float>(backend, seqs * (1 + kDeviceTopLogprobs));
  h_lp_ids_ = HostArray<int32_t>(backend, seqs * kDeviceTopLogprobs);
}

Tensor ModelRunner::run(std::span<const BatchEntry> batch) {
  const int num_seqs = static_cast<int>(batch.size());
  if (num_seqs == 0 || num_seqs > max_num_seqs_) {
    throw Error(ErrorCode::kInternal, "step with " + std::to_string(num_seqs) +
                                          " sequences (limit " + std::to_string(max_num_seqs_) +
                                          ")");
  }
  const int bs = cache_->block_size();
  h_ids_.clear();
  h_positions_.clear();
  h_slots_.clear();
  h_query_start_.assign(1, 0);
  h_seq_lens_.clear();
  h_logits_indices_.clear();
  int max_seq_len = 0, max_query_len = 0;
  for (int s = 0; s < num_seqs; ++s) {
    const BatchEntry& e = batch[static_cast<size_t>(s)];
    const int n = static_cast<int>(e.tokens.size());
    const int len = e.num_computed + n;
    const int blocks_needed = (len + bs - 1) / bs;
    if (n == 0 || static_cast<int>(e.block_table.size()) < blocks_needed ||
        blocks_needed > max_blocks_per_seq_ ||
        static_cast<int>(h_ids_.size()) + n > max_num_tokens_) {
      throw Error(ErrorCode::kInternal, "malformed batch entry " + std::to_string(s) + " (" +
                                            std::to_string(n) + " tokens, " +
                                            std::to_string(e.block_table.size()) + " blocks)");
    }
    for (int i = 0; i < n; ++i) {
      const int pos = e.num_computed + i;
      const int32_t id = e.tokens[static_cast<size_t>(i)];
      // A split embedding holds rows [vocab_begin, +vocab_valid): ids elsewhere read as zeros.
      const int64_t local = id - shard_.vocab_begin;
      h_ids_.push_back(local >= 0 && local < shard_.vocab_valid ? static_cast<int32_t>(local) : -1);
      h_positions_.push_back(pos + (e.long_rope ? model_->rope_long_offset() : 0));
      h_slots_.push_back(e.block_table[static_cast<size_t>(pos / bs)] * bs + pos % bs);
    }
    std::copy(e.block_table.begin(), e.block_table.begin() + blocks_needed,
              h_tables_.begin() + static_cast<ptrdiff_t>(s) * max_blocks_per_seq_);
    h_query_start_.push_back(static_cast<int32_t>(h_ids_.size()));
    h_seq_lens_.push_back(len);
    if (e.wants_logits) h_logits_indices_.push_back(static_cast<int32_t>(h_ids_.size()) - 1);
    max_seq_len = std::max(max_seq_len, len);
    max_query_len = std::max(max_query_len, n);
  }
  // A graphed decode step runs a fixed shape: `bucket` rows, the extra ones reading one cached
  // key of their table's first block and writing nothing (slot -1), and attention launched for
  // a context bucket (below). Their logits are computed and never read.
  const int bucket = graph_bucket(batch);
  for (int s = num_seqs; s < bucket; ++s) {
    h_ids_.push_back(-1);
    h_positions_.push_back(0);
    h_slots_.push_back(-1);
    h_query_start_.push_back(static_cast<int32_t>(h_ids_.size()));
    h_seq_lens_.push_back(1);
    h_logits_indices_.push_back(s);
    h_tables_[static_cast<size_t>(s) * max_blocks_per_seq_] = 0;
  }
  const int rows = std::max(num_seqs, bucket);
  // The context bucket: the smallest power of two from 256 tokens that covers the batch's
  // longest sequence (capped at the model's window), so a 128k-context model does not launch
  // attention grids sized for its whole window on every decode step. One graph per (rows,
  // context bucket); the kernels read each row's real length from seq_lens.
  int context_bucket = 0;
  if (bucket > 0) {
    context_bucket = 256;
    while (context_bucket < max_seq_len) context_bucket *= 2;
    context_bucket = std::min(context_bucket, model_->config().max_position_embeddings);
    max_seq_len = std::max(max_seq_len, context_bucket);
  }
  const int64_t T = static_cast<int64_t>(h_ids_.size());
  const int64_t L = static_cast<int64_t>(h_logits_indices_.size());

  Backend& be = *backend_;
  StepInputs in;
  in.token_ids = prefix(ids_, T);
  in.positions = prefix(positions_, T);
  in.slot_mapping = prefix(slots_, T);
  in.logits_indices = prefix(logits_indices_, L);
  in.attn.query_start = prefix(query_start_, rows + 1);
  in.attn.seq_lens = prefix(seq_lens_, rows);
  in.attn.block_tables = block_tables_.tensor.rows(0, rows);
  in.attn.num_seqs = rows;
  in.attn.max_seq_len = max_seq_len;
  in.attn.max_query_len = max_query_len;
  be.copy_from_host(in.token_ids, h_ids_.data());
  be.copy_from_host(in.positions, h_positions_.data());
  be.copy_from_host(in.slot_mapping, h_slots_.data());
  be.copy_from_host(in.logits_indices, h_logits_indices_.data());
  be.copy_from_host(in.attn.query_start, h_query_start_.data());
  be.copy_from_host(in.attn.seq_lens, h_seq_lens_.data());
  be.copy_from_host(in.attn.block_tables, h_tables_.data());

  Tensor logits = logits_.tensor.rows(0, L);
  auto forward = [&] { model_->forward(in, *cache_, ws_, logits); };
  if (bucket > 0 && be.replay_graph((int64_t{bucket} << 32) | context_bucket, forward)) {
    ++graphed_steps_;
  } else {
    forward();
  }
  return logits.rows(0, L - (rows - num_seqs));
}

int ModelRunner::graph_bucket(std::span<const BatchEntry> batch) const {
  if (!cuda_graphs_) return 0;
  for (const BatchEntry& e : batch) {
    if (e.tokens.size() != 1 || !e.wants_logits) return 0;
  }
  const int n = static_cast<int>(batch.size());
  int bucket = 1;
  while (bucket < n) bucket *= 2;
  bucket = std::min(bucket, max_num_seqs_);
  return bucket <= max_num_tokens_ ? bucket : 0;
}

std::span<const float> ModelRunner::execute(std::span<const BatchEntry> batch) {
  Backend& be = *backend_;
  const Tensor logits = run(batch);
  const int64_t L = logits.size(0);
  if (shard_.size == 1) {
    be.copy_to_host(h_logits_.data(), logits);
    be.synchronize();
    return {h_logits_.data(), static_cast<size_t>(L * vocab_)};
  }
  // Every rank's [L, vocab_rows] block, then columns put back in vocabulary order (the last
  // shard's padding rows dropped).
  const int64_t Vl = shard_.vocab_rows, block = L * Vl;
  Tensor gathered = gathered_.buffer.view(DType::kF32, {shard_.size, block});
  be.all_gather(logits, gathered);
  be.copy_to_host(h_gathered_.data(), gathered);
  be.synchronize();
  for (int r = 0; r < shard_.size; ++r) {
    const int64_t begin = r * Vl, valid = std::clamp<int64_t>(vocab_ - begin, 0, Vl);
    for (int64_t l = 0; l < L; ++l) {
      std::copy_n(h_gathered_.begin() + r * block + l * Vl, valid,
                  h_logits_.begin() + l * vocab_ + begin);
    }
  }
  return {h_logits_.data(), static_cast<size_t>(L * vocab_)};
}

std::span<const int32_t> ModelRunner::execute_greedy(std::span<const BatchEntry> batch) {
  Backend& be = *backend_;
  int64_t L = 0;
  if (shard_.size == 1) {
    const Tensor logits = run(batch);
    L = logits.size(0);
    const Tensor ids = prefix(argmax_, L);
    if (be.argmax(logits, ids)) {
      be.copy_to_host(h_argmax_.data(), ids);
      be.synchronize();
      return {h_argmax_.data(), static_cast<size_t>(L)};
    }
    be.copy_to_host(h_logits_.data(), logits);
    be.synchronize();
  } else {
    // A split model's ranks all gather the logits, as in execute.
    L = static_cast<int64_t>(execute(batch).size()) / vocab_;
  }
  for (int64_t l = 0; l < L; ++l) {
    const auto row = h_logits_.begin() + l * vocab_;
    // The first of equal maxima, as the sampler and the device kernel pick.
    h_argmax_[static_cast<size_t>(l)] =
        static_cast<int32_t>(std::max_element(row, row + vocab_) - row);
  }
  return {h_argmax_.data(), static_cast<size_t>(L)};
}

StepOutput ModelRunner::step(std::span<const BatchEntry> batch) {
  const bool greedy = std::all_of(batch.begin(), batch.end(),
                                  [](const BatchEntry& e) { return e.greedy || !e.wants_logits; });
  if (greedy) return {{}, execute_greedy(batch)};
  const bool device =
      shard_.size == 1 && std::all_of(batch.begin(), batch.end(), [](const auto& e) {
        return e.greedy || e.sampling || !e.wants_logits;
      });
  if (!device) return {execute(batch), {}};
  Backend& be = *backend_;
  const Tensor logits = run(batch);
  const int64_t L = logits.size(0);
  rows_.clear();
  for (const BatchEntry& e : batch) {
    if (e.wants_logits) rows_.push_back(e.greedy ? RowSampling{} : *e.sampling);
  }
  const Tensor ids = prefix(argmax_, L);
  const Tensor lp_values = prefix(lp_values_, L), lp_ids = prefix(lp_ids_, L);
  if (be.sample(logits, rows_, ids, lp_values, lp_ids)) {
    be.copy_to_host(h_argmax_.data(), ids);
    StepOutput out{{}, {h_argmax_.data(), static_cast<size_t>(L)}, {}, {}};
    if (std::any_of(rows_.begin(), rows_.end(), [](const auto& r) { return r.logprobs >= 0; })) {
      be.copy_to_host(h_lp_values_.data(), lp_values);
      be.copy_to_host(h_lp_ids_.data(), lp_ids);
      out.lp_values = {h_lp_values_.data(), static_cast<size_t>(L) * (1 + kDeviceTopLogprobs)};
      out.lp_ids = {h_lp_ids_.data(), static_cast<size_t>(L) * kDeviceTopLogprobs};
    }
    be.synchronize();
    return out;
  }
  be.copy_to_host(h_logits_.data(), logits);
  be.synchronize();
  return {{h_logits_.data(), static_cast<size_t>(L * vocab_)}, {}};
}

}  // namespace llm
