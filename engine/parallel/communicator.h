// Communicator: the collectives tensor-parallel ranks use to act as one model (Megatron-style:
// partial sums after row-parallel projections, gathers of vocabulary shards). Every rank calls
// the same collectives in the same order; each call returns once every rank has taken part.
// Buffers are host memory (the CPU backend's); the CUDA backend uses NCCL instead.
#pragma once

#include <cstddef>
#include <cstdint>

namespace llm {

class Communicator {
 public:
  virtual ~Communicator() = default;
  virtual int rank() const = 0;
  virtual int size() const = 0;

  // data[i] = sum over ranks r = 0, 1, ... (in that order, so every rank gets the same bits).
  virtual void all_reduce_sum(float* data, size_t count) = 0;
  // out[r * count + i] = rank r's in[i]; out holds size() * count floats.
  virtual void all_gather(const float* in, size_t count, float* out) = 0;
  // Every rank's data becomes root's (bytes must agree across ranks).
  virtual void broadcast(void* data, size_t bytes, int root) = 0;
};

}  // namespace llm
