// InProcessCommunicator: ranks are threads of one process sharing memory. A Group holds what
// the ranks share; each rank gets its own communicator bound to its index. The CPU backend and
// the emulator's tensor-parallel runs use it.
#pragma once

#include <barrier>
#include <memory>
#include <vector>

#include "engine/parallel/communicator.h"

namespace llm {

class InProcessCommunicator final : public Communicator {
 public:
  // State shared by the `size` ranks of one group.
  class Group {
   public:
    explicit Group(int size);
    int size() const { return size_; }

   private:
    friend class InProcessCommunicator;
    int size_;
    std::barrier<> barrier_;
    std::vector<const void*> published_;  // one pointer per rank for the current collective
  };

  // `group` must outlive the communicator; every rank in [0, group.size()) needs one.
  InProcessCommunicator(std::shared_ptr<Group> group, int rank);

  int rank() const override { return rank_; }
  int size() const override { return group_->size(); }
  void all_reduce_sum(float* data, size_t count) override;
  void all_gather(const float* in, size_t count, float* out) override;
  void broadcast(void* data, size_t bytes, int root) override;

  // One communicator per rank of a new group.
  static std::vector<std::unique_ptr<Communicator>> create_group(int size);

 private:
  std::shared_ptr<Group> group_;
  int rank_;
  std::vector<float> sum_;  // this rank's reduction result, grown once
};

}  // namespace llm
