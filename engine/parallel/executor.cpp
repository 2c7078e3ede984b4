#include "engine/parallel/executor.h"

#include <algorithm>
#include <exception>

#include "llm/error.h"

namespace llm {
namespace {

// A step crosses as two broadcasts from rank 0: its length, then its words.
void send_message(Communicator& comm, std::vector<int32_t>& message) {
  int64_t n = static_cast<int64_t>(message.size());
  comm.broadcast(&n, sizeof n, 0);
  comm.broadcast(message.data(), message.size() * sizeof(int32_t), 0);
}

void receive_message(Communicator& comm, std::vector<int32_t>& message) {
  int64_t n = 0;
  comm.broadcast(&n, sizeof n, 0);
  message.resize(static_cast<size_t>(n));
  comm.broadcast(message.data(), message.size() * sizeof(int32_t), 0);
}

}  // namespace

void encode_step(std::span<const BatchEntry> batch, std::vector<int32_t>& out) {
  out.clear();
  out.push_back(static_cast<int32_t>(batch.size()));
  for (const BatchEntry& e : batch) {
    out.insert(out.end(), {static_cast<int32_t>(e.tokens.size()), e.num_computed,
                           static_cast<int32_t>(e.block_table.size()),
                           (e.wants_logits ? 1 : 0) | (e.long_rope ? 2 : 0)});
    out.insert(out.end(), e.tokens.begin(), e.tokens.end());
    out.insert(out.end(), e.block_table.begin(), e.block_table.end());
  }
}

bool decode_step(const std::vector<int32_t>& m, std::vector<BatchEntry>& entries) {
  entries.clear();
  if (m.empty() || m[0] < 0) return false;
  size_t at = 1;
  auto need = [&](size_t words) {
    if (at + words > m.size()) throw Error(ErrorCode::kInternal, "truncated tensor-parallel step");
  };
  for (int32_t i = 0; i < m[0]; ++i) {
    need(4);
    const auto n = static_cast<size_t>(m[at]), blocks = static_cast<size_t>(m[at + 2]);
    BatchEntry e;
    e.num_computed = m[at + 1];
    e.wants_logits = (m[at + 3] & 1) != 0;
    e.long_rope = (m[at + 3] & 2) != 0;
    at += 4;
    need(n + blocks);
    e.tokens = std::span<const int32_t>(m).subspan(at, n);
    e.block_table = std::span<const int32_t>(m).subspan(at + n, blocks);
    at += n + blocks;
    entries.push_back(e);
  }
  return true;
}

Executor::Executor(const Checkpoint& ck, const Options& o,
                   std::vector<std::unique_ptr<Communicator>> comms,
                   const BackendFactory& make_backend) {
  // Validate the split for every local rank before allocating anything.
  for (const auto& c : comms) {
    if (c) TensorParallelShard::make(ck.config(), c->rank(), c->size());
  }
  for (auto& c : comms) {
    auto rank = std::make_unique<Rank>();
    rank->comm = std::move(c);
    rank->backend = make_backend(rank->comm.get());
    rank->model = std::make_unique<LlamaModel>(*rank->backend, ck, o.weight_dtype,
                                               rank->comm ? rank->comm->rank() : 0, rank->size(),
                                               o.quantize_to);
    // Scratch for the largest step before the pool, so a device budget accounts for it.
    const ModelConfig& local = rank->model->local_config();
    rank->backend->reserve_workspace(
        {o.max_num_tokens,
         std::max<int64_t>({local.hidden_size, local.q_size(), local.intermediate_size}),
         o.max_num_seqs, local.max_position_embeddings, local.num_heads, local.head_dim});
    ranks_.push_back(std::move(rank));
  }
  num_blocks_ = size_pool(o);
  for (const auto& rank : ranks_) {
    rank->cache = std::make_unique<KvCache>(*rank->backend, rank->model->local_config(),
                                            static_cast<int>(num_blocks_), o.block_size,
                                            rank->backend->kv_cache_dtype(o.weight_dtype));
    rank->runner = std::make_unique<ModelRunner>(*rank->backend, *rank->model, *rank->cache,
                                                 o.max_num_tokens, o.max_num_seqs, o.cuda_graphs);
  }
  driver_ = !ranks_.empty() && (!ranks_[0]->comm || ranks_[0]->comm->rank() == 0);
  for (size_t i = 1; i < ranks_.size() && driver_; ++i) {
    threads_.emplace_back([this, i] { worker(*ranks_[i]); });
  }
}

size_t Executor::weight_bytes() const {
  size_t total = 0;
  for (const auto& rank : ranks_) total += rank->model->weight_bytes();
  return total;
}

size_t Executor::kv_cache_bytes() const {
  size_t total = 0;
  for (const auto& rank : ranks_) total += rank->cache->bytes();
  return total;
}

size_t Executor::matmul_weight_bytes() const {
  size_t total = 0;
  for (const auto& rank : ranks_) total += rank->model->matmul_weight_bytes();
  return total;
}

int64_t Executor::size_pool(const Options& o) const {
  if (o.num_blocks > 0) return o.num_blocks;
  // Every rank's share of a block is the same size (heads split evenly, or replicated).
  int64_t blocks = 0;
  for (const auto& rank : ranks_) {
    const DType kv = rank->backend->kv_cache_dtype(o.weight_dtype);
    const int64_t fits = o.size_pool(
        *rank->backend, KvCache::bytes_per_block(rank->model->local_config(), o.block_size, kv));
    blocks = blocks == 0 ? fits : std::min(blocks, fits);
  }
  // A process holding one rank of a group spread over processes: each rank in turn tells the
  // others what it holds, and all take the smallest.
  if (ranks_.size() == 1 && ranks_[0]->size() > 1) {
    Communicator& comm = *ranks_[0]->comm;
    int64_t smallest = blocks;
    for (int root = 0; root < comm.size(); ++root) {
      int64_t theirs = blocks;
      comm.broadcast(&theirs, sizeof theirs, root);
      smallest = std::min(smallest, theirs);
    }
    blocks = smallest;
  }
  return blocks;
}

Executor::~Executor() {
  if (driver_ && ranks_[0]->size() > 1) {
    message_.assign(1, -1);
    try {
      send_message(*ranks_[0]->comm, message_);
    } catch (const Error&) {
      // A remote rank already gone: nothing left to stop there.
    }
  }
  for (std::thread& t : threads_) t.join();
}

void Executor::worker(Rank& rank) {
  // Both reused every step: no allocation once the largest step has been seen.
  std::vector<int32_t> message;
  std::vector<BatchEntry> batch;
  for (;;) {
    receive_message(*rank.comm, message);
    if (!decode_step(message, batch)) return;
    // Every rank runs the same code on the same batch, so an llm::Error (a malformed batch) is
    // thrown on all of them at the same point, and the driver reports it. Anything else would
    // leave the others waiting in a collective: a broken invariant.
    try {
      rank.runner->execute(batch);
    } catch (const Error&) {
    } catch (...) {
      std::terminate();
    }
  }
}

void Executor::serve() {
  if (driver_ || ranks_.size() != 1) {
    throw Error(ErrorCode::kInternal, "serve() is for a process holding one non-driver rank");
  }
  worker(*ranks_[0]);
}

StepOutput Executor::step(std::span<const BatchEntry> batch) {
  Rank& driver = *ranks_[0];
  if (driver.size() > 1) {
    encode_step(batch, message_);
    send_message(*driver.comm, message_);
  }
  return driver.runner->step(batch);
}

}  // namespace llm
