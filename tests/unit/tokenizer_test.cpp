#include "tokenizer/tokenizer.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "llm/error.h"

namespace llm {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;

const fs::path kRoot = LLM_SOURCE_DIR;
const fs::path kStoriesDir = kRoot / "models" / "stories260K";
const fs::path kLlama2Dir = kRoot / "tests" / "data" / "llama2-tokenizer";

std::vector<json> read_jsonl(const fs::path& path) {
  std::ifstream in(path);
  EXPECT_TRUE(in) << path;
  std::vector<json> records;
  for (std::string line; std::getline(in, line);) {
    if (!line.empty()) records.push_back(json::parse(line));
  }
  return records;
}

// Strict UTF-8 check (no overlongs, surrogates or code points past U+10FFFF).
bool is_valid_utf8(const std::string& s) {
  size_t i = 0;
  while (i < s.size()) {
    const auto b = static_cast<unsigned char>(s[i]);
    size_t len = 0;
    unsigned lo = 0x80, hi = 0xBF;
    if (b < 0x80) {
      len = 1;
    } else if (b >= 0xC2 && b <= 0xDF) {
      len = 2;
    } else if (b >= 0xE0 && b <= 0xEF) {
      len = 3;
      if (b == 0xE0) lo = 0xA0;
      if (b == 0xED) hi = 0x9F;
    } else if (b >= 0xF0 && b <= 0xF4) {
      len = 4;
      if (b == 0xF0) lo = 0x90;
      if (b == 0xF4) hi = 0x8F;
    } else {
      return false;
    }
    if (i + len > s.size()) return false;
    for (size_t k = 1; k < len; ++k) {
      const auto c = static_cast<unsigned char>(s[i + k]);
      if (k == 1 ? (c < lo || c > hi) : (c & 0xC0) != 0x80) return false;
    }
    i += len;
  }
  return true;
}

// Streams OUTPUT through a detokenizer primed with PROMPT; returns the deltas (flush last).
std::vector<std::string> stream(const Tokenizer& tok, const std::vector<TokenId>& prompt,
                                const std::vector<TokenId>& output) {
  IncrementalDetokenizer detok(tok, prompt);
  std::vector<std::string> deltas;
  for (const TokenId id : output) deltas.push_back(detok.push(id));
  deltas.push_back(detok.flush());
  return deltas;
}

std::string join(const std::vector<std::string>& parts) {
  std::string out;
  for (const auto& p : parts) out += p;
  return out;
}

std::vector<TokenId> concat(std::vector<TokenId> a, const std::vector<TokenId>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

class TokenizerGoldenTest : public ::testing::TestWithParam<const char*> {};

TEST_P(TokenizerGoldenTest, MatchesReferenceEncodeDecode) {
  const fs::path dir = std::string(GetParam()) == "stories260K" ? kStoriesDir : kLlama2Dir;
  const Tokenizer tok = Tokenizer::load(dir);
  const auto records = read_jsonl(kRoot / "tests" / "data" / GetParam() / "tokenizer.jsonl");
  ASSERT_EQ(records.size(), 15u);
  for (const auto& r : records) {
    const std::string text = r.at("text");
    SCOPED_TRACE(text);
    const auto ids = r.at("ids").get<std::vector<TokenId>>();
    const auto ids_with_bos = r.at("ids_with_bos").get<std::vector<TokenId>>();
    EXPECT_EQ(tok.encode(text, /*add_special_tokens=*/false), ids);
    EXPECT_EQ(tok.encode(text), ids_with_bos);
    std::vector<std::string> pieces;
    for (const TokenId id : ids) pieces.push_back(tok.id_to_piece(id));
    EXPECT_EQ(pieces, r.at("pieces").get<std::vector<std::string>>());
    EXPECT_EQ(tok.decode(ids), r.at("decoded").get<std::string>());
    EXPECT_EQ(tok.decode(ids_with_bos), r.at("decoded").get<std::string>());
  }
}

INSTANTIATE_TEST_SUITE_P(Models, TokenizerGoldenTest,
                         ::testing::Values("stories260K", "llama2-tokenizer"));

TEST(TokenizerTest, SpecialTokensAndDefaults) {
  const Tokenizer stories = Tokenizer::load(kStoriesDir);
  EXPECT_EQ(stories.vocab_size(), 512);
  EXPECT_EQ(stories.bos_id(), 1);
  EXPECT_EQ(stories.eos_id(), 2);
  EXPECT_TRUE(stories.add_bos());
  EXPECT_FALSE(stories.add_eos());
  EXPECT_TRUE(stories.is_control(1));
  EXPECT_FALSE(stories.is_control(0));  // <unk> is UNKNOWN, and decodes to " ⁇ "
  EXPECT_EQ(stories.byte_value(3), 0x00);
  EXPECT_EQ(stories.byte_value(258), 0xFF);
  EXPECT_EQ(stories.byte_value(259), -1);
  EXPECT_EQ(stories.encode(""), std::vector<TokenId>{1});

  // No tokenizer_config.json: LlamaTokenizer's defaults.
  const Tokenizer llama = Tokenizer::load(kLlama2Dir);
  EXPECT_EQ(llama.vocab_size(), 32000);
  EXPECT_TRUE(llama.add_bos());
  EXPECT_FALSE(llama.add_eos());
}

TEST(TokenizerTest, TokenTextKeepsTheLeadingSpaceAndRawBytes) {
  const Tokenizer llama = Tokenizer::load(kLlama2Dir);
  const auto hello = llama.encode("hello", false);  // "▁hello"
  ASSERT_EQ(hello.size(), 1u);
  EXPECT_EQ(llama.id_to_piece(hello[0]), "\xE2\x96\x81hello");
  // decode() drops the space at the start of a text; a logprob token keeps it, as it reads
  // inside the sequence.
  EXPECT_EQ(llama.decode(hello), "hello");
  std::string raw;
  EXPECT_EQ(llama.token_text(hello[0], &raw), " hello");
  EXPECT_EQ(raw, " hello");
  EXPECT_EQ(llama.token_text(llama.eos_id(), &raw), "</s>");
  // U+1F600 is not in the vocabulary: four byte-fallback pieces, each a partial character.
  std::string joined;
  for (const TokenId id : llama.encode("\xF0\x9F\x98\x80", false)) {
    if (llama.byte_value(id) < 0) continue;  // the "▁" piece before them
    EXPECT_EQ(llama.token_text(id, &raw), "\xEF\xBF\xBD");
    EXPECT_EQ(raw.size(), 1u);
    joined += raw;
  }
  EXPECT_EQ(joined, "\xF0\x9F\x98\x80");
  // An id past the tokenizer (a model's padded vocabulary) has no text; a negative one is an error.
  EXPECT_EQ(llama.token_text(llama.vocab_size(), &raw), "");
  EXPECT_EQ(raw, "");
  EXPECT_THROW(llama.token_text(-1), Error);
}

// A scratch model directory holding a copy of the stories260K tokenizer.model.
class ScratchDir {
 public:
  ScratchDir() {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    path_ = fs::temp_directory_path() /
            (std::string("tokenizer_test_") + info->name() + "_" + std::to_string(::getpid()));
    fs::remove_all(path_);
    fs::create_directories(path_);
  }
  ~ScratchDir() { fs::remove_all(path_); }
  const fs::path& path() const { return path_; }
  void copy_model() const {
    fs::copy_file(kStoriesDir / "tokenizer.model", path_ / "tokenizer.model");
  }
  void write(const std::string& name, const std::string& contents) const {
    std::ofstream(path_ / name, std::ios::binary) << contents;
  }

 private:
  fs::path path_;
};

template <typename F>
void expect_error(F&& f, ErrorCode code, const std::string& needle) {
  try {
    f();
    ADD_FAILURE() << "no llm::Error thrown";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), code) << e.what();
    EXPECT_NE(std::string(e.what()).find(needle), std::string::npos)
        << "message \"" << e.what() << "\" does not mention \"" << needle << "\"";
  }
}

