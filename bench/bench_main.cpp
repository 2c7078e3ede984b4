// llm-bench: how fast this server is on this machine, and how close to the machine's limits.
// One binary, one subcommand per measurement, as `vllm bench`.
#include <cstring>
#include <iostream>
#include <string>

#include "bench/subcommands.h"

namespace {

constexpr const char* kUsage =
    "usage: llm-bench SUBCOMMAND [--help] [flags]\n"
    "  throughput  offline throughput through the Engine (requests/s, tokens/s)\n"
    "  latency     prefill time and decode-step time of a fixed batch\n"
    "  roofline    this machine's memory bandwidth and GEMM peak, and the model's bounds\n"
    "  gemm        the model's matrix products per implementation (engine, OpenBLAS, oneDNN)\n"
    "  serve       streaming load against a running llm-serve (TTFT, TPOT, ITL, latency)\n"
    "  sample      host time of one sampling call at 128k-152k vocabularies\n"
    "  attention   the device's paged-attention kernels beside its peak (bytes, FLOPs)\n"
    "Every subcommand prints a table and, with --json FILE, writes a machine-readable result.\n";

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::cerr << kUsage;
    return 2;
  }
  const std::string sub = argv[1];
  if (sub == "--help" || sub == "-h" || sub == "help") {
    std::cout << kUsage;
    return 0;
  }
  // The subcommand sees its own name as argv[0] and only its flags after it.
  if (sub == "throughput") return llm::bench::throughput_main(argc - 1, argv + 1);
  if (sub == "latency") return llm::bench::latency_main(argc - 1, argv + 1);
  if (sub == "roofline") return llm::bench::roofline_main(argc - 1, argv + 1);
  if (sub == "gemm") return llm::bench::gemm_main(argc - 1, argv + 1);
  if (sub == "serve") return llm::bench::serve_main(argc - 1, argv + 1);
  if (sub == "sample") return llm::bench::sample_main(argc - 1, argv + 1);
  if (sub == "attention") return llm::bench::attention_main(argc - 1, argv + 1);
  std::cerr << "llm-bench: unknown subcommand '" << sub << "'\n" << kUsage;
  return 2;
}
