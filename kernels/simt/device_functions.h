// Device-side functions CUDA kernels call that the host lacks: atomics, fast-math intrinsics,
// bit casts, min/max overloads. Included through kernels/simt/simt.h.
//
// Atomics are real atomics (std::atomic_ref) because blocks may run on several OS threads.
#pragma once

#include <atomic>
#include <bit>
#include <cmath>
#include <cstdint>

// --- atomics (return the old value, as CUDA's do) ---------------------------------------------

template <typename T>
inline T llm_simt_atomic_add(T* address, T val) {
  return std::atomic_ref<T>(*address).fetch_add(val, std::memory_order_relaxed);
}
inline float atomicAdd(float* a, float v) {
  return llm_simt_atomic_add(a, v);
}
inline double atomicAdd(double* a, double v) {
  return llm_simt_atomic_add(a, v);
}
inline int atomicAdd(int* a, int v) {
  return llm_simt_atomic_add(a, v);
}
inline unsigned atomicAdd(unsigned* a, unsigned v) {
  return llm_simt_atomic_add(a, v);
}
inline unsigned long long atomicAdd(unsigned long long* a, unsigned long long v) {
  return llm_simt_atomic_add(a, v);
}
inline int atomicSub(int* a, int v) {
  return std::atomic_ref<int>(*a).fetch_sub(v);
}
inline unsigned atomicSub(unsigned* a, unsigned v) {
  return std::atomic_ref<unsigned>(*a).fetch_sub(v);
}

template <typename T, typename Better>
inline T llm_simt_atomic_update(T* address, T val, Better better) {
  std::atomic_ref<T> ref(*address);
  T old = ref.load();
  while (better(val, old) && !ref.compare_exchange_weak(old, val)) {
  }
  return old;
}
template <typename T>
inline T llm_simt_atomic_max(T* a, T v) {
  return llm_simt_atomic_update(a, v, [](T x, T y) { return x > y; });
}
template <typename T>
inline T llm_simt_atomic_min(T* a, T v) {
  return llm_simt_atomic_update(a, v, [](T x, T y) { return x < y; });
}
inline int atomicMax(int* a, int v) {
  return llm_simt_atomic_max(a, v);
}
inline unsigned atomicMax(unsigned* a, unsigned v) {
  return llm_simt_atomic_max(a, v);
}
inline long long atomicMax(long long* a, long long v) {
  return llm_simt_atomic_max(a, v);
}
inline unsigned long long atomicMax(unsigned long long* a, unsigned long long v) {
  return llm_simt_atomic_max(a, v);
}
inline int atomicMin(int* a, int v) {
  return llm_simt_atomic_min(a, v);
}
inline unsigned atomicMin(unsigned* a, unsigned v) {
  return llm_simt_atomic_min(a, v);
}

template <typename T>
inline T llm_simt_atomic_cas(T* address, T compare, T val) {
  std::atomic_ref<T>(*address).compare_exchange_strong(compare, val);
  return compare;  // holds the old value whether or not the exchange happened
}
inline int atomicCAS(int* a, int c, int v) {
  return llm_simt_atomic_cas(a, c, v);
}
inline unsigned atomicCAS(unsigned* a, unsigned c, unsigned v) {
  return llm_simt_atomic_cas(a, c, v);
}
inline unsigned long long atomicCAS(unsigned long long* a, unsigned long long c,
                                    unsigned long long v) {
  return llm_simt_atomic_cas(a, c, v);
}
inline unsigned short atomicCAS(unsigned short* a, unsigned short c, unsigned short v) {
  return llm_simt_atomic_cas(a, c, v);
}

