// llm-batch: run an OpenAI Batch JSONL file through the engine, no HTTP server involved; one
// shard of it (--shard I/N, for a cluster's job system); or merge the shards' outputs.
#include <unistd.h>

#include <boost/program_options.hpp>
#include <iostream>

#include "batch/batch_merge.h"
#include "batch/batch_runner.h"
#include "cli/chat_options.h"
#include "cli/engine_options.h"
#include "cli/main_support.h"
#include "cli/model_config.h"
#include "cli/request_limit_options.h"
#include "llm/error.h"
#include "server/model_version.h"
#include "server/served_model.h"

namespace po = boost::program_options;

namespace {

// "I/N" with 0 <= I < N.
void parse_shard(const std::string& text, llm::BatchOptions& opt) {
  const size_t slash = text.find('/');
  try {
    size_t used = 0;
    if (slash == std::string::npos) throw std::invalid_argument("no slash");
    opt.shard_index = std::stoi(text.substr(0, slash), &used);
    if (used != slash) throw std::invalid_argument("index");
    opt.shard_count = std::stoi(text.substr(slash + 1), &used);
    if (used != text.size() - slash - 1) throw std::invalid_argument("count");
  } catch (const std::exception&) {
    throw po::error("--shard must be I/N (e.g. 0/4), not '" + text + "'");
  }
  if (opt.shard_count < 1 || opt.shard_index < 0 || opt.shard_index >= opt.shard_count)
    throw po::error("--shard I/N needs 0 <= I < N, not '" + text + "'");
}

// --config: --model names MODEL or MODEL:VERSION there; without a version, the version with
// the most traffic.
std::pair<llm::ModelSpec, llm::VersionSpec> pick_version(const std::string& config,
                                                         const std::string& model,
                                                         const llm::VersionDefaults& defaults) {
  const size_t colon = model.find(':');
  const std::string name = model.substr(0, colon);
  for (const llm::ModelSpec& m : llm::read_model_config(config, defaults)) {
    if (m.name != name && std::find(m.aliases.begin(), m.aliases.end(), name) == m.aliases.end())
      continue;
    const llm::VersionSpec* best = nullptr;
    for (const llm::VersionSpec& v : m.versions) {
      if (colon != std::string::npos ? v.version == model.substr(colon + 1)
                                     : !v.shadow && (!best || v.weight > best->weight))
        best = &v;
    }
    if (!best)
      throw llm::Error(llm::ErrorCode::kInvalidArgument,
                       "--model " + model + ": " + config + " has no such version");
    return {m, *best};
  }
  throw llm::Error(llm::ErrorCode::kInvalidArgument,
                   "--model " + model + ": " + config + " declares no such model");
}

}  // namespace

int main(int argc, char** argv) {
  std::string model, served_name, config, shard;
  std::vector<std::string> merge;
  llm::BatchOptions opt;
  std::string input, output;
  llm::EngineFlags engine_flags;
  llm::RequestLimits limits;
  llm::ChatFlags chat;
  po::options_description desc(
      "llm-batch: OpenAI Batch API JSONL in, results out (input order, resumable)\n"
      "Options (each also read from LLM_<NAME>)");
  desc.add_options()("help,h", "show this help")("model", po::value(&model),
                                                 "Hugging Face model directory, or a GGUF file; "
                                                 "with --config, MODEL or MODEL:VERSION there")(
      "config", po::value(&config), "llm-serve's --config file, to run one version it declares")(
      "shard", po::value(&shard),
      "I/N: only every N-th non-blank line, starting at line I (from 0)")(
      "merge", po::value(&merge)->multitoken(),
      "SHARD_OUTPUT...: write the shards' outputs to --output in --input's order, checking that "
      "every custom_id is answered exactly once (no model runs)")(
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
    if (merge.empty() == model.empty()) throw po::error("give either --model or --merge");
    if (!shard.empty()) parse_shard(shard, opt);
    if (opt.max_in_flight < 1) throw po::error("--max-in-flight must be >= 1");
    llm::check_request_limits(limits);
    llm::check_chat_flags(chat);
  };
  if (auto code = llm::parse_command_line("llm-batch", argc, argv, desc, check)) return *code;
  opt.input = input;
  opt.output = output;
  return llm::run_guarded("llm-batch", [&] {
    if (!merge.empty()) {
      const llm::MergeCounts m = llm::merge_batch_outputs(
          input, std::vector<std::filesystem::path>(merge.begin(), merge.end()), output);
      std::cerr << "llm-batch: merged " << m.lines << " lines from " << merge.size()
                << " shards into " << output << " (" << m.failed << " error lines)\n";
      return 0;
    }
    const llm::RequestLimits request_limits =
        llm::effective_request_limits(limits, engine_flags.config.max_num_seqs);
    std::shared_ptr<llm::ModelVersion> version;
    std::shared_ptr<llm::Engine> engine;
    std::unique_ptr<llm::ServedModel> served;
    llm::ModelContext ctx;
    if (!config.empty()) {
      // The version as llm-serve would run it: its flags, warm-up and golden checks.
      const auto [spec, v] =
          pick_version(config, model, llm::VersionDefaults{engine_flags, chat, {}});
      version = llm::ModelVersion::load(spec, v, request_limits);
      ctx = version->context();
      std::cerr << "llm-batch: running '" << spec.name << "' version '" << v.version << "'\n";
    } else {
      if (llm::serve_if_worker_rank(engine_flags.resolve(model))) return 0;
      engine = llm::Engine::create(engine_flags.resolve(model));
      served = std::make_unique<llm::ServedModel>(
          *engine, model, served_name.empty() ? llm::default_served_name(model) : served_name,
          chat.options);
      ctx = served->context();
      ctx.limits = request_limits;
    }
    llm::ProgressReporter progress(stderr, isatty(STDERR_FILENO) != 0);
    llm::BatchRunner runner(version ? version->engine() : *engine, ctx, opt, progress);
    const llm::BatchCounts counts = runner.run();
    if (counts.failed > 0) {
      std::cerr << "llm-batch: " << counts.failed << " of " << counts.total << " lines failed (see their error lines in "
                << output << ")\n";
      return 1;
    }
    return 0;
  });
}
