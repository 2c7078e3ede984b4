// The merge step of a sharded batch (llm-batch --shard I/N on N workers, then
// llm-batch --merge): the shards' output lines back in the input's order, after checking that
// every input line's custom_id is answered exactly once across all shards.
#pragma once

#include <filesystem>
#include <vector>

namespace llm {

struct MergeCounts {
  int64_t lines = 0;   // written
  int64_t failed = 0;  // of those, error lines (the request failed, not the merge)
};

// Throws llm::Error naming the custom_id and the files at fault when a custom_id of the input
// has no answer, has several, or an answer's custom_id is not in the input (another job's
// shard); OUTPUT is then not written. It is written whole or not at all (a temporary file
// renamed into place).
MergeCounts merge_batch_outputs(const std::filesystem::path& input,
                                const std::vector<std::filesystem::path>& shard_outputs,
                                const std::filesystem::path& output);

}  // namespace llm
