// tokenizer.json → HfPipeline. Every component type `tokenizers` serialises is either built
// here or refused with kUnsupported naming it and the file, so a tokenizer we cannot reproduce
// exactly never loads.
#include <nlohmann/json.hpp>

#include "llm/error.h"
#include "tokenizer/hf/hf_tokenizer.h"

namespace llm {
namespace {

using json = nlohmann::json;

struct Reader {
  const std::string& path;

  [[noreturn]] void unsupported(const std::string& what) const {
    throw Error(ErrorCode::kUnsupported, path + ": " + what + " is not supported");
  }
  [[noreturn]] void corrupt(const std::string& what) const {
    throw Error(ErrorCode::kCorruptFile, path + ": " + what);
  }

  const json& field(const json& obj, const char* key, const std::string& where) const {
    const auto it = obj.find(key);
    if (it == obj.end()) corrupt(where + " has no \"" + key + "\"");
    return *it;
  }
  std::string string_or(const json& obj, const char* key, const std::string& fallback,
                        const std::string& where) const {
    const auto it = obj.find(key);
    if (it == obj.end() || it->is_null()) return fallback;
    if (!it->is_string()) corrupt(where + ".\"" + key + "\" must be a string");
    return it->get<std::string>();
  }
  bool bool_or(const json& obj, const char* key, bool fallback, const std::string& where) const {
    const auto it = obj.find(key);
    if (it == obj.end() || it->is_null()) return fallback;
    if (!it->is_boolean()) corrupt(where + ".\"" + key + "\" must be a boolean");
    return it->get<bool>();
  }
  std::string type_of(const json& obj, const std::string& where) const {
    if (!obj.is_object()) corrupt(where + " must be an object");
    return string_or(obj, "type", "", where);
  }

  // {"Regex": "..."} or {"String": "..."}: a matcher, or null and the literal.
  std::unique_ptr<hf::RegexMatcher> pattern(const json& obj, const std::string& where,
                                            std::string* literal) const {
    const json& p = field(obj, "pattern", where);
    if (p.is_object() && p.contains("Regex") && p["Regex"].is_string()) {
      return hf::make_regex(p["Regex"].get<std::string>(), path + ": " + where);
    }
    if (p.is_object() && p.contains("String") && p["String"].is_string()) {
      *literal = p["String"].get<std::string>();
      return nullptr;
    }
    corrupt(where + ".pattern must be {\"Regex\": ...} or {\"String\": ...}");
  }

  hf::SplitBehavior behavior(const json& obj, const std::string& where,
                             const std::string& fallback) const {
    const std::string b = string_or(obj, "behavior", fallback, where);
    if (b == "Removed") return hf::SplitBehavior::kRemoved;
    if (b == "Isolated") return hf::SplitBehavior::kIsolated;
    if (b == "MergedWithPrevious") return hf::SplitBehavior::kMergedWithPrevious;
    if (b == "MergedWithNext") return hf::SplitBehavior::kMergedWithNext;
    if (b == "Contiguous") return hf::SplitBehavior::kContiguous;
    corrupt(where + ".behavior \"" + b + "\" is not a split behavior");
  }

  // Metaspace's prepend_scheme, or the older add_prefix_space flag: 0 always, 1 first, 2 never.
  int prepend_scheme(const json& obj, const std::string& where) const {
    if (obj.contains("prepend_scheme") && !obj["prepend_scheme"].is_null()) {
      const std::string s = string_or(obj, "prepend_scheme", "always", where);
      if (s == "always") return 0;
      if (s == "first") return 1;
      if (s == "never") return 2;
      corrupt(where + ".prepend_scheme \"" + s + "\" is not always/first/never");
    }
    return bool_or(obj, "add_prefix_space", true, where) ? 0 : 2;
  }

