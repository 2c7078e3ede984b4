// What the tool-call parser tests share: streaming a text in given pieces and rebuilding the
// calls from the deltas (checking the deltas' shape on the way), random splits, and comparing a
// streamed result with parse_tool_calls.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "server/tool_call_parser.h"

namespace llm::tool_call_test {

struct Expected {
  std::string name, arguments;
};

struct Streamed {
  std::string content;
  std::vector<ToolCall> calls;  // rebuilt from the deltas
};

// Feeds `text` in pieces of the given sizes (the last piece takes the rest) and rebuilds what a
// client would: content concatenated, a call per new index, arguments concatenated.
inline Streamed stream(ToolCallFormat format, std::string_view text,
                       const std::vector<size_t>& sizes, size_t max_held = 0) {
  ToolCallParser parser(format, "call_t_",
                        max_held ? max_held : ToolCallParser::kDefaultMaxHeldBytes);
  Streamed s;
  auto take = [&](const ToolCallParserOutput& out) {
    s.content += out.content;
    for (const ToolCallDelta& d : out.tool_calls) {
      if (d.index == static_cast<int>(s.calls.size())) {
        EXPECT_FALSE(d.id.empty());
        EXPECT_FALSE(d.name.empty());
        s.calls.push_back({d.id, d.name, d.arguments});
        continue;
      }
      ASSERT_EQ(d.index + 1, static_cast<int>(s.calls.size())) << "deltas out of order";
      EXPECT_TRUE(d.id.empty() && d.name.empty()) << "id and name on a later delta";
      EXPECT_FALSE(d.arguments.empty()) << "an empty later delta";
      s.calls.back().arguments += d.arguments;
    }
  };
  size_t pos = 0;
  for (const size_t n : sizes) {
    if (pos >= text.size()) break;
    const size_t len = std::min(n, text.size() - pos);
    take(parser.push(text.substr(pos, len)));
    pos += len;
  }
  if (pos < text.size()) take(parser.push(text.substr(pos)));
  take(parser.finish());
  EXPECT_EQ(parser.calls().size(), s.calls.size());
  for (size_t i = 0; i < std::min(parser.calls().size(), s.calls.size()); ++i) {
    EXPECT_EQ(parser.calls()[i].arguments, s.calls[i].arguments);
  }
  return s;
}

// Piece sizes for a text: single bytes, tiny pieces, small pieces or a few large ones, by trial.
inline std::vector<size_t> random_split(std::string_view text, int trial, std::mt19937& rng) {
  const size_t limits[] = {1, 3, 16, std::max<size_t>(text.size() / 2, 1)};
  const size_t limit = limits[trial % 4];
  std::uniform_int_distribution<size_t> size(1, limit);
  std::vector<size_t> sizes;
  for (size_t covered = 0; covered < text.size();) {
    sizes.push_back(size(rng));
    covered += sizes.back();
  }
  return sizes;
}

inline void expect_same(const ParsedToolCalls& whole, const Streamed& s) {
  EXPECT_EQ(s.content, whole.content);
  ASSERT_EQ(s.calls.size(), whole.calls.size());
  for (size_t i = 0; i < s.calls.size(); ++i) {
    EXPECT_EQ(s.calls[i].id, whole.calls[i].id);
    EXPECT_EQ(s.calls[i].name, whole.calls[i].name);
    EXPECT_EQ(s.calls[i].arguments, whole.calls[i].arguments);
  }
}

// tests/data/chat_templates/templates.json: real chat templates by id.
inline nlohmann::json chat_templates() {
  std::ifstream in(std::filesystem::path(LLM_SOURCE_DIR) / "tests" / "data" / "chat_templates" /
                   "templates.json");
  return nlohmann::json::parse(in);
}

}  // namespace llm::tool_call_test