TEST(TokenizerTest, ConfigControlsSpecialTokens) {
  ScratchDir dir;
  dir.copy_model();
  dir.write("tokenizer_config.json", R"({"add_bos_token": false, "add_eos_token": true})");
  const Tokenizer tok = Tokenizer::load(dir.path());
  EXPECT_EQ(tok.encode("Once upon a time"), (std::vector<TokenId>{403, 407, 261, 378, 2}));
  EXPECT_EQ(tok.encode("Once upon a time", false), (std::vector<TokenId>{403, 407, 261, 378}));
}

TEST(TokenizerErrorTest, MissingModel) {
  ScratchDir dir;
  const std::string path = (dir.path() / "tokenizer.model").string();
  expect_error([&] { Tokenizer::load(dir.path()); }, ErrorCode::kNotFound,
               path + ": file not found");
  expect_error([&] { Tokenizer::load(dir.path() / "no_such_dir"); }, ErrorCode::kNotFound,
               "no_such_dir/tokenizer.model");
}

TEST(TokenizerErrorTest, GarbageModel) {
  ScratchDir dir;
  dir.write("tokenizer.model", "this is not a SentencePiece model\n");
  expect_error([&] { Tokenizer::load(dir.path()); }, ErrorCode::kCorruptFile,
               (dir.path() / "tokenizer.model").string());
  // A parseable but empty model is rejected by SentencePiece too.
  dir.write("tokenizer.model", "");
  expect_error([&] { Tokenizer::load(dir.path()); }, ErrorCode::kCorruptFile, "tokenizer.model");
  // A directory in its place would make SentencePiece abort if it got to read it.
  fs::remove(dir.path() / "tokenizer.model");
  fs::create_directory(dir.path() / "tokenizer.model");
  expect_error([&] { Tokenizer::load(dir.path()); }, ErrorCode::kCorruptFile, "tokenizer.model");
}