  std::unique_ptr<hf::Normalizer> normalizer(const json& obj, const std::string& where) const {
    const std::string type = type_of(obj, where);
    if (type == "NFC") return hf::make_unicode_normalizer(hf::UnicodeForm::kNfc);
    if (type == "NFD") return hf::make_unicode_normalizer(hf::UnicodeForm::kNfd);
    if (type == "NFKC") return hf::make_unicode_normalizer(hf::UnicodeForm::kNfkc);
    if (type == "NFKD") return hf::make_unicode_normalizer(hf::UnicodeForm::kNfkd);
    if (type == "Lowercase") return hf::make_lowercase();
    if (type == "Prepend") return hf::make_prepend(string_or(obj, "prepend", "", where));
    if (type == "Strip") {
      return hf::make_strip(bool_or(obj, "strip_left", false, where),
                            bool_or(obj, "strip_right", false, where));
    }
    if (type == "Replace") {
      std::string literal;
      auto regex = pattern(obj, where, &literal);
      return hf::make_replace(std::move(regex), literal, string_or(obj, "content", "", where));
    }
    if (type == "Sequence") {
      std::vector<std::unique_ptr<hf::Normalizer>> steps;
      const json& list = field(obj, "normalizers", where);
      if (!list.is_array()) corrupt(where + ".normalizers must be an array");
      for (size_t i = 0; i < list.size(); ++i) {
        steps.push_back(normalizer(list[i], where + ".normalizers[" + std::to_string(i) + "]"));
      }
      return hf::make_sequence(std::move(steps));
    }
    unsupported("normalizer type \"" + type + "\" (" + where + ")");
  }

  std::unique_ptr<hf::PreTokenizer> pre_tokenizer(const json& obj, const std::string& where) const {
    const std::string type = type_of(obj, where);
    if (type == "Split") {
      std::string literal;
      auto regex = pattern(obj, where, &literal);
      return hf::make_split(std::move(regex), literal, behavior(obj, where, ""),
                            bool_or(obj, "invert", false, where));
    }
    if (type == "ByteLevel") {
      return hf::make_byte_level(bool_or(obj, "add_prefix_space", true, where),
                                 bool_or(obj, "use_regex", true, where));
    }
    if (type == "Metaspace") {
      return hf::make_metaspace(string_or(obj, "replacement", "\xE2\x96\x81", where),
                                prepend_scheme(obj, where), bool_or(obj, "split", true, where));
    }
    if (type == "Digits") return hf::make_digits(bool_or(obj, "individual_digits", false, where));
    if (type == "Punctuation") return hf::make_punctuation(behavior(obj, where, "Isolated"));
    if (type == "WhitespaceSplit") return hf::make_whitespace_split();
    if (type == "BertPreTokenizer") return hf::make_bert();
    if (type == "Sequence") {
      std::vector<std::unique_ptr<hf::PreTokenizer>> steps;
      const json& list = field(obj, "pretokenizers", where);
      if (!list.is_array()) corrupt(where + ".pretokenizers must be an array");
      for (size_t i = 0; i < list.size(); ++i) {
        steps.push_back(
            pre_tokenizer(list[i], where + ".pretokenizers[" + std::to_string(i) + "]"));
      }
      return hf::make_sequence(std::move(steps));
    }
    unsupported("pre_tokenizer type \"" + type + "\" (" + where + ")");
  }

  // The ids of a TemplateProcessing special token.
  std::vector<TokenId> special_ids(const json& obj, const std::string& name,
                                   const std::string& where) const {
    const json& specials = field(obj, "special_tokens", where);
    const auto it = specials.find(name);
    if (it == specials.end() || !it->is_object() || !it->contains("ids") ||
        !(*it)["ids"].is_array()) {
      corrupt(where + " uses special token \"" + name + "\" without its ids");
    }
    std::vector<TokenId> ids;
    for (const json& id : (*it)["ids"]) {
      if (!id.is_number_integer()) corrupt(where + ": special token ids must be integers");
      ids.push_back(id.get<TokenId>());
    }
    return ids;
  }

