#include "engine/backend/backend.h"

#include "llm/error.h"

namespace llm {

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
