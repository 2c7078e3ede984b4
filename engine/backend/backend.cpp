#include "engine/backend/backend.h"

#include <new>

#include "llm/error.h"

namespace llm {

Buffer Backend::alloc_host(size_t bytes) {
  if (bytes == 0) return Buffer(nullptr, 0, {});
  constexpr std::align_val_t kAlign{64};
  return Buffer(::operator new(bytes, kAlign), bytes,
                [](void* p) { ::operator delete(p, kAlign); });
}

// A backend without a communicator serves single-rank models only; LlamaModel calls these only
// when it is split, so reaching them means the backend was built without one.
void Backend::all_reduce_sum(Tensor /*x*/) {
  throw Error(ErrorCode::kUnsupported,
              name() + " backend: tensor parallelism needs a backend built with a communicator");
}

void Backend::all_gather(Tensor /*in*/, Tensor /*out*/) {
  throw Error(ErrorCode::kUnsupported,
              name() + " backend: tensor parallelism needs a backend built with a communicator");
}

}  // namespace llm
