// mmrt bench: latency and throughput. --mode offline (default) runs synthetic requests through the engine
// in this process; --mode serve replays a dataset against a running `mmrt serve` (cmd_bench_serve.cpp).
//
// Offline requests: a prompt of exactly --input-len text tokens (the chat template around random ordinary
// tokens) with one random image of --image-size, generating exactly --output-len tokens (EOS ignored), at
// most --batch at once. TTFT counts from submission to the engine; images are preprocessed before the clock
// starts (reported separately).
//
// Decode steps (steps that generated tokens without finishing a prompt or encoding an image) are also
// timed one by one, with the bytes of weights the CPU kernels read during them: their ratio is the
// weight-read bandwidth, which a memory-bound decode step should bring close to the machine's memory
// bandwidth. (The CUDA kernels do not count their reads; there the bandwidth is not reported.)
#include <sys/resource.h>

#include <algorithm>
#include <boost/json.hpp>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <iostream>
#include <random>

#include "core/backend/cpu_kernels.hpp"
#include "core/engine/engine.hpp"
#include "core/engine/prompt.hpp"
#include "core/text/tokenizer.hpp"
#include "host/bench_report.hpp"
#include "host/commands.hpp"
#include "host/runtime.hpp"

namespace mmrt::host {

using Clock = std::chrono::steady_clock;

LatencySummary summarize(std::vector<double> values) {
  LatencySummary s;
  if (values.empty()) return s;
  std::sort(values.begin(), values.end());
  double sum = 0;
  for (double v : values) sum += v;
  s.mean = sum / double(values.size());
  auto quantile = [&](double q) {
    const double pos = q * double(values.size() - 1);
    const size_t lo = size_t(std::floor(pos)), hi = std::min(lo + 1, values.size() - 1);
    return values[lo] + (values[hi] - values[lo]) * (pos - double(lo));
  };
  s.p50 = quantile(0.5);
  s.p99 = quantile(0.99);
  return s;
}

boost::json::object to_json(const LatencySummary& s) {
  return {{"mean", s.mean}, {"p50", s.p50}, {"p99", s.p99}};
}

std::string format_line(const std::string& label, const LatencySummary& s, const char* unit) {
  char buf[160];
  std::snprintf(buf, sizeof buf, "%-6s mean %9.2f %s   p50 %9.2f %s   p99 %9.2f %s\n", label.c_str(), s.mean,
                unit, s.p50, unit, s.p99, unit);
  return buf;
}

namespace {

struct SyntheticRequest {
  engine::PaddedPrompt prompt;
  std::vector<std::shared_ptr<const engine::ProcessedItem>> items;
};

// Ordinary token ids: no special tokens, no EOS, nothing the tokenizer cannot name.
std::vector<int32_t> ordinary_ids(const engine::Model& model) {
  const text::Tokenizer& tok = model.tokenizer();
  const auto& eos = model.eos_token_ids();
  std::vector<int32_t> out;
  for (int32_t id = 0; id < int32_t(tok.vocab_size()); ++id) {
    if (tok.is_special(id) || std::find(eos.begin(), eos.end(), id) != eos.end()) continue;
    try {
      tok.id_to_token(id);
    } catch (const std::exception&) {
      continue;
    }
    out.push_back(id);
  }
  if (out.empty()) throw std::runtime_error("bench: the tokenizer has no ordinary tokens");
  return out;
}

std::pair<int, int> parse_size(const std::string& text) {
  if (text == "0") return {0, 0};
  int w = 0, h = 0;
  char x = 0, tail = 0;
  if (std::sscanf(text.c_str(), "%d%c%d%c", &w, &x, &h, &tail) != 3 || (x != 'x' && x != 'X') || w <= 0 ||
      h <= 0) {
    throw UsageError("bench: --image-size expects WxH (e.g. 336x336) or 0, got '" + text + "'");
  }
  return {w, h};
}

// Text tokens: the chat template's own tokens around `n_random` random ordinary ids, with `n_images`
// placeholders; without images (or without a template) just the random ids.
std::vector<SyntheticRequest> make_requests(const engine::Model& model, int64_t n, int64_t input_len,
                                            std::pair<int, int> image_size, uint64_t seed) {
  std::mt19937_64 rng(seed);
  const std::vector<int32_t> pool = ordinary_ids(model);
  std::uniform_int_distribution<size_t> pick(0, pool.size() - 1);
  const bool with_image = image_size.first > 0;
  std::vector<int32_t> before, after;
  if (with_image) {
    if (!model.has_vision())
      throw UsageError("bench: " + model.name() + " does not take images; use --image-size 0");
    const std::string marker = "MMRTBENCHMARKER";
    const std::string rendered = engine::render_chat(model, engine::single_turn_messages(marker, 1));
    const size_t at = rendered.find(marker);
    if (at == std::string::npos) throw std::runtime_error("bench: the chat template dropped the user text");
    const std::string& bos = model.tokenizer().special_token_string("bos_token");
    const bool add_special = bos.empty() || rendered.compare(0, bos.size(), bos) != 0;
    before = model.tokenizer().encode(rendered.substr(0, at), add_special);
    after = model.tokenizer().encode(rendered.substr(at + marker.size()), false);
  }
  const int64_t n_random = input_len - int64_t(before.size() + after.size());
  if (n_random < 1) {
    throw UsageError("bench: --input-len " + std::to_string(input_len) +
                     " is shorter than the chat template's " + std::to_string(before.size() + after.size()) +
                     " tokens");
  }
  std::vector<SyntheticRequest> out;
  for (int64_t r = 0; r < n; ++r) {
    std::vector<int32_t> ids = before;
    for (int64_t i = 0; i < n_random; ++i) ids.push_back(pool[pick(rng)]);
    ids.insert(ids.end(), after.begin(), after.end());
    SyntheticRequest req;
    std::vector<const engine::ProcessedItem*> raw;
    if (with_image) {
      image::Image img = image::make_image(image_size.first, image_size.second);
      for (auto& px : img.rgb) px = uint8_t(rng());
      auto item = std::make_shared<engine::ProcessedItem>(model.process_image(img));
      raw.push_back(item.get());
      req.items.push_back(std::move(item));
    }
    req.prompt = model.pad(ids, raw);
    out.push_back(std::move(req));
  }
  return out;
}

// Decode-only steps: how many, how long in all, and the weight bytes the CPU kernels read in them.
struct DecodeSteps {
  int64_t steps = 0;
  double seconds = 0;
  uint64_t weight_bytes = 0;

