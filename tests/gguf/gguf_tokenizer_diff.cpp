// Compares Tokenizer::from_gguf on the GGUF metadata of a real tokenizer (make_gguf_vocab.py)
// with Tokenizer::load on the original files, which matches `tokenizers` / SentencePiece exactly
// (hf_tokenizer_diff, tokenizer_test):
//   gguf_tokenizer_diff VOCAB.json MODEL_DIR TEXTS.jsonl [SEED]
// Compared: vocabulary size, BOS / EOS and whether they are added, every id's piece and control
// flag, encode() with and without special tokens and encode_with_special_tokens() of each text,
// decode() and streamed decoding of the reference ids, decode() of seeded random id sequences, and
// encode_with_special_tokens() of conversations rendered with the vocabulary's chat template.
// Prints the counts; exits 1 on any mismatch.
#include <cstdio>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "tokenizer/chat_template.h"
#include "tokenizer/tokenizer.h"

namespace {

using json = nlohmann::json;

llm::GgufVocab read_vocab(const json& j) {
  llm::GgufVocab v;
  v.model = j.at("model").get<std::string>();
  v.pre = j.at("pre").get<std::string>();
  v.tokens = j.at("tokens").get<std::vector<std::string>>();
  v.scores = j.at("scores").get<std::vector<float>>();
  v.token_types = j.at("token_types").get<std::vector<int32_t>>();
  v.merges = j.at("merges").get<std::vector<std::string>>();
  v.bos_id = j.at("bos_id").get<int32_t>();
  v.eos_id = j.at("eos_id").get<int32_t>();
  v.unknown_id = j.at("unknown_id").get<int32_t>();
  v.padding_id = j.at("padding_id").get<int32_t>();
  auto flag = [&](const char* key) -> std::optional<bool> {
    if (!j.contains(key) || j[key].is_null()) return std::nullopt;
    return j[key].get<bool>();
  };
  v.add_bos = flag("add_bos");
  v.add_eos = flag("add_eos");
  v.add_space_prefix = flag("add_space_prefix");
  v.chat_template = j.at("chat_template").get<std::string>();
  return v;
}

std::string show(const std::vector<llm::TokenId>& ids) {
  std::string s = "[";
  for (size_t i = 0; i < ids.size(); ++i) s += (i ? "," : "") + std::to_string(ids[i]);
  return s + "]";
}

struct Counter {
  size_t checked = 0;
  size_t failed = 0;
  size_t shown = 0;
  // Records one comparison; prints the first few failures with CONTEXT.
  template <class T>
  void expect(const T& got, const T& want, const std::string& what, const std::string& context) {
    ++checked;
    if (got == want) return;
    ++failed;
    if (shown++ < 10) std::cerr << "MISMATCH " << what << " for " << json(context).dump() << "\n";
  }
};

std::string stream(const llm::Tokenizer& tok, const std::vector<llm::TokenId>& ids) {
  llm::IncrementalDetokenizer detok(tok, {});
  std::string out;
  for (const llm::TokenId id : ids) out += detok.push(id);
  return out + detok.flush();
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 4 && argc != 5) {
    std::fprintf(stderr, "usage: %s VOCAB.json MODEL_DIR TEXTS.jsonl [SEED]\n", argv[0]);
    return 2;
  }
  std::ifstream vocab_in(argv[1]);
  const json vocab_json = json::parse(vocab_in);
  const llm::GgufVocab vocab = read_vocab(vocab_json);
  const auto hf_special_mismatch = vocab_json.at("hf_special_mismatch").get<std::set<int>>();
  const llm::Tokenizer got = llm::Tokenizer::from_gguf(vocab);
  const llm::Tokenizer want = llm::Tokenizer::load(argv[2]);
  const uint32_t seed = argc == 5 ? static_cast<uint32_t>(std::stoul(argv[4])) : 1234;

