// tokenizer.json pieces that the differential test (tests/tokenizer/hf_diff.py) does not reach:
// the hand-written pre-tokenizer scanner against ICU's regex engine, BPE built from memory,
// refusals at load, tokenizer_config.json's BOS/EOS rules, padded ids, streaming, logprob token
// text, and the converted Llama 2 tokenizer.json against the SentencePiece path.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <vector>

#include "llm/error.h"
#include "tokenizer/hf/bpe_model.h"
#include "tokenizer/hf/regex.h"
#include "tokenizer/hf/unicode.h"
#include "tokenizer/tokenizer.h"

namespace llm {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;

const fs::path kData = fs::path(LLM_SOURCE_DIR) / "tests" / "data";

class TempDir {
 public:
  TempDir() {
    path_ = fs::temp_directory_path() /
            ("hf_tok_test_" + std::to_string(::getpid()) + "_" + std::to_string(counter_++));
    fs::create_directories(path_);
  }
  ~TempDir() { fs::remove_all(path_); }
  const fs::path& path() const { return path_; }
  void write(const std::string& name, const std::string& text) const {
    std::ofstream(path_ / name, std::ios::binary) << text;
  }

 private:
  static inline int counter_ = 0;
  fs::path path_;
};

// Random text over the characters the patterns distinguish: letters and numbers of several
// scripts, every kind of white space, punctuation, marks, apostrophes, U+017F.
std::string random_text(std::mt19937& rng, size_t length) {
  static const std::vector<char32_t> kChars = {
      'a',    'Z',    's',    'S',   't',    'T',     'r',     'e',     'v',   'm',   'L',
      'l',    'd',    'D',    '\'',  '\'',   ' ',     ' ',     ' ',     '\t',  '\n',  '\r',
      0x0B,   0x0C,   0x85,   0xA0,  0x3000, 0x2028,  0x1C,    '0',     '7',   0x663, 0xBD,
      0x2167, 0x2460, '.',    ',',   '!',    '#',     '<',     '_',     0x301, 0x94D, 0x200D,
      0x17F,  0x4E2D, 0xD55C, 0x5D0, 0x627,  0x1F600, 0x1D7D8, 0x20000, 0xE9,  0x130, 0x2019};
  std::string out;
  std::uniform_int_distribution<size_t> pick(0, kChars.size() - 1);
  for (size_t i = 0; i < length; ++i) hf::append_utf8(out, kChars[pick(rng)]);
  return out;
}

TEST(HfRegexTest, HandWrittenScannerAgreesWithIcu) {
  std::mt19937 rng(42);
  for (const char* pattern : {hf::kGpt2Pattern, hf::kLlama3Pattern, hf::kQwen2Pattern}) {
    ASSERT_TRUE(hf::has_fast_path(pattern));
    const auto fast = hf::make_regex(pattern, "test", true);
    const auto icu = hf::make_regex(pattern, "test", false);
    for (int i = 0; i < 3000; ++i) {
      const std::string text = random_text(rng, 1 + i % 40);
      std::vector<hf::Span> a, b;
      fast->find_all(text, a);
      icu->find_all(text, b);
      ASSERT_EQ(a.size(), b.size()) << pattern << "\n" << json(text).dump();
      for (size_t k = 0; k < a.size(); ++k) {
        ASSERT_EQ(a[k].start, b[k].start) << pattern << "\n" << json(text).dump();
        ASSERT_EQ(a[k].end, b[k].end) << pattern << "\n" << json(text).dump();
      }
    }
  }
}

TEST(HfRegexTest, RefusesEscapesWhoseMeaningDiffers) {
  try {
    hf::make_regex(R"(\w+|\s+)", "f.json: pre_tokenizer");
    FAIL() << "expected a refusal";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kUnsupported);
    EXPECT_NE(std::string(e.what()).find("f.json"), std::string::npos);
    EXPECT_NE(std::string(e.what()).find("\\w"), std::string::npos);
  }
}