  double ms_per_step() const { return steps ? 1e3 * seconds / double(steps) : 0; }
  double bytes_per_step() const { return steps ? double(weight_bytes) / double(steps) : 0; }
  double gb_per_s() const { return seconds > 0 ? double(weight_bytes) / seconds / 1e9 : 0; }
};

// A step that only decoded: tokens came out, yet no prompt got its first token and no image was encoded.
bool decode_only(const engine::EngineStats& before, const engine::EngineStats& after) {
  return after.generated_tokens > before.generated_tokens && after.prompt_tokens == before.prompt_tokens &&
         after.encoder_runs == before.encoder_runs;
}

double peak_rss_mib() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return double(usage.ru_maxrss) / 1024.0;  // ru_maxrss is in KiB on Linux
}

int run_bench_offline(const Args& args) {
  const int64_t n_requests = args.get_int("num-requests", 32);
  const int64_t batch = args.get_int("batch", 8);
  const int64_t input_len = args.get_int("input-len", 64);
  const int64_t output_len = args.get_int("output-len", 32);
  const auto image_size = parse_size(args.get("image-size", "336x336"));
  if (n_requests < 1 || batch < 1 || input_len < 1 || output_len < 1) {
    throw UsageError("bench: --num-requests, --batch, --input-len and --output-len must be positive");
  }
  LoadedModel loaded = load_model(args);
  engine::Model& model = *loaded.model;

  const auto t_prep = Clock::now();
  std::vector<SyntheticRequest> requests =
      make_requests(model, n_requests, input_len, image_size, uint64_t(args.get_int("seed", 0)));
  const double preprocess_s = std::chrono::duration<double>(Clock::now() - t_prep).count();

  engine::EngineConfig config;
  config.max_num_seqs = int32_t(batch);
  config.max_queue = int32_t(std::max<int64_t>(n_requests, config.max_queue));
  config.kv_cache_bytes = args.get_int("kv-cache-mb", 256) << 20;
  engine::Engine eng(model, config);

  engine::SamplingParams params;
  params.max_tokens = int32_t(output_len);
  params.ignore_eos = true;
  std::vector<double> ttft_ms, tpot_ms, e2e_ms;
  int64_t output_tokens = 0, prompt_tokens = 0, failed = 0, in_flight = 0, next = 0, done = 0;
  DecodeSteps decode;
  const auto t0 = Clock::now();
  while (done < n_requests) {
    while (in_flight < batch && next < n_requests) {
      SyntheticRequest& r = requests[size_t(next)];
      engine::RequestInput input{"bench-" + std::to_string(next), std::move(r.prompt), std::move(r.items),
                                 params};
      eng.submit(std::move(input), [&](const engine::RequestEvent& ev) {
        if (ev.finish == engine::FinishReason::none) return;
        --in_flight;
        ++done;
        if (ev.finish != engine::FinishReason::length && ev.finish != engine::FinishReason::stop) {
          ++failed;
          std::fprintf(stderr, "bench: %s ended with %s: %s\n", ev.id.c_str(),
                       engine::finish_reason_name(ev.finish), ev.error.c_str());
          return;
        }
        ttft_ms.push_back(ev.timings.ttft_ms);
        if (ev.completion_tokens > 1) tpot_ms.push_back(ev.timings.tpot_ms);
        e2e_ms.push_back(ev.timings.total_ms);
        output_tokens += ev.completion_tokens;
        prompt_tokens += ev.prompt_tokens;
      });
      ++in_flight;
      ++next;
    }
    const engine::EngineStats before = eng.stats();
    const uint64_t bytes_before = backend::cpu_weight_bytes_read();
    const auto t_step = Clock::now();
    eng.step();
    const double step_s = std::chrono::duration<double>(Clock::now() - t_step).count();
    if (decode_only(before, eng.stats())) {
      ++decode.steps;
      decode.seconds += step_s;
      decode.weight_bytes += backend::cpu_weight_bytes_read() - bytes_before;
    }
  }
  const double wall_s = std::chrono::duration<double>(Clock::now() - t0).count();
  const int64_t n_images = image_size.first > 0 ? n_requests - failed : 0;
  const LatencySummary ttft = summarize(ttft_ms), tpot = summarize(tpot_ms), e2e = summarize(e2e_ms);
  const engine::EngineStats stats = eng.stats();

  if (args.flag("json")) {
    boost::json::object out{{"mode", "offline"},
                            {"model", model.name()},
                            {"num_requests", n_requests},
                            {"failed", failed},
                            {"batch", batch},
                            {"input_len", input_len},
                            {"output_len", output_len},
                            {"image_size", args.get("image-size", "336x336")},
                            {"prompt_tokens", prompt_tokens},
                            {"output_tokens", output_tokens},
                            {"preprocess_s", preprocess_s},
                            {"wall_s", wall_s},
                            {"ttft_ms", to_json(ttft)},
                            {"tpot_ms", to_json(tpot)},
                            {"e2e_ms", to_json(e2e)},
                            {"output_tokens_per_s", double(output_tokens) / wall_s},
                            {"requests_per_s", double(n_requests - failed) / wall_s},
                            {"images_per_s", double(n_images) / wall_s},
                            {"prefix_hit_tokens", stats.prefix_hit_tokens},
                            {"decode_steps", decode.steps},
                            {"decode_step_ms", decode.ms_per_step()},
                            {"decode_weight_bytes_per_step", decode.bytes_per_step()},
                            {"decode_weight_read_gb_per_s", decode.gb_per_s()},
                            {"peak_rss_mib", peak_rss_mib()}};
    std::cout << boost::json::serialize(out) << std::endl;
  } else {
    std::printf(
        "model %s: %lld requests (%lld failed), batch %lld, input %lld + image %s, output %lld tokens\n",
        model.name().c_str(), static_cast<long long>(n_requests), static_cast<long long>(failed),
        static_cast<long long>(batch), static_cast<long long>(input_len),
        args.get("image-size", "336x336").c_str(), static_cast<long long>(output_len));
    std::printf("preprocess %.2f s (before timing), run %.2f s\n", preprocess_s, wall_s);
    std::fputs(format_line("TTFT", ttft, "ms").c_str(), stdout);
    std::fputs(format_line("TPOT", tpot, "ms").c_str(), stdout);
    std::fputs(format_line("E2E", e2e, "ms").c_str(), stdout);
    std::printf("throughput: %.1f output tokens/s, %.2f requests/s, %.2f images/s\n",
                double(output_tokens) / wall_s, double(n_requests - failed) / wall_s,
                double(n_images) / wall_s);
    if (decode.weight_bytes > 0) {
      std::printf("decode: %lld steps, %.2f ms/step, %.1f MB of weights read per step: %.2f GB/s\n",
                  static_cast<long long>(decode.steps), decode.ms_per_step(), decode.bytes_per_step() / 1e6,
                  decode.gb_per_s());
    }
    std::printf("peak memory (RSS): %.1f MiB\n", peak_rss_mib());
  }
  return failed ? 1 : 0;
}

}  // namespace

