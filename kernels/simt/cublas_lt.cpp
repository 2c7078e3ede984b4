// cuBLASLt on the host: the descriptor API the CUDA backend's GEMMs use (matmul and matrix layout
// descriptors, a heuristic query, cublasLtMatmul), computing through gemm.h's run_gemm. What the
// emulator cannot honour is refused, never approximated: epilogues other than the default,
// row-major or batched layouts, device-side scalars, and C and D of different types or shapes.
// Descriptors live in the header's own opaque structs (the state is copied into their data
// words), and a destroyed or never-created descriptor is an invalid value, as a use-after-free
// on a GPU would be an error rather than silently fine.
#include <algorithm>
#include <cstdint>
#include <cstring>
#include <mutex>
#include <set>

#include "kernels/cuda/cuda_api.h"
#include "kernels/simt/gemm.h"

struct cublasLtContext {};

namespace {

struct Layout {
  cudaDataType type;
  uint64_t rows, cols;
  int64_t ld;
};

struct MatmulDesc {
  cublasComputeType_t compute;
  cudaDataType scale;
  int32_t transa = CUBLAS_OP_N, transb = CUBLAS_OP_N;
  uint32_t epilogue = CUBLASLT_EPILOGUE_DEFAULT;
  int32_t pointer_mode = CUBLASLT_POINTER_MODE_HOST;
};

static_assert(sizeof(Layout) <= sizeof(cublasLtMatrixLayoutOpaque_t));
static_assert(sizeof(MatmulDesc) <= sizeof(cublasLtMatmulDescOpaque_t));

std::mutex g_mu;
std::set<const void*>& live() {  // handles and descriptors not yet destroyed
  static std::set<const void*> s;
  return s;
}

bool is_live(const void* p) {
  std::lock_guard lock(g_mu);
  return p != nullptr && live().count(p) > 0;
}

template <class Opaque>
Opaque* create() {
  auto* p = new Opaque{};
  std::lock_guard lock(g_mu);
  live().insert(p);
  return p;
}

template <class Opaque>
cublasStatus_t destroy(Opaque* p) {
  {
    std::lock_guard lock(g_mu);
    if (p == nullptr || live().erase(p) == 0) return CUBLAS_STATUS_INVALID_VALUE;
  }
  delete p;
  return CUBLAS_STATUS_SUCCESS;
}

template <class State, class Opaque>
State read(const Opaque* p) {
  State s;
  std::memcpy(&s, p->data, sizeof s);
  return s;
}

template <class State, class Opaque>
void write(Opaque* p, const State& s) {
  std::memcpy(p->data, &s, sizeof s);
}

// Sets a descriptor field from an attribute buffer of exactly its size.
template <class Field>
cublasStatus_t set_field(Field& field, const void* buf, size_t bytes) {
  if (buf == nullptr || bytes != sizeof(Field)) return CUBLAS_STATUS_INVALID_VALUE;
  std::memcpy(&field, buf, sizeof(Field));
  return CUBLAS_STATUS_SUCCESS;
}

// Checks the operation's shapes and types and, with `run`, computes it on `stream`.
cublasStatus_t matmul(cublasLtMatmulDesc_t op, const void* alpha, const void* A,
                      cublasLtMatrixLayout_t Adesc, const void* B, cublasLtMatrixLayout_t Bdesc,
                      const void* beta, const void* C, cublasLtMatrixLayout_t Cdesc, void* D,
                      cublasLtMatrixLayout_t Ddesc, bool run, cudaStream_t stream) {
  for (const void* d : {static_cast<const void*>(op), static_cast<const void*>(Adesc),
                        static_cast<const void*>(Bdesc), static_cast<const void*>(Cdesc),
                        static_cast<const void*>(Ddesc)}) {
    if (!is_live(d)) return CUBLAS_STATUS_INVALID_VALUE;
  }
  const auto desc = read<MatmulDesc>(op);
  const auto a = read<Layout>(Adesc), b = read<Layout>(Bdesc), c = read<Layout>(Cdesc),
             d = read<Layout>(Ddesc);
  if (desc.epilogue != CUBLASLT_EPILOGUE_DEFAULT ||
      desc.pointer_mode != CUBLASLT_POINTER_MODE_HOST || desc.scale != CUDA_R_32F) {
    return CUBLAS_STATUS_NOT_SUPPORTED;
  }
  const bool ta = desc.transa != CUBLAS_OP_N, tb = desc.transb != CUBLAS_OP_N;
  // op(A) is m x k, op(B) k x n, C and D m x n.
  const uint64_t m = ta ? a.cols : a.rows, k = ta ? a.rows : a.cols;
  const uint64_t kb = tb ? b.cols : b.rows, n = tb ? b.rows : b.cols;
  if (k != kb || c.rows != m || c.cols != n || d.rows != m || d.cols != n) {
    return CUBLAS_STATUS_INVALID_VALUE;
  }
  if (c.type != d.type || c.ld != d.ld) return CUBLAS_STATUS_NOT_SUPPORTED;
  if (!run) return CUBLAS_STATUS_SUCCESS;
  return llm::simt::run_gemm(stream, {static_cast<cublasOperation_t>(desc.transa),
                                      static_cast<cublasOperation_t>(desc.transb),
                                      static_cast<int>(m),
                                      static_cast<int>(n),
                                      static_cast<int>(k),
                                      alpha,
                                      A,
                                      a.type,
                                      static_cast<int>(a.ld),
                                      0,
                                      B,
                                      b.type,
                                      static_cast<int>(b.ld),
                                      0,
                                      beta,
                                      C,
                                      c.type,
                                      static_cast<int>(c.ld),
                                      0,
                                      D,
                                      static_cast<int>(d.ld),
                                      0,
                                      1,
                                      desc.compute});
}

}  // namespace

