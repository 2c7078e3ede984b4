// See nccl.h. Each communicator's group is a rendezvous: every collective posts the rank's
// buffers, waits for all ranks, computes the rank's result from everyone's inputs into a private
// buffer, waits again (so in-place collectives never overwrite an input another rank still
// reads), and then writes its output.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "kernels/cuda/cuda_api.h"

namespace {

std::chrono::seconds rendezvous_timeout() {
  const char* env = std::getenv("LLM_SIMT_NCCL_TIMEOUT_S");
  return std::chrono::seconds(env ? std::max(1L, std::atol(env)) : 60L);
}

// What one rank asked for; all ranks of a collective must agree.
struct Call {
  int kind = 0;  // 0 all-reduce, 1 all-gather, 2 reduce-scatter, 3 broadcast
  std::size_t count = 0;
  ncclDataType_t type = ncclFloat32;
  ncclRedOp_t op = ncclSum;
  int root = 0;
  bool operator==(const Call&) const = default;
};

struct Group {
  explicit Group(int n)
      : nranks(n),
        joined(static_cast<std::size_t>(n), false),
        send(static_cast<std::size_t>(n)),
        calls(static_cast<std::size_t>(n)) {}
  const int nranks;
  std::mutex mu;
  std::condition_variable cv;
  std::vector<bool> joined;
  int njoined = 0;
  std::vector<const void*> send;
  std::vector<Call> calls;
  std::uint64_t generation = 0;
  int arrived = 0;

  // All ranks meet here; false when one of them has not come within the timeout.
  bool barrier() {
    std::unique_lock lock(mu);
    const std::uint64_t gen = generation;
    if (++arrived == nranks) {
      arrived = 0;
      ++generation;
      cv.notify_all();
      return true;
    }
    return cv.wait_for(lock, rendezvous_timeout(), [&] { return generation != gen; });
  }
};

std::mutex g_registry_mu;
std::map<std::string, std::shared_ptr<Group>>& registry() {
  static std::map<std::string, std::shared_ptr<Group>> r;
  return r;
}

std::size_t type_bytes(ncclDataType_t t) {
  switch (t) {
    case ncclInt8:
    case ncclUint8:
      return 1;
    case ncclFloat16:
    case ncclBfloat16:
      return 2;
    case ncclInt32:
    case ncclUint32:
    case ncclFloat32:
      return 4;
    default:
      return 8;
  }
}

bool valid_type(ncclDataType_t t) {
  return t >= ncclInt8 && t <= ncclBfloat16;
}

// Reduction in the accumulation type of each element type (f32 for the 16-bit floats, rounded
// once at the end), in rank order.
float widen(__nv_bfloat16 v) {
  return __bfloat162float(v);
}
float widen(__half v) {
  return __half2float(v);
}
template <typename T>
T widen(T v) {
  return v;
}
template <typename T, typename A>
T narrow(A v) {
  if constexpr (std::is_same_v<T, __nv_bfloat16>) {
    return __float2bfloat16(v);
  } else if constexpr (std::is_same_v<T, __half>) {
    return __float2half(v);
  } else {
    return static_cast<T>(v);
  }
}

template <typename T>
void reduce(const std::vector<const void*>& inputs, std::size_t offset, std::size_t count,
            ncclRedOp_t op, void* out) {
  using A = decltype(widen(T{}));
  for (std::size_t i = 0; i < count; ++i) {
    A acc = widen(static_cast<const T*>(inputs[0])[offset + i]);
    for (std::size_t r = 1; r < inputs.size(); ++r) {
      const A v = widen(static_cast<const T*>(inputs[r])[offset + i]);
      switch (op) {
        case ncclProd:
          acc = acc * v;
          break;
        case ncclMax:
          acc = std::max(acc, v);
          break;
        case ncclMin:
          acc = std::min(acc, v);
          break;
        default:
          acc = acc + v;
          break;
      }
    }
    if (op == ncclAvg) acc = acc / static_cast<A>(inputs.size());
    static_cast<T*>(out)[i] = narrow<T>(acc);
  }
}

void reduce_any(ncclDataType_t t, const std::vector<const void*>& in, std::size_t offset,
                std::size_t count, ncclRedOp_t op, void* out) {
  switch (t) {
    case ncclInt8:
      reduce<std::int8_t>(in, offset, count, op, out);
      break;
    case ncclUint8:
      reduce<std::uint8_t>(in, offset, count, op, out);
      break;
    case ncclInt32:
      reduce<std::int32_t>(in, offset, count, op, out);
      break;
    case ncclUint32:
      reduce<std::uint32_t>(in, offset, count, op, out);
      break;
    case ncclInt64:
      reduce<std::int64_t>(in, offset, count, op, out);
      break;
    case ncclUint64:
      reduce<std::uint64_t>(in, offset, count, op, out);
      break;
    case ncclFloat16:
      reduce<__half>(in, offset, count, op, out);
      break;
    case ncclBfloat16:
      reduce<__nv_bfloat16>(in, offset, count, op, out);
      break;
    case ncclFloat64:
      reduce<double>(in, offset, count, op, out);
      break;
    default:
      reduce<float>(in, offset, count, op, out);
      break;
  }
}

}  // namespace

