#include "engine/parallel/socket_communicator.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <thread>

#include "llm/error.h"

namespace llm {
namespace {

constexpr uint32_t kMagic = 0x4c4c4d54;  // "LLMT": a tensor-parallel peer, protocol version 1
constexpr uint32_t kVersion = 1;

[[noreturn]] void fail(const std::string& what) {
  throw Error(ErrorCode::kUnavailable,
              "tensor-parallel rendezvous: " + what + ": " + std::strerror(errno));
}

void set_nodelay(int fd) {
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);  // small messages every layer
}

struct Hello {
  uint32_t magic, version;
  int32_t rank, size;
};

}  // namespace

std::pair<std::string, int> parse_host_port(const std::string& address) {
  const size_t colon = address.rfind(':');
  int port = -1;
  if (colon != std::string::npos && colon > 0) {
    try {
      size_t used = 0;
      port = std::stoi(address.substr(colon + 1), &used);
      if (used != address.size() - colon - 1) port = -1;
    } catch (const std::exception&) {
      port = -1;
    }
  }
  if (port < 0 || port > 65535) {
    throw Error(ErrorCode::kInvalidArgument,
                "--tp-master must be HOST:PORT, got '" + address + "'");
  }
  return {address.substr(0, colon), port};
}

SocketCommunicator::SocketCommunicator(int rank, int size, const std::string& master,
                                       std::chrono::seconds timeout)
    : rank_(rank), size_(size), peers_(static_cast<size_t>(size), -1) {
  if (size < 2 || rank < 0 || rank >= size) {
    throw Error(ErrorCode::kInvalidArgument, "tensor-parallel rank " + std::to_string(rank) +
                                                 " of " + std::to_string(size) + " is invalid");
  }
  const auto [host, port] = parse_host_port(master);
  addrinfo hints{};
  hints.ai_family = AF_INET;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  if (getaddrinfo(host.c_str(), std::to_string(port).c_str(), &hints, &res) != 0 || !res) {
    throw Error(ErrorCode::kInvalidArgument, "--tp-master: cannot resolve '" + host + "'");
  }
  sockaddr_in addr{};
  std::memcpy(&addr, res->ai_addr, sizeof addr);
  freeaddrinfo(res);
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  const std::string where = host + ":" + std::to_string(port);

  if (rank == 0) {
    const int listener = socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (bind(listener, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
        listen(listener, size) != 0) {
      close(listener);
      fail("cannot listen on " + where);
    }
    socklen_t len = sizeof addr;
    getsockname(listener, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
    for (int joined = 1; joined < size;) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      pollfd p{listener, POLLIN, 0};
      if (left.count() <= 0 || poll(&p, 1, static_cast<int>(left.count())) <= 0) {
        close(listener);
        errno = ETIMEDOUT;
        fail("only " + std::to_string(joined - 1) + " of " + std::to_string(size - 1) +
             " ranks joined " + where + " in time");
      }
      const int fd = accept(listener, nullptr, nullptr);
      if (fd < 0) continue;
      Hello h{};
      recv_all(fd, &h, sizeof h);
      if (h.magic != kMagic || h.version != kVersion || h.size != size || h.rank < 1 ||
          h.rank >= size || peers_[static_cast<size_t>(h.rank)] != -1) {
        close(fd);  // not one of ours, or a duplicate: keep waiting for the real ranks
        continue;
      }
      set_nodelay(fd);
      peers_[static_cast<size_t>(h.rank)] = fd;
      ++joined;
    }
    close(listener);
    // Everyone is here: tell them so, in rank order, so no rank starts early.
    for (int r = 1; r < size; ++r) send_all(peers_[static_cast<size_t>(r)], &kMagic, sizeof kMagic);
  } else {
    port_ = port;
    for (;;) {
      const int fd = socket(AF_INET, SOCK_STREAM, 0);
      if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0) {
        set_nodelay(fd);
        peers_[0] = fd;
        break;
      }
      close(fd);
      if (std::chrono::steady_clock::now() > deadline) fail("cannot reach rank 0 at " + where);
      std::this_thread::sleep_for(std::chrono::milliseconds(100));  // rank 0 may still be loading
    }
    const Hello h{kMagic, kVersion, rank, size};
    send_all(peers_[0], &h, sizeof h);
    uint32_t go = 0;
    recv_all(peers_[0], &go, sizeof go);
    if (go != kMagic) fail("rank 0 at " + where + " answered with something else");
  }
}

SocketCommunicator::~SocketCommunicator() {
  for (int fd : peers_) {
    if (fd >= 0) close(fd);
  }
}

void SocketCommunicator::send_all(int fd, const void* data, size_t bytes) {
  const auto* p = static_cast<const char*>(data);
  while (bytes > 0) {
    const ssize_t n = send(fd, p, bytes, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) fail("a peer went away");
    p += n;
    bytes -= static_cast<size_t>(n);
  }
}

void SocketCommunicator::recv_all(int fd, void* data, size_t bytes) {
  auto* p = static_cast<char*>(data);
  while (bytes > 0) {
    const ssize_t n = recv(fd, p, bytes, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      if (n == 0) errno = ECONNRESET;
      fail("a peer went away");
    }
    p += n;
    bytes -= static_cast<size_t>(n);
  }
}

void SocketCommunicator::all_reduce_sum(float* data, size_t count) {
  const size_t bytes = count * sizeof(float);
  if (rank_ != 0) {
    send_all(peers_[0], data, bytes);
    recv_all(peers_[0], data, bytes);
    return;
  }
  // The same order as the in-process communicator: rank 0's values, then rank 1's, ...
  if (scratch_.size() < count) scratch_.resize(count);
  for (int r = 1; r < size_; ++r) {
    recv_all(peers_[static_cast<size_t>(r)], scratch_.data(), bytes);
    for (size_t i = 0; i < count; ++i) data[i] += scratch_[i];
  }
  for (int r = 1; r < size_; ++r) send_all(peers_[static_cast<size_t>(r)], data, bytes);
}

void SocketCommunicator::all_gather(const float* in, size_t count, float* out) {
  const size_t bytes = count * sizeof(float);
  if (rank_ != 0) {
    send_all(peers_[0], in, bytes);
    recv_all(peers_[0], out, bytes * static_cast<size_t>(size_));
    return;
  }
  std::memcpy(out, in, bytes);
  for (int r = 1; r < size_; ++r) recv_all(peers_[static_cast<size_t>(r)], out + r * count, bytes);
  for (int r = 1; r < size_; ++r) {
    send_all(peers_[static_cast<size_t>(r)], out, bytes * static_cast<size_t>(size_));
  }
}

void SocketCommunicator::broadcast(void* data, size_t bytes, int root) {
  if (rank_ == 0) {
    if (root != 0) recv_all(peers_[static_cast<size_t>(root)], data, bytes);
    for (int r = 1; r < size_; ++r) {
      if (r != root) send_all(peers_[static_cast<size_t>(r)], data, bytes);
    }
  } else if (rank_ == root) {
    send_all(peers_[0], data, bytes);
  } else {
    recv_all(peers_[0], data, bytes);
  }
}

}  // namespace llm
