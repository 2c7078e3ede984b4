// The CUDA backend's code, run by the host SIMT emulator, on the real stories260K model: the
// whole forward pass against the float64 reference logits, and the Engine (--backend simt)
// against the greedy references. f32 weights (and so an f32 KV cache and f32 activations) must
// match token for token; bf16 weights, a bf16 cache and bf16 activations are held to bf16
// rounding.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <random>

#include "engine/backend/cuda_backend_factory.h"
#include "engine/model_runner.h"
#include "engine/sampler.h"
#include "llm/error.h"
#include "tests/engine/engine_test_util.h"

namespace llm::test {
namespace {

std::vector<nlohmann::json> read_jsonl(const std::string& name) {
  std::ifstream in(std::string(LLM_SOURCE_DIR) + "/tests/data/stories260K/" + name);
  std::vector<nlohmann::json> out;
  for (std::string line; std::getline(in, line);) out.push_back(nlohmann::json::parse(line));
  return out;
}

// The model on the emulated device, its cache of the backend's KV type, blocks in a scrambled
// order so attention must follow the block table.
struct SimtModel {
  explicit SimtModel(DType weights, bool cuda_graphs = false, bool device_sampling = true)
      : backend(make_simt_backend({.device = 0,
                                   .decode_partition_tokens = 64,
                                   .cuda_graphs = cuda_graphs,
                                   .device_sampling = device_sampling})),
        model(*backend, ck, weights),
        cache(*backend, ck.config(), 64, 16, backend->kv_cache_dtype(weights)) {}
  Checkpoint ck = Checkpoint::open(model_dir());
  std::unique_ptr<Backend> backend;
  LlamaModel model;
  KvCache cache;

