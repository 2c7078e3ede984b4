#include "engine/parallel/in_process_communicator.h"

#include <cstring>

namespace llm {

InProcessCommunicator::Group::Group(int size)
    : size_(size), barrier_(size), published_(static_cast<size_t>(size), nullptr) {}

InProcessCommunicator::InProcessCommunicator(std::shared_ptr<Group> group, int rank)
    : group_(std::move(group)), rank_(rank) {}

std::vector<std::unique_ptr<Communicator>> InProcessCommunicator::create_group(int size) {
  auto group = std::make_shared<Group>(size);
  std::vector<std::unique_ptr<Communicator>> ranks;
  for (int r = 0; r < size; ++r) ranks.push_back(std::make_unique<InProcessCommunicator>(group, r));
  return ranks;
}

// Each collective: publish a pointer, wait until all have, read the others, wait until all have
// read (so no rank overwrites or republishes a buffer another still reads).
void InProcessCommunicator::all_reduce_sum(float* data, size_t count) {
  Group& g = *group_;
  g.published_[static_cast<size_t>(rank_)] = data;
  g.barrier_.arrive_and_wait();
  // Every rank sums all contributions itself, in rank order: identical bits everywhere.
  if (sum_.size() < count) sum_.resize(count);
  std::memcpy(sum_.data(), g.published_[0], count * sizeof(float));
  for (int r = 1; r < g.size(); ++r) {
    const auto* src = static_cast<const float*>(g.published_[static_cast<size_t>(r)]);
    for (size_t i = 0; i < count; ++i) sum_[i] += src[i];
  }
  g.barrier_.arrive_and_wait();
  std::memcpy(data, sum_.data(), count * sizeof(float));
}

void InProcessCommunicator::all_gather(const float* in, size_t count, float* out) {
  Group& g = *group_;
  g.published_[static_cast<size_t>(rank_)] = in;
  g.barrier_.arrive_and_wait();
  for (int r = 0; r < g.size(); ++r) {
    std::memcpy(out + static_cast<size_t>(r) * count, g.published_[static_cast<size_t>(r)],
                count * sizeof(float));
  }
  g.barrier_.arrive_and_wait();
}

void InProcessCommunicator::broadcast(void* data, size_t bytes, int root) {
  Group& g = *group_;
  g.published_[static_cast<size_t>(rank_)] = data;
  g.barrier_.arrive_and_wait();
  if (rank_ != root) std::memcpy(data, g.published_[static_cast<size_t>(root)], bytes);
  g.barrier_.arrive_and_wait();
}

}  // namespace llm
