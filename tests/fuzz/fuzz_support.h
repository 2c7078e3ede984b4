// What the fuzz targets share: the bundled model's tokenizer and the ModelContext the server
// would build for it, loaded once per process.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string_view>

#include "server/openai_request.h"
#include "tokenizer/tokenizer.h"

namespace llm::fuzz {

// $LLM_FUZZ_MODEL_DIR, else models/stories260K in the source tree this binary was built from.
std::filesystem::path model_dir();

const Tokenizer& tokenizer();

// As ServedModel builds it: the model's own chat template (or the fallback), bos/eos from
// tokenizer_config.json, vocabulary and context length from config.json.
const ModelContext& model_context();

// Splits fuzz input at the first occurrence of `separator`; without one, all of it is `first`.
struct Split {
  std::string_view first, second;
};
Split split(const uint8_t* data, size_t size, std::string_view separator);

}  // namespace llm::fuzz
