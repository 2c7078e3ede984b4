// llm-batch: run an OpenAI Batch JSONL file through the engine, no HTTP server involved.
#include <unistd.h>

#include <boost/program_options.hpp>
#include <iostream>

#include "batch/batch_runner.h"
#include "cli/chat_options.h"
#include "cli/engine_options.h"
#include "cli/main_support.h"
#include "cli/request_limit_options.h"
#include "llm/error.h"
#include "server/served_model.h"

namespace po = boost::program_options;

int main(int argc, char** argv) {
  std::string model, served_name;
  llm::BatchOptions opt;
  std::string input, output;
  llm::EngineFlags engine_flags;
  llm::RequestLimits limits;
  llm::ChatFlags chat;
  po::options_description desc(
      "llm-batch: OpenAI Batch API JSONL in, results out (input order, resumable)\n"
      "Options (each also read from LLM_<NAME>)");
  desc.add_options()("help,h", "show this help")("model", po::value(&model)->required(),
                                                 "Hugging Face model directory, or a GGUF file")(
      "input", po::value(&input)->required(),
      "input JSONL: {custom_id, method, url, body} per line")(
      "output", po::value(&output)->required(), "output JSONL, one line per input line")(
      "resume", po::bool_switch(&opt.resume),
      "keep the lines --output already has and do the rest")(
      "max-in-flight", po::value(&opt.max_in_flight)->default_value(opt.max_in_flight),
      "lines read ahead and not yet written")(
      "served-model-name", po::value(&served_name),
      "the 'model' the bodies may name (default: the directory name)");
  llm::add_chat_options(desc, chat);
  llm::add_request_limit_options(desc, limits);
  llm::add_engine_options(desc, engine_flags);
  const auto check = [&] {
    if (opt.max_in_flight < 1) throw po::error("--max-in-flight must be >= 1");
    llm::check_request_limits(limits);
    llm::check_chat_flags(chat);
  };
  if (auto code = llm::parse_command_line("llm-batch", argc, argv, desc, check)) return *code;
  opt.input = input;
  opt.output = output;
  return llm::run_guarded("llm-batch", [&] {
    if (llm::serve_if_worker_rank(engine_flags.resolve(model))) return 0;
    auto engine = llm::Engine::create(engine_flags.resolve(model));
    const llm::ServedModel served(
        *engine, model, served_name.empty() ? llm::default_served_name(model) : served_name,
        chat.options);
    llm::ProgressReporter progress(stderr, isatty(STDERR_FILENO) != 0);
    llm::ModelContext ctx = served.context();
    ctx.limits = llm::effective_request_limits(limits, engine_flags.config.max_num_seqs);
    llm::BatchRunner runner(*engine, ctx, opt, progress);
    const llm::BatchCounts counts = runner.run();
    if (counts.failed > 0) {
      std::cerr << "llm-batch: " << counts.failed << " of " << counts.total << " lines failed (see their error lines in "
                << output << ")\n";
      return 1;
    }
    return 0;
  });
}
