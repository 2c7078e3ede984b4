// llm-generate as a user runs it: reference continuations on the bundled model, and one clear
// message (naming the file and the problem) with a non-zero exit for every broken model dir.
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <future>
#include <nlohmann/json.hpp>
#include <random>
#include <thread>

#include "engine/parallel/socket_communicator.h"
#include "tests/e2e/free_port.h"
#include "tests/e2e/subprocess.h"

namespace llm::test {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;

const std::string kBin = std::string(LLM_BIN_DIR) + "/llm-generate";
const fs::path kModel = fs::path(LLM_SOURCE_DIR) / "models/stories260K";

std::string read_file(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}
void write_file(const fs::path& p, const std::string& s) {
  std::ofstream out(p, std::ios::binary | std::ios::trunc);
  out << s;
}

// A copy of the bundled model in a fresh temporary directory, removed afterwards.
class BrokenModel : public ::testing::Test {
 protected:
  void SetUp() override {
    std::random_device rd;
    dir_ = fs::temp_directory_path() / ("llm-generate-test-" + std::to_string(rd()));
    fs::create_directories(dir_);
    for (const auto& e : fs::directory_iterator(kModel))
      fs::copy(e.path(), dir_ / e.path().filename());
  }
  void TearDown() override { fs::remove_all(dir_); }

  // Rewrites model.safetensors after `edit` changes its JSON header (data kept as it was).
  void edit_safetensors_header(const std::function<void(json&)>& edit) {
    const std::string bytes = read_file(dir_ / "model.safetensors");
    uint64_t n;
    std::memcpy(&n, bytes.data(), 8);
    json header = json::parse(bytes.substr(8, n));
    edit(header);
    std::string h = header.dump();
    while (h.size() % 8) h += ' ';
    const uint64_t len = h.size();
    std::string out(reinterpret_cast<const char*>(&len), 8);
    write_file(dir_ / "model.safetensors", out + h + bytes.substr(8 + n));
  }

  ProcessResult generate() {
    return run_process({kBin, "--model", dir_.string(), "--prompt", "Hi", "--max-tokens", "4"});
  }

  // The binary must exit 1 (not crash) and say which file and what is wrong.
  void expect_clean_failure(const std::vector<std::string>& words) {
    const ProcessResult r = generate();
    ASSERT_FALSE(r.signaled) << "crashed with signal " << r.signal << "\n" << r.err;
    EXPECT_EQ(r.exit_code, 1) << r.err;
    EXPECT_TRUE(r.out.empty()) << r.out;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << "one message line: " << r.err;
    for (const std::string& w : words)
      EXPECT_NE(r.err.find(w), std::string::npos) << "missing '" << w << "' in: " << r.err;
  }

