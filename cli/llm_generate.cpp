// llm-generate: load a model directory and print a continuation of a prompt, through the same
// Engine the server and the batch runner use.
#include <boost/program_options.hpp>
#include <cstdio>
#include <iostream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "cli/engine_options.h"
#include "cli/main_support.h"
#include "llm/engine.h"
#include "llm/error.h"
#include "tokenizer/tokenizer.h"

namespace po = boost::program_options;

namespace {

struct Options {
  std::string model;
  llm::EngineConfig runtime;  // --threads, --dtype
  std::string prompt;
  int max_tokens = 64;
  double temperature = 0.0;
  uint64_t seed = 0;
  bool json = false;
};

int run(const Options& opt) {
  llm::EngineConfig cfg = opt.runtime;
  cfg.model_dir = opt.model;
  cfg.max_num_seqs = 1;
  if (llm::serve_if_worker_rank(cfg)) return 0;
  auto engine = llm::Engine::create(cfg);

  llm::Request req;
  req.prompt_token_ids = engine->tokenizer().encode(opt.prompt);
  req.params.temperature = opt.temperature;
  req.params.seed = opt.seed;
  req.params.max_tokens = opt.max_tokens;
  auto stream = engine->submit(req);

  std::vector<int32_t> output;
  std::string text;
  std::string finish;
  while (auto ev = stream->next()) {
    output.insert(output.end(), ev->token_ids.begin(), ev->token_ids.end());
    text += ev->text;
    if (!opt.json) {
      std::fwrite(ev->text.data(), 1, ev->text.size(), stdout);
      std::fflush(stdout);
    }
    if (ev->finish) finish = llm::finish_reason_name(*ev->finish);
  }
  // Nothing here aborts a request: an abort means the engine stopped (its message is above).
  if (finish == llm::finish_reason_name(llm::FinishReason::kAbort)) {
    std::fprintf(stderr, "llm-generate: the generation was aborted: the engine stopped\n");
    return 1;
  }
  if (opt.json) {
    const nlohmann::json j = {{"prompt_token_ids", req.prompt_token_ids},
                              {"output_token_ids", output},
                              {"output_text", text},
                              {"finish_reason", finish}};
    std::cout << j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
  } else {
    std::cout << "\n";
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  Options opt;
  po::options_description desc("llm-generate: print a continuation of a prompt\nOptions");
  desc.add_options()("help,h", "show this help")("model", po::value(&opt.model)->required(),
                                                 "Hugging Face model directory")(
      "prompt", po::value(&opt.prompt)->default_value(""), "prompt text")(
      "max-tokens", po::value(&opt.max_tokens)->default_value(64), "tokens to generate")(
      "temperature", po::value(&opt.temperature)->default_value(0.0), "0 = greedy")(
      "seed", po::value(&opt.seed)->default_value(0), "sampling seed")(
      "json", po::bool_switch(&opt.json), "print one JSON object with token ids and text");
  llm::add_runtime_options(desc, opt.runtime);
  if (auto code = llm::parse_command_line("llm-generate", argc, argv, desc)) return *code;
  return llm::run_guarded("llm-generate", [&] { return run(opt); });
}
