// Encode throughput of our tokenizer on a corpus, single thread (bench/tokenizer_bench.py runs
// it beside the `tokenizers` package on the same text):
//   llm-tokenizer-bench MODEL_DIR CORPUS.jsonl
// CORPUS.jsonl: one JSON string (a document) per line. Prints one JSON object: load seconds,
// bytes, seconds, MB/s and the total id count (which must equal the reference's).
#include <chrono>
#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "tokenizer/tokenizer.h"

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: %s MODEL_DIR CORPUS.jsonl\n", argv[0]);
    return 2;
  }
  using clock = std::chrono::steady_clock;
  std::vector<std::string> docs;
  std::ifstream in(argv[2]);
  size_t bytes = 0;
  for (std::string line; std::getline(in, line);) {
    if (line.empty()) continue;
    docs.push_back(nlohmann::json::parse(line).get<std::string>());
    bytes += docs.back().size();
  }
  const auto t0 = clock::now();
  const llm::Tokenizer tok = llm::Tokenizer::load(argv[1]);
  const double load_s = std::chrono::duration<double>(clock::now() - t0).count();
  size_t ids = 0;
  const auto t1 = clock::now();
  for (const std::string& d : docs) ids += tok.encode(d, false).size();
  const double s = std::chrono::duration<double>(clock::now() - t1).count();
  std::printf(
      "{\"load_s\": %.3f, \"bytes\": %zu, \"seconds\": %.3f, \"mb_per_s\": %.2f, \"ids\": %zu}\n",
      load_s, bytes, s, static_cast<double>(bytes) / 1e6 / s, ids);
  return 0;
}
