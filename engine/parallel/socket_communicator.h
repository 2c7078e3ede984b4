// SocketCommunicator: tensor-parallel ranks in separate processes (or machines) over TCP, the
// multi-node path of the CPU backend. Rank 0 listens on the master address; the other ranks
// connect to it and introduce themselves (the rendezvous a NCCL unique id exchange would use).
// Collectives go through rank 0 (a star): it sums or assembles in rank order and sends the
// result back, so every rank gets the same bits as with the in-process communicator.
#pragma once

#include <chrono>
#include <string>
#include <vector>

#include "engine/parallel/communicator.h"

namespace llm {

class SocketCommunicator final : public Communicator {
 public:
  // "HOST:PORT". Rank 0 binds it and waits for size - 1 ranks; the others retry connecting
  // until `timeout`. Throws llm::Error (kUnavailable) naming the address and what failed.
  SocketCommunicator(int rank, int size, const std::string& master,
                     std::chrono::seconds timeout = std::chrono::seconds(120));
  ~SocketCommunicator() override;
  SocketCommunicator(const SocketCommunicator&) = delete;
  SocketCommunicator& operator=(const SocketCommunicator&) = delete;

  int rank() const override { return rank_; }
  int size() const override { return size_; }
  void all_reduce_sum(float* data, size_t count) override;
  void all_gather(const float* in, size_t count, float* out) override;
  void broadcast(void* data, size_t bytes, int root) override;

  // The port rank 0 listens on (useful when the master address asked for port 0).
  int port() const { return port_; }

 private:
  void send_all(int fd, const void* data, size_t bytes);
  void recv_all(int fd, void* data, size_t bytes);

  int rank_, size_, port_ = 0;
  std::vector<int> peers_;  // rank 0: socket of rank r at [r] (-1 at [0]); others: [0] only
  std::vector<float> scratch_;
};

// Splits "HOST:PORT"; throws llm::Error (kInvalidArgument) on anything else.
std::pair<std::string, int> parse_host_port(const std::string& address);

}  // namespace llm