  // Runs `ids` in chunks of `chunk` tokens; returns the last position's logits.
  std::vector<float> last_logits(const std::vector<int32_t>& ids, int chunk) {
    ModelRunner runner(*backend, model, cache, 512, 4);
    std::vector<int32_t> table;
    for (int b = 0; b < 32; ++b) table.push_back((b * 37 + 11) % 64);
    std::vector<float> out;
    for (size_t start = 0; start < ids.size(); start += static_cast<size_t>(chunk)) {
      const size_t n = std::min(ids.size() - start, static_cast<size_t>(chunk));
      const bool last = start + n == ids.size();
      BatchEntry e{std::span<const int32_t>(ids).subspan(start, n), static_cast<int>(start), table,
                   last};
      auto logits = runner.execute({&e, 1});
      if (last) out.assign(logits.begin(), logits.end());
    }
    return out;
  }
};

double worst_error(const std::vector<float>& got, const std::vector<double>& want) {
  EXPECT_EQ(got.size(), want.size());
  double worst = 0;
  for (size_t i = 0; i < got.size() && i < want.size(); ++i) {
    worst = std::max(worst, std::abs(got[i] - want[i]));
    if (std::isnan(got[i])) return INFINITY;
  }
  return worst;
}

// One prefill (prefill kernel), chunks of 3 (chunked prefill over cached blocks), and one token
// at a time (the decode kernel; prompts past 64 tokens take its split-KV pass).
TEST(SimtModel, F32LogitsWithin1e4OfTheFloat64Reference) {
  SimtModel m(DType::kF32);
  for (const auto& ref : read_jsonl("logits.jsonl")) {
    const auto ids = ref["prompt_token_ids"].get<std::vector<int32_t>>();
    const auto want = ref["logits"].get<std::vector<double>>();
    for (int chunk : {512, 3, 1}) {
      const double worst = worst_error(m.last_logits(ids, chunk), want);
      EXPECT_LE(worst, 1e-4) << ref["prompt"] << " in chunks of " << chunk;
      std::cout << "simt f32, chunks of " << chunk << ", " << ids.size()
                << " tokens: max |logit - reference| " << worst << "\n";
    }
  }
}

// bf16 weights, bf16 activations between the GEMMs and a bf16 KV cache: the logits move by bf16
// rounding carried through the layers; the bound is a few times what was measured (0.046, 0.089
// and 0.138 for the three prompts).
TEST(SimtModel, Bf16LogitsStayWithinTheirRoundingOfTheReference) {
  SimtModel m(DType::kBF16);
  // The activations really are 16-bit here, and the residual stream is not.
  const Workspace ws = m.model.make_workspace(4);
  for (const OwnedTensor* t : {&ws.normed, &ws.qkv, &ws.attn_out, &ws.gate_up, &ws.mlp_act}) {
    EXPECT_EQ(t->tensor.dtype, DType::kBF16);
  }
  EXPECT_EQ(ws.residual.tensor.dtype, DType::kF32);
  for (const auto& ref : read_jsonl("logits.jsonl")) {
    const auto ids = ref["prompt_token_ids"].get<std::vector<int32_t>>();
    const auto want = ref["logits"].get<std::vector<double>>();
    for (int chunk : {512, 1}) {
      const double worst = worst_error(m.last_logits(ids, chunk), want);
      EXPECT_LE(worst, 0.3) << ref["prompt"] << " in chunks of " << chunk;
      std::cout << "simt bf16, chunks of " << chunk << ", " << ids.size()
                << " tokens: max |logit - reference| " << worst << "\n";
    }
  }
}

// Greedy decoding one token per step through the runner, past 64 tokens of context: with
// 64-token partitions the decode kernel takes its split-KV pass and the combine kernel.
TEST(SimtModel, F32GreedyDecodeThroughSplitKvPartitionsMatchesTheReference) {
  SimtModel m(DType::kF32);
  const auto ref = read_jsonl("greedy.jsonl").at(0);
  std::vector<int32_t> ids = ref["prompt_token_ids"].get<std::vector<int32_t>>();
  const auto want = ref["output_token_ids"].get<std::vector<int32_t>>();
  const size_t prompt = ids.size();
  ASSERT_GT(prompt + want.size(), 64u);
  ModelRunner runner(*m.backend, m.model, m.cache, 512, 4);
  std::vector<int32_t> table;
  for (int b = 0; b < 32; ++b) table.push_back((b * 37 + 11) % 64);
  size_t computed = 0;
  while (ids.size() < prompt + want.size()) {
    BatchEntry e{std::span<const int32_t>(ids).subspan(computed), static_cast<int>(computed), table,
                 true};
    const auto logits = runner.execute({&e, 1});
    computed = ids.size();
    ids.push_back(
        static_cast<int32_t>(std::max_element(logits.begin(), logits.end()) - logits.begin()));
  }
  EXPECT_EQ(std::vector<int32_t>(ids.begin() + static_cast<ptrdiff_t>(prompt), ids.end()), want);
}

// Three sequences prefilled, then decoded together and in smaller batches: replayed CUDA graphs
// (batches padded to 1, 2 or 4 rows, attention launched for the longest context) give the
// logits of the eager steps, and the graphs are really replayed.
TEST(SimtModel, GraphedDecodeStepsGiveTheEagerLogits) {
  SimtModel eager(DType::kF32), graphed(DType::kF32, /*cuda_graphs=*/true);
  ModelRunner a(*eager.backend, eager.model, eager.cache, 256, 4);
  ModelRunner b(*graphed.backend, graphed.model, graphed.cache, 256, 4, /*cuda_graphs=*/true);
  const auto refs = read_jsonl("greedy.jsonl");
  std::vector<std::vector<int32_t>> seqs, tables;
  for (int s = 0; s < 3; ++s) {
    seqs.push_back(refs.at(static_cast<size_t>(s))["prompt_token_ids"].get<std::vector<int32_t>>());
    tables.emplace_back();
    for (int k = 0; k < 20; ++k) tables.back().push_back(s * 20 + (k * 7) % 20);
  }
  std::vector<int> computed(3, 0);
  double worst = 0;
  // Which sequences run in each step: all three (prefill), then decode batches of 3, 1, 2, 3.
  for (const std::vector<int>& step : std::vector<std::vector<int>>{
           {0, 1, 2}, {0, 1, 2}, {1}, {0, 2}, {0, 1, 2}, {2}, {0, 1, 2}}) {
    std::vector<BatchEntry> batch;
    for (int s : step) {
      const auto& q = seqs[static_cast<size_t>(s)];
      batch.push_back({std::span<const int32_t>(q).subspan(static_cast<size_t>(computed[s])),
                       computed[s], tables[static_cast<size_t>(s)], true});
    }
    const auto la = a.execute(batch);
    const std::vector<float> want(la.begin(), la.end());
    const auto lb = b.execute(batch);
    ASSERT_EQ(lb.size(), want.size());
    for (size_t i = 0; i < want.size(); ++i) {
      worst = std::max(worst, static_cast<double>(std::abs(lb[i] - want[i])));
    }
    const int vocab = eager.ck.config().vocab_size;
    for (size_t r = 0; r < step.size(); ++r) {
      const int s = step[r];
      const auto row = want.begin() + static_cast<ptrdiff_t>(r) * vocab;
      computed[s] = static_cast<int>(seqs[static_cast<size_t>(s)].size());
      seqs[static_cast<size_t>(s)].push_back(
          static_cast<int32_t>(std::max_element(row, row + vocab) - row));
    }
  }
  std::cout << "CUDA graphs: " << b.graphed_steps() << " graphed steps, max |logit - eager| "
            << worst << "\n";
  EXPECT_EQ(b.graphed_steps(), 6) << "every decode step replays a graph";
  EXPECT_EQ(a.graphed_steps(), 0);
  EXPECT_LE(worst, 1e-4);
}

// Rows with temperature, top-k, top-p and min-p are sampled on the device, beside greedy rows
// and prefill chunks that want no logits, and pick what the host sampler picks from the same
// logits with the same draws (the backend with device sampling off hands the logits back).
TEST(SimtEngine, DeviceSamplingPicksWhatTheHostSamplerPicks) {
  SimtModel on(DType::kBF16), off(DType::kBF16, false, /*device_sampling=*/false);
  ModelRunner a(*on.backend, on.model, on.cache, 256, 4);
  ModelRunner b(*off.backend, off.model, off.cache, 256, 4);
  const int vocab = on.ck.config().vocab_size;
  // Temperature alone; top-k with the tracked logprob; greedy; top-p and min-p with 5 logprobs.
  const std::vector<RowSampling> kinds = {{0.8, 0, 1.0, 0.0, 0.0, -1},
                                          {1.3, 5, 1.0, 0.0, 0.0, 0},
                                          {0.0, 0, 1.0, 0.0, 0.0, -1},
                                          {1.0, 0, 0.7, 0.05, 0.0, 5}};
  std::vector<std::vector<int32_t>> seqs = {{1, 403, 89}, {1, 17, 260, 44, 9}, {1, 300}, {1, 5}};
  std::vector<std::vector<int32_t>> tables;
  for (int s = 0; s < 4; ++s) {
    tables.emplace_back();
    for (int k = 0; k < 16; ++k) tables.back().push_back(s * 16 + k);
  }
  std::vector<int> computed(4, 0);
  std::mt19937_64 draws(99);
  Sampler sampler(vocab);
  int sampled = 0, with_logprobs = 0;
  for (int step = 0; step < 6; ++step) {
    std::vector<BatchEntry> batch;
    for (int s = 0; s < 4; ++s) {
      const auto& q = seqs[static_cast<size_t>(s)];
      BatchEntry e{std::span<const int32_t>(q).subspan(static_cast<size_t>(computed[s])),
                   computed[s], tables[static_cast<size_t>(s)], true};
      RowSampling rs = kinds[static_cast<size_t>(s)];
      e.greedy = rs.temperature == 0.0;
      rs.draw = Sampler::uniform(draws);
      if (!e.greedy) e.sampling = rs;
      batch.push_back(e);
    }
    const StepOutput got = a.step(batch);
    const StepOutput host = b.step(batch);
    ASSERT_EQ(got.ids.size(), 4u) << "sampled on the device";
    ASSERT_TRUE(got.logits.empty());
    ASSERT_EQ(host.logits.size(), static_cast<size_t>(4 * vocab)) << "device sampling off";
    for (int s = 0; s < 4; ++s) {
      const RowSampling rs =
          batch[static_cast<size_t>(s)].sampling.value_or(kinds[static_cast<size_t>(s)]);
      SamplingParams p;
      p.temperature = rs.temperature;
      p.top_k = rs.top_k;
      p.top_p = rs.top_p;
      p.min_p = rs.min_p;
      p.logprobs = rs.logprobs > 0 ? rs.logprobs : -1;
      std::mt19937_64 unused(0);
      LogprobEntry lp;
      const int want = sampler.sample(host.logits.subspan(static_cast<size_t>(s) * vocab, vocab), p,
                                      {}, unused, rs.logprobs >= 0 ? &lp : nullptr, rs.draw);
      EXPECT_EQ(got.ids[static_cast<size_t>(s)], want) << "step " << step << " seq " << s;
      if (rs.logprobs >= 0) {
        ASSERT_FALSE(got.lp_values.empty());
        const float* v = &got.lp_values[static_cast<size_t>(s) * (1 + kDeviceTopLogprobs)];
        EXPECT_NEAR(v[0], lp.sampled.logprob, 1e-6) << "step " << step << " seq " << s;
        ASSERT_EQ(lp.top.size(), static_cast<size_t>(std::max(rs.logprobs, 0)));
        for (size_t j = 0; j < lp.top.size(); ++j) {
          EXPECT_EQ(got.lp_ids[static_cast<size_t>(s) * kDeviceTopLogprobs + j],
                    lp.top[j].token_id);
          EXPECT_NEAR(v[1 + j], lp.top[j].logprob, 1e-6);
        }
        ++with_logprobs;
      }
      sampled += !batch[static_cast<size_t>(s)].greedy;
      computed[s] = static_cast<int>(seqs[static_cast<size_t>(s)].size());
      seqs[static_cast<size_t>(s)].push_back(got.ids[static_cast<size_t>(s)]);
    }
  }
  EXPECT_EQ(sampled, 18);
  EXPECT_EQ(with_logprobs, 12);
}

// Graphs are captured per context bucket (256, 512, ... tokens), not for the model's whole
// window: decoding across 256 tokens switches to a new graph and still gives the eager logits.
TEST(SimtModel, GraphedDecodeAcrossAContextBucketGivesTheEagerLogits) {
  SimtModel eager(DType::kF32), graphed(DType::kF32, /*cuda_graphs=*/true);
  ModelRunner a(*eager.backend, eager.model, eager.cache, 256, 4);
  ModelRunner b(*graphed.backend, graphed.model, graphed.cache, 256, 4, /*cuda_graphs=*/true);
  std::vector<int32_t> seq = random_prompt(250, 17);
  std::vector<int32_t> table;
  for (int k = 0; k < 20; ++k) table.push_back((k * 7) % 20);
  int computed = 0;
  double worst = 0;
  const int vocab = eager.ck.config().vocab_size;
  for (int step = 0; step < 12; ++step) {  // the prefill, then decodes at 251 .. 261 tokens
    const std::vector<BatchEntry> batch = {
        {std::span<const int32_t>(seq).subspan(static_cast<size_t>(computed)), computed, table,
         true}};
    const auto la = a.execute(batch);
    const std::vector<float> want(la.begin(), la.end());
    const auto lb = b.execute(batch);
    ASSERT_EQ(lb.size(), want.size());
    for (size_t i = 0; i < want.size(); ++i)
      worst = std::max(worst, static_cast<double>(std::abs(lb[i] - want[i])));
    computed = static_cast<int>(seq.size());
    seq.push_back(
        static_cast<int32_t>(std::max_element(want.begin(), want.begin() + vocab) - want.begin()));
  }
  EXPECT_EQ(b.graphed_steps(), 11);
  EXPECT_LE(worst, 1e-4);
}

// The greedy path reads back argmax ids computed on the device: the logits' own argmax.
TEST(SimtModel, DeviceArgmaxIsTheArgmaxOfTheLogits) {
  SimtModel m(DType::kF32);
  ModelRunner runner(*m.backend, m.model, m.cache, 256, 4);
  const auto refs = read_jsonl("greedy.jsonl");
  std::vector<std::vector<int32_t>> prompts, tables;
  std::vector<BatchEntry> batch;
  for (int s = 0; s < 4; ++s) {
    prompts.push_back(
        refs.at(static_cast<size_t>(s))["prompt_token_ids"].get<std::vector<int32_t>>());
    tables.emplace_back();
    for (int k = 0; k < 16; ++k) tables.back().push_back(s * 16 + k);
  }
  for (int s = 0; s < 4; ++s)
    batch.push_back({prompts[static_cast<size_t>(s)], 0, tables[static_cast<size_t>(s)], true});
  const auto logits = runner.execute(batch);
  const std::vector<float> copy(logits.begin(), logits.end());
  const auto ids = runner.execute_greedy(batch);  // the same step again: the same KV writes
  ASSERT_EQ(ids.size(), 4u);
  const int vocab = m.ck.config().vocab_size;
  for (size_t r = 0; r < 4; ++r) {
    const auto row = copy.begin() + static_cast<ptrdiff_t>(r) * vocab;
    EXPECT_EQ(ids[r], std::max_element(row, row + vocab) - row) << "row " << r;
  }
}

EngineConfig simt_config(const char* dtype) {
  EngineConfig c;
  c.model_dir = model_dir();
  c.backend = "simt";
  c.dtype = dtype;
  c.max_num_seqs = 8;
  c.max_num_batched_tokens = 256;
  return c;
}

// Seeded sampling through the engine is the same stream with the device sampling (penalties,
// logprobs, top-k/top-p/min-p, a greedy row with logprobs) and without it (the host sampler on
// copied-back logits), batched together, over every step of each completion.
TEST(SimtEngine, SeededSamplingIsTheSameOnTheDeviceAndTheHost) {
  auto run = [](bool device) {
    EngineConfig c = simt_config("bf16");
    c.device_sampling = device;
    auto engine = Engine::create(c);
    std::vector<std::shared_ptr<RequestStream>> streams;
    for (int i = 0; i < 5; ++i) {
      Request r;
      r.prompt_token_ids = random_prompt(9 + 4 * i, 100 + static_cast<uint64_t>(i));
      SamplingParams& p = r.params;
      p.max_tokens = 24;
      p.ignore_eos = true;
      p.seed = 7 + i;
      p.temperature = i == 4 ? 0.0 : 0.7 + 0.2 * i;
      if (i == 1) p.top_k = 12, p.top_p = 0.8;
      if (i == 2) p.min_p = 0.05, p.repetition_penalty = 1.3, p.frequency_penalty = 0.4;
      if (i == 3) p.presence_penalty = 0.8, p.logprobs = 3;
      if (i == 4) p.logprobs = 2;
      streams.push_back(engine->submit(std::move(r)));
    }
    std::vector<Completion> out;
    for (auto& s : streams) out.push_back(collect(*s, 1).at(0));
    return out;
  };
  const std::vector<Completion> device = run(true), host = run(false);
  for (size_t i = 0; i < device.size(); ++i) {
    EXPECT_EQ(device[i].token_ids, host[i].token_ids) << "request " << i;
    ASSERT_EQ(device[i].logprobs.size(), host[i].logprobs.size()) << "request " << i;
    for (size_t t = 0; t < device[i].logprobs.size(); ++t) {
      const LogprobEntry &a = device[i].logprobs[t], &b = host[i].logprobs[t];
      EXPECT_NEAR(a.sampled.logprob, b.sampled.logprob, 1e-6);
      ASSERT_EQ(a.top.size(), b.top.size());
      for (size_t j = 0; j < a.top.size(); ++j) EXPECT_EQ(a.top[j].token_id, b.top[j].token_id);
    }
  }
  EXPECT_EQ(device[3].logprobs.size(), 24u);
}

// The KV pool comes out of the emulated device's memory: a utilisation that leaves nothing after
// the weights and activations is one clear error naming the flag.
TEST(SimtEngine, GpuMemoryUtilizationBoundsTheKvPool) {
  EngineConfig c = simt_config("f32");
  c.gpu_memory_utilization = 0.001;  // 0.5 MiB of the 512 MiB default emulated device
  try {
    Engine::create(c);
    FAIL() << "expected kResourceExhausted";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kResourceExhausted);
    EXPECT_NE(std::string(e.what()).find("--gpu-memory-utilization"), std::string::npos)
        << e.what();
  }
  c.gpu_memory_utilization = 0.9;
  auto engine = Engine::create(c);
  EXPECT_GT(engine->stats().kv_blocks_total, 0);
}

// All eight references at once: batched decode beside chunked prefill, as served; eagerly, with
// decode steps replayed as CUDA graphs, and split over two emulated devices.
class SimtEngineModes : public ::testing::TestWithParam<std::tuple<bool, int>> {};

TEST_P(SimtEngineModes, F32GreedyMatchesEveryReferenceTokenForToken) {
  EngineConfig config = simt_config("f32");
  config.cuda_graphs = std::get<0>(GetParam());
  config.tensor_parallel_size = std::get<1>(GetParam());
  auto engine = Engine::create(config);
  EXPECT_EQ(engine->config().backend, "simt");
  const auto refs = read_jsonl("greedy.jsonl");
  ASSERT_EQ(refs.size(), 8u);
  std::vector<std::shared_ptr<RequestStream>> streams;
  for (const auto& ref : refs) {
    streams.push_back(engine->submit(
        greedy_request(ref["prompt_token_ids"].get<std::vector<int32_t>>(), ref["max_tokens"])));
  }
  for (size_t r = 0; r < refs.size(); ++r) {
    const Completion c = collect(*streams[r], 1).at(0);
    EXPECT_EQ(c.token_ids, refs[r]["output_token_ids"].get<std::vector<int32_t>>())
        << refs[r]["prompt"];
    EXPECT_EQ(c.text, refs[r]["output_text"].get<std::string>()) << refs[r]["prompt"];
  }
}

INSTANTIATE_TEST_SUITE_P(Simt, SimtEngineModes,
                         ::testing::Values(std::make_tuple(false, 1), std::make_tuple(true, 1),
                                           std::make_tuple(true, 2)),
                         [](const auto& info) {
                           return std::string(std::get<0>(info.param) ? "Graphs" : "Eager") + "Tp" +
                                  std::to_string(std::get<1>(info.param));
                         });

// bf16: greedy follows the reference wherever its top-2 margin exceeds 0.05 (past a close call
// that went the other way, the reference no longer applies).
TEST(SimtEngine, Bf16GreedyFollowsTheReferenceWhereItsMarginIsClear) {
  auto engine = Engine::create(simt_config("bf16"));
  const int compared = check_greedy_where_the_margin_is_clear(*engine, "bf16 on simt");
  std::cout << "bf16 on simt: " << compared << " clear-margin tokens compared\n";
  EXPECT_GT(compared, 400);
}

}  // namespace
}  // namespace llm::test
