// The Nougat roles driven directly against the Transformers goldens, with the host's real weight store and
// CPU kernels: the encoder's memory must match Transformers' encoder output, and the decoder, stepping
// over paged self and cross caches laid out like the engine lays them, must reproduce every golden step
// (top-1 id and log-probs within 1e-3), for several pages in one batch and for all decoder rows in one
// prefill.
#include <doctest/doctest.h>

#include <algorithm>
#include <boost/json.hpp>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "config.hpp"
#include "core/backend/weights.hpp"
#include "core/model/checkpoint.hpp"
#include "decoder.hpp"
#include "encoder.hpp"
#include "fixture.hpp"
#include "model.hpp"

namespace fs = std::filesystem;
using namespace mmrt;

namespace {

const fs::path kFixtures = fs::path(MMRT_SOURCE_DIR) / "tests" / "fixtures" / "nougat";

boost::json::value read_json(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream s;
  s << in.rdbuf();
  return boost::json::parse(s.str());
}

struct Case {
  std::string name;
  std::string model;
  std::string image;
  std::vector<int32_t> token_ids;
  boost::json::array top_logprobs;
  boost::json::object encoder_output;
};

std::vector<Case> cases_of(const std::string& model) {
  std::vector<Case> out;
  const boost::json::value goldens = read_json(kFixtures / "goldens.json");
  for (const auto& v : goldens.as_array()) {
    const auto& c = v.as_object();
    if (c.at("model").as_string() != model) continue;
    out.push_back({std::string(c.at("name").as_string()), model,
                   std::string(c.at("images").as_array()[0].as_string()),
                   boost::json::value_to<std::vector<int32_t>>(c.at("token_ids")),
                   c.at("top_logprobs").as_array(), c.at("encoder_output").as_object()});
  }
  return out;
}

// One fixture checkpoint with the model's roles built over the host's weight store.
struct Loaded {
  explicit Loaded(const std::string& folder)
      : dir(kFixtures / folder),
        checkpoint(model::Checkpoint::open(dir)),
        store(checkpoint, sdk::kCpu, sdk::kF32),
        config(nougat::parse_nougat_config(test::read_file(dir / "config.json"))) {
    test::register_host();
    sdk::Weights w(store.api(), store.handle(), sdk::kF32, nougat::checkpoint_layouts());
    model = std::make_unique<nougat::NougatModel>(config, w, sdk::kCpu);
    w.finish();
    encoder = std::make_unique<nougat::NougatEncoder>(*model, sdk::kCpu, sdk::kF32);
    processor = std::make_unique<nougat::NougatProcessor>(
        nougat::parse_nougat_processor_config(test::processor_settings(dir)), config.encoder);
  }

  // The plugin processor's pixel_values of one page, as [1, 3, H, W].
  std::vector<float> pixels(const std::string& image_file, int64_t shape[4]) {
    test::ProcessedPage page = test::process_page(*processor, kFixtures / image_file);
    REQUIRE(page.shape.size() == 3);
    shape[0] = 1;
    for (int i = 0; i < 3; ++i) shape[i + 1] = page.shape[i];
    return std::move(page.values);
  }

  // The Swin encoder's own output (last_hidden_state) [rows, encoder hidden].
  std::vector<float> swin(const std::string& image_file) {
    int64_t shape[4];
    std::vector<float> values = pixels(image_file, shape);
    const int64_t rows = nougat::swin_output_rows(config.encoder, shape[2], shape[3]);
    std::vector<float> out(static_cast<size_t>(rows * config.encoder.hidden_size()));
    MmrtStream stream{MMRT_DEVICE_CPU, 0, nullptr};
    const sdk::Ops ops(sdk::Ops::host_kernels(), &stream);
    sdk::Scratch scratch(sdk::kCpu);
    scratch.reset();
    model->encoder.forward(
        ops, scratch, sdk::TensorView(values.data(), sdk::kCpu, sdk::kF32, {shape, 4}),
        sdk::TensorView(out.data(), sdk::kCpu, sdk::kF32, {rows, config.encoder.hidden_size()}));
    return out;
  }

  // The encoder role's memory [rows, d_model] of one page (computed once per page).
  std::vector<float> encode(const std::string& image_file, int64_t& rows) {
    auto it = memories.find(image_file);
    if (it == memories.end()) {
      std::vector<int64_t> item_rows;
      std::vector<float> memory = encode_batch({image_file}, item_rows);
      it = memories.emplace(image_file, std::make_pair(std::move(memory), item_rows[0])).first;
    }
    rows = it->second.second;
    return it->second.first;
  }

