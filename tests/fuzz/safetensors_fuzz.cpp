// Bytes as a .safetensors file through SafetensorsFile::open, which only takes a path: the
// input goes into a memfd opened as /proc/self/fd/N. A file either fails with llm::Error or
// opens with every tensor's bytes inside the mapping and matching its shape and dtype.
#include <sys/mman.h>
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <string>

#include "engine/model/safetensors_file.h"
#include "llm/error.h"

namespace {

int memfd() {
  static const int fd = memfd_create("safetensors_fuzz", MFD_CLOEXEC);
  if (fd < 0) std::abort();
  return fd;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const int fd = memfd();
  if (ftruncate(fd, 0) != 0) std::abort();
  for (size_t done = 0; done < size;) {
    const ssize_t n = pwrite(fd, data + done, size - done, static_cast<off_t>(done));
    if (n <= 0) std::abort();
    done += static_cast<size_t>(n);
  }
  try {
    const auto file = llm::SafetensorsFile::open("/proc/self/fd/" + std::to_string(fd));
    for (const auto& [name, view] : file.tensors()) {
      const int64_t elements = view.num_elements();
      if (elements < 0 ||
          static_cast<uint64_t>(elements) * llm::dtype_size(view.dtype) != view.data.size()) {
        std::abort();
      }
      // Touch the first and last byte: ASan reports a view outside the mapping.
      unsigned sum = 0;
      if (!view.data.empty())
        sum += static_cast<unsigned>(view.data.front()) + static_cast<unsigned>(view.data.back());
      if (file.find(name) != &view || sum > 510) std::abort();
    }
  } catch (const llm::Error&) {
  }
  return 0;
}
