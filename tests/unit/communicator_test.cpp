// In-process tensor-parallel collectives: ranks as threads, every rank sees the same result.
#include <gtest/gtest.h>
#include <random>
#include <thread>
#include <vector>

#include "engine/parallel/in_process_communicator.h"
#include "engine/parallel/socket_communicator.h"
#include "llm/error.h"
#include "tests/e2e/free_port.h"

namespace llm {
namespace {

// Runs body(rank, comm) on one thread per rank.
template <class F>
void on_ranks(int size, F body) {
  auto comms = InProcessCommunicator::create_group(size);
  std::vector<std::thread> threads;
  for (int r = 0; r < size; ++r)
    threads.emplace_back([&, r] { body(r, *comms[static_cast<size_t>(r)]); });
  for (auto& t : threads) t.join();
}

std::vector<float> random_floats(size_t n, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<float> d(-1, 1);
  std::vector<float> v(n);
  for (float& x : v) x = d(rng);
  return v;
}

TEST(InProcessCommunicator, AllReduceSumsInRankOrderIdenticallyOnEveryRank) {
  for (int size : {1, 2, 4}) {
    const size_t n = 1000;
    std::vector<float> want(n, 0.f);
    for (int r = 0; r < size; ++r) {
      const auto v = random_floats(n, static_cast<uint64_t>(r));
      for (size_t i = 0; i < n; ++i) want[i] = r == 0 ? v[i] : want[i] + v[i];
    }
    std::vector<std::vector<float>> got(static_cast<size_t>(size));
    on_ranks(size, [&](int r, Communicator& c) {
      EXPECT_EQ(c.rank(), r);
      EXPECT_EQ(c.size(), size);
      auto v = random_floats(n, static_cast<uint64_t>(r));
      for (int repeat = 0; repeat < 3; ++repeat) {  // reuse across calls must not mix them up
        auto w = v;
        c.all_reduce_sum(w.data(), n);
        if (repeat == 2) got[static_cast<size_t>(r)] = w;
      }
    });
    for (int r = 0; r < size; ++r)
      EXPECT_EQ(got[static_cast<size_t>(r)], want) << "rank " << r << " of " << size;
  }
}

TEST(InProcessCommunicator, AllGatherAndBroadcast) {
  const int size = 3;
  const size_t n = 17;
  on_ranks(size, [&](int r, Communicator& c) {
    const auto mine = random_floats(n, static_cast<uint64_t>(10 + r));
    std::vector<float> all(n * size, NAN);
    c.all_gather(mine.data(), n, all.data());
    for (int src = 0; src < size; ++src) {
      const auto theirs = random_floats(n, static_cast<uint64_t>(10 + src));
      for (size_t i = 0; i < n; ++i) ASSERT_EQ(all[static_cast<size_t>(src) * n + i], theirs[i]);
    }
    std::vector<int32_t> msg = {r, r * 7, -r};
    c.broadcast(msg.data(), msg.size() * sizeof(int32_t), 2);
    EXPECT_EQ(msg, (std::vector<int32_t>{2, 14, -2})) << "rank " << r;
  });
}

// The TCP ranks (separate processes in production; threads here, each with its own sockets)
// give exactly what the in-process ranks give.
TEST(SocketCommunicator, CollectivesOverLoopbackMatchTheInProcessOnes) {
  const int size = 3;
  const size_t n = 333;
  const std::string master = "127.0.0.1:" + std::to_string(test::free_tcp_port());
  std::vector<std::vector<float>> sums(size), gathers(size), in_process(size);
  on_ranks(size, [&](int r, Communicator& c) {
    auto v = random_floats(n, static_cast<uint64_t>(r));
    c.all_reduce_sum(v.data(), n);
    in_process[static_cast<size_t>(r)] = v;
  });
  std::vector<std::thread> threads;
  for (int r = 0; r < size; ++r) {
    threads.emplace_back([&, r] {
      SocketCommunicator c(r, size, master, std::chrono::seconds(20));
      auto v = random_floats(n, static_cast<uint64_t>(r));
      c.all_reduce_sum(v.data(), n);
      sums[static_cast<size_t>(r)] = v;
      std::vector<float> all(n * size);
      const auto mine = random_floats(n, static_cast<uint64_t>(10 + r));
      c.all_gather(mine.data(), n, all.data());
      gathers[static_cast<size_t>(r)] = all;
      int64_t word = r == 1 ? 4242 : -1;
      c.broadcast(&word, sizeof word, 1);
      EXPECT_EQ(word, 4242) << "rank " << r;
    });
  }
  for (auto& t : threads) t.join();
  for (int r = 0; r < size; ++r) {
    EXPECT_EQ(sums[static_cast<size_t>(r)], in_process[0]) << "rank " << r;
    for (int src = 0; src < size; ++src) {
      const auto theirs = random_floats(n, static_cast<uint64_t>(10 + src));
      EXPECT_TRUE(
          std::equal(theirs.begin(), theirs.end(),
                     gathers[static_cast<size_t>(r)].begin() + static_cast<ptrdiff_t>(src * n)));
    }
  }
}

TEST(SocketCommunicator, RendezvousProblemsAreClearErrors) {
  try {
    SocketCommunicator c(1, 2, "localhost-without-port", std::chrono::seconds(1));
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument);
    EXPECT_NE(std::string(e.what()).find("HOST:PORT"), std::string::npos) << e.what();
  }
  // Rank 0 waiting for a rank that never comes gives up, saying how many joined.
  try {
    SocketCommunicator c(0, 2, "127.0.0.1:" + std::to_string(test::free_tcp_port()), std::chrono::seconds(1));
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kUnavailable);
    EXPECT_NE(std::string(e.what()).find("only 0 of 1 ranks joined"), std::string::npos)
        << e.what();
  }
}

}  // namespace
}  // namespace llm
