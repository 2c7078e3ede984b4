// The C++ side of quant_diff.py: runs our GGUF block conversions on files the python side wrote.
//
//   quant_tool dequantize TYPE IN OUT   IN: blocks of TYPE; OUT: their f32 elements
//   quant_tool quantize TYPE N IN OUT   IN: f32 rows of N elements; OUT: their TYPE blocks
//   quant_tool matmul TYPE K W X OUT    W: rows of K elements as TYPE blocks; X: f32 rows [T, K];
//                                       OUT: matmul_quant's f32 [T, N], then the quantized
//                                       activations it multiplied: int8 q [T, K], f32 d [T, K/32]
// (TYPE: q8_0, q4_0, q4_1, q4_k, q5_k, q6_k; quantize takes q8_0 and q4_0 only.)
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <iterator>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "kernels/cpu/quant_blocks.h"
#include "kernels/cpu/quant_matmul.h"
#include "llm/dtype.h"

namespace {

std::vector<char> read_file(const char* path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error(std::string("cannot read ") + path);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

void write_file(const char* path, const void* data, size_t bytes) {
  std::ofstream out(path, std::ios::binary);
  out.write(static_cast<const char*>(data), static_cast<std::streamsize>(bytes));
  if (!out) throw std::runtime_error(std::string("cannot write ") + path);
}

int usage() {
  std::cerr << "usage: quant_tool dequantize TYPE IN OUT | quantize TYPE N IN OUT | "
               "matmul TYPE K W X OUT\n";
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    if (argc < 5) return usage();
    const std::string cmd = argv[1];
    const std::optional<llm::DType> type = llm::dtype_from_name(argv[2]);
    if (!type || !llm::dtype_is_quantized(*type)) return usage();
    if (cmd == "dequantize" && argc == 5) {
      const std::vector<char> in = read_file(argv[3]);
      const int64_t blocks = static_cast<int64_t>(in.size() / llm::dtype_block_bytes(*type));
      std::vector<float> out(static_cast<size_t>(blocks * llm::dtype_block_elems(*type)));  // [n]
      llm::cpu::dequantize_blocks(*type, in.data(), static_cast<int64_t>(out.size()), out.data());
      write_file(argv[4], out.data(), out.size() * sizeof(float));
      return 0;
    }
    if (cmd == "quantize" && argc == 6) {
      const int64_t n = std::atoll(argv[3]);
      const std::vector<char> in = read_file(argv[4]);
      const int64_t rows = static_cast<int64_t>(in.size() / sizeof(float)) / n;
      const size_t row_bytes =
          static_cast<size_t>(llm::cpu::quant_blocks_for(n)) * llm::dtype_block_bytes(*type);
      std::vector<unsigned char> out(static_cast<size_t>(rows) * row_bytes);  // [rows][row_bytes]
      for (int64_t r = 0; r < rows; ++r) {
        llm::cpu::quantize_row(*type, reinterpret_cast<const float*>(in.data()) + r * n, n,
                               out.data() + static_cast<size_t>(r) * row_bytes);
      }
      write_file(argv[5], out.data(), out.size());
      return 0;
    }
    if (cmd == "matmul" && argc == 7) {
      const int64_t k = std::atoll(argv[3]);
      const std::vector<char> w = read_file(argv[4]), x = read_file(argv[5]);
      const auto n = static_cast<int64_t>(w.size() / llm::dtype_row_bytes(*type, k));
      const auto T = static_cast<int64_t>(x.size() / sizeof(float)) / k;
      std::vector<unsigned char> packed(llm::cpu::quant_packed_bytes(n, k, *type));
      const llm::cpu::QuantPackedWeight pw{packed.data(), *type, n, k};
      llm::cpu::pack_quant_weight_blocks(w.data(), n, k, *type, packed.data(), 0, pw.num_panels());
      llm::cpu::QuantizedActivations xq;
      llm::cpu::quantize_activations(reinterpret_cast<const float*>(x.data()), k, T, k, xq);
      std::vector<float> out(static_cast<size_t>(T * n));  // [T][n]
      llm::cpu::matmul_quant(xq, pw, 0, pw.num_panels(), out.data(), n);
      std::ofstream f(argv[6], std::ios::binary);
      f.write(reinterpret_cast<const char*>(out.data()),
              static_cast<std::streamsize>(out.size() * sizeof(float)));
      f.write(reinterpret_cast<const char*>(xq.q.data()), static_cast<std::streamsize>(T * k));
      f.write(reinterpret_cast<const char*>(xq.d.data()),
              static_cast<std::streamsize>(T * xq.blocks * sizeof(float)));
      if (!f) throw std::runtime_error(std::string("cannot write ") + argv[6]);
      return 0;
    }
    return usage();
  } catch (const std::exception& e) {
    std::cerr << "quant_tool: " << e.what() << "\n";
    return 1;
  }
}