TEST(HfBpeTest, BuiltFromMemoryMergesByRank) {
  // "abc": (b,c) has the better rank, so the word becomes a + bc, then abc via (a,bc).
  hf::BpeModel bpe({{"a", 0}, {"b", 1}, {"c", 2}, {"ab", 3}, {"bc", 4}, {"abc", 5}},
                   {{"b", "c"}, {"a", "b"}, {"a", "bc"}}, {}, "memory");
  std::vector<TokenId> ids;
  bpe.encode("abc", ids);
  EXPECT_EQ(ids, (std::vector<TokenId>{5}));
  ids.clear();
  bpe.encode("abab", ids);
  EXPECT_EQ(ids, (std::vector<TokenId>{3, 3}));
  ids.clear();
  bpe.encode("cx", ids);  // no unk token, no byte fallback: x is dropped, as in `tokenizers`
  EXPECT_EQ(ids, (std::vector<TokenId>{2}));
}

TEST(HfBpeTest, UnknownAndByteFallback) {
  hf::BpeOptions fused;
  fused.unk_token = "<unk>";
  fused.fuse_unk = true;
  hf::BpeModel unk({{"<unk>", 0}, {"a", 1}}, {}, fused, "memory");
  std::vector<TokenId> ids;
  unk.encode("xya", ids);
  EXPECT_EQ(ids, (std::vector<TokenId>{0, 1}));

  hf::BpeOptions bytes;
  bytes.byte_fallback = true;
  std::vector<std::pair<std::string, TokenId>> vocab = {{"a", 0}};
  for (int b = 0; b < 256; ++b) {
    char name[8];
    std::snprintf(name, sizeof name, "<0x%02X>", b);
    vocab.emplace_back(name, 1 + b);
  }
  hf::BpeModel fallback(vocab, {}, bytes, "memory");
  ids.clear();
  fallback.encode("a\xC3\xA9", ids);  // "aé": é has no token, so its two bytes
  EXPECT_EQ(ids, (std::vector<TokenId>{0, 1 + 0xC3, 1 + 0xA9}));
}

TEST(HfBpeTest, MergeWithUnknownTokenIsCorrupt) {
  EXPECT_THROW(hf::BpeModel({{"a", 0}}, {{"a", "q"}}, {}, "memory"), Error);
}

// A small tokenizer.json around edits of one field.
json small_tokenizer() {
  return json::parse(R"({
    "version": "1.0", "truncation": null, "padding": null,
    "added_tokens": [{"id": 3, "content": "<s>", "special": true, "normalized": false,
                      "lstrip": false, "rstrip": false, "single_word": false}],
    "normalizer": null,
    "pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": false, "use_regex": true},
    "post_processor": null, "decoder": {"type": "ByteLevel"},
    "model": {"type": "BPE", "vocab": {"a": 0, "b": 1, "ab": 2}, "merges": ["a b"]}
  })");
}

void expect_unsupported(const json& doc, const std::string& feature) {
  TempDir dir;
  dir.write("tokenizer.json", doc.dump());
  try {
    Tokenizer::load(dir.path());
    FAIL() << "expected kUnsupported for " << feature;
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kUnsupported) << e.what();
    EXPECT_NE(std::string(e.what()).find("tokenizer.json"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find(feature), std::string::npos) << e.what();
  }
}

TEST(HfLoadTest, UnimplementedFeaturesFailAtLoadNamingThem) {
  json doc = small_tokenizer();
  doc["model"]["type"] = "WordPiece";
  expect_unsupported(doc, "WordPiece");
  doc = small_tokenizer();
  doc["pre_tokenizer"] = {{"type", "Whitespace"}};
  expect_unsupported(doc, "Whitespace");
  doc = small_tokenizer();
  doc["normalizer"] = {{"type", "Precompiled"}, {"precompiled_charsmap", "AA=="}};
  expect_unsupported(doc, "Precompiled");
  doc = small_tokenizer();
  doc["decoder"] = {{"type", "WordPiece"}};
  expect_unsupported(doc, "WordPiece");
  doc = small_tokenizer();
  doc["truncation"] = {{"max_length", 8}};
  expect_unsupported(doc, "truncation");
  doc = small_tokenizer();
  doc["model"]["dropout"] = 0.1;
  expect_unsupported(doc, "dropout");
}

