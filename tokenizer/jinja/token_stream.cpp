#include "tokenizer/jinja/token_stream.h"

#include <algorithm>

#include "tokenizer/jinja/budget.h"
#include "tokenizer/jinja/error.h"

namespace llm::jinja {

const Token& TokenStream::look(size_t k) const {
  return tokens_[std::min(pos_ + k, tokens_.size() - 1)];
}

const Token& TokenStream::advance() {
  const Token& t = tokens_[pos_];
  if (pos_ + 1 < tokens_.size()) ++pos_;
  return t;
}

bool TokenStream::is_op(const Token& t, std::string_view op) {
  return t.type == Token::Type::kOperator && t.text == op;
}

bool TokenStream::is_name(const Token& t, std::string_view name) {
  return t.type == Token::Type::kName && t.text == name;
}

bool TokenStream::skip_op(std::string_view op) {
  if (!is_op(op)) return false;
  advance();
  return true;
}

bool TokenStream::skip_name(std::string_view name) {
  if (!is_name(name)) return false;
  advance();
  return true;
}

void TokenStream::expect_op(std::string_view op) {
  if (!skip_op(op)) {
    fail("expected token '" + std::string(op) + "', got '" + describe(cur()) + "'");
  }
}

std::string TokenStream::expect_name() {
  if (cur().type != Token::Type::kName) {
    fail("expected token 'name', got '" + describe(cur()) + "'");
  }
  return advance().text;
}

void TokenStream::expect_block_end() {
  if (cur().type != Token::Type::kBlockEnd) {
    fail("expected token 'end of statement block', got '" + describe(cur()) + "'");
  }
  advance();
}

void TokenStream::fail_at(const std::string& message, size_t offset) {
  throw TemplateError(TemplateError::Kind::kSyntax, message, offset);
}

std::string TokenStream::describe(const Token& t) {
  switch (t.type) {
    case Token::Type::kText:
      return "template data";
    case Token::Type::kVarBegin:
      return "begin of print statement";
    case Token::Type::kVarEnd:
      return "end of print statement";
    case Token::Type::kBlockBegin:
      return "begin of statement block";
    case Token::Type::kBlockEnd:
      return "end of statement block";
    case Token::Type::kEof:
      return "end of template";
    case Token::Type::kString:
      return "string";
    default:
      return t.text;
  }
}

TokenStream::Nest::Nest(TokenStream& stream) : stream_(stream) {
  if (++stream_.nesting_ > kMaxSyntaxDepth) {
    --stream_.nesting_;
    stream_.fail("template nested too deeply");
  }
}

}  // namespace llm::jinja