TEST(TokenizerErrorTest, MalformedConfig) {
  ScratchDir dir;
  dir.copy_model();
  const std::string config = (dir.path() / "tokenizer_config.json").string();
  for (const char* text : {"{\"add_bos_token\": tru", "", "[1, 2]", R"({"add_bos_token": "yes"})",
                           R"({"add_eos_token": 1})"}) {
    SCOPED_TRACE(text);
    dir.write("tokenizer_config.json", text);
    expect_error([&] { Tokenizer::load(dir.path()); }, ErrorCode::kCorruptFile, config);
  }
}

TEST(TokenizerErrorTest, OutOfRangeIds) {
  const Tokenizer tok = Tokenizer::load(kStoriesDir);
  const std::vector<TokenId> too_big = {1, 512}, negative = {-1}, bad_prompt = {1, 9999};
  expect_error([&] { tok.decode(too_big); }, ErrorCode::kInvalidArgument, "512");
  expect_error([&] { tok.decode(negative); }, ErrorCode::kInvalidArgument, "-1");
  expect_error([&] { tok.id_to_piece(600); }, ErrorCode::kInvalidArgument, "600");
  IncrementalDetokenizer detok(tok, std::vector<TokenId>{1});
  expect_error([&] { detok.push(512); }, ErrorCode::kInvalidArgument, "512");
  expect_error([&] { IncrementalDetokenizer other(tok, bad_prompt); }, ErrorCode::kInvalidArgument,
               "9999");
}

// --- IncrementalDetokenizer -----------------------------------------------------------------

// decode(all) with decode(prompt) removed from the front: the reference's output_text. Empty
// optional when decode(prompt) is not a prefix (the prompt ends inside a character).
std::optional<std::string> expected_suffix(const Tokenizer& tok, const std::vector<TokenId>& prompt,
                                           const std::vector<TokenId>& output) {
  const std::string head = tok.decode(prompt);
  const std::string all = tok.decode(concat(prompt, output));
  if (!all.starts_with(head)) return std::nullopt;
  return all.substr(head.size());
}

