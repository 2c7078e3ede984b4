#include "engine/output_processor.h"

#include <algorithm>

namespace llm {

size_t OutputProcessor::stop_prefix_suffix(std::string_view text,
                                           std::span<const std::string> stops) {
  size_t best = 0;
  for (const std::string& s : stops) {
    const size_t max_len = std::min(text.size(), s.size() - 1);
    for (size_t len = max_len; len > best; --len) {
      if (text.substr(text.size() - len) == std::string_view(s).substr(0, len)) {
        best = len;
        break;
      }
    }
  }
  return best;
}

std::optional<FinishReason> OutputProcessor::process(Sequence& seq, int32_t token,
                                                     CompletionEvent& ev) const {
  const SamplingParams& p = seq.request->params;
  ev.token_ids.push_back(token);
  const bool is_eos =
      !p.ignore_eos && std::find(eos_ids_.begin(), eos_ids_.end(), token) != eos_ids_.end();
  const bool is_stop_id =
      std::find(p.stop_token_ids.begin(), p.stop_token_ids.end(), token) != p.stop_token_ids.end();
  if (is_eos || is_stop_id) {
    // The stop token itself adds no text; whatever was held back is not a stop string.
    ev.text += seq.held_text + seq.detokenizer->flush();
    seq.held_text.clear();
    return FinishReason::kStop;
  }
  // A padded id past the tokenizer (the model's vocabulary may be larger) has no text; it
  // must not stop the engine.
  if (token < tokenizer_vocab_) seq.held_text += seq.detokenizer->push(token);
  const bool check_stops = !p.stop.empty() && seq.num_output_tokens() >= p.min_tokens;
  if (check_stops) {
    size_t cut = std::string::npos;
    for (const std::string& s : p.stop) cut = std::min(cut, seq.held_text.find(s));
    if (cut != std::string::npos) {
      ev.text += seq.held_text.substr(0, cut);
      seq.held_text.clear();
      return FinishReason::kStop;
    }
  }
  if (seq.num_output_tokens() >= p.max_tokens) {
    ev.text += seq.held_text + seq.detokenizer->flush();
    seq.held_text.clear();
    return FinishReason::kLength;
  }
  const size_t hold = check_stops ? stop_prefix_suffix(seq.held_text, p.stop) : 0;
  ev.text += seq.held_text.substr(0, seq.held_text.size() - hold);
  seq.held_text.erase(0, seq.held_text.size() - hold);
  return std::nullopt;
}

}  // namespace llm
