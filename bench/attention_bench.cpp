// llm-bench attention: the paged-attention kernels of a device backend at model shapes, each
// beside what it would take at the device's peak. Prefill is one sequence of T new tokens over
// an empty prefix (causal); decode is S sequences of one new token over C cached tokens, eager
// and replayed from a CUDA graph. For each: the bytes it must move at least (Q, K/V once, the
// output) and its FLOPs (QK^T and PV over the visible pairs), the time at peak (the larger of
// the two bounds), the measured time, and the achieved fraction. Defaults: an 8B-class layer
// (32 query heads, 8 KV heads, head size 128, bf16 cache and bf16 activations, as a bf16 model
// runs on the CUDA backend) and an H100 SXM's peaks.
#include <algorithm>
#include <boost/program_options.hpp>
#include <chrono>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "bench/bench_report.h"
#include "bench/subcommands.h"
#include "cli/main_support.h"
#include "engine/backend/cuda_backend_factory.h"
#include "llm/error.h"

namespace po = boost::program_options;

namespace llm::bench {
namespace {

struct Options {
  std::string backend = "cuda";
  int heads = 32, kv_heads = 8, head_dim = 128, block_size = 16;
  std::string prefill = "512,2048,8192";
  std::string decode = "1,16,64";
  int context = 2048;
  int iters = 5, warmup = 1;
  double peak_tflops = 989.0;  // H100 SXM, dense bf16 tensor cores
  double peak_tbs = 3.35;      // H100 SXM, HBM3
  uint64_t seed = 0;
  bool plan = false;  // only the work and the time at peak; run nothing
  std::string json;
};

std::vector<int> parse_list(const std::string& s, const char* flag) {
  std::vector<int> out;
  std::stringstream ss(s);
  for (std::string item; std::getline(ss, item, ',');) {
    if (item.empty() || item.find_first_not_of("0123456789") != std::string::npos ||
        item.size() > 7 || std::stoi(item) < 1) {
      throw po::error(std::string(flag) + " must be comma-separated positive sizes, got '" + s +
                      "'");
    }
    out.push_back(std::stoi(item));
  }
  return out;
}

// With graphs enabled: replay_graph captures; attention() called directly stays eager.
std::unique_ptr<Backend> make_device(const std::string& name) {
  CudaBackendOptions options;
  options.cuda_graphs = true;
  if (name == "simt") return make_simt_backend(options);
#if defined(LLM_HAVE_CUDA_BACKEND)
  return make_cuda_device_backend(options);
#else
  throw Error(ErrorCode::kUnsupported, "--backend cuda: this build has no CUDA");
#endif
}

// One attention call's inputs on the device: S sequences with `new_tokens` each over `cached`
// tokens already in the cache (random bf16 keys/values and queries), shuffled blocks.
struct Step {
  Buffer qkv_buf, k_buf, v_buf, out_buf, qs_buf, lens_buf, tables_buf;
  Tensor qkv, k, v, out;
  AttentionBatch batch;
  AttentionShape shape;
};

Step make_step(Backend& be, const Options& o, int seqs, int cached, int new_tokens,
               std::mt19937_64& rng) {
  Step st;
  const int H = o.heads, KVH = o.kv_heads, hd = o.head_dim, bs = o.block_size;
  const int ctx = cached + new_tokens, T = seqs * new_tokens;
  const int per_seq = (ctx + bs - 1) / bs, blocks = seqs * per_seq;
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  const int64_t width = static_cast<int64_t>(H + 2 * KVH) * hd;
  // bf16 bit patterns of random values (the upper half of the f32).
  auto random_bf16 = [&](size_t n) {
    std::vector<uint16_t> v(n);
    for (uint16_t& x : v) x = static_cast<uint16_t>(std::bit_cast<uint32_t>(dist(rng)) >> 16);
    return v;
  };
  const std::vector<uint16_t> qkv = random_bf16(static_cast<size_t>(T * width));
  std::vector<uint16_t> cache = random_bf16(static_cast<size_t>(blocks) * KVH * bs * hd);
  std::vector<int32_t> ids(static_cast<size_t>(blocks));
  for (int i = 0; i < blocks; ++i) ids[static_cast<size_t>(i)] = i;
  std::shuffle(ids.begin(), ids.end(), rng);
  std::vector<int32_t> qs = {0}, lens;
  for (int s = 0; s < seqs; ++s) {
    qs.push_back(qs.back() + new_tokens);
    lens.push_back(ctx);
  }
  auto put = [&](Buffer& buf, DType t, std::initializer_list<int64_t> shape, const void* src,
                 size_t bytes) {
    buf = be.alloc(bytes);
    Tensor view = buf.view(t, shape);
    if (src) be.copy_from_host(view, src);
    return view;
  };
  st.qkv = put(st.qkv_buf, DType::kBF16, {T, width}, qkv.data(), qkv.size() * 2);
  st.k = put(st.k_buf, DType::kBF16, {blocks, KVH, bs, hd}, cache.data(), cache.size() * 2);
  std::shuffle(cache.begin(), cache.end(), rng);
  st.v = put(st.v_buf, DType::kBF16, {blocks, KVH, bs, hd}, cache.data(), cache.size() * 2);
  st.out = put(st.out_buf, DType::kBF16, {T, static_cast<int64_t>(H) * hd}, nullptr,
               static_cast<size_t>(T) * H * hd * 2);
  st.batch.query_start = put(st.qs_buf, DType::kI32, {seqs + 1}, qs.data(), qs.size() * 4);
  st.batch.seq_lens = put(st.lens_buf, DType::kI32, {seqs}, lens.data(), lens.size() * 4);
  st.batch.block_tables =
      put(st.tables_buf, DType::kI32, {seqs, per_seq}, ids.data(), ids.size() * 4);
  st.batch.num_seqs = seqs;
  st.batch.max_seq_len = ctx;
  st.batch.max_query_len = new_tokens;
  st.shape = {H, KVH, hd, bs, static_cast<float>(1.0 / std::sqrt(hd))};
  return st;
}

// Median milliseconds of one call, each timed to completion.
double time_ms(Backend& be, const Options& o, const std::function<void()>& call) {
  for (int i = 0; i < o.warmup; ++i) call();
  be.synchronize();
  std::vector<double> ms;
  for (int i = 0; i < o.iters; ++i) {
    const auto start = std::chrono::steady_clock::now();
    call();
    be.synchronize();
    ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start)
                     .count());
  }
  return summarize(ms)["median"].get<double>();
}

