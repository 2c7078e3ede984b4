// The NCCL stand-in with ranks as threads: every collective against a host computation in the
// documented rank order, for 2 and 4 ranks.
#include <gtest/gtest.h>

#include <functional>
#include <random>
#include <thread>
#include <vector>

#include "kernels/cuda/cuda_api.h"

namespace {

// Runs body(rank, comm) on one thread per rank of a fresh communicator.
void with_ranks(int nranks, const std::function<void(int, ncclComm_t)>& body) {
  ncclUniqueId id;
  ASSERT_EQ(ncclGetUniqueId(&id), ncclSuccess);
  std::vector<std::jthread> threads;
  for (int r = 0; r < nranks; ++r) {
    threads.emplace_back([&, r] {
      ncclComm_t comm = nullptr;
      ASSERT_EQ(ncclCommInitRank(&comm, nranks, id, r), ncclSuccess);
      int count = 0, rank = -1;
      EXPECT_EQ(ncclCommCount(comm, &count), ncclSuccess);
      EXPECT_EQ(ncclCommUserRank(comm, &rank), ncclSuccess);
      EXPECT_EQ(count, nranks);
      EXPECT_EQ(rank, r);
      body(r, comm);
      EXPECT_EQ(ncclCommDestroy(comm), ncclSuccess);
    });
  }
}

std::vector<float> rank_data(int rank, std::size_t n) {
  std::mt19937 rng(static_cast<unsigned>(100 + rank));
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  std::vector<float> v(n);
  for (float& x : v) x = dist(rng);
  return v;
}

class Nccl : public ::testing::TestWithParam<int> {};

TEST_P(Nccl, AllReduceSumsInRankOrder) {
  const int n = GetParam();
  const std::size_t count = 37;
  std::vector<float> want(count, 0.0f);
  for (int r = 0; r < n; ++r) {
    const auto d = rank_data(r, count);
    for (std::size_t i = 0; i < count; ++i) want[i] = r == 0 ? d[i] : want[i] + d[i];
  }
  with_ranks(n, [&](int r, ncclComm_t comm) {
    auto buf = rank_data(r, count);
    std::vector<float> out(count, NAN);
    ASSERT_EQ(ncclAllReduce(buf.data(), out.data(), count, ncclFloat32, ncclSum, comm, nullptr),
              ncclSuccess);
    EXPECT_EQ(out, want) << "rank " << r;
    // In place, as the backend does it.
    ASSERT_EQ(ncclAllReduce(buf.data(), buf.data(), count, ncclFloat32, ncclSum, comm, nullptr),
              ncclSuccess);
    EXPECT_EQ(buf, want) << "rank " << r;
  });
}

TEST_P(Nccl, AllReduceBfloat16) {
  const int n = GetParam();
  const std::size_t count = 16;
  std::vector<float> want(count, 0.0f);  // f32 accumulation in rank order, one rounding
  for (int r = 0; r < n; ++r) {
    const auto d = rank_data(r, count);
    for (std::size_t i = 0; i < count; ++i) want[i] += __bfloat162float(__float2bfloat16(d[i]));
  }
  with_ranks(n, [&](int r, ncclComm_t comm) {
    const auto d = rank_data(r, count);
    std::vector<__nv_bfloat16> buf(count);
    for (std::size_t i = 0; i < count; ++i) buf[i] = __float2bfloat16(d[i]);
    ASSERT_EQ(ncclAllReduce(buf.data(), buf.data(), count, ncclBfloat16, ncclSum, comm, nullptr),
              ncclSuccess);
    for (std::size_t i = 0; i < count; ++i) {
      EXPECT_EQ(__bfloat162float(buf[i]), __bfloat162float(__float2bfloat16(want[i])));
    }
  });
}

TEST_P(Nccl, AllGatherConcatenatesInRankOrder) {
  const int n = GetParam();
  const std::size_t count = 5;
  with_ranks(n, [&](int r, ncclComm_t comm) {
    const auto mine = rank_data(r, count);
    std::vector<float> out(count * static_cast<std::size_t>(n), NAN);
    ASSERT_EQ(ncclAllGather(mine.data(), out.data(), count, ncclFloat32, comm, nullptr),
              ncclSuccess);
    for (int q = 0; q < n; ++q) {
      const auto theirs = rank_data(q, count);
      for (std::size_t i = 0; i < count; ++i) EXPECT_EQ(out[q * count + i], theirs[i]);
    }
  });
}

TEST_P(Nccl, BroadcastAndReduceScatter) {
  const int n = GetParam();
  const std::size_t count = 6;
  with_ranks(n, [&](int r, ncclComm_t comm) {
    auto buf = r == 1 ? rank_data(1, count) : std::vector<float>(count, NAN);
    ASSERT_EQ(ncclBroadcast(buf.data(), buf.data(), count, ncclFloat32, 1, comm, nullptr),
              ncclSuccess);
    EXPECT_EQ(buf, rank_data(1, count));

    std::vector<int> in(count * static_cast<std::size_t>(n));
    for (std::size_t i = 0; i < in.size(); ++i) in[i] = static_cast<int>(i) * (r + 1);
    std::vector<int> out(count, -1);
    ASSERT_EQ(ncclReduceScatter(in.data(), out.data(), count, ncclInt32, ncclSum, comm, nullptr),
              ncclSuccess);
    const int factor = n * (n + 1) / 2;
    for (std::size_t i = 0; i < count; ++i) {
      EXPECT_EQ(out[i], static_cast<int>(r * count + i) * factor);
    }
  });
}

TEST_P(Nccl, MismatchedCollectivesAreReported) {
  const int n = GetParam();
  with_ranks(n, [&](int r, ncclComm_t comm) {
    std::vector<float> buf(8, 1.0f);
    const std::size_t count = r == 0 ? 8 : 4;  // rank 0 disagrees on the size
    EXPECT_EQ(ncclAllReduce(buf.data(), buf.data(), count, ncclFloat32, ncclSum, comm, nullptr),
              ncclInvalidUsage);
  });
}

INSTANTIATE_TEST_SUITE_P(Ranks, Nccl, ::testing::Values(2, 4));

TEST(NcclGroup, OneThreadDrivesAllRanksInsideAGroup) {
  const int n = 2;
  ncclUniqueId id;
  ASSERT_EQ(ncclGetUniqueId(&id), ncclSuccess);
  std::vector<ncclComm_t> comms(n, nullptr);
  ASSERT_EQ(ncclGroupStart(), ncclSuccess);
  std::vector<std::jthread> init;  // initialisation blocks until all ranks joined
  for (int r = 0; r < n; ++r) {
    init.emplace_back([&, r] { EXPECT_EQ(ncclCommInitRank(&comms[r], n, id, r), ncclSuccess); });
  }
  init.clear();
  std::vector<std::vector<float>> bufs = {{1, 2}, {10, 20}};
  for (int r = 0; r < n; ++r) {
    ASSERT_EQ(
        ncclAllReduce(bufs[r].data(), bufs[r].data(), 2, ncclFloat32, ncclSum, comms[r], nullptr),
        ncclSuccess);
  }
  ASSERT_EQ(ncclGroupEnd(), ncclSuccess);
  EXPECT_EQ(bufs[0], (std::vector<float>{11, 22}));
  EXPECT_EQ(bufs[1], (std::vector<float>{11, 22}));
  for (ncclComm_t c : comms) EXPECT_EQ(ncclCommDestroy(c), ncclSuccess);
}

}  // namespace