  Counter c;
  c.expect(got.vocab_size(), want.vocab_size(), "vocab_size", "");
  c.expect(got.add_bos(), want.add_bos(), "add_bos", "");
  c.expect(got.add_eos(), want.add_eos(), "add_eos", "");
  // Ids the file leaves out fall back to llama.cpp's defaults, which the original need not share.
  if (vocab.bos_id >= 0 || want.add_bos()) c.expect(got.bos_id(), want.bos_id(), "bos_id", "");
  if (vocab.eos_id >= 0 || want.add_eos()) c.expect(got.eos_id(), want.eos_id(), "eos_id", "");

  // The converter marks some tokens control that the original does not call special: exactly
  // those may differ, and random decoding leaves them out.
  std::set<int> control_mismatch;
  for (llm::TokenId id = 0; id < want.vocab_size(); ++id) {
    c.expect(got.id_to_piece(id), want.id_to_piece(id), "id_to_piece", std::to_string(id));
    if (got.is_control(id) != want.is_control(id)) control_mismatch.insert(id);
  }
  c.expect(control_mismatch, hf_special_mismatch, "control tokens", "");

  std::ifstream in(argv[3]);
  std::vector<std::string> texts;
  for (std::string line; std::getline(in, line);) {
    if (!line.empty()) texts.push_back(json::parse(line).at("text").get<std::string>());
  }
  if (texts.empty()) {
    std::fprintf(stderr, "no texts in %s\n", argv[3]);
    return 2;
  }
  for (const std::string& text : texts) {
    const auto ids = want.encode(text, false);
    c.expect(show(got.encode(text, false)), show(ids), "encode", text);
    const auto ids_special = want.encode(text, true);
    c.expect(show(got.encode(text, true)), show(ids_special), "encode(add_special_tokens)", text);
    c.expect(show(got.encode_with_special_tokens(text)),
             show(want.encode_with_special_tokens(text)), "encode_with_special_tokens", text);
    c.expect(got.decode(ids_special), want.decode(ids_special), "decode", text);
    c.expect(stream(got, ids_special), stream(want, ids_special), "streamed decode", text);
  }

  std::mt19937 rng(seed);
  std::uniform_int_distribution<llm::TokenId> any_id(0, want.vocab_size() - 1);
  std::uniform_int_distribution<int> length(1, 24);
  for (int i = 0; i < 3000; ++i) {
    std::vector<llm::TokenId> ids;
    for (int n = length(rng); static_cast<int>(ids.size()) < n;) {
      const llm::TokenId id = any_id(rng);
      if (!hf_special_mismatch.contains(id)) ids.push_back(id);
    }
    c.expect(got.decode(ids), want.decode(ids), "decode of random ids", show(ids));
  }

  size_t chats = 0;
  if (!vocab.chat_template.empty()) {
    const llm::ChatTemplate tmpl = llm::ChatTemplate::compile(vocab.chat_template);
    std::uniform_int_distribution<size_t> pick(0, texts.size() - 1);
    for (int i = 0; i < 500; ++i) {
      llm::ChatTemplate::Inputs inputs;
      inputs.messages = nlohmann::ordered_json::array();
      inputs.messages.push_back({{"role", "system"}, {"content", texts[pick(rng)]}});
      for (int turn = 0; turn < 3; ++turn) {
        inputs.messages.push_back(
            {{"role", turn % 2 ? "assistant" : "user"}, {"content", texts[pick(rng)]}});
      }
      if (got.bos_id() >= 0) inputs.bos_token = got.id_to_piece(got.bos_id());
      if (got.eos_id() >= 0) inputs.eos_token = got.id_to_piece(got.eos_id());
      inputs.strftime_now = [](const std::string&) { return std::string("26 Jul 2024"); };
      const std::string prompt = tmpl.render(inputs);
      c.expect(show(got.encode_with_special_tokens(prompt)),
               show(want.encode_with_special_tokens(prompt)), "chat prompt", prompt);
      ++chats;
    }
  }

  std::printf("%s: %zu texts, %zu chat prompts, %zu checks, %zu mismatches\n", argv[1],
              texts.size(), chats, c.checked, c.failed);
  return c.failed == 0 ? 0 : 1;
}
