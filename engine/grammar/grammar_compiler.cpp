#include "engine/grammar/grammar_compiler.h"

#include <nlohmann/json.hpp>
#include <thread>

#include "engine/grammar/compiled_grammar.h"
#include "engine/grammar/json_schema_subset.h"
#include "llm/error.h"

namespace llm {
namespace {

using json = nlohmann::ordered_json;

// Compiled grammars the compiler keeps for reuse (by spec), beyond which it evicts.
constexpr int64_t kCacheBytes = 256ll << 20;

// The vocabulary as the grammar engine reads it: each token's own bytes as they appear inside
// a text (SentencePiece's "▁the" is " the", a byte token its byte), and "" for the tokens that
// decode to nothing (control tokens), which the engine never allows, except STOP_IDS, which it
// allows where the output is complete. Ids past the tokenizer's vocabulary (padding) likewise.
std::vector<std::string> token_bytes(const Tokenizer& tok, const std::vector<int32_t>& stop_ids) {
  std::vector<std::string> vocab(static_cast<size_t>(tok.vocab_size()));
  for (int32_t id = 0; id < tok.vocab_size(); ++id) {
    const bool stop = std::find(stop_ids.begin(), stop_ids.end(), id) != stop_ids.end();
    if (tok.is_control(id) && !stop) continue;
    std::string raw;
    tok.token_text(id, &raw);
    vocab[static_cast<size_t>(id)] = std::move(raw);
  }
  return vocab;
}

// A string as an EBNF literal: quotes, backslashes and control bytes escaped, UTF-8 kept.
std::string ebnf_literal(const std::string& s) {
  std::string out = "\"";
  for (const unsigned char c : s) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c < 0x20 || c == 0x7f) {
      static const char* hex = "0123456789abcdef";
      out += "\\x";
      out += hex[c >> 4];
      out += hex[c & 15];
    } else {
      out += static_cast<char>(c);
    }
  }
  return out + "\"";
}

std::string choice_grammar(const StructuredOutput& spec) {
  json choices;
  try {
    choices = json::parse(spec.spec);
  } catch (const json::exception&) {
    throw Error(ErrorCode::kInvalidArgument, "the choices must be a JSON list of strings",
                spec.param);
  }
  if (!choices.is_array() || choices.empty()) {
    throw Error(ErrorCode::kInvalidArgument, "the choices must be a non-empty list of strings",
                spec.param);
  }
  std::string ebnf = "root ::= ";
  for (size_t i = 0; i < choices.size(); ++i) {
    if (!choices[i].is_string() || choices[i].get<std::string>().empty()) {
      throw Error(ErrorCode::kInvalidArgument, "each choice must be a non-empty string",
                  spec.param);
    }
    ebnf += (i ? " | " : "") + ebnf_literal(choices[i].get<std::string>());
  }
  return ebnf;
}

// A structural tag's JSON schemas (tool arguments) meet the same subset as response_format's
// and are written as compactly: each {"type": "json_schema", "json_schema": S} becomes the
// grammar of S (checked and rewritten) without free whitespace, which the engine's own
// json_schema parts would allow between every two tokens.
void compact_tag_schemas(json& node, const std::string& param, int depth) {
  if (depth > 64)
    throw Error(ErrorCode::kInvalidArgument, "the structural tag nests too deep", param);
  if (node.is_object()) {
    if (node.value("type", json()) == "json_schema" && node.contains("json_schema")) {
      const json schema = check_json_schema_subset(node["json_schema"], param);
      const xgrammar::Grammar g =
          xgrammar::Grammar::FromJSONSchema(schema.dump(), /*any_whitespace=*/false, std::nullopt,
                                            std::nullopt, /*strict_mode=*/true);
      node = json{{"type", "grammar"}, {"grammar", g.ToString()}};
      return;
    }
    for (auto& [key, value] : node.items()) compact_tag_schemas(value, param, depth + 1);
  } else if (node.is_array()) {
    for (json& value : node) compact_tag_schemas(value, param, depth + 1);
  }
}

// SPEC as a part of a structural tag (what reasoning_first puts after the think block).
json tag_format(const StructuredOutput& spec, const json& parsed) {
  switch (spec.kind) {
    case StructuredOutput::Kind::kJsonObject:
      // Explicitly open: compact_tag_schemas compiles in strict mode.
      return {{"type", "json_schema"},
              {"json_schema", {{"type", "object"}, {"additionalProperties", true}}}};
    case StructuredOutput::Kind::kJsonSchema:
      return {{"type", "json_schema"}, {"json_schema", parsed}};
    case StructuredOutput::Kind::kRegex:
      return {{"type", "regex"}, {"pattern", spec.spec}};
    case StructuredOutput::Kind::kChoice:
      return {{"type", "grammar"}, {"grammar", choice_grammar(spec)}};
    case StructuredOutput::Kind::kGrammar:
      return {{"type", "grammar"}, {"grammar", spec.spec}};
    case StructuredOutput::Kind::kStructuralTag:
      return parsed.contains("format") ? parsed["format"] : parsed;
  }
  return {};
}

// The whole output of a reasoning model: its think block (free text, closed by "</think>" and
// the blank line its chat format puts before the answer), then the constrained part. The
// grammar covers both, so an output that skips or never closes the block still cannot leave
// the structure unconstrained.
json reasoning_first(const StructuredOutput& spec, const json& parsed) {
  const json inner = tag_format(spec, parsed);
  json think = {{"type", "tag"},
                {"begin", spec.reasoning == StructuredOutput::Reasoning::kOpened ? "" : "<think>"},
                {"content", {{"type", "any_text"}}},
                {"end", "</think>\n\n"}};
  json thought = {{"type", "sequence"}, {"elements", {think, inner}}};
  if (spec.reasoning == StructuredOutput::Reasoning::kOptional) {
    thought = {{"type", "or"}, {"elements", {thought, inner}}};
  }
  return {{"type", "structural_tag"}, {"format", thought}};
}

