// Command-line flags shared by every binary that runs an Engine (llm-serve, llm-batch), each
// also readable from an LLM_-prefixed environment variable (LLM_MAX_NUM_SEQS=8).
#pragma once

#include <boost/program_options.hpp>
#include <string>

#include "llm/engine.h"

namespace llm {

struct EngineFlags {
  EngineConfig config;
  bool no_prefix_caching = false;
  // The config with the model directory and the switches applied.
  EngineConfig resolve(const std::string& model_dir) const;
};

void add_engine_options(boost::program_options::options_description& d, EngineFlags& f);
// --threads, --dtype, --backend and --gpu-memory-utilization alone: for the binaries that size their own engine (llm-generate,
// llm-bench). add_engine_options includes them.
void add_runtime_options(boost::program_options::options_description& d, EngineConfig& c);

// Parses the command line, then the environment for flags not given there. Throws po::error.
boost::program_options::variables_map parse_flags(int argc, char** argv,
                                                  const boost::program_options::options_description& d);

// For --tp-rank > 0: this process only computes its slice of the model for rank 0 (which runs
// the server, batch or benchmark); returns true once rank 0 has stopped it. False for rank 0.
// (Inline: only binaries that link the engine call it.)
inline bool serve_if_worker_rank(const EngineConfig& config) {
  if (config.tp_rank == 0) return false;
  Engine::serve_rank(config);
  return true;
}

}  // namespace llm