TEST(HfLoadTest, BothMergeSpellingsLoad) {
  for (const json& merges : {json::parse(R"(["a b"])"), json::parse(R"([["a", "b"]])")}) {
    json doc = small_tokenizer();
    doc["model"]["merges"] = merges;
    TempDir dir;
    dir.write("tokenizer.json", doc.dump());
    const Tokenizer tok = Tokenizer::load(dir.path());
    EXPECT_EQ(tok.encode("ab<s>ab", false), (std::vector<TokenId>{2, 3, 2}));
  }
}

TEST(HfTokenizerTest, BosEosFromTheFiles) {
  const Tokenizer llama3 = Tokenizer::load(kData / "llama3-tokenizer");
  EXPECT_EQ(llama3.vocab_size(), 128256);
  EXPECT_EQ(llama3.bos_id(), 128000);
  EXPECT_EQ(llama3.eos_id(), 128009);  // tokenizer_config.json's eos_token: <|eot_id|>
  EXPECT_TRUE(llama3.add_bos());
  EXPECT_FALSE(llama3.add_eos());
  EXPECT_EQ(llama3.encode("hi").front(), 128000);
  EXPECT_TRUE(llama3.is_control(128009));

  const Tokenizer qwen = Tokenizer::load(kData / "qwen2-tokenizer");
  EXPECT_EQ(qwen.bos_id(), -1);
  EXPECT_EQ(qwen.eos_id(), 151645);
  EXPECT_FALSE(qwen.add_bos());
  EXPECT_EQ(qwen.encode("hi"), qwen.encode("hi", false));
}

TEST(HfTokenizerTest, LlamaTokenizerFastRebuildsThePostProcessor) {
  TempDir dir;
  fs::copy_file(kData / "llama3-tokenizer" / "tokenizer.json", dir.path() / "tokenizer.json");
  dir.write("tokenizer_config.json", R"({"tokenizer_class": "LlamaTokenizerFast",
    "add_bos_token": false, "add_eos_token": true,
    "bos_token": "<|begin_of_text|>", "eos_token": {"content": "<|end_of_text|>"}})");
  const Tokenizer tok = Tokenizer::load(dir.path());
  const auto plain = tok.encode("hello", false);
  auto expected = plain;
  expected.push_back(128001);
  EXPECT_EQ(tok.encode("hello", true), expected);
  EXPECT_FALSE(tok.add_bos());
  EXPECT_TRUE(tok.add_eos());
}

TEST(HfTokenizerTest, PaddedIdsDecodeToNothing) {
  // Qwen2 checkpoints pad the vocabulary to 151,936; a sampled padding id must not end a stream.
  const Tokenizer qwen = Tokenizer::load(kData / "qwen2-tokenizer");
  const TokenId pad = 151900;
  ASSERT_GE(pad, qwen.vocab_size());
  const auto ids = qwen.encode("hi", false);
  std::vector<TokenId> with_pad = ids;
  with_pad.push_back(pad);
  EXPECT_EQ(qwen.decode(with_pad), qwen.decode(ids));
  EXPECT_EQ(qwen.id_to_piece(pad), "");
  IncrementalDetokenizer detok(qwen, ids);
  EXPECT_EQ(detok.push(pad), "");
  EXPECT_THROW(qwen.decode(std::vector<TokenId>{-1}), Error);
}

TEST(HfTokenizerTest, StreamingHoldsBackPartialCharacters) {
  const Tokenizer tok = Tokenizer::load(kData / "llama3-tokenizer");
  const std::string text =
      "中文 😀👨\u200d👩\u200d👧 naïve Ѥ펩ऀゅĚ̥ 𝻫鹠 done";
  const auto ids = tok.encode(text, false);
  IncrementalDetokenizer detok(tok, {});
  std::string streamed;
  bool held = false;
  for (const TokenId id : ids) {
    const std::string delta = detok.push(id);
    held = held || delta.empty();
    EXPECT_EQ(delta.find("\xEF\xBF\xBD"), std::string::npos) << json(delta).dump();
    streamed += delta;
  }
  streamed += detok.flush();
  EXPECT_EQ(streamed, text);
  EXPECT_TRUE(held);  // the emoji and CJK tokens here end inside characters
}