int run(const Options& o) {
  const std::vector<int> prefills = parse_list(o.prefill, "--prefill");
  const std::vector<int> decodes = parse_list(o.decode, "--decode");
  std::unique_ptr<Backend> be = o.plan ? nullptr : make_device(o.backend);
  std::mt19937_64 rng(o.seed);
  nlohmann::json report = new_report("attention", {{"backend", o.backend},
                                                   {"heads", o.heads},
                                                   {"kv_heads", o.kv_heads},
                                                   {"head_dim", o.head_dim},
                                                   {"block_size", o.block_size},
                                                   {"context", o.context},
                                                   {"iters", o.iters},
                                                   {"peak_tflops", o.peak_tflops},
                                                   {"peak_tbs", o.peak_tbs},
                                                   {"cache", "bf16"},
                                                   {"activations", "bf16"}});
  report["results"] = nlohmann::json::array();
  Rows rows;
  const double H = o.heads, KVH = o.kv_heads, hd = o.head_dim;
  auto record = [&](const std::string& kernel, const std::string& label, double bytes, double flops,
                    double ms) {
    const double bound_ms =
        std::max(bytes / (o.peak_tbs * 1e12), flops / (o.peak_tflops * 1e12)) * 1e3;
    if (o.plan) {
      rows.push_back(
          {kernel + " " + label,
           fmt(bytes / 1e6, 2) + " MB, " + fmt(flops / 1e9, 2) +
               " GFLOP: " + fmt(bound_ms * 1e3, 2) + " us at peak (" +
               (bytes / (o.peak_tbs * 1e12) >= flops / (o.peak_tflops * 1e12) ? "memory"
                                                                              : "compute") +
               " bound)"});
      report["results"].push_back({{"kernel", kernel},
                                   {"case", label},
                                   {"bytes", bytes},
                                   {"flops", flops},
                                   {"peak_bound_ms", bound_ms}});
      return;
    }
    const double tbs = bytes / (ms * 1e-3) / 1e12, tflops = flops / (ms * 1e-3) / 1e12;
    rows.push_back(
        {kernel + " " + label, fmt(ms * 1e3, 1) + " us (at peak " + fmt(bound_ms * 1e3, 2) +
                                   " us: " + fmt(100.0 * bound_ms / ms, 2) + "%), " +
                                   fmt(tflops, 2) + " TFLOP/s, " + fmt(tbs, 3) + " TB/s"});
    report["results"].push_back({{"kernel", kernel},
                                 {"case", label},
                                 {"bytes", bytes},
                                 {"flops", flops},
                                 {"ms", ms},
                                 {"peak_bound_ms", bound_ms},
                                 {"fraction_of_peak", bound_ms / ms},
                                 {"achieved_tflops", tflops},
                                 {"achieved_tbs", tbs}});
  };
  for (int T : prefills) {
    const double pairs = 0.5 * T * (T + 1.0);  // causal (query, key) pairs per head
    const double flops = 4.0 * H * hd * pairs;
    const double bytes = T * H * hd * 2 * 2 + T * KVH * hd * 2 * 2;  // Q in, O out; K, V once
    const std::string label = "T=" + std::to_string(T);
    if (o.plan) {
      record("prefill", label, bytes, flops, 0);
      continue;
    }
    Step st = make_step(*be, o, 1, 0, T, rng);
    record("prefill", label, bytes, flops,
           time_ms(*be, o, [&] { be->attention(st.qkv, st.k, st.v, st.batch, st.shape, st.out); }));
  }
  for (int S : decodes) {
    const double ctx = o.context;
    const double flops = 4.0 * H * hd * ctx * S;
    const double bytes = S * (ctx * KVH * hd * 2 * 2 + H * hd * 2 * 2 + ctx / o.block_size * 4);
    const std::string label = "S=" + std::to_string(S) + " C=" + std::to_string(o.context);
    if (o.plan) {
      record("decode", label, bytes, flops, 0);
      continue;
    }
    Step st = make_step(*be, o, S, o.context - 1, 1, rng);
    auto call = [&] { be->attention(st.qkv, st.k, st.v, st.batch, st.shape, st.out); };
    record("decode", label, bytes, flops, time_ms(*be, o, call));
    const int64_t key = 1000 + S;
    record("decode+graph", label, bytes, flops, time_ms(*be, o, [&] {
             if (!be->replay_graph(key, call)) throw Error(ErrorCode::kInternal, "no graphs");
           }));
  }
  print_table("attention (" + (be ? be->name() : "plan") + "): median per call; peak: " +
                  fmt(o.peak_tflops, 0) + " TFLOP/s, " + fmt(o.peak_tbs, 2) + " TB/s",
              rows);
  if (!o.json.empty()) write_report(o.json, report);
  return 0;
}

}  // namespace