  // The encoder role's memory of several pages encoded in one call, [Σ rows, d_model].
  std::vector<float> encode_batch(const std::vector<std::string>& image_files, std::vector<int64_t>& rows) {
    std::vector<float> values;
    int64_t shape[4] = {0, 0, 0, 0};
    rows.clear();
    for (const std::string& file : image_files) {
      int64_t one[4];
      const std::vector<float> page = pixels(file, one);
      values.insert(values.end(), page.begin(), page.end());
      shape[0] += 1;
      std::copy(one + 1, one + 4, shape + 1);
      rows.push_back(nougat::swin_output_rows(config.encoder, one[2], one[3]));
    }
    const int64_t D = config.decoder.d_model, total = rows[0] * shape[0];
    std::vector<float> memory(static_cast<size_t>(total * D));
    int64_t embeds_shape[2] = {total, D};
    MmrtTensor px{values.data(), sdk::kCpu, 4, sdk::kF32, shape, nullptr, 0};
    MmrtTensor embeds{memory.data(), sdk::kCpu, 2, sdk::kF32, embeds_shape, nullptr, 0};
    MmrtStream stream{MMRT_DEVICE_CPU, 0, nullptr};
    MmrtEncodeArgs args{};
    args.struct_size = MMRT_SIZEOF(MmrtEncodeArgs, stream);
    args.n_items = static_cast<int32_t>(image_files.size());
    args.pixel_values = &px;
    args.item_n_tokens = rows.data();
    args.embeds = &embeds;
    args.stream = &stream;
    encoder->encode(args);
    return memory;
  }

  fs::path dir;
  model::Checkpoint checkpoint;
  backend::WeightStore store;
  nougat::NougatConfig config;
  std::unique_ptr<nougat::NougatModel> model;
  std::unique_ptr<nougat::NougatEncoder> encoder;
  std::unique_ptr<nougat::NougatProcessor> processor;
  std::map<std::string, std::pair<std::vector<float>, int64_t>> memories;
};

// One Loaded per fixture folder for the whole run: the weights and the pages' memories are reused.
Loaded& loaded(const std::string& folder) {
  static std::map<std::string, std::unique_ptr<Loaded>> all;
  auto& slot = all[folder];
  if (!slot) slot = std::make_unique<Loaded>(folder);
  return *slot;
}

// Paged caches laid out as the engine lays them: sequence s owns self blocks s·kMaxBlocks.. and cross
// blocks likewise, in a cache of kBlockSize-row blocks.
constexpr int32_t kBlockSize = 16, kMaxBlocks = 40, kMaxSeqs = 4;

struct Caches {
  Caches(int64_t n_layer, int64_t heads, int64_t head_dim)
      : shape{kMaxSeqs * kMaxBlocks, kBlockSize, heads, head_dim} {
    const size_t n = static_cast<size_t>(shape[0] * shape[1] * shape[2] * shape[3]);
    for (int64_t l = 0; l < 4 * n_layer; ++l) storage.emplace_back(n, 0.0f);
    for (auto& s : storage) tensors.push_back({s.data(), sdk::kCpu, 4, sdk::kF32, shape, nullptr, 0});
    for (int64_t l = 0; l < n_layer; ++l) {
      self.push_back({&tensors[4 * l], &tensors[4 * l + 1]});
      cross.push_back({&tensors[4 * l + 2], &tensors[4 * l + 3]});
    }
  }
  int64_t shape[4];
  std::vector<std::vector<float>> storage;
  std::vector<MmrtTensor> tensors;
  std::vector<MmrtKvLayer> self, cross;
};

// A layout over int32 host arrays (the CPU device is host memory).
struct Layout {
  std::vector<int32_t> query_start, seq_lens, block_tables;
  std::vector<int64_t> slots;
  int64_t qs_shape[1], sl_shape[1], bt_shape[2], slot_shape[1];
  MmrtTensor qs{}, sl{}, bt{}, slot{};
  MmrtBatchLayout layout{};