  std::unique_ptr<hf::PostProcessor> post_processor(const json& obj,
                                                    const std::string& where) const {
    const std::string type = type_of(obj, where);
    if (type == "ByteLevel") return hf::make_identity();  // it trims offsets only
    if (type == "TemplateProcessing") {
      const json& single = field(obj, "single", where);
      if (!single.is_array()) corrupt(where + ".single must be an array");
      std::vector<TokenId> before, after;
      bool seen_a = false;
      for (const json& item : single) {
        if (item.contains("Sequence")) {
          if (seen_a || item["Sequence"].value("id", "") != "A") {
            unsupported(where + ".single other than one sequence $A");
          }
          seen_a = true;
        } else if (item.contains("SpecialToken") && item["SpecialToken"].contains("id") &&
                   item["SpecialToken"]["id"].is_string()) {
          auto ids = special_ids(obj, item["SpecialToken"]["id"].get<std::string>(), where);
          (seen_a ? after : before).insert((seen_a ? after : before).end(), ids.begin(), ids.end());
        } else {
          corrupt(where + ".single has an item that is neither Sequence nor SpecialToken");
        }
      }
      if (!seen_a) corrupt(where + ".single has no $A");
      return hf::make_template(std::move(before), std::move(after));
    }
    if (type == "BertProcessing" || type == "RobertaProcessing") {
      auto id_of = [&](const char* key) {
        const json& pair = field(obj, key, where);
        if (!pair.is_array() || pair.size() != 2 || !pair[1].is_number_integer()) {
          corrupt(where + "." + key + " must be [token, id]");
        }
        return pair[1].get<TokenId>();
      };
      return hf::make_template({id_of("cls")}, {id_of("sep")});
    }
    if (type == "Sequence") {
      std::vector<std::unique_ptr<hf::PostProcessor>> steps;
      const json& list = field(obj, "processors", where);
      if (!list.is_array()) corrupt(where + ".processors must be an array");
      for (size_t i = 0; i < list.size(); ++i) {
        steps.push_back(post_processor(list[i], where + ".processors[" + std::to_string(i) + "]"));
      }
      return hf::make_sequence_processor(std::move(steps));
    }
    unsupported("post_processor type \"" + type + "\" (" + where + ")");
  }

  std::unique_ptr<hf::Decoder> decoder(const json& obj, const std::string& where,
                                       HfPipeline& p) const {
    const std::string type = type_of(obj, where);
    if (type == "ByteLevel") return hf::make_byte_level_decoder();
    if (type == "Metaspace") {
      return hf::make_metaspace_decoder(string_or(obj, "replacement", "\xE2\x96\x81", where),
                                        prepend_scheme(obj, where) != 2);
    }
    if (type == "ByteFallback") {
      p.decoder_has_byte_fallback = true;
      return hf::make_byte_fallback_decoder();
    }
    if (type == "Fuse") return hf::make_fuse_decoder();
    if (type == "Strip") {
      const json& start = field(obj, "start", where);
      const json& stop = field(obj, "stop", where);
      if (!start.is_number_unsigned() || !stop.is_number_unsigned()) {
        corrupt(where + ".start/.stop must be counts");
      }
      return hf::make_strip_decoder(string_or(obj, "content", " ", where), start.get<size_t>(),
                                    stop.get<size_t>());
    }
    if (type == "Replace") {
      std::string literal;
      auto regex = pattern(obj, where, &literal);
      return hf::make_replace_decoder(std::move(regex), literal,
                                      string_or(obj, "content", "", where));
    }
    if (type == "Sequence") {
      std::vector<std::unique_ptr<hf::Decoder>> steps;
      const json& list = field(obj, "decoders", where);
      if (!list.is_array()) corrupt(where + ".decoders must be an array");
      for (size_t i = 0; i < list.size(); ++i) {
        steps.push_back(decoder(list[i], where + ".decoders[" + std::to_string(i) + "]", p));
      }
      return hf::make_sequence_decoder(std::move(steps));
    }
    unsupported("decoder type \"" + type + "\" (" + where + ")");
  }