  fs::path dir_;
};

TEST(LlmGenerate, JsonOutputMatchesEveryGreedyReference) {
  std::ifstream in(std::string(LLM_SOURCE_DIR) + "/tests/data/stories260K/greedy.jsonl");
  int checked = 0;
  for (std::string line; std::getline(in, line); ++checked) {
    const json ref = json::parse(line);
    const ProcessResult r =
        run_process({kBin, "--model", kModel.string(), "--prompt", ref["prompt"], "--max-tokens",
                     std::to_string(ref["max_tokens"].get<int>()), "--json"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    const json got = json::parse(r.out);
    EXPECT_EQ(got["prompt_token_ids"], ref["prompt_token_ids"]);
    EXPECT_EQ(got["output_token_ids"], ref["output_token_ids"]);
    EXPECT_EQ(got["output_text"], ref["output_text"]);
    EXPECT_EQ(got["finish_reason"], "length");
  }
  EXPECT_EQ(checked, 8);
}

// The first greedy reference (prompt and continuation).
json first_reference() {
  std::ifstream in(std::string(LLM_SOURCE_DIR) + "/tests/data/stories260K/greedy.jsonl");
  std::string line;
  std::getline(in, line);
  return json::parse(line);
}

std::vector<std::string> generate_json_args(const json& ref) {
  return {kBin,
          "--model",
          kModel.string(),
          "--prompt",
          ref["prompt"],
          "--max-tokens",
          std::to_string(ref["max_tokens"].get<int>()),
          "--json"};
}

TEST(LlmGenerate, TensorParallelRanksAsThreadsPrintTheReference) {
  const json ref = first_reference();
  for (const char* size : {"2", "4"}) {
    auto args = generate_json_args(ref);
    args.insert(args.end(), {"--tensor-parallel-size", size});
    const ProcessResult r = run_process(args);
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(json::parse(r.out)["output_token_ids"], ref["output_token_ids"]) << size;
  }
}

// Multi-node in miniature: rank 1 in its own process joins rank 0 over TCP on loopback, then
// computes its half of every step until rank 0 is done and stops it.
TEST(LlmGenerate, TensorParallelRanksAsProcessesOverTcpPrintTheReference) {
  const json ref = first_reference();
  const std::string master = "127.0.0.1:" + std::to_string(free_tcp_port());
  auto worker = generate_json_args(ref);
  worker.insert(worker.end(),
                {"--tensor-parallel-size", "2", "--tp-rank", "1", "--tp-master", master});
  auto rank1 = std::async(std::launch::async, [&] { return run_process(worker); });
  auto args = generate_json_args(ref);
  args.insert(args.end(), {"--tensor-parallel-size", "2", "--tp-master", master});
  const ProcessResult r = run_process(args);
  const ProcessResult w = rank1.get();
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(json::parse(r.out)["output_token_ids"], ref["output_token_ids"]);
  EXPECT_EQ(w.exit_code, 0) << w.err;
  EXPECT_EQ(w.out, "");  // the worker prints nothing: rank 0 owns the output
}

// A rank that joins and then goes away: rank 0 must not crash, but end with a clear message and
// exit code 1 (the engine stops, every request gets its finish).
TEST(LlmGenerate, ALostTensorParallelPeerStopsRankZeroCleanly) {
  const std::string master = "127.0.0.1:" + std::to_string(free_tcp_port());
  std::thread fake_rank([&] {
    SocketCommunicator c(1, 2, master, std::chrono::seconds(60));
    std::array<int64_t, 5> setup{};  // what rank 0 sends first: block count, sizes, dtype
    c.broadcast(setup.data(), sizeof setup, 0);
  });  // the communicator closes its socket here
  const ProcessResult r =
      run_process({kBin, "--model", kModel.string(), "--prompt", "Hi", "--max-tokens", "8",
                   "--tensor-parallel-size", "2", "--tp-master", master});
  fake_rank.join();
  EXPECT_FALSE(r.signaled) << "signal " << r.signal << "\n" << r.err;
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_NE(r.err.find("a peer went away"), std::string::npos) << r.err;
}

TEST(LlmGenerate, ATensorParallelSizeTheModelCannotTakeIsOneClearLine) {
  const ProcessResult r = run_process(
      {kBin, "--model", kModel.string(), "--prompt", "Hi", "--tensor-parallel-size", "3"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("--tensor-parallel-size 3: must divide the model's 8 attention heads"),
            std::string::npos)
      << r.err;
}

TEST(LlmGenerate, PlainOutputIsTheContinuation) {
  const ProcessResult r = run_process(
      {kBin, "--model", kModel.string(), "--prompt", "Once upon a time", "--max-tokens", "64"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::ifstream in(std::string(LLM_SOURCE_DIR) + "/tests/data/stories260K/greedy.jsonl");
  for (std::string line; std::getline(in, line);) {
    const json ref = json::parse(line);
    if (ref["prompt"] == "Once upon a time") {
      EXPECT_EQ(r.out, ref["output_text"].get<std::string>() + "\n");
    }
  }
}

// --backend simt: the CUDA backend's code run by the host emulator, on a machine with no GPU.
TEST(LlmGenerate, SimtBackendPrintsTheReferenceContinuation) {
  std::ifstream in(std::string(LLM_SOURCE_DIR) + "/tests/data/stories260K/greedy.jsonl");
  std::string line;
  ASSERT_TRUE(std::getline(in, line));
  const json ref = json::parse(line);
  ASSERT_EQ(ref["prompt"], "Once upon a time");
  const ProcessResult r =
      run_process({kBin, "--backend", "simt", "--model", kModel.string(), "--prompt", ref["prompt"],
                   "--max-tokens", std::to_string(ref["max_tokens"].get<int>())});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, ref["output_text"].get<std::string>() + "\n");
}

// A backend this machine cannot run is one clear line and exit 1, not a crash or a silent
// fallback to another backend.
TEST(LlmGenerate, UnknownOrMissingBackendIsOneClearLine) {
  for (const std::string backend : {"tpu", "cuda"}) {
    const ProcessResult r =
        run_process({kBin, "--backend", backend, "--model", kModel.string(), "--prompt", "Hi"});
    if (backend == "cuda" && r.exit_code == 0) continue;  // a machine with a GPU
    EXPECT_EQ(r.exit_code, 1) << backend << ": " << r.err;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
    EXPECT_NE(r.err.find(backend == "cuda" ? "--backend cuda" : "backend must be"),
              std::string::npos)
        << r.err;
  }
}

TEST(LlmGenerate, SeededSamplingRepeats) {
  const std::vector<std::string> args = {kBin,      "--model",       kModel.string(), "--prompt",
                                         "The dog", "--temperature", "0.8",           "--seed",
                                         "5",       "--json"};
  const ProcessResult a = run_process(args), b = run_process(args);
  ASSERT_EQ(a.exit_code, 0) << a.err;
  EXPECT_EQ(json::parse(a.out)["output_token_ids"], json::parse(b.out)["output_token_ids"]);
}

TEST(LlmGenerate, BadFlagsExitWith2) {
  const ProcessResult r = run_process({kBin, "--prompt", "x"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("--model"), std::string::npos) << r.err;
  const ProcessResult t = run_process({kBin, "--model", kModel.string(), "--temperature", "-1"});
  EXPECT_EQ(t.exit_code, 1);
  EXPECT_NE(t.err.find("temperature"), std::string::npos) << t.err;
  const ProcessResult l = run_process({kBin, "--model", kModel.string(), "--max-tokens", "600"});
  EXPECT_EQ(l.exit_code, 1);
  EXPECT_NE(l.err.find("maximum context length is 512"), std::string::npos) << l.err;
}

TEST_F(BrokenModel, MissingDirectory) {
  fs::remove_all(dir_);
  expect_clean_failure({dir_.string(), "does not exist"});
}

TEST_F(BrokenModel, MissingConfig) {
  fs::remove(dir_ / "config.json");
  expect_clean_failure({"config.json"});
}

TEST_F(BrokenModel, MalformedConfig) {
  write_file(dir_ / "config.json", "{\"hidden_size\": 64,");
  expect_clean_failure({"config.json"});
}

TEST_F(BrokenModel, UnsupportedArchitecture) {
  json c = json::parse(read_file(dir_ / "config.json"));
  c["architectures"] = {"GPT2LMHeadModel"};
  write_file(dir_ / "config.json", c.dump());
  expect_clean_failure({"config.json", "GPT2LMHeadModel"});
}

TEST_F(BrokenModel, TruncatedSafetensors) {
  const std::string bytes = read_file(dir_ / "model.safetensors");
  write_file(dir_ / "model.safetensors", bytes.substr(0, bytes.size() / 2));
  expect_clean_failure({"model.safetensors"});
}

TEST_F(BrokenModel, HeaderOffsetsOverrunTheFile) {
  edit_safetensors_header([](json& h) { h["model.norm.weight"]["data_offsets"] = {0, 1 << 30}; });
  expect_clean_failure({"model.safetensors", "model.norm.weight"});
}

TEST_F(BrokenModel, TensorWithTheWrongShape) {
  // Same byte count, other shape: only a shape check can catch it.
  edit_safetensors_header([](json& h) {
    h["model.layers.0.self_attn.q_proj.weight"]["shape"] = {32, 128};
  });
  expect_clean_failure({"model.layers.0.self_attn.q_proj.weight", "[32, 128]", "[64, 64]"});
}

TEST_F(BrokenModel, MissingTensor) {
  edit_safetensors_header([](json& h) { h.erase("model.layers.3.mlp.down_proj.weight"); });
  expect_clean_failure({"model.layers.3.mlp.down_proj.weight", "missing"});
}

TEST_F(BrokenModel, UnknownDtype) {
  edit_safetensors_header([](json& h) { h["model.norm.weight"]["dtype"] = "Q4_K"; });
  expect_clean_failure({"model.safetensors", "Q4_K"});
}

TEST_F(BrokenModel, MissingTokenizer) {
  fs::remove(dir_ / "tokenizer.model");
  expect_clean_failure({"tokenizer.model"});
}

}  // namespace
}  // namespace llm::test
