// The emulated CUDA runtime's streams, events and graphs. Work completes when it is issued
// (kernels and copies run synchronously, so stream order holds trivially); a capture records
// the work instead, and a graph launch replays it.
#include <memory>

#include "kernels/simt/runtime_state.h"

using llm::simt::fail;
using llm::simt::state;

cudaError_t cudaStreamCreateWithFlags(cudaStream_t* stream, unsigned int flags) {
  if (stream == nullptr) return fail(cudaErrorInvalidValue);
  auto owned = std::make_unique<CUstream_st>();
  owned->flags = flags;
  *stream = owned.get();
  std::lock_guard lock(state().mu);
  state().streams.insert(std::move(owned));
  return cudaSuccess;
}

cudaError_t cudaStreamCreate(cudaStream_t* stream) {
  return cudaStreamCreateWithFlags(stream, 0);
}

cudaError_t cudaStreamDestroy(cudaStream_t stream) {
  auto& s = state();
  std::lock_guard lock(s.mu);
  return s.release(s.streams, stream) ? cudaSuccess : fail(cudaErrorInvalidResourceHandle);
}

cudaError_t cudaStreamSynchronize(cudaStream_t stream) {
  std::lock_guard lock(state().mu);
  if (!llm::simt::valid_stream(state(), stream)) return fail(cudaErrorInvalidResourceHandle);
  if (llm::simt::capturing(stream) || llm::simt::unsafe_call_refused()) {
    return llm::simt::invalidate_capture(stream, cudaErrorStreamCaptureUnsupported);
  }
  return cudaSuccess;
}

cudaError_t cudaStreamQuery(cudaStream_t stream) {
  return cudaStreamSynchronize(stream);
}

cudaError_t cudaStreamWaitEvent(cudaStream_t stream, cudaEvent_t event, unsigned int /*flags*/) {
  auto& s = state();
  std::lock_guard lock(s.mu);
  if (!llm::simt::valid_stream(s, stream) || s.find(s.events, event) == s.events.end()) {
    return fail(cudaErrorInvalidResourceHandle);
  }
  return cudaSuccess;
}

// Graphs: capture records what the stream is given (kernels, cuBLAS, NCCL, device-to-device
// copies and memsets, arguments taken by value at capture time) and a launch replays it. What
// CUDA refuses during capture (pageable copies, cudaMalloc, synchronising) fails the same way.
cudaError_t cudaStreamBeginCapture(cudaStream_t stream, cudaStreamCaptureMode mode) {
  std::lock_guard lock(state().mu);
  if (stream == nullptr || stream == cudaStreamLegacy || stream == cudaStreamPerThread) {
    return fail(cudaErrorStreamCaptureUnsupported);  // the legacy stream cannot be captured
  }
  if (!llm::simt::valid_stream(state(), stream)) return fail(cudaErrorInvalidResourceHandle);
  if (stream->capture) return fail(cudaErrorIllegalState);
  stream->capture = std::make_unique<std::vector<std::function<void()>>>();
  stream->capture_mode = mode;
  if (mode != cudaStreamCaptureModeRelaxed) ++llm::simt::tl_strict_captures;
  if (mode == cudaStreamCaptureModeGlobal) ++llm::simt::g_global_captures;
  return cudaSuccess;
}

cudaError_t cudaStreamEndCapture(cudaStream_t stream, cudaGraph_t* graph) {
  if (graph == nullptr) return fail(cudaErrorInvalidValue);
  *graph = nullptr;
  std::lock_guard lock(state().mu);
  if (!llm::simt::valid_stream(state(), stream) || !llm::simt::capturing(stream)) {
    return fail(cudaErrorIllegalState);
  }
  auto work = std::move(*stream->capture);
  stream->capture.reset();
  if (stream->capture_mode != cudaStreamCaptureModeRelaxed) --llm::simt::tl_strict_captures;
  if (stream->capture_mode == cudaStreamCaptureModeGlobal) --llm::simt::g_global_captures;
  if (!work.empty() && work.back() == nullptr) return fail(cudaErrorStreamCaptureInvalidated);
  auto owned = std::make_unique<CUgraph_st>(CUgraph_st{std::move(work)});
  *graph = owned.get();
  state().graphs.insert(std::move(owned));
  return cudaSuccess;
}

