#include "core/engine/model.hpp"

#include <spdlog/spdlog.h>
#include <boost/json.hpp>
#include <cstdlib>
#include <cstring>
#include <optional>

#include "core/backend/cuda_runtime.hpp"
#include "core/backend/image_service.hpp"
#include "core/backend/kernels_dispatch.hpp"
#include "core/backend/status.hpp"
#include "core/backend/weights.hpp"
#include "core/model/checkpoint.hpp"
#include "core/model/model_files.hpp"
#include "core/plugin/host_api.hpp"
#include "core/plugin/plugin_registry.hpp"
#include "core/plugin/sha256.hpp"
#include "core/plugin/status.hpp"
#include "core/text/template/chat_template.hpp"
#include "core/text/tokenizer.hpp"

namespace mmrt::engine {

struct Model::Impl {
  std::shared_ptr<plugin::LoadedPlugin> plugin;
  std::unique_ptr<model::Checkpoint> checkpoint;
  std::unique_ptr<backend::WeightStore> weights;
  plugin::Instance instance;
  // CUDA only: the one stream every encode and forward runs on, and the pinned memory that stages the
  // engine's host tensors on their way to and from the device. Both are used by the engine thread only.
  std::unique_ptr<backend::DeviceStream> stream;
  backend::PinnedBuffer staging;
};

namespace {

using backend::operator==;

void check(MmrtStatus* status, const std::string& plugin_id, const char* what) {
  plugin::throw_if_error(status, plugin_id, what);
}

// Where a processor call writes its tensors: host memory that becomes the ProcessedItem's.
struct ProcessorSink {
  MmrtProcessorOutput out{};
  backend::Tensor pixel_values;
  std::vector<int64_t> grid_thw;
  std::vector<int64_t> grid_shape;
  backend::Tensor grid_tensor;

  ProcessorSink() {
    out.struct_size = MMRT_SIZEOF(MmrtProcessorOutput, n_tokens);
    out.host_ctx = this;
    out.alloc_tensor = &ProcessorSink::alloc;
  }

  static MmrtStatus* alloc(void* ctx, const char* name, MmrtDataType dtype, int32_t ndim,
                           const int64_t* shape, void** data) {
    return backend::status_boundary("processor output", [&] {
      auto* self = static_cast<ProcessorSink*>(ctx);
      if (!name || !data || ndim < 0 || ndim > 8 || (ndim > 0 && !shape)) {
        throw backend::StatusError(MMRT_STATUS_INVALID_ARGUMENT, "bad output description");
      }
      std::vector<int64_t> dims(shape, shape + ndim);
      int64_t n = 1;
      for (int64_t d : dims) {
        if (d < 0 || d > (int64_t(1) << 32))
          throw backend::StatusError(MMRT_STATUS_INVALID_ARGUMENT, "bad dim");
        n *= d;
      }
      if (n > (int64_t(1) << 30))
        throw backend::StatusError(MMRT_STATUS_RESOURCE_EXHAUSTED, "output too large");
      const std::string which(name);
      if (which == "pixel_values") {
        if (!(dtype == backend::kF32))
          throw backend::StatusError(MMRT_STATUS_INVALID_ARGUMENT, "pixel_values must be f32");
        self->pixel_values = backend::Tensor({MMRT_DEVICE_CPU, 0}, dtype, dims);
        *data = self->pixel_values.data();
      } else if (which == "image_grid_thw") {
        if (!(dtype == backend::kI64) || n != 3) {
          throw backend::StatusError(MMRT_STATUS_INVALID_ARGUMENT, "image_grid_thw must be int64 [3]");
        }
        self->grid_tensor = backend::Tensor({MMRT_DEVICE_CPU, 0}, dtype, dims);
        *data = self->grid_tensor.data();
      } else {
        throw backend::StatusError(MMRT_STATUS_INVALID_ARGUMENT, "unknown processor output '" + which + "'");
      }
    });
  }
};

struct PadSink {
  PaddedPrompt result;
  bool emitted = false;

