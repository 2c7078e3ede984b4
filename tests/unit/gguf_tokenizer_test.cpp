// Tokenizer::from_gguf on small hand-made vocabularies: the flags and defaults llama.cpp gives
// GGUF metadata, and the refusal of every inconsistency with a clear llm::Error (never a crash).
// Real vocabularies are compared with the original tokenizers by gguf_tokenizer_diff.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "llm/error.h"
#include "tokenizer/tokenizer.h"

namespace llm {
namespace {

constexpr int32_t kNormal = 1;
constexpr int32_t kUnknown = 2;
constexpr int32_t kControl = 3;
constexpr int32_t kUserDefined = 4;
constexpr int32_t kUnused = 5;

TokenId id_of(const GgufVocab& v, const std::string& token) {
  for (size_t i = 0; i < v.tokens.size(); ++i) {
    if (v.tokens[i] == token) return static_cast<TokenId>(i);
  }
  ADD_FAILURE() << token << " is not in the vocabulary";
  return -1;
}

// Byte-level BPE over "a", "b", "Ġ" (a space) and their merges, with a control token, a
// user-defined token and an unused padding token at the end.
GgufVocab tiny_gpt2() {
  GgufVocab v;
  v.model = "gpt2";
  v.pre = "gpt-2";
  v.tokens = {"a",
              "b",
              "\xC4\xA0",
              "ab",
              "\xC4\xA0"
              "a",
              "<|end|>",
              "<tool>",
              "[PAD7]"};
  v.token_types = {kNormal, kNormal, kNormal, kNormal, kNormal, kControl, kUserDefined, kUnused};
  v.merges = {"a b", "\xC4\xA0 a"};
  return v;
}

// SentencePiece-style pieces with scores: "▁" for a space, <unk>, <s>, </s>.
GgufVocab tiny_llama() {
  GgufVocab v;
  v.model = "llama";
  v.tokens = {"<unk>",
              "<s>",
              "</s>",
              "\xE2\x96\x81",
              "a",
              "b",
              "\xE2\x96\x81"
              "a",
              "ab"};
  v.scores = {0, 0, 0, -1, -2, -3, -4, -5};
  v.token_types = {kUnknown, kControl, kControl, kNormal, kNormal, kNormal, kNormal, kNormal};
  return v;
}

void expect_error(const GgufVocab& v, ErrorCode code, const std::string& needle) {
  try {
    (void)Tokenizer::from_gguf(v);
    ADD_FAILURE() << "accepted a vocabulary that should fail with \"" << needle << "\"";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), code) << e.what();
    EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
  }
}

TEST(GgufTokenizer, Gpt2MergesSpecialTokensAndPadding) {
  const GgufVocab v = tiny_gpt2();
  const Tokenizer tok = Tokenizer::from_gguf(v);
  EXPECT_EQ(tok.vocab_size(), static_cast<int>(v.tokens.size()));
  EXPECT_EQ(tok.encode("ab a", false), (std::vector<TokenId>{id_of(v, "ab"), id_of(v,
                                                                                   "\xC4\xA0"
                                                                                   "a")}));
  const std::vector<TokenId> with_special = {id_of(v, "a"), id_of(v, "<|end|>"), id_of(v, "b"),
                                             id_of(v, "<tool>")};
  EXPECT_EQ(tok.encode_with_special_tokens("a<|end|>b<tool>"), with_special);
  // Control tokens vanish from decoded text, user-defined ones stay, unused ones are nothing.
  EXPECT_TRUE(tok.is_control(id_of(v, "<|end|>")));
  EXPECT_FALSE(tok.is_control(id_of(v, "<tool>")));
  EXPECT_EQ(tok.decode(with_special), "ab<tool>");
  EXPECT_EQ(tok.decode(std::vector<TokenId>{id_of(v, "[PAD7]")}), "");
  // A vocabulary of fewer than 12 tokens lacks llama.cpp's default BOS / EOS (id 11).
  EXPECT_EQ(tok.bos_id(), -1);
  EXPECT_FALSE(tok.add_bos());
}

TEST(GgufTokenizer, EveryImplementedPreTokenizerLoadsAndSplitsWords) {
  // Each pattern builds (the "default" list runs through ICU) and, on plain words, splits where
  // GPT-2's does: the real vocabularies are compared in gguf_tokenizer_diff.
  GgufVocab v = tiny_gpt2();
  const std::vector<TokenId> want = Tokenizer::from_gguf(v).encode("ab a", false);
  EXPECT_EQ(want.size(), 2u);
  for (const char* pre : {"llama-bpe", "llama3", "llama-v3", "qwen2", "smollm", "default"}) {
    v.pre = pre;
    EXPECT_EQ(Tokenizer::from_gguf(v).encode("ab a", false), want) << pre;
  }
}

TEST(GgufTokenizer, Gpt2BosEosFromTheFileAndLlama3Default) {
  GgufVocab v = tiny_gpt2();
  v.pre = "llama-bpe";  // llama.cpp adds BOS for Llama 3 unless the file says otherwise
  v.bos_id = id_of(v, "<|end|>");
  v.eos_id = id_of(v, "<|end|>");
  v.add_eos = true;
  const Tokenizer tok = Tokenizer::from_gguf(v);
  EXPECT_TRUE(tok.add_bos());
  EXPECT_TRUE(tok.add_eos());
  EXPECT_EQ(tok.encode("ab", true), (std::vector<TokenId>{v.bos_id, id_of(v, "ab"), v.eos_id}));
  v.add_bos = false;
  EXPECT_FALSE(Tokenizer::from_gguf(v).add_bos());
}