  // Sequence i of the batch is sequence seqs[i] of the test, which owns blocks seqs[i]·kMaxBlocks...
  const MmrtBatchLayout* build(const std::vector<int32_t>& seqs) {
    const int32_t n_seqs = static_cast<int32_t>(seq_lens.size());
    block_tables.clear();
    for (int32_t s : seqs)
      for (int32_t b = 0; b < kMaxBlocks; ++b) block_tables.push_back(s * kMaxBlocks + b);
    qs_shape[0] = n_seqs + 1;
    sl_shape[0] = n_seqs;
    bt_shape[0] = n_seqs;
    bt_shape[1] = kMaxBlocks;
    slot_shape[0] = static_cast<int64_t>(slots.size());
    qs = {query_start.data(), sdk::kCpu, 1, sdk::kI32, qs_shape, nullptr, 0};
    sl = {seq_lens.data(), sdk::kCpu, 1, sdk::kI32, sl_shape, nullptr, 0};
    bt = {block_tables.data(), sdk::kCpu, 2, sdk::kI32, bt_shape, nullptr, 0};
    slot = {slots.data(), sdk::kCpu, 1, sdk::kI64, slot_shape, nullptr, 0};
    layout.struct_size = MMRT_SIZEOF(MmrtBatchLayout, slot_mapping);
    layout.n_seqs = n_seqs;
    layout.block_size = kBlockSize;
    layout.query_start = &qs;
    layout.seq_lens = &sl;
    layout.block_tables = &bt;
    layout.slot_mapping = &slot;
    return &layout;
  }
};

// Sequence s, row t of its self cache (or row t of its memory) -> the cache slot.
int64_t slot_of(int32_t s, int64_t t) {
  return (s * kMaxBlocks + t / kBlockSize) * kBlockSize + t % kBlockSize;
}

std::vector<double> log_softmax(const float* row, int64_t n) {
  double mx = *std::max_element(row, row + n), sum = 0;
  for (int64_t i = 0; i < n; ++i) sum += std::exp(double(row[i]) - mx);
  std::vector<double> out(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) out[i] = double(row[i]) - mx - std::log(sum);
  return out;
}

// Our log-probs of one step against the golden top 5: the same argmax, every golden value within 1e-3.
void check_step(const Case& c, size_t step, const std::vector<double>& lp) {
  CAPTURE(c.name);
  CAPTURE(step);
  const auto& want = c.top_logprobs[step].as_array();
  const int64_t best = std::max_element(lp.begin(), lp.end()) - lp.begin();
  CHECK(best == want[0].as_array()[0].as_int64());
  for (const auto& entry : want) {
    const int64_t id = entry.as_array()[0].as_int64();
    CHECK(std::abs(lp[id] - entry.as_array()[1].to_number<double>()) <= 1e-3);
  }
}

// Every case of `model` decoded in one batch, one token per sequence per step, from the start token; the
// fed tokens are the golden ones, so a mismatch shows up at its own step.
void decode_batch(Loaded& m, const std::vector<Case>& cases) {
  const nougat::MBartDecoderConfig& dc = m.config.decoder;
  Caches caches(dc.decoder_layers, dc.decoder_attention_heads, dc.head_dim());
  nougat::NougatDecoder decoder(*m.model, sdk::kCpu, sdk::kF32, 0);
  const int64_t D = dc.d_model, V = dc.vocab_size;
  std::vector<std::vector<float>> memories;
  std::vector<int64_t> memory_rows;
  for (const Case& c : cases) {
    int64_t rows = 0;
    memories.push_back(m.encode(c.image, rows));
    memory_rows.push_back(rows);
  }
  size_t longest = 0;
  for (const Case& c : cases) longest = std::max(longest, c.token_ids.size());
  for (size_t step = 0; step < longest; ++step) {
    std::vector<int32_t> active;
    for (int32_t s = 0; s < static_cast<int32_t>(cases.size()); ++s)
      if (step < cases[s].token_ids.size()) active.push_back(s);
    std::vector<int32_t> ids, positions, rows;
    Layout self, cross;
    std::vector<float> encoder_states;
    self.query_start = {0};
    cross.query_start = {0};
    for (size_t i = 0; i < active.size(); ++i) {
      const int32_t s = active[i];
      ids.push_back(step == 0 ? m.config.decoder_start_token_id : cases[s].token_ids[step - 1]);
      positions.push_back(static_cast<int32_t>(step));
      rows.push_back(static_cast<int32_t>(i));
      self.query_start.push_back(static_cast<int32_t>(i + 1));
      cross.query_start.push_back(static_cast<int32_t>(i + 1));
      self.seq_lens.push_back(static_cast<int32_t>(step + 1));
      cross.seq_lens.push_back(static_cast<int32_t>(memory_rows[s]));
      self.slots.push_back(slot_of(s, static_cast<int64_t>(step)));
      if (step == 0) {
        encoder_states.insert(encoder_states.end(), memories[s].begin(), memories[s].end());
        for (int64_t r = 0; r < memory_rows[s]; ++r) cross.slots.push_back(slot_of(s, r));
      }
    }
    const MmrtBatchLayout* self_layout = self.build(active);
    const MmrtBatchLayout* cross_layout = cross.build(active);
    const int64_t n = static_cast<int64_t>(ids.size());
    std::vector<float> logits(static_cast<size_t>(n * V));
    int64_t n_shape[1] = {n}, logits_shape[2] = {n, V};
    int64_t enc_shape[2] = {static_cast<int64_t>(encoder_states.size()) / D, D};
    MmrtTensor ids_t{ids.data(), sdk::kCpu, 1, sdk::kI32, n_shape, nullptr, 0};
    MmrtTensor pos_t{positions.data(), sdk::kCpu, 1, sdk::kI32, n_shape, nullptr, 0};
    MmrtTensor rows_t{rows.data(), sdk::kCpu, 1, sdk::kI32, n_shape, nullptr, 0};
    MmrtTensor logits_t{logits.data(), sdk::kCpu, 2, sdk::kF32, logits_shape, nullptr, 0};
    MmrtTensor enc_t{encoder_states.data(), sdk::kCpu, 2, sdk::kF32, enc_shape, nullptr, 0};
    MmrtStream stream{MMRT_DEVICE_CPU, 0, nullptr};
    MmrtDecodeArgs args{};
    args.struct_size = MMRT_SIZEOF(MmrtDecodeArgs, stream);
    args.n_tokens = n;
    args.input_ids = &ids_t;
    args.positions = &pos_t;
    args.layout = self_layout;
    args.kv = caches.self.data();
    args.query_start_host = self.query_start.data();
    args.seq_lens_host = self.seq_lens.data();
    args.logits_rows = &rows_t;
    args.logits = &logits_t;
    args.encoder_states = step == 0 ? &enc_t : nullptr;
    args.cross_layout = cross_layout;
    args.cross_kv = caches.cross.data();
    args.stream = &stream;
    decoder.forward(args);
    for (size_t i = 0; i < active.size(); ++i)
      check_step(cases[active[i]], step, log_softmax(&logits[i * V], V));
  }
}

// One case's start token and golden tokens in a single forward (as after a recompute preemption): causal
// self-attention over many rows, the cross cache written and read in the same call.
void prefill_one(Loaded& m, const Case& c) {
  const nougat::MBartDecoderConfig& dc = m.config.decoder;
  Caches caches(dc.decoder_layers, dc.decoder_attention_heads, dc.head_dim());
  nougat::NougatDecoder decoder(*m.model, sdk::kCpu, sdk::kF32, 0);
  const int64_t V = dc.vocab_size, D = dc.d_model;
  int64_t memory_rows = 0;
  std::vector<float> memory = m.encode(c.image, memory_rows);
  const int64_t n = static_cast<int64_t>(c.token_ids.size());
  std::vector<int32_t> ids = {m.config.decoder_start_token_id}, positions, rows;
  ids.insert(ids.end(), c.token_ids.begin(), c.token_ids.end() - 1);
  Layout self, cross;
  for (int32_t t = 0; t < n; ++t) {
    positions.push_back(t);
    rows.push_back(t);
    self.slots.push_back(slot_of(0, t));
  }
  for (int64_t r = 0; r < memory_rows; ++r) cross.slots.push_back(slot_of(0, r));
  self.query_start = {0, static_cast<int32_t>(n)};
  cross.query_start = self.query_start;
  self.seq_lens = {static_cast<int32_t>(n)};
  cross.seq_lens = {static_cast<int32_t>(memory_rows)};
  std::vector<float> logits(static_cast<size_t>(n * V));
  int64_t n_shape[1] = {n}, logits_shape[2] = {n, V}, enc_shape[2] = {memory_rows, D};
  MmrtTensor ids_t{ids.data(), sdk::kCpu, 1, sdk::kI32, n_shape, nullptr, 0};
  MmrtTensor pos_t{positions.data(), sdk::kCpu, 1, sdk::kI32, n_shape, nullptr, 0};
  MmrtTensor rows_t{rows.data(), sdk::kCpu, 1, sdk::kI32, n_shape, nullptr, 0};
  MmrtTensor logits_t{logits.data(), sdk::kCpu, 2, sdk::kF32, logits_shape, nullptr, 0};
  MmrtTensor enc_t{memory.data(), sdk::kCpu, 2, sdk::kF32, enc_shape, nullptr, 0};
  MmrtStream stream{MMRT_DEVICE_CPU, 0, nullptr};
  MmrtDecodeArgs args{};
  args.struct_size = MMRT_SIZEOF(MmrtDecodeArgs, stream);
  args.n_tokens = n;
  args.input_ids = &ids_t;
  args.positions = &pos_t;
  args.layout = self.build({0});
  args.kv = caches.self.data();
  args.query_start_host = self.query_start.data();
  args.seq_lens_host = self.seq_lens.data();
  args.logits_rows = &rows_t;
  args.logits = &logits_t;
  args.encoder_states = &enc_t;
  args.cross_layout = cross.build({0});
  args.cross_kv = caches.cross.data();
  args.stream = &stream;
  decoder.forward(args);
  for (int64_t t = 0; t < n; ++t) check_step(c, static_cast<size_t>(t), log_softmax(&logits[t * V], V));
}

}  // namespace