struct llm_simt_ncclComm {
  std::shared_ptr<Group> group;
  int rank = 0;
};

namespace {

// Runs one collective for `comm`'s rank: rendezvous, compute into `scratch`, rendezvous, write.
ncclResult_t collective(ncclComm_t comm, const Call& call, const void* sendbuff, void* recvbuff) {
  Group& g = *comm->group;
  const auto r = static_cast<std::size_t>(comm->rank);
  const std::size_t elem = type_bytes(call.type);
  {
    std::lock_guard lock(g.mu);
    g.send[r] = sendbuff;
    g.calls[r] = call;
  }
  if (!g.barrier()) return ncclSystemError;
  std::vector<unsigned char> scratch;
  bool agree = true;
  {
    std::lock_guard lock(g.mu);
    agree = std::all_of(g.calls.begin(), g.calls.end(), [&](const Call& c) { return c == call; });
  }
  if (agree) {
    const auto n = static_cast<std::size_t>(g.nranks);
    switch (call.kind) {
      case 0:  // all-reduce: count elements everywhere
        scratch.resize(call.count * elem);
        reduce_any(call.type, g.send, 0, call.count, call.op, scratch.data());
        break;
      case 1:  // all-gather: rank q's count elements land at q * count
        scratch.resize(n * call.count * elem);
        for (std::size_t q = 0; q < n; ++q) {
          std::memcpy(scratch.data() + q * call.count * elem, g.send[q], call.count * elem);
        }
        break;
      case 2:  // reduce-scatter: this rank keeps block r of the reduction
        scratch.resize(call.count * elem);
        reduce_any(call.type, g.send, r * call.count, call.count, call.op, scratch.data());
        break;
      default:  // broadcast
        scratch.resize(call.count * elem);
        std::memcpy(scratch.data(), g.send[static_cast<std::size_t>(call.root)], call.count * elem);
        break;
    }
  }
  if (!g.barrier()) return ncclSystemError;
  if (!agree) return ncclInvalidUsage;
  if (!scratch.empty()) std::memcpy(recvbuff, scratch.data(), scratch.size());
  return ncclSuccess;
}

thread_local int tl_group_depth = 0;
thread_local std::vector<std::pair<ncclComm_t, std::function<ncclResult_t()>>> tl_group_ops;

// Runs now, at ncclGroupEnd when inside a group, or when the graph it was captured into runs.
ncclResult_t submit(ncclComm_t comm, const Call& call, const void* send, void* recv,
                    cudaStream_t stream) {
  if (comm == nullptr || comm->group == nullptr) return ncclInvalidArgument;
  if (!valid_type(call.type) || call.op < ncclSum || call.op > ncclAvg) {
    return ncclInvalidArgument;
  }
  if (call.count > 0 && (send == nullptr || recv == nullptr)) return ncclInvalidArgument;
  if (llm::simt::record_if_capturing(stream, [=] { collective(comm, call, send, recv); })) {
    return ncclSuccess;
  }
  if (tl_group_depth > 0) {
    tl_group_ops.emplace_back(comm, [=] { return collective(comm, call, send, recv); });
    return ncclSuccess;
  }
  return collective(comm, call, send, recv);
}

}  // namespace

ncclResult_t ncclGetUniqueId(ncclUniqueId* unique_id) {
  if (unique_id == nullptr) return ncclInvalidArgument;
  static std::atomic<std::uint64_t> counter{0};
  static const std::uint64_t salt = std::random_device{}();
  *unique_id = ncclUniqueId{};
  const std::string text =
      "llm-simt-nccl-" + std::to_string(salt) + "-" + std::to_string(counter.fetch_add(1));
  std::memcpy(unique_id->internal, text.data(), std::min(text.size(), sizeof(unique_id->internal)));
  return ncclSuccess;
}

ncclResult_t ncclCommInitRank(ncclComm_t* comm, int nranks, ncclUniqueId comm_id, int rank) {
  if (comm == nullptr || nranks < 1 || rank < 0 || rank >= nranks) return ncclInvalidArgument;
  const std::string key(comm_id.internal, sizeof(comm_id.internal));
  std::shared_ptr<Group> group;
  {
    std::lock_guard lock(g_registry_mu);
    auto& slot = registry()[key];
    if (!slot) slot = std::make_shared<Group>(nranks);
    group = slot;
    std::lock_guard glock(group->mu);
    if (group->nranks != nranks) return ncclInvalidArgument;
    if (group->joined[static_cast<std::size_t>(rank)]) return ncclInvalidUsage;
    group->joined[static_cast<std::size_t>(rank)] = true;
    if (++group->njoined == nranks) registry().erase(key);  // complete: the id may not rejoin
  }
  {
    std::unique_lock lock(group->mu);
    group->cv.notify_all();
    if (!group->cv.wait_for(lock, rendezvous_timeout(),
                            [&] { return group->njoined == group->nranks; })) {
      return ncclSystemError;
    }
  }
  auto owned = std::make_unique<llm_simt_ncclComm>();
  owned->group = std::move(group);
  owned->rank = rank;
  *comm = owned.release();  // owned by the caller until ncclCommDestroy, as NCCL's handles are
  return ncclSuccess;
}

