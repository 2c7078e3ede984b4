// The flags for RequestLimits, shared by llm-serve and llm-batch so a body the server refuses
// is refused the same way in a batch file (each flag also read from LLM_<NAME>).
#pragma once

#include <boost/program_options.hpp>
#include <cstdint>

#include "server/request_limits.h"

namespace llm {

void add_request_limit_options(boost::program_options::options_description& d, RequestLimits& l);

// Throws boost::program_options::error naming the flag when a value is out of range.
void check_request_limits(const RequestLimits& l);
// Throws po::error "--FLAG must be >= LO, got VALUE" when value < lo (flag without dashes).
void require_at_least(const char* flag, int64_t value, int64_t lo);

// The limits as they apply to an engine running at most `max_num_seqs` sequences per step: n is
// capped there too, so the 400 names the number that actually applies.
RequestLimits effective_request_limits(RequestLimits l, int max_num_seqs);

}  // namespace llm