TEST_CASE("nougat encoder: the Swin output equals Transformers' encoder output") {
  for (const char* folder : {"nougat_a", "nougat_b", "nougat_base_geometry"}) {
    Loaded& m = loaded(folder);
    for (const Case& c : cases_of(folder)) {
      CAPTURE(c.name);
      // Without enc_to_dec_proj the role's memory is the Swin output itself (and is reused below).
      int64_t memory_rows = 0;
      const std::vector<float> out =
          m.config.has_enc_to_dec_proj() ? m.swin(c.image) : m.encode(c.image, memory_rows);
      const auto shape = boost::json::value_to<std::vector<int64_t>>(c.encoder_output.at("shape"));
      REQUIRE(shape.size() == 2);
      CHECK(shape[1] == m.config.encoder.hidden_size());
      REQUIRE(static_cast<int64_t>(out.size()) == shape[0] * shape[1]);
      const auto& head = c.encoder_output.at("head").as_array();
      for (size_t i = 0; i < head.size(); ++i) CHECK(std::abs(out[i] - head[i].to_number<double>()) <= 1e-4);
      double sum = 0;
      for (float v : out) sum += v;
      CHECK(std::abs(sum - c.encoder_output.at("sum").to_number<double>()) <= 1e-5 * double(out.size()));
      // The role's memory has the same rows, in d_model columns.
      int64_t rows = 0;
      const std::vector<float> memory = m.encode(c.image, rows);
      CHECK(rows == shape[0]);
      CHECK(static_cast<int64_t>(memory.size()) == rows * m.config.decoder.d_model);
    }
  }
}