int attention_main(int argc, char** argv) {
  Options o;
  po::options_description d(
      "llm-bench attention: paged-attention kernels beside the device's peak\nOptions");
  d.add_options()("help,h", "show this help")(
      "backend", po::value(&o.backend)->default_value(o.backend),
      "cuda | simt (the CUDA code in the host emulator: tiny sizes only)")(
      "heads", po::value(&o.heads)->default_value(o.heads), "query heads")(
      "kv-heads", po::value(&o.kv_heads)->default_value(o.kv_heads), "key/value heads")(
      "head-dim", po::value(&o.head_dim)->default_value(o.head_dim), "head size")(
      "block-size", po::value(&o.block_size)->default_value(o.block_size), "KV block size")(
      "prefill", po::value(&o.prefill)->default_value(o.prefill),
      "prefill lengths (tokens), comma-separated")(
      "decode", po::value(&o.decode)->default_value(o.decode),
      "decode batch sizes (sequences), comma-separated")(
      "context", po::value(&o.context)->default_value(o.context), "decode context (tokens)")(
      "iters", po::value(&o.iters)->default_value(o.iters), "timed calls per case")(
      "warmup", po::value(&o.warmup)->default_value(o.warmup), "untimed calls first")(
      "peak-tflops", po::value(&o.peak_tflops)->default_value(o.peak_tflops),
      "the device's dense 16-bit tensor-core peak")(
      "peak-tbs", po::value(&o.peak_tbs)->default_value(o.peak_tbs),
      "the device's memory bandwidth (TB/s)")("seed", po::value(&o.seed)->default_value(o.seed),
                                              "data seed")(
      "plan", po::bool_switch(&o.plan),
      "print each case's bytes, FLOPs and time at peak; run nothing")(
      "json", po::value(&o.json), "write the machine-readable result here");
  const auto check = [&] {
    if (o.backend != "cuda" && o.backend != "simt")
      throw po::error("--backend must be cuda or simt");
    if (o.iters < 1 || o.warmup < 0) throw po::error("--iters must be >= 1 and --warmup >= 0");
    if (o.heads < 1 || o.kv_heads < 1 || o.heads % o.kv_heads != 0) {
      throw po::error("--heads must be a positive multiple of --kv-heads");
    }
    if (o.head_dim < 2 || o.head_dim % 2 != 0 || o.head_dim > 256) {
      throw po::error("--head-dim must be even and at most 256");
    }
    if (o.block_size < 1 || o.context < 2) throw po::error("--block-size >= 1, --context >= 2");
    parse_list(o.prefill, "--prefill");
    parse_list(o.decode, "--decode");
  };
  if (auto code = parse_command_line("llm-bench attention", argc, argv, d, check)) return *code;
  return run_guarded("llm-bench attention", [&] { return run(o); });
}

}  // namespace llm::bench
