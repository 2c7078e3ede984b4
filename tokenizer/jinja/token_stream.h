// The parser's view of the tokens: a cursor with Jinja's error messages, and the guard that
// bounds how deeply the (recursive-descent) parser may nest.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "tokenizer/jinja/lexer.h"

namespace llm::jinja {

class TokenStream {
 public:
  explicit TokenStream(std::vector<Token> tokens) : tokens_(std::move(tokens)) {}

  const Token& cur() const { return tokens_[pos_]; }
  const Token& look(size_t k = 1) const;
  // Returns the current token and moves past it (never past the end token).
  const Token& advance();

  bool is_op(std::string_view op) const { return is_op(cur(), op); }
  static bool is_op(const Token& t, std::string_view op);
  bool is_name(std::string_view name) const { return is_name(cur(), name); }
  static bool is_name(const Token& t, std::string_view name);
  bool skip_op(std::string_view op);
  bool skip_name(std::string_view name);

  void expect_op(std::string_view op);
  std::string expect_name();
  void expect_block_end();

  // Syntax errors at the current token / at `offset`.
  [[noreturn]] void fail(const std::string& message) const { fail_at(message, cur().offset); }
  [[noreturn]] static void fail_at(const std::string& message, size_t offset);
  // How Jinja names a token in messages: "end of print statement", "string", "+".
  static std::string describe(const Token& t);

  // Held while the parser is one level deeper in blocks or expressions.
  class Nest {
   public:
    explicit Nest(TokenStream& stream);
    ~Nest() { --stream_.nesting_; }
    Nest(const Nest&) = delete;
    Nest& operator=(const Nest&) = delete;

   private:
    TokenStream& stream_;
  };

 private:
  std::vector<Token> tokens_;
  size_t pos_ = 0;
  int nesting_ = 0;
};

}  // namespace llm::jinja