const char* kind_name(StructuredOutput::Kind k) {
  switch (k) {
    case StructuredOutput::Kind::kJsonObject:
      return "JSON object grammar";
    case StructuredOutput::Kind::kJsonSchema:
      return "JSON schema";
    case StructuredOutput::Kind::kRegex:
      return "regular expression";
    case StructuredOutput::Kind::kChoice:
      return "choices";
    case StructuredOutput::Kind::kGrammar:
      return "grammar";
    case StructuredOutput::Kind::kStructuralTag:
      return "structural tag";
  }
  return "?";
}

// xgrammar's messages start with where in its sources they were raised ("[..] file.cc:12: ");
// the user needs only what follows.
std::string engine_message(const std::exception& e) {
  std::string m = e.what();
  if (const size_t at = m.find(".cc:"); at != std::string::npos) {
    if (const size_t colon = m.find(": ", at); colon != std::string::npos) m = m.substr(colon + 2);
  }
  // Its assertions read "Check failed: (expr) is false: what".
  if (m.starts_with("Check failed: ")) {
    if (const size_t what = m.find(" is false: "); what != std::string::npos)
      m = m.substr(what + 11);
  }
  while (!m.empty() && (m.back() == '\n' || m.back() == ' ')) m.pop_back();
  return m;
}

}  // namespace

struct GrammarCompiler::Impl {
  xgrammar::TokenizerInfo info;
  xgrammar::GrammarCompiler compiler;
  Impl(const Tokenizer& tok, int vocab_size, const std::vector<int32_t>& stop_ids)
      : info(token_bytes(tok, stop_ids), xgrammar::VocabType::RAW,
             std::max(vocab_size, tok.vocab_size()), stop_ids),
        compiler(info, static_cast<int>(std::max(1u, std::thread::hardware_concurrency())),
                 /*cache_enabled=*/true, kCacheBytes) {}
};

GrammarCompiler::GrammarCompiler(const Tokenizer& tokenizer, int vocab_size,
                                 std::vector<int32_t> stop_ids)
    : tokenizer_(tokenizer), vocab_size_(vocab_size), stop_ids_(std::move(stop_ids)) {}

GrammarCompiler::~GrammarCompiler() = default;

bool GrammarCompiler::available() {
  return true;
}

GrammarCompiler::Impl& GrammarCompiler::impl() {
  std::call_once(once_,
                 [this] { impl_ = std::make_unique<Impl>(tokenizer_, vocab_size_, stop_ids_); });
  return *impl_;
}

std::shared_ptr<const CompiledGrammar> GrammarCompiler::compile(const StructuredOutput& spec) {
  using Kind = StructuredOutput::Kind;
  xgrammar::GrammarCompiler& c = impl().compiler;
  // Compact JSON (", " and ": " separators, no other whitespace): the output is canonical, and
  // a model cannot spend its tokens on whitespace inside the structure.
  constexpr bool kAnyWhitespace = false;
  json parsed;
  if (spec.kind == Kind::kJsonSchema || spec.kind == Kind::kStructuralTag) {
    try {
      parsed = json::parse(spec.spec);
    } catch (const json::exception& e) {
      throw Error(ErrorCode::kInvalidArgument,
                  std::string("the ") + kind_name(spec.kind) + " does not parse: " + e.what(),
                  spec.param);
    }
  }
  try {
    auto out = std::make_shared<CompiledGrammar>(
        CompiledGrammar{xgrammar::CompiledGrammar(xgrammar::NullObj{}), vocab_size_});
    if (spec.reasoning != StructuredOutput::Reasoning::kNone) {
      json tag = reasoning_first(spec, parsed);
      compact_tag_schemas(tag, spec.param, 0);
      out->grammar = c.CompileStructuralTag(tag.dump());
      return out;
    }
    switch (spec.kind) {
      case Kind::kJsonObject:
        // Strict mode off: any properties, as json_object promises nothing more.
        out->grammar = c.CompileJSONSchema(R"({"type": "object"})", kAnyWhitespace, std::nullopt,
                                           std::nullopt, /*strict_mode=*/false);
        break;
      case Kind::kJsonSchema:
        // Strict mode: properties the schema does not name are not generated (OpenAI's strict
        // schemas say additionalProperties: false anyway); output stays valid either way.
        out->grammar = c.CompileJSONSchema(check_json_schema_subset(parsed, spec.param).dump(),
                                           kAnyWhitespace, std::nullopt, std::nullopt,
                                           /*strict_mode=*/true);
        break;
      case Kind::kRegex:
        out->grammar = c.CompileRegex(spec.spec);
        break;
      case Kind::kChoice:
        out->grammar = c.CompileGrammar(choice_grammar(spec));
        break;
      case Kind::kGrammar:
        out->grammar = c.CompileGrammar(spec.spec, "root");
        break;
      case Kind::kStructuralTag:
        compact_tag_schemas(parsed, spec.param, 0);
        out->grammar = c.CompileStructuralTag(parsed.dump());
        break;
    }
    return out;
  } catch (const Error&) {
    throw;
  } catch (const std::exception& e) {
    throw Error(
        ErrorCode::kInvalidArgument,
        std::string("cannot compile the ") + kind_name(spec.kind) + ": " + engine_message(e),
        spec.param);
  }
}

}  // namespace llm
