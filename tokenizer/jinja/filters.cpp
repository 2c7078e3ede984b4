#include "tokenizer/jinja/filters.h"

#include <unordered_map>

#include "tokenizer/jinja/filter_support.h"

namespace llm::jinja {
namespace builtin_filters {
namespace {

const std::unordered_map<std::string_view, FilterFn>& table() {
  static const std::unordered_map<std::string_view, FilterFn> filters = {
      {"abs", f_abs},
      {"attr", f_attr},
      {"capitalize", f_capitalize},
      {"count", f_length},
      {"d", f_default},
      {"default", f_default},
      {"dictsort", f_dictsort},
      {"e", f_escape},
      {"escape", f_escape},
      {"first", f_first},
      {"float", f_float},
      {"forceescape", f_escape},
      {"format", f_format},
      {"indent", f_indent},
      {"int", f_int},
      {"items", f_items},
      {"join", f_join},
      {"last", f_last},
      {"length", f_length},
      {"list", f_list},
      {"lower", f_lower},
      {"map", f_map},
      {"max", f_max},
      {"min", f_min},
      {"reject", f_reject},
      {"rejectattr", f_rejectattr},
      {"replace", f_replace},
      {"reverse", f_reverse},
      {"round", f_round},
      {"safe", f_safe},
      {"select", f_select},
      {"selectattr", f_selectattr},
      {"sort", f_sort},
      {"string", f_string},
      {"sum", f_sum},
      {"title", f_title},
      {"tojson", f_tojson},
      {"trim", f_trim},
      {"unique", f_unique},
      {"upper", f_upper},
      {"wordcount", f_wordcount},
  };
  return filters;
}

}  // namespace
}  // namespace builtin_filters

FilterFn find_filter(std::string_view name) {
  const auto& filters = builtin_filters::table();
  const auto it = filters.find(name);
  return it == filters.end() ? nullptr : it->second;
}

}  // namespace llm::jinja
