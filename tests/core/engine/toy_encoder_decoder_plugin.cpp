// A toy encoder-decoder plugin that exercises every encoder-decoder path of the engine with numbers that
// are easy to predict, on the CPU:
//   processor: an image -> pixel_values [1, 1] = its mean red value, n_tokens = 2 + width % 3;
//   encoder:   each item's rows are (pixel + row index) in column 0, zeros elsewhere;
//   padder:    encoder input = [n_tokens image rows, prompt ids], decoder prompt empty;
//   memory:    encode_memory writes row r as (id or injected value) in column 0, (r + 1) in column 1;
//   decoder:   stores the memory rows as cross K and V, its own token ids as self K and V; the next token
//              is a hash of the sums it reads back from both caches through the block tables, so it depends
//              on exactly the sequence's own encoder input and decoder tokens.
// A request's answer therefore changes if any cross or self page of another request leaks into it.
#include <cmath>
#include <cstring>
#include <memory>
#include <vector>

#include "mmrt/plugin.hpp"
#include "mmrt/status.hpp"
#include "mmrt_plugin_identity.hpp"

namespace {

constexpr int64_t kVocab = 602;  // the shared LLaVA fixture tokenizer
constexpr int64_t kDim = 4;

float* page_row(const MmrtTensor* pages, int64_t slot) {
  return static_cast<float*>(pages->data) + slot * kDim;
}

// Sum of column 0 plus 0.5 x column 1 over the first `n` slots of a sequence's block table row.
double read_back(const MmrtTensor* pages, const int32_t* blocks, int32_t block_size, int64_t n) {
  double sum = 0;
  for (int64_t p = 0; p < n; ++p) {
    const float* r = page_row(pages, int64_t(blocks[p / block_size]) * block_size + p % block_size);
    sum += r[0] + 0.5 * r[1];
  }
  return sum;
}

class ToyModel : public mmrt::sdk::Instance,
                 public mmrt::sdk::Processor,
                 public mmrt::sdk::Encoder,
                 public mmrt::sdk::Padder,
                 public mmrt::sdk::Decoder {
 public:
  mmrt::sdk::Processor* processor() override { return this; }
  mmrt::sdk::Encoder* encoder() override { return this; }
  mmrt::sdk::Padder* padder() override { return this; }
  mmrt::sdk::Decoder* decoder() override { return this; }

  void process(const MmrtImage& image, MmrtProcessorOutput& out) override {
    double red = 0;
    for (int64_t i = 0; i < int64_t(image.width) * image.height; ++i) red += image.rgb[3 * i];
    const int64_t shape[2] = {1, 1};
    void* data = nullptr;
    mmrt::sdk::check(
        out.alloc_tensor(out.host_ctx, "pixel_values", {MMRT_DTYPE_FLOAT, 32, 1}, 2, shape, &data),
        "pixel_values");
    *static_cast<float*>(data) = float(red / double(image.width * image.height) / 255.0);
    out.n_tokens = 2 + image.width % 3;
  }
  const char* fingerprint() override { return "toy-processor/1"; }

  int64_t embed_dim() override { return kDim; }
  void encode(const MmrtEncodeArgs& args) override {
    const auto* pixels = static_cast<const float*>(args.pixel_values->data);
    auto* out = static_cast<float*>(args.embeds->data);
    int64_t row = 0;
    for (int32_t i = 0; i < args.n_items; ++i) {
      for (int64_t r = 0; r < args.item_n_tokens[i]; ++r, ++row) {
        float* dst = out + row * kDim;
        std::memset(dst, 0, kDim * sizeof(float));
        dst[0] = pixels[i] + float(r);
      }
    }
  }

  void expand(const MmrtPadArgs& args) override {
    std::vector<int32_t> ids;
    std::vector<MmrtPlaceholderRange> ranges;
    for (int64_t i = 0; i < args.n_items; ++i) {
      ranges.push_back({i, int64_t(ids.size()), args.item_n_tokens[i]});
      ids.insert(ids.end(), size_t(args.item_n_tokens[i]), 0);
    }
    ids.insert(ids.end(), args.ids, args.ids + args.n_ids);
    mmrt::sdk::check(args.emit_encoder_input(args.host_ctx, ids.data(), int64_t(ids.size()), ranges.data(),
                                             int64_t(ranges.size())),
                     "encoder input");
    mmrt::sdk::check(args.emit(args.host_ctx, nullptr, 0, nullptr, 0), "decoder prompt");
  }

  MmrtKvSpec kv_spec() override {
    MmrtKvSpec spec{};
    spec.n_layer = 1;
    spec.n_head_kv = 1;
    spec.head_dim = kDim;
    spec.dtype = {MMRT_DTYPE_FLOAT, 32, 1};
    spec.n_cross_layer = 1;
    spec.position_axes = 1;
    spec.vocab_size = kVocab;
    spec.hidden_size = kDim;
    spec.max_position = 128;
    spec.decoder_start_token_id = 5;
    spec.memory_dim = kDim;
    spec.max_encoder_len = 96;
    return spec;
  }

  bool has_encode_memory() const override { return true; }
  void encode_memory(const MmrtMemoryArgs& args) override {
    const auto* ids = static_cast<const int32_t*>(args.input_ids->data);
    auto* memory = static_cast<float*>(args.memory->data);
    for (int64_t r = 0; r < args.n_tokens; ++r) {
      float* row = memory + r * kDim;
      std::memset(row, 0, kDim * sizeof(float));
      row[0] = float(ids[r]);
    }
    if (args.embeds) {
      const auto* rows = static_cast<const int32_t*>(args.embeds_rows->data);
      const auto* embeds = static_cast<const float*>(args.embeds->data);
      for (int64_t i = 0; i < args.embeds->shape[0]; ++i) memory[rows[i] * kDim] = embeds[i * kDim];
    }
    for (int32_t s = 0; s < args.n_seqs; ++s) {
      for (int32_t r = args.query_start_host[s]; r < args.query_start_host[s + 1]; ++r)
        memory[r * kDim + 1] = float(r - args.query_start_host[s] + 1);
    }
  }

  void forward(const MmrtDecodeArgs& args) override {
    mmrt::sdk::require(args.cross_layout != nullptr && args.cross_kv != nullptr, MMRT_STATUS_INVALID_ARGUMENT,
                       "no cross layout");
    const MmrtBatchLayout& cross = *args.cross_layout;
    if (args.encoder_states) {
      const auto* states = static_cast<const float*>(args.encoder_states->data);
      const auto* slots = static_cast<const int64_t*>(cross.slot_mapping->data);
      for (int64_t r = 0; r < args.encoder_states->shape[0]; ++r) {
        std::memcpy(page_row(args.cross_kv[0].k, slots[r]), states + r * kDim, kDim * sizeof(float));
        std::memcpy(page_row(args.cross_kv[0].v, slots[r]), states + r * kDim, kDim * sizeof(float));
      }
    }
    const auto* ids = static_cast<const int32_t*>(args.input_ids->data);
    const auto* slots = static_cast<const int64_t*>(args.layout->slot_mapping->data);
    for (int64_t t = 0; t < args.n_tokens; ++t) {
      float* k = page_row(args.kv[0].k, slots[t]);
      std::memset(k, 0, kDim * sizeof(float));
      k[0] = float(ids[t]);
    }
    const auto* self_tables = static_cast<const int32_t*>(args.layout->block_tables->data);
    const auto* cross_tables = static_cast<const int32_t*>(cross.block_tables->data);
    const auto* cross_lens = static_cast<const int32_t*>(cross.seq_lens->data);
    const int64_t self_width = args.layout->block_tables->shape[1];
    const int64_t cross_width = cross.block_tables->shape[1];
    const auto* logit_rows = static_cast<const int32_t*>(args.logits_rows->data);
    auto* logits = static_cast<float*>(args.logits->data);
    int64_t out_row = 0;
    for (int32_t s = 0; s < args.layout->n_seqs && out_row < args.logits_rows->shape[0]; ++s) {
      const int32_t last = args.query_start_host[s + 1] - 1;
      if (logit_rows[out_row] != last) continue;
      const double self_sum = read_back(args.kv[0].k, self_tables + s * self_width, args.layout->block_size,
                                        args.seq_lens_host[s]);
      const double cross_sum =
          read_back(args.cross_kv[0].k, cross_tables + s * cross_width, cross.block_size, cross_lens[s]);
      const int64_t token = int64_t(std::llround(cross_sum * 7 + self_sum * 3)) % (kVocab - 10) + 10;
      float* row = logits + out_row * kVocab;
      for (int64_t v = 0; v < kVocab; ++v) row[v] = 0.0f;
      row[token] = 10.0f;
      ++out_row;
    }
  }
};

std::unique_ptr<mmrt::sdk::Instance> create(const MmrtCreateArgs&) {
  return std::make_unique<ToyModel>();
}

constexpr const char* kArchitectures[] = {"ToyEncoderDecoder"};
constexpr const char* kRoles[] = {MMRT_ROLE_PROCESSOR, MMRT_ROLE_ENCODER, MMRT_ROLE_PADDER,
                                  MMRT_ROLE_DECODER};

}  // namespace

// The identity is mmrt_add_plugin's in CMakeLists.txt.
MMRT_SDK_DEFINE_PLUGIN({.create = &create})