TEST(IncrementalDetokenizerTest, GreedyGolden) {
  const Tokenizer tok = Tokenizer::load(kStoriesDir);
  const auto records = read_jsonl(kRoot / "tests" / "data" / "stories260K" / "greedy.jsonl");
  ASSERT_EQ(records.size(), 8u);
  for (const auto& r : records) {
    const std::string prompt = r.at("prompt");
    SCOPED_TRACE(prompt);
    const auto prompt_ids = r.at("prompt_token_ids").get<std::vector<TokenId>>();
    const auto output_ids = r.at("output_token_ids").get<std::vector<TokenId>>();
    EXPECT_EQ(tok.encode(prompt), prompt_ids);
    const auto deltas = stream(tok, prompt_ids, output_ids);
    for (const auto& d : deltas) EXPECT_TRUE(is_valid_utf8(d)) << d;
    EXPECT_EQ(join(deltas), r.at("output_text").get<std::string>());
    EXPECT_EQ(join(deltas), expected_suffix(tok, prompt_ids, output_ids));
  }
}

// Hand-checked cases that pin down the SentencePiece behaviour the detokenizer relies on.
TEST(IncrementalDetokenizerTest, SentencePieceCornerCases) {
  const Tokenizer tok = Tokenizer::load(kStoriesDir);
  constexpr TokenId kSpace = 410, kT = 259, kA = 261, kOnce = 403, kC3 = 3 + 0xC3, kA9 = 3 + 0xA9;
  const std::string fffd = "\xEF\xBF\xBD";
  struct Case {
    std::vector<TokenId> prompt, output;
    std::vector<std::string> deltas;  // one per output id, then flush
  };
  const Case cases[] = {
      // The dummy-prefix space is dropped from the first visible piece only.
      {{1}, {kT}, {"t", ""}},
      {{1, kOnce}, {kT}, {" t", ""}},
      {{1}, {kSpace, kT}, {"", " t", ""}},
      {{}, {kSpace, kSpace}, {"", " ", ""}},
      // Control tokens vanish; a prompt ending in many of them still keeps the space.
      {{kT, 2, 2, 2, 2, 2, 2, 2}, {2, kA}, {"", " a", ""}},
      {{1, kOnce}, {2, 1, kA}, {"", "", " a", ""}},
      // <unk> decodes to " ⁇ " and uses up the dummy prefix.
      {{1}, {0, kT}, {" \xE2\x81\x87 ", " t", ""}},
      // Byte fallback: a character is held until complete...
      {{1}, {kC3, kA9}, {"", "\xC3\xA9", ""}},
      // ...but a control token ends the byte run, so each byte becomes U+FFFD.
      {{1, kOnce}, {kC3, 1, kA9}, {"", fffd, fffd, ""}},
      // An incomplete character at the end comes out of flush() as SentencePiece decodes it.
      {{1}, {3 + 0xF0, 3 + 0x9F}, {"", "", fffd + fffd}},
      // A lone continuation byte or an impossible lead byte (0xFF; 0xC0 only starts overlong
      // forms) is final at once; an overlong or surrogate prefix is final at its second byte.
      {{1}, {kA9, 3 + 0xFF, 3 + 0xC0}, {fffd, fffd, fffd, ""}},
      {{1}, {3 + 0xE0, 3 + 0x80, 3 + 0xED, 3 + 0xA0}, {"", fffd + fffd, "", fffd + fffd, ""}},
      {{1}, {3 + 0xF0, 3 + 0x80, 3 + 0xF4, 3 + 0x90}, {"", fffd + fffd, "", fffd + fffd, ""}},
      // A prompt ending inside a character the output completes: start at that character.
      {{1, kOnce, kC3}, {kA9, kT}, {"\xC3\xA9", " t", ""}},
      // Even when that character is U+FFFD itself (EF BF BD), whose text the prompt's two
      // replaced bytes already seem to spell (found by tests/fuzz/tokenizer_fuzz).
      {{1, kOnce, 3 + 0xEF, 3 + 0xBF}, {3 + 0xBD, kT}, {fffd, " t", ""}},
      {{1, kOnce, 3 + 0xEF}, {3 + 0xBF, 3 + 0xBD, 3 + 0xEF, 3 + 0xBF, 3 + 0xBD}, {"", fffd, "", "", fffd, ""}},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(::testing::PrintToString(c.prompt) + " + " + ::testing::PrintToString(c.output));
    EXPECT_EQ(stream(tok, c.prompt, c.output), c.deltas);
  }
}