inline int atomicExch(int* a, int v) {
  return std::atomic_ref<int>(*a).exchange(v);
}
inline unsigned atomicExch(unsigned* a, unsigned v) {
  return std::atomic_ref<unsigned>(*a).exchange(v);
}
inline unsigned long long atomicExch(unsigned long long* a, unsigned long long v) {
  return std::atomic_ref<unsigned long long>(*a).exchange(v);
}
inline float atomicExch(float* a, float v) {
  return std::atomic_ref<float>(*a).exchange(v);
}
inline int atomicAnd(int* a, int v) {
  return std::atomic_ref<int>(*a).fetch_and(v);
}
inline int atomicOr(int* a, int v) {
  return std::atomic_ref<int>(*a).fetch_or(v);
}
inline unsigned atomicOr(unsigned* a, unsigned v) {
  return std::atomic_ref<unsigned>(*a).fetch_or(v);
}

// Fences order nothing extra here: threads of a block interleave only at sync points.
inline void __threadfence() {
  std::atomic_thread_fence(std::memory_order_seq_cst);
}
inline void __threadfence_block() {
  std::atomic_thread_fence(std::memory_order_seq_cst);
}

// --- math intrinsics: the fast variants compute the accurate value on the host ----------------

inline float __expf(float x) {
  return std::exp(x);
}
inline float __exp10f(float x) {
  return std::pow(10.0f, x);
}
inline float __logf(float x) {
  return std::log(x);
}
inline float __log2f(float x) {
  return std::log2(x);
}
inline float __sinf(float x) {
  return std::sin(x);
}
inline float __cosf(float x) {
  return std::cos(x);
}
inline float __tanf(float x) {
  return std::tan(x);
}
inline float __powf(float x, float y) {
  return std::pow(x, y);
}
inline float __fdividef(float x, float y) {
  return x / y;
}
inline float __frcp_rn(float x) {
  return 1.0f / x;
}
inline float __fsqrt_rn(float x) {
  return std::sqrt(x);
}
inline float __fadd_rn(float x, float y) {
  return x + y;
}
inline float __fmul_rn(float x, float y) {
  return x * y;
}
inline float __fmaf_rn(float x, float y, float z) {
  return std::fma(x, y, z);
}
inline float __saturatef(float x) {
  return x < 0.0f ? 0.0f : (x > 1.0f ? 1.0f : x);
}
inline float rsqrtf(float x) {
  return 1.0f / std::sqrt(x);
}
inline double rsqrt(double x) {
  return 1.0 / std::sqrt(x);
}
inline float exp10f(float x) {
  return std::pow(10.0f, x);
}

inline float __int_as_float(int x) {
  return std::bit_cast<float>(x);
}
inline int __float_as_int(float x) {
  return std::bit_cast<int>(x);
}
inline float __uint_as_float(unsigned x) {
  return std::bit_cast<float>(x);
}
inline unsigned __float_as_uint(float x) {
  return std::bit_cast<unsigned>(x);
}
inline int __popc(unsigned x) {
  return std::popcount(x);
}
inline int __popcll(unsigned long long x) {
  return std::popcount(x);
}
inline int __clz(int x) {
  return std::countl_zero(static_cast<unsigned>(x));
}
inline int __ffs(int x) {
  return x == 0 ? 0 : std::countr_zero(static_cast<unsigned>(x)) + 1;
}

template <typename T>
inline T __ldg(const T* p) {
  return *p;
}

// CUDA's global min/max overloads for device code.
inline int min(int a, int b) {
  return a < b ? a : b;
}
inline unsigned min(unsigned a, unsigned b) {
  return a < b ? a : b;
}
inline long long min(long long a, long long b) {
  return a < b ? a : b;
}
inline unsigned long long min(unsigned long long a, unsigned long long b) {
  return a < b ? a : b;
}
inline float min(float a, float b) {
  return std::fmin(a, b);
}
inline double min(double a, double b) {
  return std::fmin(a, b);
}
inline int max(int a, int b) {
  return a > b ? a : b;
}
inline unsigned max(unsigned a, unsigned b) {
  return a > b ? a : b;
}
inline long long max(long long a, long long b) {
  return a > b ? a : b;
}
inline unsigned long long max(unsigned long long a, unsigned long long b) {
  return a > b ? a : b;
}
inline float max(float a, float b) {
  return std::fmax(a, b);
}
inline double max(double a, double b) {
  return std::fmax(a, b);
}
