// Compares our tokenizer with expectations the `tokenizers` library wrote (hf_diff.py):
//   hf_tokenizer_diff MODEL_DIR CASES.jsonl
// Each line: {"text", "ids" (add_special_tokens=False), "ids_special" (True), "decoded"
// (decode(ids_special, skip_special_tokens=True))}. Also streams ids_special through the
// IncrementalDetokenizer: the deltas must add up to decode() and hold back partial characters
// (no U+FFFD that the full text lacks). Prints the counts; exits 1 on any mismatch.
#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "tokenizer/tokenizer.h"

namespace {

std::string show(const std::vector<llm::TokenId>& ids) {
  std::string s = "[";
  for (size_t i = 0; i < ids.size(); ++i) s += (i ? "," : "") + std::to_string(ids[i]);
  return s + "]";
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: %s MODEL_DIR CASES.jsonl\n", argv[0]);
    return 2;
  }
  const auto t0 = std::chrono::steady_clock::now();
  const llm::Tokenizer tok = llm::Tokenizer::load(argv[1]);
  const double load_s =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::ifstream in(argv[2]);
  if (!in) {
    std::fprintf(stderr, "cannot read %s\n", argv[2]);
    return 2;
  }
  size_t compared = 0, id_mismatch = 0, special_mismatch = 0, decode_mismatch = 0;
  size_t roundtrip_fail = 0, roundtrip_checked = 0, stream_fail = 0, shown = 0;
  const std::string kReplacement = "\xEF\xBF\xBD";
  for (std::string line; std::getline(in, line);) {
    if (line.empty()) continue;
    const auto c = nlohmann::json::parse(line);
    const std::string text = c["text"].get<std::string>();
    const auto want = c["ids"].get<std::vector<llm::TokenId>>();
    const auto want_special = c["ids_special"].get<std::vector<llm::TokenId>>();
    const std::string want_decoded = c["decoded"].get<std::string>();
    ++compared;
    const auto got = tok.encode(text, false);
    const auto got_special = tok.encode(text, true);
    const std::string decoded = tok.decode(want_special);
    bool bad = false;
    if (got != want) {
      ++id_mismatch;
      bad = true;
    }
    if (got_special != want_special) {
      ++special_mismatch;
      bad = true;
    }
    if (decoded != want_decoded) {
      ++decode_mismatch;
      bad = true;
    }
    if (bad && shown++ < 10) {
      std::cerr << "MISMATCH text=" << nlohmann::json(text).dump() << "\n  want " << show(want)
                << "\n  got  " << show(got) << "\n  want_special " << show(want_special)
                << "\n  got_special  " << show(got_special) << "\n  want_decoded "
                << nlohmann::json(want_decoded).dump() << "\n  got_decoded  "
                << nlohmann::json(decoded).dump() << "\n";
    }
    // decode(encode(text)) == text, for strings whose ids hold no special token (decode drops
    // those): byte-level BPE loses nothing but what the normalizer changes.
    bool has_special = false;
    for (const llm::TokenId id : got) has_special = has_special || tok.is_control(id);
    if (!has_special) {
      ++roundtrip_checked;
      if (tok.decode(got) != text) ++roundtrip_fail;
    }

    llm::IncrementalDetokenizer detok(tok, {});
    std::string streamed;
    bool stray_replacement = false;
    for (const llm::TokenId id : want_special) {
      const std::string delta = detok.push(id);
      if (delta.find(kReplacement) != std::string::npos &&
          want_decoded.find(kReplacement) == std::string::npos) {
        stray_replacement = true;
      }
      streamed += delta;
    }
    streamed += detok.flush();
    if (streamed != want_decoded || stray_replacement) {
      if (stream_fail++ < 5) {
        std::cerr << "STREAM text=" << nlohmann::json(text).dump()
                  << " streamed=" << nlohmann::json(streamed).dump() << "\n";
      }
    }
  }
  const size_t mismatches = id_mismatch + special_mismatch + decode_mismatch + stream_fail;
  std::printf(
      "%s: load %.3f s; strings compared %zu; mismatches %zu (ids %zu, ids with special tokens "
      "%zu, decode %zu, streaming %zu); round-trip failures %zu of %zu strings without special "
      "tokens (decode(encode(text)) != text: normalization, informational)\n",
      argv[1], load_s, compared, mismatches, id_mismatch, special_mismatch, decode_mismatch,
      stream_fail, roundtrip_fail, roundtrip_checked);
  return mismatches == 0 && compared > 0 ? 0 : 1;
}