// Characters outside the vocabulary go through byte fallback (2-4 byte pieces each): no delta
// may end inside one, and none may show U+FFFD, which the text does not contain.
TEST(IncrementalDetokenizerTest, MultiByteCharactersAreNeverSplit) {
  const std::string text = "Mia ate a café crêpe 🍰 and 日本語 ok, naïve 🙂!";
  for (const fs::path& dir : {kStoriesDir, kLlama2Dir}) {
    SCOPED_TRACE(dir.string());
    const Tokenizer tok = Tokenizer::load(dir);
    const auto ids = tok.encode(text);
    size_t byte_pieces = 0;
    for (const TokenId id : ids) byte_pieces += tok.byte_value(id) >= 0;
    EXPECT_GE(byte_pieces, 8u);  // the emoji at least
    for (size_t split = 1; split <= ids.size(); ++split) {
      const std::vector<TokenId> prompt(ids.begin(), ids.begin() + split);
      const std::vector<TokenId> output(ids.begin() + split, ids.end());
      const auto expected = expected_suffix(tok, prompt, output);
      if (!expected) continue;  // split inside a character
      const auto deltas = stream(tok, prompt, output);
      for (const auto& d : deltas) {
        EXPECT_TRUE(is_valid_utf8(d));
        EXPECT_EQ(d.find("\xEF\xBF\xBD"), std::string::npos) << "split " << split;
      }
      EXPECT_EQ(join(deltas), *expected) << "split " << split;
      if (split == 1) {
        EXPECT_EQ(join(deltas), text);
      }
    }
  }
}