TEST_CASE("nougat encoder: pages encoded in one call give each page's own memory") {
  for (const char* folder : {"nougat_a", "nougat_b"}) {
    CAPTURE(folder);
    Loaded& m = loaded(folder);
    const std::vector<Case> cases = cases_of(folder);
    std::vector<std::string> files;
    std::vector<float> separately;
    for (const Case& c : cases) {
      files.push_back(c.image);
      int64_t rows = 0;
      const std::vector<float> one = m.encode(c.image, rows);
      separately.insert(separately.end(), one.begin(), one.end());
    }
    files.push_back(cases[0].image);  // a repeated page in the same batch
    int64_t rows = 0;
    const std::vector<float> first = m.encode(cases[0].image, rows);
    separately.insert(separately.end(), first.begin(), first.end());
    std::vector<int64_t> item_rows;
    const std::vector<float> together = m.encode_batch(files, item_rows);
    REQUIRE(together.size() == separately.size());
    double worst = 0;
    for (size_t i = 0; i < together.size(); ++i)
      worst = std::max(worst, double(std::abs(together[i] - separately[i])));
    CHECK(worst <= 1e-5);
  }
}

TEST_CASE("nougat decoder: every page of a model decodes in one batch as Transformers does") {
  for (const char* folder : {"nougat_a", "nougat_b", "nougat_base_geometry"}) {
    CAPTURE(folder);
    Loaded& m = loaded(folder);
    decode_batch(m, cases_of(folder));
  }
}

TEST_CASE("nougat decoder: all decoder rows of a page in one forward match every golden step") {
  for (const char* folder : {"nougat_a", "nougat_b", "nougat_base_geometry"}) {
    Loaded& m = loaded(folder);
    for (const Case& c : cases_of(folder)) prefill_one(m, c);
  }
}