TEST(HfTokenizerTest, TokenTextIsDecodedTextNotTheVocabularySpelling) {
  const Tokenizer tok = Tokenizer::load(kData / "llama3-tokenizer");
  const auto hello = tok.encode(" hello", false);
  ASSERT_EQ(hello.size(), 1u);
  EXPECT_EQ(tok.id_to_piece(hello[0]), "\u0120hello");  // "Ġhello"
  std::string raw;
  EXPECT_EQ(tok.token_text(hello[0], &raw), " hello");
  EXPECT_EQ(raw, " hello");
  const TokenId eot = 128009;
  EXPECT_EQ(tok.token_text(eot, &raw), "<|eot_id|>");
  EXPECT_EQ(raw, "<|eot_id|>");

  // Each token of these characters ends inside one: its text shows U+FFFD for the partial bytes
  // (as vLLM's decode), and the raw bytes of the tokens join to the text.
  const std::string text = " 😀👨\u200d👩 中文字符";
  std::string joined;
  bool partial = false;
  for (const TokenId id : tok.encode(text, false)) {
    const std::string shown = tok.token_text(id, &raw);
    EXPECT_EQ(shown, tok.decode(std::vector<TokenId>{id}));
    if (shown != raw) {
      partial = true;
      EXPECT_NE(shown.find("\xEF\xBF\xBD"), std::string::npos) << json(shown).dump();
    }
    joined += raw;
  }
  EXPECT_EQ(joined, text);
  EXPECT_TRUE(partial);
  // A padding id past the vocabulary reads as nothing; a negative one is refused.
  EXPECT_EQ(tok.token_text(200000, &raw), "");
  EXPECT_THROW(tok.token_text(-1), Error);
}

// The Llama 2 tokenizer.model converted to tokenizer.json by transformers' converter
// (tests/data/make_tokenizer_goldens.py) must tokenize as our SentencePiece path does.
TEST(HfTokenizerTest, ConvertedLlama2AgreesWithSentencePiece) {
  const Tokenizer sp = Tokenizer::load(kData / "llama2-tokenizer");
  const Tokenizer hf = Tokenizer::load(kData / "llama2-tokenizer-json");
  ASSERT_EQ(hf.vocab_size(), sp.vocab_size());
  ASSERT_EQ(hf.bos_id(), sp.bos_id());
  ASSERT_EQ(hf.eos_id(), sp.eos_id());
  std::vector<std::string> texts = {"",
                                    " ",
                                    "  two leading",
                                    "trailing  ",
                                    "Hello world",
                                    "\n\n\tx",
                                    "Tom has 12345 apples.",
                                    "naïve café",
                                    "🙂 日本 ∰ \xF0\x9F\xA4\x96",
                                    "Don't STOP",
                                    std::string(300, 'a'),
                                    "a\r\nb"};
  std::mt19937 rng(20240726);
  std::uniform_int_distribution<size_t> length(0, 40);
  for (int i = 0; i < 3000; ++i) texts.push_back(random_text(rng, length(rng)));
  int compared = 0;
  for (const std::string& text : texts) {
    const auto ids = sp.encode(text, true);
    ASSERT_EQ(hf.encode(text, true), ids) << json(text).dump();
    ASSERT_EQ(hf.encode(text, false), sp.encode(text, false)) << json(text).dump();
    ASSERT_EQ(hf.decode(ids), sp.decode(ids)) << json(text).dump();
    ++compared;
  }
  EXPECT_EQ(compared, 3012);
  // Control-token text: transformers matches it as the token, as our encode_with_special_tokens
  // does for SentencePiece (plain SentencePiece encode reads it as text).
  for (const std::string text : {"<s>hi</s>", "a <s> b", "</s></s>x"}) {
    EXPECT_EQ(hf.encode(text, false), sp.encode_with_special_tokens(text)) << text;
  }
}

}  // namespace
}  // namespace llm