  std::unique_ptr<hf::BpeModel> model(const json& obj) const {
    const std::string type = type_of(obj, "model");
    if (type != "BPE" && !(type.empty() && obj.contains("merges"))) {
      unsupported("model type \"" + type + "\" (only BPE is implemented)");
    }
    if (const auto it = obj.find("dropout"); it != obj.end() && !it->is_null()) {
      if (!it->is_number()) corrupt("model.dropout must be a number");
      if (it->get<double>() != 0.0) unsupported("model.dropout (random merges)");
    }
    hf::BpeOptions o;
    auto optional_string = [&](const char* key) -> std::optional<std::string> {
      const auto it = obj.find(key);
      if (it == obj.end() || it->is_null()) return std::nullopt;
      if (!it->is_string()) corrupt(std::string("model.") + key + " must be a string");
      return it->get<std::string>();
    };
    o.unk_token = optional_string("unk_token");
    o.continuing_subword_prefix = optional_string("continuing_subword_prefix");
    o.end_of_word_suffix = optional_string("end_of_word_suffix");
    o.fuse_unk = bool_or(obj, "fuse_unk", false, "model");
    o.byte_fallback = bool_or(obj, "byte_fallback", false, "model");
    o.ignore_merges = bool_or(obj, "ignore_merges", false, "model");

    const json& vocab_json = field(obj, "vocab", "model");
    if (!vocab_json.is_object()) corrupt("model.vocab must be an object");
    std::vector<std::pair<std::string, TokenId>> vocab;
    vocab.reserve(vocab_json.size());
    for (const auto& [token, id] : vocab_json.items()) {
      if (!id.is_number_integer() || id.get<int64_t>() < 0 || id.get<int64_t>() > (1 << 30)) {
        corrupt("model.vocab[\"" + token + "\"] must be a non-negative integer id");
      }
      vocab.emplace_back(token, id.get<TokenId>());
    }
    std::vector<std::pair<std::string, std::string>> merges;
    if (const auto it = obj.find("merges"); it != obj.end() && !it->is_null()) {
      if (!it->is_array()) corrupt("model.merges must be an array");
      merges.reserve(it->size());
      for (size_t i = 0; i < it->size(); ++i) {
        const json& m = (*it)[i];
        if (m.is_string()) {
          // "a b": exactly one space, as `tokenizers` requires.
          const std::string s = m.get<std::string>();
          const size_t space = s.find(' ');
          if (space == std::string::npos || s.find(' ', space + 1) != std::string::npos) {
            corrupt("model.merges[" + std::to_string(i) + "] \"" + s + "\" is not \"a b\"");
          }
          merges.emplace_back(s.substr(0, space), s.substr(space + 1));
        } else if (m.is_array() && m.size() == 2 && m[0].is_string() && m[1].is_string()) {
          merges.emplace_back(m[0].get<std::string>(), m[1].get<std::string>());
        } else {
          corrupt("model.merges[" + std::to_string(i) + "] is neither \"a b\" nor [\"a\", \"b\"]");
        }
      }
    }
    return std::make_unique<hf::BpeModel>(std::move(vocab), merges, std::move(o), path);
  }
};

}  // namespace

HfPipeline parse_tokenizer_json(const std::string& json_text, const std::string& path) {
  const Reader r{path};
  json doc;
  try {
    doc = json::parse(json_text);
  } catch (const json::parse_error& e) {
    r.corrupt(std::string("malformed JSON: ") + e.what());
  }
  if (!doc.is_object()) r.corrupt("expected a JSON object");
  // Both change what encode() returns; refusing them is safer than ignoring them.
  for (const char* key : {"truncation", "padding"}) {
    if (doc.contains(key) && !doc[key].is_null()) r.unsupported(std::string("\"") + key + "\"");
  }
  auto present = [&](const char* key) { return doc.contains(key) && !doc[key].is_null(); };

  HfPipeline p;
  if (present("normalizer")) p.normalizer = r.normalizer(doc["normalizer"], "normalizer");
  if (present("pre_tokenizer")) {
    p.pre_tokenizer = r.pre_tokenizer(doc["pre_tokenizer"], "pre_tokenizer");
  }
  if (present("post_processor")) {
    p.post_processor = r.post_processor(doc["post_processor"], "post_processor");
  }
  if (present("decoder")) {
    p.decoder = r.decoder(doc["decoder"], "decoder", p);
    p.decoder_is_byte_level = r.type_of(doc["decoder"], "decoder") == "ByteLevel";
  }
  p.model = r.model(r.field(doc, "model", "the file"));

  if (present("added_tokens")) {
    const json& list = doc["added_tokens"];
    if (!list.is_array()) r.corrupt("added_tokens must be an array");
    for (size_t i = 0; i < list.size(); ++i) {
      const std::string where = "added_tokens[" + std::to_string(i) + "]";
      const json& t = list[i];
      if (!t.is_object()) r.corrupt(where + " must be an object");
      const json& id = r.field(t, "id", where);
      const json& content = r.field(t, "content", where);
      if (!id.is_number_integer() || id.get<int64_t>() < 0 || id.get<int64_t>() > (1 << 30) ||
          !content.is_string()) {
        r.corrupt(where + " needs an integer id and a string content");
      }
      hf::AddedToken a;
      a.id = id.get<TokenId>();
      a.content = content.get<std::string>();
      a.special = r.bool_or(t, "special", false, where);
      a.lstrip = r.bool_or(t, "lstrip", false, where);
      a.rstrip = r.bool_or(t, "rstrip", false, where);
      a.single_word = r.bool_or(t, "single_word", false, where);
      a.normalized = r.bool_or(t, "normalized", !a.special, where);
      p.added_tokens.push_back(std::move(a));
    }
  }
  return p;
}

}  // namespace llm
