#include "server/openai_tools.h"

#include "server/api_error.h"
#include "server/request_fields.h"

namespace llm {
namespace {

using ojson = nlohmann::ordered_json;

using request_fields::bad;
using request_fields::field;

void check_tool(const ojson& tool, size_t i) {
  const std::string at = "tools[" + std::to_string(i) + "]";
  if (!tool.is_object() || tool.value("type", ojson()) != "function") {
    bad("tools", at + " must be {\"type\": \"function\", \"function\": {...}}");
  }
  const ojson* f = field(tool, "function");
  if (!f || !f->is_object()) bad("tools", at + " needs a 'function' object");
  const ojson* name = field(*f, "name");
  if (!name || !name->is_string() || name->get<std::string>().empty()) {
    bad("tools", at + ".function needs a non-empty string 'name'");
  }
  if (const ojson* p = field(*f, "parameters"); p && !p->is_object()) {
    bad("tools", at + ".function.parameters must be a JSON schema object");
  }
}

// How FORMAT writes one call of NAME: the text before and after its arguments object.
std::pair<std::string, std::string> call_frame(ToolCallFormat format, const std::string& name) {
  const std::string quoted = ojson(name).dump();
  switch (format) {
    case ToolCallFormat::kHermes:
      return {"<tool_call>\n{\"name\": " + quoted + ", \"arguments\": ", "}\n</tool_call>"};
    case ToolCallFormat::kLlama3Json:
      return {"{\"name\": " + quoted + ", \"parameters\": ", "}"};
    case ToolCallFormat::kMistral:
      return {"{\"name\": " + quoted + ", \"arguments\": ", "}"};
  }
  return {};
}

// Between calls: what each format's parser reads as the next call.
const char* call_separator(ToolCallFormat format) {
  switch (format) {
    case ToolCallFormat::kHermes:
      return "\n";
    case ToolCallFormat::kLlama3Json:
      return "; ";
    case ToolCallFormat::kMistral:
      return ", ";
  }
  return "";
}

}  // namespace

std::optional<ToolRequest> read_tools(const ojson& body) {
  const ojson* tools = field(body, "tools");
  const ojson* choice = field(body, "tool_choice");
  if (!tools) {
    // OpenAI refuses a tool_choice other than "none" without tools.
    if (choice && *choice != "none") bad("tool_choice", "'tool_choice' needs 'tools'");
    return std::nullopt;
  }
  if (!tools->is_array()) bad("tools", "'tools' must be a list");
  ToolRequest r;
  r.tools = *tools;
  for (size_t i = 0; i < tools->size(); ++i) check_tool((*tools)[i], i);
  if (const ojson* p = field(body, "parallel_tool_calls")) {
    if (!p->is_boolean()) bad("parallel_tool_calls", "'parallel_tool_calls' must be a boolean");
    r.parallel = p->get<bool>();
  }
  if (!choice || *choice == "auto") {
    r.choice = tools->empty() ? ToolChoice::kNone : ToolChoice::kAuto;
  } else if (*choice == "none") {
    r.choice = ToolChoice::kNone;
  } else if (*choice == "required") {
    if (tools->empty()) bad("tool_choice", "tool_choice 'required' needs at least one tool");
    r.choice = ToolChoice::kRequired;
  } else if (choice->is_object() && choice->value("type", ojson()) == "function" &&
             choice->contains("function") && (*choice)["function"].is_object() &&
             (*choice)["function"].value("name", ojson()).is_string()) {
    r.choice = ToolChoice::kNamed;
    r.named = (*choice)["function"]["name"].get<std::string>();
    bool found = false;
    for (const ojson& t : *tools) found |= t["function"]["name"] == r.named;
    if (!found) bad("tool_choice", "tool_choice names '" + r.named + "', which is not in 'tools'");
  } else {
    bad("tool_choice",
        "'tool_choice' must be \"none\", \"auto\", \"required\" or "
        "{\"type\": \"function\", \"function\": {\"name\": ...}}");
  }
  return r;
}

std::string forced_tool_call_tag(const ToolRequest& request, ToolCallFormat format) {
  ojson tags = ojson::array();
  for (const ojson& tool : request.tools) {
    const ojson& f = tool["function"];
    const std::string name = f["name"].get<std::string>();
    if (request.choice == ToolChoice::kNamed && name != request.named) continue;
    const auto [begin, end] = call_frame(format, name);
    // One whitespace character at most between JSON tokens: the grammar engine's tool
    // arguments allow whitespace, which a model must not spend its tokens on.
    tags.push_back({{"type", "tag"},
                    {"begin", begin},
                    {"content",
                     {{"type", "json_schema"},
                      {"json_schema", f.contains("parameters") && !f["parameters"].is_null()
                                          ? f["parameters"]
                                          : ojson{{"type", "object"}}},
                      {"max_whitespace_cnt", 1}}},
                    {"end", end}});
  }
  ojson calls = {{"type", "tags_with_separator"},
                 {"tags", std::move(tags)},
                 {"separator", call_separator(format)},
                 {"at_least_one", true},
                 {"stop_after_first", !request.parallel}};
  if (format == ToolCallFormat::kMistral) {
    // A JSON list of calls (the [TOOL_CALLS] control token is the model's to write; the
    // parser reads the list without it).
    calls = {{"type", "sequence"},
             {"elements",
              {{{"type", "const_string"}, {"value", "["}},
               calls,
               {{"type", "const_string"}, {"value", "]"}}}}};
  }
  return ojson{{"type", "structural_tag"}, {"format", std::move(calls)}}.dump();
}

}  // namespace llm
