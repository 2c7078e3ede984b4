#include "batch/batch_merge.h"

#include <fstream>
#include <nlohmann/json.hpp>
#include <unordered_map>

#include "batch/batch_line.h"
#include "llm/error.h"

namespace llm {
namespace {

[[noreturn]] void fail(const std::string& what) {
  throw Error(ErrorCode::kInvalidArgument, "merge: " + what);
}

bool blank(const std::string& s) {
  return s.find_first_not_of(" \t\r") == std::string::npos;
}

struct Answer {
  std::string text;
  std::string file;
  bool failed = false;
};

}  // namespace

MergeCounts merge_batch_outputs(const std::filesystem::path& input,
                                const std::vector<std::filesystem::path>& shard_outputs,
                                const std::filesystem::path& output) {
  if (shard_outputs.empty()) fail("no shard outputs given");
  // The input's custom_ids, in order.
  std::ifstream in(input);
  if (!in) throw Error(ErrorCode::kNotFound, input.string() + ": cannot open the input file");
  std::vector<std::string> ids;
  std::unordered_map<std::string, int64_t> input_line;
  int64_t line_number = 0;
  for (std::string text; std::getline(in, text);) {
    ++line_number;
    if (blank(text)) continue;
    const BatchLine line = parse_batch_line(text, line_number);
    if (line.custom_id.empty())
      fail(input.string() + " line " + std::to_string(line_number) +
           " has no custom_id: merge matches answers by it");
    const auto [it, fresh] = input_line.emplace(line.custom_id, line_number);
    if (!fresh) {
      fail("custom_id '" + line.custom_id + "' is on lines " + std::to_string(it->second) +
           " and " + std::to_string(line_number) + " of " + input.string());
    }
    ids.push_back(line.custom_id);
  }
  // Every shard's answers, by custom_id.
  std::unordered_map<std::string, Answer> answers;
  for (const auto& path : shard_outputs) {
    std::ifstream shard(path);
    if (!shard) throw Error(ErrorCode::kNotFound, path.string() + ": cannot open the shard output");
    int64_t n = 0;
    for (std::string text; std::getline(shard, text);) {
      ++n;
      if (blank(text)) continue;
      const auto j = nlohmann::json::parse(text, nullptr, false);
      if (j.is_discarded() || !j.is_object() || !j.contains("custom_id") ||
          !j["custom_id"].is_string())
        fail(path.string() + " line " + std::to_string(n) +
             " is not a batch output line (torn? run that shard again with --resume)");
      const std::string id = j["custom_id"].get<std::string>();
      if (!input_line.contains(id))
        fail(path.string() + " answers custom_id '" + id + "', which is not in " + input.string());
      Answer a{text, path.string(), !j.contains("error") || !j["error"].is_null()};
      const auto [it, fresh] = answers.emplace(id, std::move(a));
      if (!fresh)
        fail("custom_id '" + id + "' is answered in both " + it->second.file + " and " +
             path.string());
    }
  }
  for (const std::string& id : ids) {
    if (!answers.contains(id)) {
      fail("custom_id '" + id + "' (input line " + std::to_string(input_line[id]) +
           ") is answered in no shard output: run its shard again with --resume");
    }
  }
  const std::filesystem::path tmp = output.string() + ".merging";
  MergeCounts counts;
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    for (const std::string& id : ids) {
      const Answer& a = answers[id];
      out << a.text << '\n';
      ++counts.lines;
      counts.failed += a.failed;
    }
    out.flush();
    if (!out) throw Error(ErrorCode::kResourceExhausted, tmp.string() + ": write failed");
  }
  std::error_code ec;
  std::filesystem::rename(tmp, output, ec);
  if (ec)
    throw Error(ErrorCode::kResourceExhausted,
                output.string() + ": cannot rename into place: " + ec.message());
  return counts;
}

}  // namespace llm
