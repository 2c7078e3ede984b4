// The llm-bench subcommands; each parses its own flags (argv[0] is the subcommand's name) and
// returns the exit code.
#pragma once

namespace llm::bench {

int throughput_main(int argc, char** argv);
int latency_main(int argc, char** argv);
int roofline_main(int argc, char** argv);
int serve_main(int argc, char** argv);
int gemm_main(int argc, char** argv);
int sample_main(int argc, char** argv);
int attention_main(int argc, char** argv);

}  // namespace llm::bench