cudaError_t cudaGraphInstantiate(cudaGraphExec_t* exec, cudaGraph_t graph,
                                 unsigned long long /*flags*/) {
  if (exec == nullptr) return fail(cudaErrorInvalidValue);
  auto& s = state();
  std::lock_guard lock(s.mu);
  if (s.find(s.graphs, graph) == s.graphs.end()) return fail(cudaErrorInvalidValue);
  auto owned = std::make_unique<CUgraphExec_st>(CUgraphExec_st{graph->work});
  *exec = owned.get();
  s.graph_execs.insert(std::move(owned));
  return cudaSuccess;
}

cudaError_t cudaGraphLaunch(cudaGraphExec_t exec, cudaStream_t stream) {
  {
    auto& s = state();
    std::lock_guard lock(s.mu);
    if (s.find(s.graph_execs, exec) == s.graph_execs.end()) return fail(cudaErrorInvalidValue);
    if (!llm::simt::valid_stream(s, stream)) return fail(cudaErrorInvalidResourceHandle);
  }
  for (const auto& work : exec->work) work();
  return cudaSuccess;
}

cudaError_t cudaGraphDestroy(cudaGraph_t graph) {
  auto& s = state();
  std::lock_guard lock(s.mu);
  return s.release(s.graphs, graph) ? cudaSuccess : fail(cudaErrorInvalidValue);
}

cudaError_t cudaGraphExecDestroy(cudaGraphExec_t exec) {
  auto& s = state();
  std::lock_guard lock(s.mu);
  return s.release(s.graph_execs, exec) ? cudaSuccess : fail(cudaErrorInvalidValue);
}

cudaError_t cudaEventCreateWithFlags(cudaEvent_t* event, unsigned int /*flags*/) {
  if (event == nullptr) return fail(cudaErrorInvalidValue);
  auto owned = std::make_unique<CUevent_st>();
  *event = owned.get();
  std::lock_guard lock(state().mu);
  state().events.insert(std::move(owned));
  return cudaSuccess;
}

cudaError_t cudaEventCreate(cudaEvent_t* event) {
  return cudaEventCreateWithFlags(event, 0);
}

cudaError_t cudaEventDestroy(cudaEvent_t event) {
  auto& s = state();
  std::lock_guard lock(s.mu);
  return s.release(s.events, event) ? cudaSuccess : fail(cudaErrorInvalidResourceHandle);
}

cudaError_t cudaEventRecord(cudaEvent_t event, cudaStream_t stream) {
  auto& s = state();
  std::lock_guard lock(s.mu);
  if (s.find(s.events, event) == s.events.end() || !llm::simt::valid_stream(s, stream)) {
    return fail(cudaErrorInvalidResourceHandle);
  }
  event->time = std::chrono::steady_clock::now();
  event->recorded = true;
  return cudaSuccess;
}

cudaError_t cudaEventSynchronize(cudaEvent_t event) {
  auto& s = state();
  std::lock_guard lock(s.mu);
  return s.find(s.events, event) == s.events.end() ? fail(cudaErrorInvalidResourceHandle)
                                                   : cudaSuccess;
}

cudaError_t cudaEventQuery(cudaEvent_t event) {
  return cudaEventSynchronize(event);
}

cudaError_t cudaEventElapsedTime(float* ms, cudaEvent_t start, cudaEvent_t end) {
  auto& s = state();
  std::lock_guard lock(s.mu);
  if (ms == nullptr) return fail(cudaErrorInvalidValue);
  if (s.find(s.events, start) == s.events.end() || s.find(s.events, end) == s.events.end() ||
      !start->recorded || !end->recorded) {
    return fail(cudaErrorInvalidResourceHandle);
  }
  *ms = std::chrono::duration<float, std::milli>(end->time - start->time).count();
  return cudaSuccess;
}