int run_bench(const std::vector<std::string>& argv) {
  auto specs = model_options();
  specs.insert(
      specs.end(),
      {
          {"mode", true, false, "offline (default): in-process engine; serve: replay against a server"},
          {"num-requests", true, false, "requests to run (offline default 32; serve: dataset lines)"},
          {"batch", true, false, "offline: requests running at once at most (default 8)"},
          {"input-len", true, false, "offline: prompt text tokens (default 64)"},
          {"output-len", true, false, "offline: tokens generated per request (default 32)"},
          {"image-size", true, false, "offline: WxH of the one random image per request, 0 = none"},
          {"kv-cache-mb", true, false, "offline: KV cache size in MiB (default 256)"},
          {"seed", true, false, "random seed for prompts, images and arrivals (default 0)"},
          {"url", true, false, "serve: server base URL, e.g. http://127.0.0.1:8000"},
          {"dataset", true, false, "serve: JSONL of {\"prompt\", \"image\": path|null, \"output_len\"}"},
          {"request-rate", true, false, "serve: Poisson arrivals per second; inf = all at once"},
          {"served-model-name", true, false, "serve: model id (default: the server's first model)"},
          {"api-key", true, false, "serve: sent as Authorization: Bearer"},
          {"json", false, false, "print one JSON object on stdout"},
      });
  Args args("bench", specs, argv);
  if (args.flag("help")) {
    std::cout << args.usage();
    return 0;
  }
  setup_logging(args);
  const std::string mode = args.get("mode", "offline");
  if (mode == "offline") return run_bench_offline(args);
  if (mode == "serve") return run_bench_serve(args);
  throw UsageError("bench: --mode must be offline or serve, got '" + mode + "'");
}

}  // namespace mmrt::host
