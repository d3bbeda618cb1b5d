// A loaded model: its checkpoint files, tokenizer, chat template and the plugin instance that serves its
// four roles, behind host-side C++ calls that check every plugin answer.
//
// Threading: process_image(), pad() and the accessors are thread-safe (the processor and padder roles
// are [thread-safe]); encode() and forward() must be called from one thread at a time (the engine loop).
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/backend/tensor.hpp"
#include "core/engine/block_pool.hpp"
#include "core/image/image.hpp"
#include "plugin_api/mmrt_abi.h"

namespace mmrt::text {
class Tokenizer;
class ChatTemplate;
}  // namespace mmrt::text
namespace mmrt::model {
struct ModelFiles;
}
namespace mmrt::plugin {
class PluginRegistry;
}

namespace mmrt::engine {

// One media item after the plugin's processor: what the encoder receives and how many prompt positions
// it fills.
struct ProcessedItem {
  // A processor output other than pixel_values: the model's own per-item metadata (a Qwen2-VL-style grid,
  // an original image size), carried untouched to the encoder and the padder.
  struct Metadata {
    std::string name;
    backend::Tensor tensor;  // host memory
  };
  backend::Tensor pixel_values;  // processor layout, f32
  std::vector<Metadata> metadata;
  int64_t n_tokens = 0;
  int32_t width = 0, height = 0;
  BlockHash content_hash{};  // plugin id@version + processor fingerprint + RGB pixels
};

struct PlaceholderRange {
  int64_t item, offset, length;
};

// A token sequence with the runs where items' embeddings replace the placeholder ids.
struct TokenRuns {
  std::vector<int32_t> ids;
  std::vector<PlaceholderRange> ranges;
};

// The model's view of a prompt after placeholder expansion: ids and ranges are what the decoder reads (for
// a decoder-only model, the whole prompt). An encoder-decoder model also has `encoder`, what its encoder
// reads; for a model whose memory is the items' embeddings alone, that holds only their ranges over no ids.
struct PaddedPrompt {
  std::vector<int32_t> ids;
  std::vector<PlaceholderRange> ranges;
  std::vector<int32_t> positions3;  // [3, ids.size()] for multimodal RoPE models, else empty
  int64_t next_position_delta = 0;
  std::optional<TokenRuns> encoder;
};

struct ModelLoadOptions {
  std::filesystem::path dir;
  std::string device = "cpu";  // "cpu", "cuda" or "cuda:N"; CUDA computes in MMRT_CUDA_DTYPE (default bf16)
  std::filesystem::path chat_template;  // a Jinja file used instead of the checkpoint's template; empty: none
  // Called as checkpoint tensors load (bytes read so far, bytes in all), e.g. for a progress line.
  std::function<void(uint64_t, uint64_t)> progress;
};

class Model {
 public:
  static std::unique_ptr<Model> load(const ModelLoadOptions& options, plugin::PluginRegistry& registry);
  ~Model();

  const std::string& name() const { return name_; }  // the folder name; the API's model id
  const std::string& architecture() const { return architecture_; }
  const std::string& plugin_label() const { return plugin_label_; }  // id@version
  const text::Tokenizer& tokenizer() const { return *tokenizer_; }
  const text::ChatTemplate* chat_template() const { return chat_template_.get(); }
  const model::ModelFiles& files() const { return *files_; }
  const std::vector<int32_t>& eos_token_ids() const { return eos_ids_; }
  const MmrtKvSpec& kv_spec() const { return kv_spec_; }
  int64_t embed_dim() const;
  // Where the weights, the KV cache, the encoder's output and the plugin's compute live. The engine's
  // per-step index tensors are host memory; forward() stages them across.
  MmrtDevice device() const { return device_; }
  MmrtDataType compute_dtype() const { return compute_dtype_; }
  bool has_vision() const { return processor_ && encoder_ && padder_; }
  // Whether the decoder cross-attends to an encoder memory (MmrtKvSpec.n_cross_layer > 0).
  bool is_encoder_decoder() const { return kv_spec_.n_cross_layer > 0; }

  ProcessedItem process_image(const image::Image& image) const;
  PaddedPrompt pad(const std::vector<int32_t>& ids, const std::vector<const ProcessedItem*>& items) const;
  // Embeddings of the given items, concatenated: [Σ n_tokens, embed_dim] in the compute dtype, on the
  // model's device.
  backend::Tensor encode(const std::vector<const ProcessedItem*>& items);
  // Whether the decoder computes encoder memory from the encoder input (MmrtDecoderRole.encode_memory).
  bool has_encode_memory() const { return decoder_ && decoder_->encode_memory; }
  // The encoder memory [ids.size(), memory_dim] of sequences whose encoder ids are concatenated in `ids`
  // (rows query_start[s] .. query_start[s+1]-1), with embeds (on the device, or empty) replacing the rows
  // embeds_rows.
  backend::Tensor encode_memory(const std::vector<int32_t>& ids, const std::vector<int32_t>& query_start,
                                const backend::Tensor& embeds, const std::vector<int32_t>& embeds_rows);
  // Host tensors of args are staged to the device; tensors already there (embeds, encoder_states) are
  // passed as they are. Logits land in args.logits (host memory).
  void forward(const MmrtDecodeArgs& args);
  // The stream every encode and forward runs on.
  const MmrtStream& stream() const;

 private:
  struct Impl;
  Model();
  std::unique_ptr<Impl> impl_;
  std::string name_, architecture_, plugin_label_;
  std::unique_ptr<model::ModelFiles> files_;
  std::unique_ptr<text::Tokenizer> tokenizer_;
  std::unique_ptr<text::ChatTemplate> chat_template_;
  std::vector<int32_t> eos_ids_;
  MmrtKvSpec kv_spec_{};
  MmrtDevice device_{MMRT_DEVICE_CPU, 0};
  MmrtDataType compute_dtype_{MMRT_DTYPE_FLOAT, 32, 1};
  const MmrtProcessorRole* processor_ = nullptr;
  const MmrtEncoderRole* encoder_ = nullptr;
  const MmrtPadderRole* padder_ = nullptr;
  const MmrtDecoderRole* decoder_ = nullptr;
  std::string fingerprint_;
  int64_t embed_dim_ = 0;
};

}  // namespace mmrt::engine