  static MmrtStatus* emit(void* ctx, const int32_t* ids, int64_t n_ids, const MmrtPlaceholderRange* ranges,
                          int64_t n_ranges) {
    return backend::status_boundary("padder output", [&] {
      auto* self = static_cast<PadSink*>(ctx);
      if (n_ids < 0 || n_ranges < 0 || (n_ids && !ids) || (n_ranges && !ranges)) {
        throw backend::StatusError(MMRT_STATUS_INVALID_ARGUMENT, "bad padder output");
      }
      self->result.ids.assign(ids, ids + n_ids);
      self->result.ranges.clear();
      for (int64_t i = 0; i < n_ranges; ++i) {
        self->result.ranges.push_back({ranges[i].item, ranges[i].offset, ranges[i].length});
      }
      self->emitted = true;
    });
  }
  static MmrtStatus* emit_positions(void* ctx, const int32_t* positions3, int64_t n_ids, int64_t delta) {
    return backend::status_boundary("padder positions", [&] {
      auto* self = static_cast<PadSink*>(ctx);
      if (n_ids < 0 || (n_ids && !positions3))
        throw backend::StatusError(MMRT_STATUS_INVALID_ARGUMENT, "bad positions");
      self->result.positions3.assign(positions3, positions3 + 3 * n_ids);
      self->result.next_position_delta = delta;
    });
  }
};

std::string json_text(const boost::json::object& o) {
  return boost::json::serialize(o);
}

// "cpu", "cuda" or "cuda:N".
MmrtDevice parse_device(const std::string& name) {
  if (name == "cpu") return {MMRT_DEVICE_CPU, 0};
  if (name == "cuda") return {MMRT_DEVICE_CUDA, 0};
  if (name.starts_with("cuda:") && name.size() > 5 && name.size() < 9 &&
      name.find_first_not_of("0123456789", 5) == std::string::npos) {
    return {MMRT_DEVICE_CUDA, std::stoi(name.substr(5))};
  }
  throw std::runtime_error("device '" + name + "' is not known (use cpu, cuda or cuda:N)");
}

// The CUDA compute dtype: MMRT_CUDA_DTYPE=f32|bf16|fp16 (f32 is the exactness test mode), bf16 by default.
MmrtDataType cuda_compute_dtype() {
  const char* env = std::getenv("MMRT_CUDA_DTYPE");
  const std::string name = env && *env ? env : "bf16";
  if (name == "bf16") return backend::kBF16;
  if (name == "fp16" || name == "f16") return backend::kF16;
  if (name == "f32" || name == "fp32") return backend::kF32;
  throw std::runtime_error("MMRT_CUDA_DTYPE='" + name + "' is not one of f32, bf16, fp16");
}

// Host tensors copied into one pinned buffer and enqueued to the device, in order. The buffer may be
// reused once the stream has been synchronised (each encode and forward ends with that).
class Uploader {
 public:
  Uploader(backend::PinnedBuffer& staging, size_t total_bytes, MmrtDevice device, const MmrtStream& stream)
      : base_(static_cast<char*>(staging.reserve(total_bytes))), device_(device), stream_(stream) {}

  // Bytes a tensor takes in the staging buffer (rounded so every copy starts aligned).
  static size_t footprint(const MmrtTensor* t) {
    return t ? (size_t(backend::numel(*t)) * backend::dtype_size(t->dtype) + 255) / 256 * 256 : 0;
  }

  // A device copy of a compact host tensor (NULL stays NULL).
  std::optional<backend::Tensor> upload(const MmrtTensor* t) {
    if (!t) return std::nullopt;
    const size_t bytes = size_t(backend::numel(*t)) * backend::dtype_size(t->dtype);
    backend::Tensor out(device_, t->dtype, std::vector<int64_t>(t->shape, t->shape + t->ndim));
    char* slot = base_ + used_;
    if (bytes) std::memcpy(slot, static_cast<const char*>(t->data) + t->byte_offset, bytes);
    used_ += footprint(t);
    backend::copy_bytes(out.data(), device_, slot, {MMRT_DEVICE_CPU, 0}, bytes, stream_);
    return out;
  }

