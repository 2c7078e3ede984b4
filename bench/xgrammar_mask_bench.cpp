// xgrammar's token-mask time per decoding step at a real vocabulary, for choosing the grammar
// engine of structured output (built and run by bench/xgrammar_mask.sh; not part of the build).
// Usage: xgrammar_mask_bench TOKENIZER_JSON STOP_TOKEN_ID
// For each JSON schema, 20 random walks of up to 400 steps: each step fills the bitmask (timed),
// then accepts a uniformly random allowed token, or the stop token as soon as it is allowed.
#include <dlpack/dlpack.h>
#include <xgrammar/xgrammar.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>
using namespace xgrammar;
int main(int argc, char** argv) {
  std::ifstream in(argv[1]);
  auto tj = nlohmann::json::parse(in);
  int vocab = 0;
  for (auto& [k, v] : tj["model"]["vocab"].items()) vocab = std::max(vocab, v.get<int>() + 1);
  for (auto& a : tj["added_tokens"]) vocab = std::max(vocab, a["id"].get<int>() + 1);
  std::vector<std::string> enc(vocab);
  for (auto& [k, v] : tj["model"]["vocab"].items()) enc[v.get<int>()] = k;
  for (auto& a : tj["added_tokens"]) enc[a["id"].get<int>()] = a["content"].get<std::string>();
  const int eos = std::stoi(argv[2]);
  auto t0 = std::chrono::steady_clock::now();
  TokenizerInfo ti(enc, VocabType::BYTE_LEVEL, vocab, std::vector<int32_t>{eos}, false);
  GrammarCompiler compiler(ti, 2, true);
  double t_info = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  const char* schemas[] = {
      R"({"type":"object","properties":{"name":{"type":"string"},"age":{"type":"integer","minimum":0}},"required":["name","age"]})",
      R"({"type":"object","properties":{"items":{"type":"array","items":{"$ref":"#/$defs/item"},"minItems":1,"maxItems":4}},"required":["items"],"$defs":{"item":{"type":"object","properties":{"id":{"type":"string","format":"uuid"},"kind":{"enum":["a","b","c"]},"value":{"anyOf":[{"type":"number"},{"type":"null"}]}},"required":["id","kind","value"],"additionalProperties":false}}})",
  };
  for (const char* schema : schemas) {
    auto c0 = std::chrono::steady_clock::now();
    CompiledGrammar cg = compiler.CompileJSONSchema(schema, false);
    double t_comp = std::chrono::duration<double>(std::chrono::steady_clock::now() - c0).count();
    std::mt19937 rng(1);
    std::vector<int32_t> mask((vocab + 31) / 32);
    int64_t shape[1] = {(int64_t)mask.size()};
    DLTensor t{mask.data(), {kDLCPU, 0}, 1, {kDLInt, 32, 1}, shape, nullptr, 0};
    std::vector<double> times;
    for (int run = 0; run < 20; ++run) {
      GrammarMatcher m(cg);
      for (int step = 0; step < 400 && !m.IsTerminated(); ++step) {
        auto s0 = std::chrono::steady_clock::now();
        m.FillNextTokenBitmask(&t);
        times.push_back(
            std::chrono::duration<double>(std::chrono::steady_clock::now() - s0).count() * 1e6);
        std::vector<int> allowed;
        for (int i = 0; i < vocab; ++i)
          if (mask[i / 32] >> (i % 32) & 1) allowed.push_back(i);
        // Finish as soon as the grammar allows it.
        int tok = allowed[rng() % allowed.size()];
        if (std::find(allowed.begin(), allowed.end(), eos) != allowed.end()) tok = eos;
        if (!m.AcceptToken(tok)) {
          std::printf("rejected\n");
          return 1;
        }
      }
    }
    std::sort(times.begin(), times.end());
    std::printf(
        "vocab %d: schema %zu chars: compile %.3f s, %zu masks, median %.1f us, p99 %.1f us, max "
        "%.1f us\n",
        vocab, std::string(schema).size(), t_comp, times.size(), times[times.size() / 2],
        times[times.size() * 99 / 100], times.back());
  }
  std::printf("tokenizer info + compiler: %.3f s\n", t_info);
}