TEST(GgufTokenizer, LlamaSpacePrefixAndDefaults) {
  GgufVocab v = tiny_llama();
  const Tokenizer tok = Tokenizer::from_gguf(v);
  // llama.cpp's defaults for an SPM vocabulary: <s> = 1 added, </s> = 2 not.
  EXPECT_EQ(tok.bos_id(), id_of(v, "<s>"));
  EXPECT_EQ(tok.eos_id(), id_of(v, "</s>"));
  EXPECT_EQ(tok.encode("a", true), (std::vector<TokenId>{id_of(v, "<s>"), id_of(v,
                                                                                "\xE2\x96\x81"
                                                                                "a")}));
  EXPECT_EQ(tok.decode(tok.encode("ab a", true)), "ab a");
  v.add_space_prefix = false;
  EXPECT_EQ(Tokenizer::from_gguf(v).encode("a", false), (std::vector<TokenId>{id_of(v, "a")}));
}

// llama.cpp's converter pads a SentencePiece vocabulary to the model's size with unused
// "[PADn]" pieces; like llama.cpp (and like ids past a tokenizer.model), they decode to nothing,
// also when streamed.
TEST(GgufTokenizer, LlamaUnusedPaddingPiecesDecodeToNothing) {
  GgufVocab v = tiny_llama();
  for (const char* pad : {"[PAD8]", "[PAD9]"}) {
    v.tokens.push_back(pad);
    v.scores.push_back(0);
    v.token_types.push_back(5);  // unused
  }
  const Tokenizer tok = Tokenizer::from_gguf(v);
  const std::vector<TokenId> a = tok.encode("ab a", false);
  std::vector<TokenId> ids = a;
  ids.insert(ids.begin() + 1, 8);
  ids.push_back(9);
  EXPECT_EQ(tok.decode(ids), tok.decode(a));
  EXPECT_EQ(tok.decode(std::vector<TokenId>{8, 9}), "");
  IncrementalDetokenizer detok(tok, {});
  std::string streamed;
  for (const TokenId id : ids) streamed += detok.push(id);
  streamed += detok.flush();
  EXPECT_EQ(streamed, tok.decode(a));
}

TEST(GgufTokenizer, RefusesUnknownModelsAndPreTokenizers) {
  GgufVocab v = tiny_gpt2();
  v.model = "t5";
  expect_error(v, ErrorCode::kUnsupported, "\"t5\"");
  v.model = "";
  expect_error(v, ErrorCode::kCorruptFile, "tokenizer.ggml.model");
  v = tiny_gpt2();
  v.pre = "deepseek-llm";
  expect_error(v, ErrorCode::kUnsupported, "\"deepseek-llm\"");
  v.pre = "";
  expect_error(v, ErrorCode::kUnsupported, "tokenizer.ggml.pre");
}

TEST(GgufTokenizer, RefusesInconsistentArrays) {
  for (const GgufVocab& base : {tiny_gpt2(), tiny_llama()}) {
    GgufVocab v = base;
    v.tokens.clear();
    v.scores.clear();
    v.token_types.clear();
    expect_error(v, ErrorCode::kCorruptFile, "tokenizer.ggml.tokens is empty");
    v = base;
    v.scores.assign(v.tokens.size() + 1, 0.0f);
    expect_error(v, ErrorCode::kCorruptFile, "tokenizer.ggml.scores");
    v = base;
    v.token_types.pop_back();
    expect_error(v, ErrorCode::kCorruptFile, "tokenizer.ggml.token_type");
    v = base;
    v.token_types[0] = 9;
    expect_error(v, ErrorCode::kCorruptFile, "token_type[0]");
    v = base;
    v.tokens[1] = v.tokens[0];
    expect_error(v, ErrorCode::kCorruptFile, "appears twice");
  }
}

TEST(GgufTokenizer, RefusesSpecialIdsOutOfRange) {
  for (const GgufVocab& base : {tiny_gpt2(), tiny_llama()}) {
    const int32_t n = static_cast<int32_t>(base.tokens.size());
    GgufVocab v = base;
    v.bos_id = n;
    expect_error(v, ErrorCode::kCorruptFile, "bos_token_id");
    v = base;
    v.eos_id = -7;
    expect_error(v, ErrorCode::kCorruptFile, "eos_token_id");
    v = base;
    v.unknown_id = n + 100;
    expect_error(v, ErrorCode::kCorruptFile, "unknown_token_id");
    v = base;
    v.padding_id = n;
    expect_error(v, ErrorCode::kCorruptFile, "padding_token_id");
  }
  GgufVocab v = tiny_gpt2();
  v.add_bos = true;  // and no BOS: the tiny vocabulary has no id 11 either
  expect_error(v, ErrorCode::kCorruptFile, "add_bos_token");
}

TEST(GgufTokenizer, RefusesBadMerges) {
  GgufVocab v = tiny_gpt2();
  v.merges.push_back("a zz");
  expect_error(v, ErrorCode::kCorruptFile, "not in the vocabulary");
  v = tiny_gpt2();
  v.merges.push_back("ab");
  expect_error(v, ErrorCode::kCorruptFile, "merges[2]");
}

TEST(GgufTokenizer, LlamaVocabularySentencePieceRefusesIsAnErrorNotACrash) {
  GgufVocab v = tiny_llama();
  v.token_types[0] = kNormal;  // no unknown piece
  expect_error(v, ErrorCode::kCorruptFile, "SentencePiece refuses");
  v = tiny_llama();
  v.token_types[3] = 6;  // a byte piece not spelled <0xNN>
  expect_error(v, ErrorCode::kCorruptFile, "SentencePiece refuses");
}

}  // namespace
}  // namespace llm