 private:
  char* base_;
  size_t used_ = 0;
  MmrtDevice device_;
  const MmrtStream& stream_;
};

const MmrtTensor* get_or_null(const std::optional<backend::Tensor>& t) {
  return t ? t->get() : nullptr;
}

}  // namespace

Model::Model() : impl_(std::make_unique<Impl>()) {}
Model::~Model() {
  impl_->instance = plugin::Instance();
}

std::unique_ptr<Model> Model::load(const ModelLoadOptions& options, plugin::PluginRegistry& registry) {
  std::unique_ptr<Model> m(new Model());
  m->device_ = parse_device(options.device);
  if (m->device_.device_type == MMRT_DEVICE_CUDA) {
    if (!backend::cuda_compiled()) {
      throw std::runtime_error("device '" + options.device +
                               "' is not available in this build (use --device cpu)");
    }
    backend::cuda_init(m->device_.device_id);
    m->compute_dtype_ = cuda_compute_dtype();
  }
  m->files_ = std::make_unique<model::ModelFiles>(model::ModelFiles::load(options.dir));
  m->name_ = std::filesystem::absolute(options.dir).lexically_normal().filename().string();
  if (m->name_.empty()) m->name_ = std::filesystem::absolute(options.dir).parent_path().filename().string();
  if (m->files_->architectures.empty()) {
    throw std::runtime_error((options.dir / "config.json").string() + " has no \"architectures\" entry");
  }
  m->architecture_ = m->files_->architectures.front();
  m->tokenizer_ = std::make_unique<text::Tokenizer>(text::Tokenizer::from_dir(options.dir));
  // A template that does not compile, or fails on the simplest conversation, fails here rather than on
  // every request; a checkpoint without one is fine (no chat).
  try {
    m->chat_template_ = std::make_unique<text::ChatTemplate>(
        options.chat_template.empty() ? text::ChatTemplate::from_dir(options.dir)
                                      : text::ChatTemplate::from_file(options.chat_template));
    boost::json::object extra;
    for (const char* name : {"bos_token", "eos_token", "unk_token", "pad_token"}) {
      const std::string& value = m->tokenizer_->special_token_string(name);
      if (!value.empty()) extra[name] = value;
    }
    // Templates take content as a string or as a list of parts; either shape rendering is enough.
    const boost::json::array as_parts{boost::json::object{
        {"role", "user"},
        {"content", boost::json::array{boost::json::object{{"type", "text"}, {"text", "Hello"}}}}}};
    const boost::json::array as_string{boost::json::object{{"role", "user"}, {"content", "Hello"}}};
    try {
      m->chat_template_->render(as_parts, true, extra);
    } catch (const text::ChatTemplateError&) {
      m->chat_template_->render(as_string, true, extra);
    }
  } catch (const text::ChatTemplateNotFound& e) {
    spdlog::debug("no chat template: {}", e.what());
  } catch (const text::ChatTemplateError& e) {
    throw std::runtime_error(std::string("model ") + options.dir.string() + ": " + e.what());
  }
  m->eos_ids_ = m->files_->eos_token_ids;

  // Host extensions exist before any plugin code runs, so a plugin may look them up from its entry on.
  plugin::register_host_extension(MMRT_KERNELS_EXTENSION, backend::dispatch_kernels());
  plugin::register_host_extension(MMRT_IMAGE_EXTENSION, backend::image_service());
  Impl& impl = *m->impl_;
  impl.plugin = registry.load_for_architecture(m->architecture_);
  m->plugin_label_ = impl.plugin->id() + "@" + impl.plugin->manifest().version;
  spdlog::info("model {}: {} served by {}", m->name_, m->architecture_, m->plugin_label_);

  if (m->device_.device_type == MMRT_DEVICE_CUDA)
    impl.stream = std::make_unique<backend::DeviceStream>(m->device_);
  impl.checkpoint = std::make_unique<model::Checkpoint>(model::Checkpoint::open(options.dir));
  impl.weights = std::make_unique<backend::WeightStore>(*impl.checkpoint, m->device_, m->compute_dtype_,
                                                        options.progress);

  const std::string config = json_text(m->files_->config);
  const std::string preprocessor = json_text(m->files_->preprocessor_config);
  const std::string dir = options.dir.string();
  MmrtCreateArgs args{};
  args.struct_size = MMRT_SIZEOF(MmrtCreateArgs, compute_dtype);
  args.architecture = m->architecture_.c_str();
  args.model_dir = dir.c_str();
  args.config_json = config.data();
  args.config_json_len = config.size();
  args.preprocessor_config_json = preprocessor.data();
  args.preprocessor_config_json_len = preprocessor.size();
  args.weights_api = impl.weights->api();
  args.weights = impl.weights->handle();
  args.device = m->device_;
  args.compute_dtype = m->compute_dtype_;
  impl.instance = impl.plugin->create(args);

  const std::vector<std::string> unclaimed = impl.weights->unclaimed();
  if (!unclaimed.empty()) {
    std::string list;
    for (size_t i = 0; i < unclaimed.size() && i < 5; ++i) list += (i ? ", " : "") + unclaimed[i];
    throw std::runtime_error(m->plugin_label_ + " did not use " + std::to_string(unclaimed.size()) +
                             " checkpoint tensor(s) of " + dir + " (" + list +
                             (unclaimed.size() > 5 ? ", ..." : "") + "): wrong architecture or layout?");
  }

  m->processor_ = impl.instance.role<MmrtProcessorRole>(MMRT_ROLE_PROCESSOR);
  m->encoder_ = impl.instance.role<MmrtEncoderRole>(MMRT_ROLE_ENCODER);
  m->padder_ = impl.instance.role<MmrtPadderRole>(MMRT_ROLE_PADDER);
  m->decoder_ = impl.instance.role<MmrtDecoderRole>(MMRT_ROLE_DECODER);
  if (!m->decoder_ || !MMRT_HAS_FIELD(m->decoder_, MmrtDecoderRole, forward) || !m->decoder_->forward ||
      !m->decoder_->kv_spec) {
    throw std::runtime_error(m->plugin_label_ + " offers no decoder role for " + m->architecture_);
  }
  // A role whose required slots are missing is treated as not offered, never called through NULL.
  if (m->processor_ &&
      (!MMRT_HAS_FIELD(m->processor_, MmrtProcessorRole, fingerprint) || !m->processor_->process)) {
    m->processor_ = nullptr;
  }
  if (m->encoder_ && (!MMRT_HAS_FIELD(m->encoder_, MmrtEncoderRole, encode) || !m->encoder_->encode ||
                      !m->encoder_->embed_dim)) {
    m->encoder_ = nullptr;
  }
  if (m->padder_ && (!MMRT_HAS_FIELD(m->padder_, MmrtPadderRole, expand) || !m->padder_->expand)) {
    m->padder_ = nullptr;
  }
  m->kv_spec_.struct_size = MMRT_SIZEOF(MmrtKvSpec, max_position);
  check(m->decoder_->kv_spec(impl.instance.handle(), &m->kv_spec_), impl.plugin->id(), "decoder kv_spec");
  const MmrtKvSpec& s = m->kv_spec_;
  if (s.n_layer <= 0 || s.n_head_kv <= 0 || s.head_dim <= 0 || s.vocab_size <= 0 || s.hidden_size <= 0 ||
      (s.position_axes != 1 && s.position_axes != 3)) {
    throw std::runtime_error(m->plugin_label_ + " reported an invalid KV spec");
  }
  m->embed_dim_ = m->encoder_ ? m->encoder_->embed_dim(impl.instance.handle()) : s.hidden_size;
  if (m->encoder_ && m->embed_dim_ != s.hidden_size) {
    throw std::runtime_error(m->plugin_label_ + " encoder writes " + std::to_string(m->embed_dim_) +
                             "-wide embeddings but the decoder's hidden size is " +
                             std::to_string(s.hidden_size));
  }
  if (m->processor_ && m->processor_->fingerprint) {
    const char* fp = m->processor_->fingerprint(impl.instance.handle());
    m->fingerprint_ = fp ? fp : "";
  }
  // Processor settings the processor cannot work with (a negative size, an empty crop) fail here, naming
  // the file, rather than on every request with an image.
  if (m->has_vision()) {
    image::Image probe;
    probe.width = probe.height = 32;
    probe.rgb.assign(size_t(32 * 32 * 3), 128);
    try {
      m->process_image(probe);
    } catch (const std::exception& e) {
      throw std::runtime_error(
          "model " + options.dir.string() +
          ": preprocessor_config.json: the image processor fails on a 32x32 image: " + e.what());
    }
  }
  spdlog::info("model {}: {} layers, {} KV heads x {}, vocab {}, {:.1f} MB of {} weights on {}", m->name_,
               s.n_layer, s.n_head_kv, s.head_dim, s.vocab_size, double(impl.weights->bytes_loaded()) / 1e6,
               backend::dtype_name(m->compute_dtype_), options.device);
  return m;
}

int64_t Model::embed_dim() const {
  return embed_dim_;
}

ProcessedItem Model::process_image(const image::Image& image) const {
  if (!processor_) throw std::runtime_error(architecture_ + " does not take images");
  MmrtImage img{};
  img.struct_size = MMRT_SIZEOF(MmrtImage, alpha);
  img.width = image.width;
  img.height = image.height;
  img.rgb = image.rgb.data();
  img.alpha = image.alpha.empty() ? nullptr : image.alpha.data();
  ProcessorSink sink;
  plugin::PluginLogScope log_scope(impl_->plugin->id());
  MmrtProcessArgs args{};
  args.struct_size = MMRT_SIZEOF(MmrtProcessArgs, out);
  args.image = &img;
  args.out = &sink.out;
  check(processor_->process(impl_->instance.handle(), &args), impl_->plugin->id(), "processor");
  if (sink.pixel_values.empty()) throw std::runtime_error(plugin_label_ + " processor wrote no pixel_values");
  if (sink.out.n_tokens <= 0 || sink.out.n_tokens > (int64_t(1) << 20)) {
    throw std::runtime_error(plugin_label_ + " processor reported " + std::to_string(sink.out.n_tokens) +
                             " tokens");
  }
  ProcessedItem item;
  item.pixel_values = std::move(sink.pixel_values);
  if (!sink.grid_tensor.empty()) {
    const auto* g = sink.grid_tensor.data_as<int64_t>();
    item.grid_thw.assign(g, g + 3);
  }
  item.n_tokens = sink.out.n_tokens;
  item.width = image.width;
  item.height = image.height;
  plugin::Sha256 h;
  h.update(std::as_bytes(std::span(plugin_label_)));
  h.update(std::as_bytes(std::span(fingerprint_)));
  const int32_t dims[2] = {image.width, image.height};
  h.update(std::as_bytes(std::span(dims)));
  h.update(std::as_bytes(std::span(image.rgb)));
  h.update(std::as_bytes(std::span(image.alpha)));
  const auto digest = h.digest();
  std::memcpy(item.content_hash.data(), digest.data(), sizeof(item.content_hash));
  return item;
}

PaddedPrompt Model::pad(const std::vector<int32_t>& ids,
                        const std::vector<const ProcessedItem*>& items) const {
  if (!padder_) {
    if (!items.empty()) throw std::runtime_error(architecture_ + " does not take images");
    return PaddedPrompt{ids, {}, {}, 0};
  }
  std::vector<int64_t> n_tokens;
  std::vector<MmrtImage> sizes(items.size());
  std::vector<const MmrtImage*> size_ptrs;
  for (size_t i = 0; i < items.size(); ++i) {
    n_tokens.push_back(items[i]->n_tokens);
    sizes[i].struct_size = MMRT_SIZEOF(MmrtImage, alpha);
    sizes[i].width = items[i]->width;
    sizes[i].height = items[i]->height;
    size_ptrs.push_back(&sizes[i]);
  }
  PadSink sink;
  plugin::PluginLogScope log_scope(impl_->plugin->id());
  MmrtPadArgs args{};
  args.struct_size = MMRT_SIZEOF(MmrtPadArgs, emit_positions);
  args.ids = ids.data();
  args.n_ids = int64_t(ids.size());
  args.item_n_tokens = n_tokens.data();
  args.n_items = int64_t(items.size());
  args.images = size_ptrs.data();
  args.host_ctx = &sink;
  args.emit = &PadSink::emit;
  args.emit_positions = &PadSink::emit_positions;
  check(padder_->expand(impl_->instance.handle(), &args), impl_->plugin->id(), "padder");
  if (!sink.emitted) throw std::runtime_error(plugin_label_ + " padder returned no result");
  const int64_t n = int64_t(sink.result.ids.size());
  std::vector<bool> seen(items.size(), false);
  for (const auto& r : sink.result.ranges) {
    if (r.item < 0 || r.item >= int64_t(items.size()) || r.offset < 0 || r.offset + r.length > n ||
        r.length != items[size_t(r.item)]->n_tokens || seen[size_t(r.item)]) {
      throw std::runtime_error(plugin_label_ + " padder returned an invalid placeholder range");
    }
    seen[size_t(r.item)] = true;
  }
  for (size_t i = 0; i < items.size(); ++i) {
    if (!seen[i]) {
      throw std::invalid_argument("the prompt has fewer image placeholders than images (image " +
                                  std::to_string(i + 1) + " has none)");
    }
  }
  if (!sink.result.positions3.empty() && int64_t(sink.result.positions3.size()) != 3 * n) {
    throw std::runtime_error(plugin_label_ + " padder returned positions of the wrong length");
  }
  return std::move(sink.result);
}

backend::Tensor Model::encode(const std::vector<const ProcessedItem*>& items) {
  if (!encoder_) throw std::runtime_error(architecture_ + " has no encoder");
  int64_t rows = 0, total = 0;
  std::vector<int64_t> item_tokens;
  std::vector<int64_t> shape = items.at(0)->pixel_values.shape();
  for (const ProcessedItem* item : items) {
    const auto& s = item->pixel_values.shape();
    if (s.size() != shape.size() || !std::equal(s.begin() + 1, s.end(), shape.begin() + 1)) {
      throw std::runtime_error("images of one encoder batch have different pixel shapes");
    }
    rows += s[0];
    total += item->n_tokens;
    item_tokens.push_back(item->n_tokens);
  }
  shape[0] = rows;
  backend::Tensor pixels({MMRT_DEVICE_CPU, 0}, backend::kF32, shape);
  size_t offset = 0;
  std::vector<int64_t> grids;
  for (const ProcessedItem* item : items) {
    std::memcpy(static_cast<char*>(pixels.data()) + offset, item->pixel_values.data(),
                item->pixel_values.nbytes());
    offset += item->pixel_values.nbytes();
    grids.insert(grids.end(), item->grid_thw.begin(), item->grid_thw.end());
  }
  backend::Tensor grid;
  if (grids.size() == 3 * items.size()) {
    grid = backend::Tensor({MMRT_DEVICE_CPU, 0}, backend::kI64, {int64_t(items.size()), 3});
    std::copy(grids.begin(), grids.end(), grid.data_as<int64_t>());
  }
  backend::Tensor embeds(device_, compute_dtype_, {total, embed_dim()});
  plugin::PluginLogScope log_scope(impl_->plugin->id());
  MmrtEncodeArgs args{};
  args.struct_size = MMRT_SIZEOF(MmrtEncodeArgs, stream);
  args.n_items = int32_t(items.size());
  args.image_grid_thw = grid.empty() ? nullptr : grid.get();
  args.item_n_tokens = item_tokens.data();
  args.embeds = embeds.get();
  if (device_.device_type == MMRT_DEVICE_CPU) {
    MmrtStream stream{MMRT_DEVICE_CPU, 0, nullptr};
    args.pixel_values = pixels.get();
    args.stream = &stream;
    check(encoder_->encode(impl_->instance.handle(), &args), impl_->plugin->id(), "encoder");
    return embeds;
  }
  // On a GPU: pixels up, embeddings back to host memory (the engine keeps and slices them on the host).
  const MmrtStream& stream = impl_->stream->stream();
  Uploader uploader(impl_->staging, Uploader::footprint(pixels.get()), device_, stream);
  const std::optional<backend::Tensor> device_pixels = uploader.upload(pixels.get());
  args.pixel_values = device_pixels->get();
  args.stream = &stream;
  check(encoder_->encode(impl_->instance.handle(), &args), impl_->plugin->id(), "encoder");
  backend::Tensor host_embeds = embeds.copy_to({MMRT_DEVICE_CPU, 0}, stream);
  impl_->stream->synchronize();
  return host_embeds;
}

void Model::forward(const MmrtDecodeArgs& args) {
  plugin::PluginLogScope log_scope(impl_->plugin->id());
  if (device_.device_type == MMRT_DEVICE_CPU) {
    check(decoder_->forward(impl_->instance.handle(), &args), impl_->plugin->id(), "decoder");
    return;
  }
  // On a GPU: the engine's host tensors go up in one staged batch, the plugin runs on the model's stream,
  // and the f32 logits come back into the engine's host tensor. The KV cache is already on the device.
  const MmrtStream& stream = impl_->stream->stream();
  const MmrtBatchLayout& host_layout = *args.layout;
  const MmrtTensor* host_inputs[] = {args.input_ids,       args.positions,           host_layout.query_start,
                                     host_layout.seq_lens, host_layout.block_tables, host_layout.slot_mapping,
                                     args.embeds,          args.embeds_rows,         args.logits_rows};
  size_t total = 0;
  for (const MmrtTensor* t : host_inputs) total += Uploader::footprint(t);
  const size_t logits_bytes =
      args.logits ? size_t(backend::numel(*args.logits)) * backend::dtype_size(args.logits->dtype) : 0;
  // One reservation for the uploads and the logits landing area: the buffer must not move while copies
  // from it are queued.
  Uploader uploader(impl_->staging, total + logits_bytes, device_, stream);
  const auto input_ids = uploader.upload(args.input_ids);
  const auto positions = uploader.upload(args.positions);
  const auto query_start = uploader.upload(host_layout.query_start);
  const auto seq_lens = uploader.upload(host_layout.seq_lens);
  const auto block_tables = uploader.upload(host_layout.block_tables);
  const auto slot_mapping = uploader.upload(host_layout.slot_mapping);
  const auto embeds = uploader.upload(args.embeds);
  const auto embeds_rows = uploader.upload(args.embeds_rows);
  const auto logits_rows = uploader.upload(args.logits_rows);

  MmrtBatchLayout layout = host_layout;
  layout.query_start = get_or_null(query_start);
  layout.seq_lens = get_or_null(seq_lens);
  layout.block_tables = get_or_null(block_tables);
  layout.slot_mapping = get_or_null(slot_mapping);
  std::optional<backend::Tensor> logits;
  if (args.logits) {
    logits.emplace(device_, args.logits->dtype,
                   std::vector<int64_t>(args.logits->shape, args.logits->shape + args.logits->ndim));
  }
  MmrtDecodeArgs device_args = args;
  device_args.input_ids = get_or_null(input_ids);
  device_args.positions = get_or_null(positions);
  device_args.layout = &layout;
  device_args.embeds = get_or_null(embeds);
  device_args.embeds_rows = get_or_null(embeds_rows);
  device_args.logits_rows = get_or_null(logits_rows);
  device_args.logits = logits ? logits->get() : nullptr;
  device_args.stream = &stream;
  check(decoder_->forward(impl_->instance.handle(), &device_args), impl_->plugin->id(), "decoder");
  if (logits) {
    // Logits land in the staging buffer (pinned, so the copy is asynchronous), then in the engine's tensor.
    char* landing = static_cast<char*>(impl_->staging.data()) + total;
    backend::copy_bytes(landing, {MMRT_DEVICE_CPU, 0}, logits->data(), device_, logits_bytes, stream);
    impl_->stream->synchronize();
    std::memcpy(static_cast<char*>(args.logits->data) + args.logits->byte_offset, landing, logits_bytes);
  } else {
    impl_->stream->synchronize();
  }
}

}  // namespace mmrt::engine