cublasStatus_t cublasLtCreate(cublasLtHandle_t* handle) {
  if (handle == nullptr) return CUBLAS_STATUS_INVALID_VALUE;
  *handle = create<cublasLtContext>();
  return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasLtDestroy(cublasLtHandle_t handle) {
  return destroy(handle) == CUBLAS_STATUS_SUCCESS ? CUBLAS_STATUS_SUCCESS
                                                  : CUBLAS_STATUS_NOT_INITIALIZED;
}

cublasStatus_t cublasLtMatrixLayoutCreate(cublasLtMatrixLayout_t* layout, cudaDataType type,
                                          uint64_t rows, uint64_t cols, int64_t ld) {
  if (layout == nullptr) return CUBLAS_STATUS_INVALID_VALUE;
  // Column-major: ld is at least the rows (of a non-empty matrix).
  if (type != CUDA_R_32F && type != CUDA_R_16BF && type != CUDA_R_16F) {
    return CUBLAS_STATUS_NOT_SUPPORTED;
  }
  if (ld < static_cast<int64_t>(std::max<uint64_t>(rows, 1))) return CUBLAS_STATUS_INVALID_VALUE;
  *layout = create<cublasLtMatrixLayoutOpaque_t>();
  write(*layout, Layout{type, rows, cols, ld});
  return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasLtMatrixLayoutDestroy(cublasLtMatrixLayout_t layout) {
  return destroy(layout);
}

cublasStatus_t cublasLtMatmulDescCreate(cublasLtMatmulDesc_t* desc, cublasComputeType_t compute,
                                        cudaDataType_t scale) {
  if (desc == nullptr) return CUBLAS_STATUS_INVALID_VALUE;
  *desc = create<cublasLtMatmulDescOpaque_t>();
  write(*desc, MatmulDesc{compute, scale});
  return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasLtMatmulDescDestroy(cublasLtMatmulDesc_t desc) {
  return destroy(desc);
}

cublasStatus_t cublasLtMatmulDescSetAttribute(cublasLtMatmulDesc_t desc,
                                              cublasLtMatmulDescAttributes_t attr, const void* buf,
                                              size_t bytes) {
  if (!is_live(desc)) return CUBLAS_STATUS_INVALID_VALUE;
  auto d = read<MatmulDesc>(desc);
  cublasStatus_t st = CUBLAS_STATUS_SUCCESS;
  switch (attr) {
    case CUBLASLT_MATMUL_DESC_TRANSA:
      st = set_field(d.transa, buf, bytes);
      break;
    case CUBLASLT_MATMUL_DESC_TRANSB:
      st = set_field(d.transb, buf, bytes);
      break;
    case CUBLASLT_MATMUL_DESC_EPILOGUE:
      st = set_field(d.epilogue, buf, bytes);
      break;
    case CUBLASLT_MATMUL_DESC_POINTER_MODE:
      st = set_field(d.pointer_mode, buf, bytes);
      break;
    default:
      return CUBLAS_STATUS_NOT_SUPPORTED;  // an attribute the emulator does not model
  }
  if (st == CUBLAS_STATUS_SUCCESS) write(desc, d);
  return st;
}

cublasStatus_t cublasLtMatmulPreferenceCreate(cublasLtMatmulPreference_t* pref) {
  if (pref == nullptr) return CUBLAS_STATUS_INVALID_VALUE;
  *pref = create<cublasLtMatmulPreferenceOpaque_t>();
  return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasLtMatmulPreferenceDestroy(cublasLtMatmulPreference_t pref) {
  return destroy(pref);
}

cublasStatus_t cublasLtMatmulPreferenceSetAttribute(cublasLtMatmulPreference_t pref,
                                                    cublasLtMatmulPreferenceAttributes_t attr,
                                                    const void* buf, size_t bytes) {
  if (!is_live(pref)) return CUBLAS_STATUS_INVALID_VALUE;
  if (attr != CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES) return CUBLAS_STATUS_NOT_SUPPORTED;
  uint64_t workspace = 0;
  return set_field(workspace, buf, bytes);  // the emulator's GEMM needs none
}

// One algorithm for every valid problem, needing no workspace.
cublasStatus_t cublasLtMatmulAlgoGetHeuristic(
    cublasLtHandle_t handle, cublasLtMatmulDesc_t op, cublasLtMatrixLayout_t Adesc,
    cublasLtMatrixLayout_t Bdesc, cublasLtMatrixLayout_t Cdesc, cublasLtMatrixLayout_t Ddesc,
    cublasLtMatmulPreference_t pref, int requested, cublasLtMatmulHeuristicResult_t results[],
    int* returned) {
  if (!is_live(handle)) return CUBLAS_STATUS_NOT_INITIALIZED;
  if (!is_live(pref) || requested < 1 || results == nullptr || returned == nullptr) {
    return CUBLAS_STATUS_INVALID_VALUE;
  }
  const cublasStatus_t st = matmul(op, nullptr, nullptr, Adesc, nullptr, Bdesc, nullptr, nullptr,
                                   Cdesc, nullptr, Ddesc, /*run=*/false, nullptr);
  *returned = 0;
  if (st != CUBLAS_STATUS_SUCCESS) return st;
  results[0] = cublasLtMatmulHeuristicResult_t{};
  results[0].state = CUBLAS_STATUS_SUCCESS;
  results[0].wavesCount = 1.0f;
  *returned = 1;
  return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasLtMatmul(cublasLtHandle_t handle, cublasLtMatmulDesc_t op, const void* alpha,
                              const void* A, cublasLtMatrixLayout_t Adesc, const void* B,
                              cublasLtMatrixLayout_t Bdesc, const void* beta, const void* C,
                              cublasLtMatrixLayout_t Cdesc, void* D, cublasLtMatrixLayout_t Ddesc,
                              const cublasLtMatmulAlgo_t* /*algo*/, void* /*workspace*/,
                              size_t /*workspace_bytes*/, cudaStream_t stream) {
  if (!is_live(handle)) return CUBLAS_STATUS_NOT_INITIALIZED;
  return matmul(op, alpha, A, Adesc, B, Bdesc, beta, C, Cdesc, D, Ddesc, /*run=*/true, stream);
}
