#include "engine/parallel/tensor_parallel_executor.h"

#include <exception>

#include "engine/parallel/in_process_communicator.h"
#include "llm/error.h"

namespace llm {

TensorParallelExecutor::TensorParallelExecutor(const Checkpoint& ck, const Options& o,
                                               const BackendFactory& make_backend)
    : step_(o.size) {
  // Validate the split for every rank before allocating anything.
  for (int r = 0; r < o.size; ++r) TensorParallelShard::make(ck.config(), r, o.size);
  auto comms = InProcessCommunicator::create_group(o.size);
  for (int r = 0; r < o.size; ++r) {
    auto rank = std::make_unique<Rank>();
    rank->comm = std::move(comms[static_cast<size_t>(r)]);
    rank->backend = make_backend(r, rank->comm.get());
    rank->model = std::make_unique<LlamaModel>(*rank->backend, ck, o.weight_dtype, r, o.size);
    rank->cache = std::make_unique<KvCache>(*rank->backend, rank->model->local_config(),
                                            o.num_blocks, o.block_size, o.kv_dtype);
    rank->runner = std::make_unique<ModelRunner>(*rank->backend, *rank->model, *rank->cache,
                                                 o.max_num_tokens, o.max_num_seqs);
    ranks_.push_back(std::move(rank));
  }
  for (size_t r = 1; r < ranks_.size(); ++r) {
    threads_.emplace_back([this, r] { worker(*ranks_[r]); });
  }
}

TensorParallelExecutor::~TensorParallelExecutor() {
  stop_ = true;
  step_.arrive_and_wait();
  for (std::thread& t : threads_) t.join();
}

void TensorParallelExecutor::worker(Rank& rank) {
  for (;;) {
    step_.arrive_and_wait();  // publishes batch_ / stop_ written by rank 0 before it arrived
    if (stop_) return;
    // Every rank runs the same code on the same batch, so an llm::Error (a malformed batch)
    // is thrown on all of them at the same point, and rank 0 reports it to the engine. Anything
    // else would leave the others waiting in a collective: a broken invariant.
    try {
      rank.runner->execute(batch_);
    } catch (const Error&) {
    } catch (...) {
      std::terminate();
    }
  }
}

std::span<const float> TensorParallelExecutor::execute(std::span<const BatchEntry> batch) {
  batch_ = batch;
  step_.arrive_and_wait();
  return ranks_[0]->runner->execute(batch);
}

}  // namespace llm
