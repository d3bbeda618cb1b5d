// mmrt generate: one request through the same engine the server uses, printed as text or JSON.
#include <spdlog/spdlog.h>
#include <boost/json.hpp>
#include <chrono>
#include <cstdio>
#include <iostream>

#include "core/engine/engine.hpp"
#include "core/engine/prompt.hpp"
#include "core/image/decode.hpp"
#include "host/commands.hpp"
#include "host/runtime.hpp"

namespace mmrt::host {

int run_generate(const std::vector<std::string>& argv) {
  auto specs = model_options();
  specs.insert(specs.end(),
               {
                   {"image", true, true, "image file for the prompt's placeholders, in order"},
                   {"prompt", true, false, "prompt text, given to the model verbatim"},
                   {"chat", false, false, "render the checkpoint's chat template around the prompt"},
                   {"max-tokens", true, false, "tokens to generate at most (default 64)"},
                   {"temperature", true, false, "0 = greedy (default)"},
                   {"top-p", true, false, "nucleus sampling mass (default 1)"},
                   {"top-k", true, false, "sample among the k most likely (default 0 = all)"},
                   {"seed", true, false, "random seed for sampling"},
                   {"top-logprobs", true, false, "report the K most likely tokens per step"},
                   {"stop", true, true, "stop string"},
                   {"json", false, false, "print one JSON object on stdout"},
               });
  Args args("generate", specs, argv);
  if (args.flag("help")) {
    std::cout << args.usage();
    return 0;
  }
  setup_logging(args);
  const auto t0 = std::chrono::steady_clock::now();
  LoadedModel loaded = load_model(args);
  engine::Model& model = *loaded.model;
  const auto t_loaded = std::chrono::steady_clock::now();

  std::vector<image::Image> images;
  for (const auto& path : args.list("image")) {
    try {
      images.push_back(image::decode_image(read_file(path)));
    } catch (const std::exception& e) {
      throw std::runtime_error(path + ": " + e.what());
    }
  }
  std::string text = args.get("prompt");
  if (args.flag("chat")) text = engine::render_chat(model, engine::single_turn_messages(text, images.size()));
  engine::PreparedPrompt prepared = engine::prepare_prompt(model, text, images);
  // What the language model reads: for an encoder-decoder model, its encoder input.
  const std::vector<int32_t> prompt_ids =
      prepared.prompt.encoder ? prepared.prompt.encoder->ids : prepared.prompt.ids;

  engine::SamplingParams params;
  params.max_tokens = int32_t(args.get_int("max-tokens", 64));
  params.temperature = float(args.get_double("temperature", 0.0));
  params.top_p = float(args.get_double("top-p", 1.0));
  params.top_k = int32_t(args.get_int("top-k", 0));
  if (args.has("seed")) params.seed = uint64_t(args.get_int("seed", 0));
  params.top_logprobs = int32_t(args.get_int("top-logprobs", 0));
  params.stop = args.list("stop");

  engine::EngineConfig config;
  config.n_blocks = (int64_t(prepared.prompt.ids.size()) + 1 + params.max_tokens) / config.block_size + 2;
  engine::Engine eng(model, config);

  const bool json = args.flag("json");
  std::string out_text;
  std::vector<int32_t> token_ids;
  boost::json::array top_logprobs;
  engine::RequestEvent last;
  engine::RequestInput input{"generate", std::move(prepared.prompt), std::move(prepared.items), params};
  eng.submit(std::move(input), [&](const engine::RequestEvent& ev) {
    for (const auto& s : ev.samples) {
      token_ids.push_back(s.token);
      boost::json::array step;
      for (const auto& t : s.top) step.push_back(boost::json::array{t.token, t.logprob});
      top_logprobs.push_back(std::move(step));
    }
    out_text += ev.text_delta;
    if (!json && !ev.text_delta.empty()) {
      std::fwrite(ev.text_delta.data(), 1, ev.text_delta.size(), stdout);
      std::fflush(stdout);
    }
    if (ev.finish != engine::FinishReason::none) last = ev;
  });
  while (eng.step()) {
  }
  if (last.finish == engine::FinishReason::error)
    throw std::runtime_error("generation failed: " + last.error);
  const auto t_done = std::chrono::steady_clock::now();

  if (!json) {
    std::fputc('\n', stdout);
    return 0;
  }
  auto ms = [](auto a, auto b) { return std::chrono::duration<double, std::milli>(b - a).count(); };
  boost::json::object out;
  out["text"] = out_text;
  out["token_ids"] = boost::json::value_from(token_ids);
  out["prompt_token_ids"] = boost::json::value_from(prompt_ids);
  out["top_logprobs"] = std::move(top_logprobs);
  out["finish_reason"] = engine::finish_reason_name(last.finish);
  out["usage"] = {{"prompt_tokens", last.prompt_tokens},
                  {"completion_tokens", last.completion_tokens},
                  {"total_tokens", last.prompt_tokens + last.completion_tokens}};
  out["timings"] = {{"load_ms", ms(t0, t_loaded)},
                    {"ttft_ms", last.timings.ttft_ms},
                    {"tpot_ms", last.timings.tpot_ms},
                    {"generate_ms", ms(t_loaded, t_done)}};
  std::cout << boost::json::serialize(out) << std::endl;
  return 0;
}

}  // namespace mmrt::host