ncclResult_t ncclCommDestroy(ncclComm_t comm) {
  if (comm == nullptr) return ncclInvalidArgument;
  std::unique_ptr<llm_simt_ncclComm> owned(comm);
  return ncclSuccess;
}

ncclResult_t ncclCommCount(const ncclComm_t comm, int* count) {
  if (comm == nullptr || count == nullptr) return ncclInvalidArgument;
  *count = comm->group->nranks;
  return ncclSuccess;
}

ncclResult_t ncclCommUserRank(const ncclComm_t comm, int* rank) {
  if (comm == nullptr || rank == nullptr) return ncclInvalidArgument;
  *rank = comm->rank;
  return ncclSuccess;
}

ncclResult_t ncclAllReduce(const void* sendbuff, void* recvbuff, size_t count,
                           ncclDataType_t datatype, ncclRedOp_t op, ncclComm_t comm,
                           cudaStream_t stream) {
  return submit(comm, Call{0, count, datatype, op, 0}, sendbuff, recvbuff, stream);
}

ncclResult_t ncclAllGather(const void* sendbuff, void* recvbuff, size_t sendcount,
                           ncclDataType_t datatype, ncclComm_t comm, cudaStream_t stream) {
  return submit(comm, Call{1, sendcount, datatype, ncclSum, 0}, sendbuff, recvbuff, stream);
}

ncclResult_t ncclReduceScatter(const void* sendbuff, void* recvbuff, size_t recvcount,
                               ncclDataType_t datatype, ncclRedOp_t op, ncclComm_t comm,
                               cudaStream_t stream) {
  return submit(comm, Call{2, recvcount, datatype, op, 0}, sendbuff, recvbuff, stream);
}

ncclResult_t ncclBroadcast(const void* sendbuff, void* recvbuff, size_t count,
                           ncclDataType_t datatype, int root, ncclComm_t comm,
                           cudaStream_t stream) {
  if (comm != nullptr && comm->group && (root < 0 || root >= comm->group->nranks)) {
    return ncclInvalidArgument;
  }
  // Only the root's send buffer is read; other ranks may pass anything (NCCL allows nullptr).
  const void* send = comm != nullptr && comm->rank == root ? sendbuff : recvbuff;
  return submit(comm, Call{3, count, datatype, ncclSum, root}, send, recvbuff, stream);
}

ncclResult_t ncclGroupStart() {
  ++tl_group_depth;
  return ncclSuccess;
}

ncclResult_t ncclGroupEnd() {
  if (tl_group_depth == 0) return ncclInvalidUsage;
  if (--tl_group_depth > 0) return ncclSuccess;
  auto ops = std::move(tl_group_ops);
  tl_group_ops.clear();
  // One worker per communicator, each running that communicator's operations in order.
  std::map<ncclComm_t, std::vector<std::function<ncclResult_t()>>> by_comm;
  for (auto& [comm, op] : ops) by_comm[comm].push_back(std::move(op));
  std::vector<ncclResult_t> results(by_comm.size(), ncclSuccess);
  auto run_all = [](std::vector<std::function<ncclResult_t()>>& list, ncclResult_t& result) {
    for (auto& op : list) {
      if (const ncclResult_t r = op(); r != ncclSuccess && result == ncclSuccess) result = r;
    }
  };
  if (by_comm.size() == 1) {
    run_all(by_comm.begin()->second, results[0]);
  } else {
    std::vector<std::jthread> workers;
    std::size_t i = 0;
    for (auto& entry : by_comm) {
      workers.emplace_back(run_all, std::ref(entry.second), std::ref(results[i++]));
    }
  }
  for (const ncclResult_t r : results) {
    if (r != ncclSuccess) return r;
  }
  return ncclSuccess;
}

const char* ncclGetErrorString(ncclResult_t result) {
  switch (result) {
    case ncclSuccess:
      return "no error";
    case ncclUnhandledCudaError:
      return "unhandled cuda error";
    case ncclSystemError:
      return "unhandled system error (a rank did not arrive in time)";
    case ncclInternalError:
      return "internal error";
    case ncclInvalidArgument:
      return "invalid argument";
    case ncclInvalidUsage:
      return "invalid usage (ranks disagree on the collective?)";
    case ncclRemoteError:
      return "remote process exited or there was a network error";
    case ncclInProgress:
      return "NCCL operation in progress";
    default:
      return "unknown result code";
  }
}