// Random id sequences over the whole vocabulary, weighted towards byte pieces (valid, truncated
// and stray UTF-8), control tokens, <unk> and "▁". Checked:
//  - every delta is valid UTF-8;
//  - when decode(prompt) is a prefix of decode(all), the deltas plus flush() are exactly the
//    rest of decode(all). Otherwise the prompt ends inside a character that the output
//    completes; "decode(all) minus decode(prompt)" is then undefined, and we only require the
//    concatenation to be a suffix of decode(all);
//  - nothing is held back needlessly: when no further byte piece could change the text decoded
//    so far (SentencePiece itself is the oracle, tried with up to three more bytes in the
//    first trials),
//    and in every trial right after a non-byte piece, the deltas cover all of it.
TEST(IncrementalDetokenizerTest, RandomSequencesMatchFullDecode) {
  for (const fs::path& dir : {kStoriesDir, kLlama2Dir}) {
    SCOPED_TRACE(dir.string());
    const Tokenizer tok = Tokenizer::load(dir);
    std::mt19937 rng(12345);
    auto uniform = [&](int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng); };
    auto byte_id = [](int b) { return TokenId{3 + b}; };
    auto random_ids = [&](int count) {
      std::vector<TokenId> ids;
      while (static_cast<int>(ids.size()) < count) {
        const int kind = uniform(0, 19);
        if (kind < 5) {  // a UTF-8 character of 2-4 bytes, sometimes cut short
          const int len = uniform(2, 4);
          const int lead = len == 2   ? uniform(0xC2, 0xDF)
                           : len == 3 ? uniform(0xE0, 0xEF)
                                      : uniform(0xF0, 0xF4);
          const int keep = uniform(0, 3) == 0 ? uniform(1, len - 1) : len;
          ids.push_back(byte_id(lead));
          for (int k = 1; k < keep; ++k) ids.push_back(byte_id(uniform(0x80, 0xBF)));
        } else if (kind < 8) {
          ids.push_back(byte_id(uniform(0, 255)));
        } else if (kind < 10) {
          ids.push_back(uniform(1, 2));  // <s>, </s>
        } else if (kind == 10) {
          ids.push_back(0);  // <unk>
        } else if (kind == 11) {
          ids.push_back(tok.encode("  ", false).front());  // "▁"
        } else {
          ids.push_back(uniform(0, tok.vocab_size() - 1));
        }
      }
      return ids;
    };
    int exact = 0, undefined = 0, held = 0;
    for (int trial = 0; trial < 1500; ++trial) {
      const auto prompt = random_ids(uniform(0, 7));
      const auto output = random_ids(uniform(0, 30));
      SCOPED_TRACE(::testing::PrintToString(prompt) + " + " + ::testing::PrintToString(output));
      IncrementalDetokenizer detok(tok, prompt);
      std::string emitted;
      for (size_t k = 0; k < output.size(); ++k) {
        const std::string d = detok.push(output[k]);
        ASSERT_TRUE(is_valid_utf8(d)) << "after " << k;
        emitted += d;
        if (d.empty() && tok.byte_value(output[k]) >= 0) ++held;
        const std::vector<TokenId> so_far(output.begin(), output.begin() + k + 1);
        bool settled = tok.byte_value(output[k]) < 0;
        if (!settled && trial < 80) {
          // Only continuation bytes can complete a pending character; these six bound every
          // range UTF-8 distinguishes (overlongs, surrogates, > U+10FFFF).
          const std::string text = tok.decode(concat(prompt, so_far));
          settled = true;
          std::vector<std::vector<TokenId>> frontier = {concat(prompt, so_far)};
          for (int depth = 0; depth < 3; ++depth) {
            std::vector<std::vector<TokenId>> next;
            for (const auto& ids : frontier) {
              for (const int c : {0x80, 0x8F, 0x90, 0x9F, 0xA0, 0xBF}) {
                next.push_back(concat(ids, {byte_id(c)}));
                settled = settled && tok.decode(next.back()).starts_with(text);
              }
            }
            frontier = std::move(next);
          }
        }
        if (settled) {
          const auto expected = expected_suffix(tok, prompt, so_far);
          if (expected) {
            ASSERT_EQ(emitted, *expected) << "after " << k;
          }
        }
      }
      const std::string last = detok.flush();
      ASSERT_TRUE(is_valid_utf8(last));
      emitted += last;
      const auto expected = expected_suffix(tok, prompt, output);
      if (expected) {
        ++exact;
        ASSERT_EQ(emitted, *expected);
      } else {
        ++undefined;
        ASSERT_TRUE(tok.decode(concat(prompt, output)).ends_with(emitted));
      }
    }
    RecordProperty(dir.filename().string() + "_counts",
                   std::to_string(exact) + " exact, " + std::to_string(undefined) + " undefined, " +
                       std::to_string(held) + " held");
    EXPECT_GT(exact, 1000);
    EXPECT_GT(undefined, 0);
    EXPECT_GT(held, 500);
  }
}

// Per-token work must not grow with the length of the stream (a quadratic detokenizer would
// take minutes here), including through long runs of control tokens.
TEST(IncrementalDetokenizerTest, LongStreamStaysLinear) {
  const Tokenizer tok = Tokenizer::load(kStoriesDir);
  std::mt19937 rng(7);
  std::vector<TokenId> output;
  for (int i = 0; i < 60000; ++i) {
    output.push_back(std::uniform_int_distribution<TokenId>(3, 511)(rng));
    if (i == 30000) output.insert(output.end(), 20000, 2);
  }
  const std::vector<TokenId> prompt = {1, 403, 407};
  const auto start = std::chrono::steady_clock::now();
  const auto deltas = stream(tok, prompt, output);
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  EXPECT_EQ(join(deltas), expected_suffix(tok, prompt, output));
  RecordProperty("stream_seconds", std::to_string(seconds));
  EXPECT_LT(seconds, 30.0);
}

}  // namespace
}  // namespace llm
