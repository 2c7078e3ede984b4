// Token masks against a brute-force reference: for a list of choices, a token may come next
// exactly when the text so far plus the token's bytes is a prefix of some choice, and EOS
// exactly when the text is a whole choice. Checked at every step of seeded random walks on
// real vocabularies (SentencePiece with byte fallback, and Llama 3's byte-level BPE).
#include "engine/grammar/token_matcher.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <random>

#include "engine/grammar/grammar_compiler.h"
#include "llm/error.h"
#include "tokenizer/tokenizer.h"

namespace llm {
namespace {

struct Vocab {
  const char* dir;
  int model_vocab;  // logits width: may exceed the tokenizer's (padding)
  int32_t eos;
};

std::vector<std::string> token_bytes(const Tokenizer& tok, int model_vocab) {
  std::vector<std::string> out(static_cast<size_t>(model_vocab));
  for (int32_t id = 0; id < tok.vocab_size(); ++id) {
    if (!tok.is_control(id)) tok.token_text(id, &out[static_cast<size_t>(id)]);
  }
  return out;
}

bool allowed(const std::vector<uint32_t>& mask, int32_t id) {
  return mask[static_cast<size_t>(id) / 32] >> (id % 32) & 1u;
}

void walk_choices(const Vocab& v, const std::vector<std::string>& choices, uint64_t seed) {
  const Tokenizer tok = Tokenizer::load(std::string(LLM_SOURCE_DIR) + "/tests/data/" + v.dir);
  const auto bytes = token_bytes(tok, v.model_vocab);
  GrammarCompiler compiler(tok, v.model_vocab, {v.eos});
  const auto grammar = compiler.compile(StructuredOutput{
      StructuredOutput::Kind::kChoice, nlohmann::json(choices).dump(), "guided_choice"});
  std::mt19937_64 rng(seed);
  for (int walk = 0; walk < 8; ++walk) {
    TokenMatcher m(grammar);
    std::string text;
    std::vector<uint32_t> mask(TokenMatcher::mask_words(v.model_vocab));
    for (int step = 0; step < 64 && !m.terminated(); ++step) {
      m.fill_mask(mask);
      std::vector<int32_t> expected;
      for (int32_t id = 0; id < v.model_vocab; ++id) {
        const std::string& b = bytes[static_cast<size_t>(id)];
        bool ok = false;
        if (id == v.eos) {
          ok = std::find(choices.begin(), choices.end(), text) != choices.end();
        } else if (!b.empty()) {
          for (const std::string& c : choices) ok |= c.starts_with(text + b);
        }
        ASSERT_EQ(allowed(mask, id), ok)
            << v.dir << " token " << id << " '" << b << "' after '" << text << "'";
        if (ok) expected.push_back(id);
      }
      ASSERT_FALSE(expected.empty());
      const int32_t pick = expected[rng() % expected.size()];
      ASSERT_TRUE(m.accept(pick));
      if (pick != v.eos) text += bytes[static_cast<size_t>(pick)];
    }
    EXPECT_TRUE(m.terminated()) << "ended at '" << text << "'";
    EXPECT_NE(std::find(choices.begin(), choices.end(), text), choices.end()) << text;
  }
}

const std::vector<std::string> kChoices = {"no",       "no way",       "yes",
                                           "maybe so", "café au lait", "{\"a\": 1}"};

TEST(TokenMatcher, ChoiceMasksMatchBruteForceOnSentencePiece) {
  walk_choices({"llama2-tokenizer", 32000, 2}, kChoices, 1);
}

TEST(TokenMatcher, ChoiceMasksMatchBruteForceOnLlama3ByteLevel) {
  // 128256 logits for 128256 tokens; <|eot_id|> ends a turn.
  walk_choices({"llama3-tokenizer", 128256 + 64, 128009}, kChoices, 2);
}

TEST(TokenMatcher, RefusesATokenTheMaskForbids) {
  const Tokenizer tok =
      Tokenizer::load(std::string(LLM_SOURCE_DIR) + "/tests/data/llama2-tokenizer");
  GrammarCompiler compiler(tok, tok.vocab_size(), {tok.eos_id()});
  TokenMatcher m(compiler.compile({StructuredOutput::Kind::kRegex, "[0-9]+", "guided_regex"}));
  const auto letters = tok.encode("abc", false);
  EXPECT_FALSE(m.accept(letters.at(0)));
  EXPECT_FALSE(m.accept(tok.eos_id()));  // nothing yet: EOS would end an empty match
  EXPECT_TRUE(m.accept(tok.encode("7", false).back()));
  EXPECT_TRUE(m.accept(tok.eos_id()));
  EXPECT_TRUE(m.terminated());
}

TEST(TokenMatcher, BatchedMasksEqualOneByOne) {
  const Tokenizer tok =
      Tokenizer::load(std::string(LLM_SOURCE_DIR) + "/tests/data/llama2-tokenizer");
  GrammarCompiler compiler(tok, tok.vocab_size(), {tok.eos_id()});
  const auto g = compiler.compile(
      {StructuredOutput::Kind::kJsonSchema,
       R"({"type":"object","properties":{"n":{"type":"integer"},"s":{"type":"string"}},"required":["n","s"]})",
       "response_format"});
  // Eight matchers at different points of the same output.
  // One token per character (SentencePiece's encode would start with a space).
  const auto bytes = token_bytes(tok, tok.vocab_size());
  std::vector<int32_t> ids;
  for (const char c : std::string(R"({"n": 12, "s": "ab"})")) {
    ids.push_back(static_cast<int32_t>(std::find(bytes.begin(), bytes.end(), std::string(1, c)) -
                                       bytes.begin()));
  }
  std::vector<TokenMatcher> ms;
  for (size_t i = 0; i < 8; ++i) {
    ms.emplace_back(g);
    for (size_t j = 0; j < i * ids.size() / 8; ++j) ASSERT_TRUE(ms.back().accept(ids[j]));
  }
  const size_t words = TokenMatcher::mask_words(tok.vocab_size());
  std::vector<TokenMatcher*> ptrs;
  for (auto& m : ms) ptrs.push_back(&m);
  std::vector<uint32_t> batched(ms.size() * words, 0xdeadbeef);
  TokenMatcher::fill_masks(ptrs, batched);
  for (size_t i = 0; i < ms.size(); ++i) {
    std::vector<uint32_t> one(words);
    ms[i].fill_mask(one);
    EXPECT_TRUE(
        std::equal(one.begin(), one.end(), batched.begin() + static_cast<ptrdiff_t>(i * words)))
        << i;
  }
}

// A reasoning model's output: its think block is free text, the answer after it constrained.
TEST(TokenMatcher, ThinkBlockThenTheConstrainedAnswer) {
  const Tokenizer tok =
      Tokenizer::load(std::string(LLM_SOURCE_DIR) + "/tests/data/llama2-tokenizer");
  GrammarCompiler compiler(tok, tok.vocab_size(), {tok.eos_id()});
  const auto bytes = token_bytes(tok, tok.vocab_size());
  // Whether TEXT, one token per character, is a whole output of the spec.
  auto complete = [&](StructuredOutput::Reasoning reasoning, const std::string& text) {
    StructuredOutput spec{
        StructuredOutput::Kind::kJsonSchema,
        R"({"type":"object","properties":{"a":{"type":"integer"}},"required":["a"]})",
        "response_format", reasoning};
    TokenMatcher m(compiler.compile(spec));
    for (const char c : text) {
      const auto id = std::find(bytes.begin(), bytes.end(), std::string(1, c)) - bytes.begin();
      if (!m.accept(static_cast<int32_t>(id))) return false;
    }
    return m.accept(tok.eos_id());
  };
  using R = StructuredOutput::Reasoning;
  const std::string answer = R"({"a": 12})";
  const std::string thought = "Let me think {\"a\": 3} over.</think>\n\n";
  // DeepSeek-R1: the prompt opened the block, so the output starts inside it.
  EXPECT_TRUE(complete(R::kOpened, thought + answer));
  EXPECT_FALSE(complete(R::kOpened, answer));  // still thinking: no answer has begun
  EXPECT_FALSE(complete(R::kOpened, thought + R"({"b": 1})"));
  // Qwen3: a block if the output opens one, else the answer straight away.
  EXPECT_TRUE(complete(R::kOptional, "<think>" + thought + answer));
  EXPECT_TRUE(complete(R::kOptional, answer));
  EXPECT_FALSE(complete(R::kOptional, "Sure! " + answer));
  EXPECT_FALSE(complete(R::kOptional, "<think>" + thought + "[]"));
  EXPECT_FALSE(complete(R::kNone, "<think>" + thought + answer));
}

TEST(GrammarCompiler, NamesWhatItCannotCompile) {
  const Tokenizer tok =
      Tokenizer::load(std::string(LLM_SOURCE_DIR) + "/tests/data/llama2-tokenizer");
  GrammarCompiler compiler(tok, tok.vocab_size(), {tok.eos_id()});
  struct Bad {
    StructuredOutput spec;
    const char* message;
  };
  const Bad bad[] = {
      {{StructuredOutput::Kind::kJsonSchema, "{not json", "response_format"}, "does not parse"},
      {{StructuredOutput::Kind::kJsonSchema, R"({"type":"string","format":"credit-card"})",
        "response_format"},
       "credit-card"},
      {{StructuredOutput::Kind::kRegex, "(unclosed", "guided_regex"},
       "cannot compile the regular expression"},
      {{StructuredOutput::Kind::kGrammar, "root ::= undefined_rule", "guided_grammar"},
       "cannot compile the grammar"},
      {{StructuredOutput::Kind::kChoice, "[]", "guided_choice"}, "non-empty"},
      {{StructuredOutput::Kind::kStructuralTag,
        R"({"type":"structural_tag","format":{"type":"nope"}})", "tools"},
       "cannot compile the structural tag"},
  };
  for (const Bad& b : bad) {
    try {
      compiler.compile(b.spec);
      ADD_FAILURE() << "compiled " << b.spec.spec;
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument) << e.what();
      EXPECT_EQ(e.param(), b.spec.param);
      EXPECT_NE(std::string(e.what()).find(b.message), std::string::npos) << e.what();
    }
  }
}

}  // namespace
}  // namespace llm
