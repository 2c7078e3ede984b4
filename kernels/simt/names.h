// Link-level names of the emulated CUDA runtime, cuBLAS, cuBLASLt and NCCL entry points.
//
// The emulator implements the functions that the real headers declare (cuda_runtime_api.h and
// cublas_api.h come in anyway through cuda_bf16.h), so the backend is checked against the exact
// real signatures. A binary that offers both --backend cuda and --backend simt links libcudart,
// libcublas and libnccl next to this emulator, so every emulated function is renamed here to an
// llm_simt_ symbol before the real declarations are seen: the same source line `cudaMalloc(...)`
// then calls the real runtime in a CUDA build and the emulator in an LLM_SIMT build.
// Only the functions listed here exist in the emulator; calling any other one fails to link.
#pragma once

#if defined(__CUDA_RUNTIME_API_H__) || defined(CUBLAS_API_H_)
#error "kernels/simt/names.h must come before the CUDA headers, or the renames do not apply"
#endif

// CUDA runtime
#define cudaMalloc llm_simt_cudaMalloc
#define cudaFree llm_simt_cudaFree
#define cudaMallocHost llm_simt_cudaMallocHost
#define cudaHostAlloc llm_simt_cudaHostAlloc
#define cudaFreeHost llm_simt_cudaFreeHost
#define cudaMemcpy llm_simt_cudaMemcpy
#define cudaMemcpyAsync llm_simt_cudaMemcpyAsync
#define cudaMemset llm_simt_cudaMemset
#define cudaMemsetAsync llm_simt_cudaMemsetAsync
#define cudaMemGetInfo llm_simt_cudaMemGetInfo
#define cudaStreamCreate llm_simt_cudaStreamCreate
#define cudaStreamCreateWithFlags llm_simt_cudaStreamCreateWithFlags
#define cudaStreamDestroy llm_simt_cudaStreamDestroy
#define cudaStreamSynchronize llm_simt_cudaStreamSynchronize
#define cudaStreamQuery llm_simt_cudaStreamQuery
#define cudaStreamWaitEvent llm_simt_cudaStreamWaitEvent
#define cudaStreamBeginCapture llm_simt_cudaStreamBeginCapture
#define cudaStreamEndCapture llm_simt_cudaStreamEndCapture
#define cudaGraphInstantiate llm_simt_cudaGraphInstantiate
#define cudaGraphLaunch llm_simt_cudaGraphLaunch
#define cudaGraphDestroy llm_simt_cudaGraphDestroy
#define cudaGraphExecDestroy llm_simt_cudaGraphExecDestroy
#define cudaEventCreate llm_simt_cudaEventCreate
#define cudaEventCreateWithFlags llm_simt_cudaEventCreateWithFlags
#define cudaEventDestroy llm_simt_cudaEventDestroy
#define cudaEventRecord llm_simt_cudaEventRecord
#define cudaEventSynchronize llm_simt_cudaEventSynchronize
#define cudaEventQuery llm_simt_cudaEventQuery
#define cudaEventElapsedTime llm_simt_cudaEventElapsedTime
#define cudaDeviceSynchronize llm_simt_cudaDeviceSynchronize
#define cudaGetDeviceCount llm_simt_cudaGetDeviceCount
#define cudaSetDevice llm_simt_cudaSetDevice
#define cudaGetDevice llm_simt_cudaGetDevice
#define cudaGetDeviceProperties llm_simt_cudaGetDeviceProperties
#define cudaDeviceGetAttribute llm_simt_cudaDeviceGetAttribute
#define cudaFuncSetAttribute llm_simt_cudaFuncSetAttribute
#define cudaGetLastError llm_simt_cudaGetLastError
#define cudaPeekAtLastError llm_simt_cudaPeekAtLastError
#define cudaGetErrorString llm_simt_cudaGetErrorString
#define cudaGetErrorName llm_simt_cudaGetErrorName

// cuBLAS (cublas_v2.h maps cublasCreate to cublasCreate_v2 and so on; these rename the targets)
#define cublasCreate_v2 llm_simt_cublasCreate_v2
#define cublasDestroy_v2 llm_simt_cublasDestroy_v2
#define cublasSetStream_v2 llm_simt_cublasSetStream_v2
#define cublasGetStream_v2 llm_simt_cublasGetStream_v2
#define cublasSetMathMode llm_simt_cublasSetMathMode
#define cublasSetPointerMode_v2 llm_simt_cublasSetPointerMode_v2
#define cublasSetWorkspace_v2 llm_simt_cublasSetWorkspace_v2
#define cublasGetStatusString llm_simt_cublasGetStatusString
#define cublasGemmEx llm_simt_cublasGemmEx
#define cublasGemmStridedBatchedEx llm_simt_cublasGemmStridedBatchedEx
#define cublasSgemm_v2 llm_simt_cublasSgemm_v2

// cuBLASLt
#define cublasLtCreate llm_simt_cublasLtCreate
#define cublasLtDestroy llm_simt_cublasLtDestroy
#define cublasLtMatrixLayoutCreate llm_simt_cublasLtMatrixLayoutCreate
#define cublasLtMatrixLayoutDestroy llm_simt_cublasLtMatrixLayoutDestroy
#define cublasLtMatmulDescCreate llm_simt_cublasLtMatmulDescCreate
#define cublasLtMatmulDescDestroy llm_simt_cublasLtMatmulDescDestroy
#define cublasLtMatmulDescSetAttribute llm_simt_cublasLtMatmulDescSetAttribute
#define cublasLtMatmulPreferenceCreate llm_simt_cublasLtMatmulPreferenceCreate
#define cublasLtMatmulPreferenceDestroy llm_simt_cublasLtMatmulPreferenceDestroy
#define cublasLtMatmulPreferenceSetAttribute llm_simt_cublasLtMatmulPreferenceSetAttribute
#define cublasLtMatmulAlgoGetHeuristic llm_simt_cublasLtMatmulAlgoGetHeuristic
#define cublasLtMatmul llm_simt_cublasLtMatmul

// NCCL (declared by kernels/simt/nccl.h, not by the real nccl.h, which needs cuda_runtime.h)
#define ncclGetUniqueId llm_simt_ncclGetUniqueId
#define ncclCommInitRank llm_simt_ncclCommInitRank
#define ncclCommDestroy llm_simt_ncclCommDestroy
#define ncclCommCount llm_simt_ncclCommCount
#define ncclCommUserRank llm_simt_ncclCommUserRank
#define ncclAllReduce llm_simt_ncclAllReduce
#define ncclAllGather llm_simt_ncclAllGather
#define ncclReduceScatter llm_simt_ncclReduceScatter
#define ncclBroadcast llm_simt_ncclBroadcast
#define ncclGroupStart llm_simt_ncclGroupStart
#define ncclGroupEnd llm_simt_ncclGroupEnd
#define ncclGetErrorString llm_simt_ncclGetErrorString
