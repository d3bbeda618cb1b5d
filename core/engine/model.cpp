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
  // A 1.0 plugin's decoder table copied into the 1.1 layout, so later slots read as NULL.
  MmrtDecoderRole decoder_1_0{};
};

namespace {

using backend::operator==;

void check(MmrtStatus* status, const std::string& plugin_id, const char* what) {
  plugin::throw_if_error(status, plugin_id, what);
}

// Where a processor call writes its tensors: host memory that becomes the ProcessedItem's.
struct ProcessorSink {
  static constexpr size_t kMaxOutputs = 16, kMaxNameBytes = 64;
  MmrtProcessorOutput out{};
  backend::Tensor pixel_values;
  std::vector<ProcessedItem::Metadata> metadata;

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
      const std::string which(name, strnlen(name, kMaxNameBytes + 1));
      if (which.empty() || which.size() > kMaxNameBytes)
        throw backend::StatusError(MMRT_STATUS_INVALID_ARGUMENT, "output names are 1 to 64 bytes");
      if (backend::dtype_size(dtype) == 0 || dtype.lanes != 1)
        throw backend::StatusError(MMRT_STATUS_INVALID_ARGUMENT,
                                   "output '" + which + "' has an unknown dtype");
      std::vector<int64_t> dims(shape, shape + ndim);
      int64_t n = 1;
      for (int64_t d : dims) {
        if (d < 0 || d > (int64_t(1) << 32))
          throw backend::StatusError(MMRT_STATUS_INVALID_ARGUMENT, "bad dim");
        n *= d;
        if (n > (int64_t(1) << 30))
          throw backend::StatusError(MMRT_STATUS_RESOURCE_EXHAUSTED, "output too large");
      }
      if (which == "pixel_values") {
        if (!(dtype == backend::kF32))
          throw backend::StatusError(MMRT_STATUS_INVALID_ARGUMENT, "pixel_values must be f32");
        self->pixel_values = backend::Tensor({MMRT_DEVICE_CPU, 0}, dtype, dims);
        *data = self->pixel_values.data();
        return;
      }
      auto it = std::find_if(self->metadata.begin(), self->metadata.end(),
                             [&](const ProcessedItem::Metadata& m) { return m.name == which; });
      if (it == self->metadata.end()) {
        if (self->metadata.size() + 1 >= kMaxOutputs)
          throw backend::StatusError(MMRT_STATUS_RESOURCE_EXHAUSTED, "more than 16 processor outputs");
        it = self->metadata.insert(self->metadata.end(), {which, {}});
      }
      it->tensor = backend::Tensor({MMRT_DEVICE_CPU, 0}, dtype, dims);
      *data = it->tensor.data();
    });
  }
};

// The ABI view of items' metadata: one MmrtItemData per item, pointing into the items (which outlive it).
class ItemDataViews {
 public:
  explicit ItemDataViews(const std::vector<const ProcessedItem*>& items) : views_(items.size()) {
    for (size_t i = 0; i < items.size(); ++i) {
      View& v = views_[i];
      for (const auto& m : items[i]->metadata) {
        v.names.push_back(m.name.c_str());
        v.tensors.push_back(m.tensor.get());
      }
      v.data.struct_size = MMRT_SIZEOF(MmrtItemData, tensors);
      v.data.n_tensors = int32_t(v.names.size());
      v.data.names = v.names.data();
      v.data.tensors = v.tensors.data();
      pointers_.push_back(&v.data);
    }
  }
  const MmrtItemData* const* get() const { return pointers_.data(); }

 private:
  struct View {
    std::vector<const char*> names;
    std::vector<const MmrtTensor*> tensors;
    MmrtItemData data{};
  };
  std::vector<View> views_;
  std::vector<const MmrtItemData*> pointers_;
};

// The 1.0 image_grid_thw argument: [n_items, 3] when every item carries an int64 [3] "image_grid_thw".
backend::Tensor legacy_grid_thw(const std::vector<const ProcessedItem*>& items) {
  std::vector<int64_t> grids;
  for (const ProcessedItem* item : items) {
    for (const auto& m : item->metadata) {
      if (m.name == "image_grid_thw" && m.tensor.view().dtype == backend::kI64 && m.tensor.numel() == 3) {
        const auto* g = m.tensor.data_as<int64_t>();
        grids.insert(grids.end(), g, g + 3);
      }
    }
  }
  if (items.empty() || grids.size() != 3 * items.size()) return {};
  backend::Tensor grid({MMRT_DEVICE_CPU, 0}, backend::kI64, {int64_t(items.size()), 3});
  std::copy(grids.begin(), grids.end(), grid.data_as<int64_t>());
  return grid;
}

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
  static MmrtStatus* emit_encoder_input(void* ctx, const int32_t* ids, int64_t n_ids,
                                        const MmrtPlaceholderRange* ranges, int64_t n_ranges) {
    return backend::status_boundary("padder encoder input", [&] {
      auto* self = static_cast<PadSink*>(ctx);
      if (n_ids < 0 || n_ranges < 0 || (n_ids && !ids) || (n_ranges && !ranges)) {
        throw backend::StatusError(MMRT_STATUS_INVALID_ARGUMENT, "bad encoder input");
      }
      TokenRuns runs;
      runs.ids.assign(ids, ids + n_ids);
      for (int64_t i = 0; i < n_ranges; ++i)
        runs.ranges.push_back({ranges[i].item, ranges[i].offset, ranges[i].length});
      self->result.encoder = std::move(runs);
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

  // Bytes a host tensor takes in the staging buffer (rounded so every copy starts aligned).
  static size_t footprint(const MmrtTensor* t) {
    if (!t || t->device.device_type != MMRT_DEVICE_CPU) return 0;
    return (size_t(backend::numel(*t)) * backend::dtype_size(t->dtype) + 255) / 256 * 256;
  }

  // A device copy of a compact host tensor (NULL, and a tensor already on the device, stay as they are).
  std::optional<backend::Tensor> upload(const MmrtTensor* t) {
    if (!t || t->device.device_type != MMRT_DEVICE_CPU) return std::nullopt;
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

// The device copy when there is one, else the tensor as given (NULL, or already on the device).
const MmrtTensor* on_device(const std::optional<backend::Tensor>& copy, const MmrtTensor* original) {
  return copy ? copy->get() : original;
}

const MmrtStream kCpuStream{MMRT_DEVICE_CPU, 0, nullptr};

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
  if (!MMRT_HAS_FIELD(m->decoder_, MmrtDecoderRole, encode_memory)) {
    MmrtDecoderRole* copy = &impl.decoder_1_0;
    std::memcpy(copy, m->decoder_, m->decoder_->struct_size);
    copy->encode_memory = nullptr;
    m->decoder_ = copy;
  }
  m->kv_spec_.struct_size = MMRT_SIZEOF(MmrtKvSpec, max_encoder_len);
  check(m->decoder_->kv_spec(impl.instance.handle(), &m->kv_spec_), impl.plugin->id(), "decoder kv_spec");
  MmrtKvSpec& s = m->kv_spec_;
  if (s.n_layer <= 0 || s.n_head_kv <= 0 || s.head_dim <= 0 || s.vocab_size <= 0 || s.hidden_size <= 0 ||
      (s.position_axes != 1 && s.position_axes != 3) || s.n_cross_layer < 0) {
    throw std::runtime_error(m->plugin_label_ + " reported an invalid KV spec");
  }
  if (s.n_cross_layer > 0) {
    // The cross geometry and decoder start are 1.1 fields: a 1.0 plugin cannot describe them.
    if (impl.plugin->manifest().abi.built_minor < 1) {
      throw std::runtime_error(m->plugin_label_ +
                               " reports cross-attention layers but was built against ABI 1.0; " +
                               "encoder-decoder models need a plugin built against 1.1");
    }
    if (s.cross_n_head_kv == 0) s.cross_n_head_kv = s.n_head_kv;
    if (s.cross_head_dim == 0) s.cross_head_dim = s.head_dim;
    if (s.memory_dim == 0) s.memory_dim = s.hidden_size;
    if (s.max_encoder_len == 0) s.max_encoder_len = s.max_position;
    if (s.cross_n_head_kv < 0 || s.cross_head_dim < 0 || s.memory_dim < 0 || s.max_encoder_len <= 0 ||
        s.decoder_start_token_id < 0 || s.decoder_start_token_id >= s.vocab_size) {
      throw std::runtime_error(m->plugin_label_ + " reported an invalid encoder-decoder KV spec");
    }
  }
  if (m->encoder_) {
    if (MMRT_HAS_FIELD(m->encoder_, MmrtEncoderRole, get_embed_dim) && m->encoder_->get_embed_dim) {
      check(m->encoder_->get_embed_dim(impl.instance.handle(), &m->embed_dim_), impl.plugin->id(),
            "encoder embed_dim");
    } else {
      m->embed_dim_ = m->encoder_->embed_dim(impl.instance.handle());
    }
    if (m->embed_dim_ <= 0)
      throw std::runtime_error(m->plugin_label_ + " encoder reported embed_dim " +
                               std::to_string(m->embed_dim_));
  } else {
    m->embed_dim_ = s.hidden_size;
  }
  const int64_t injected_width =
      s.n_cross_layer > 0 && !m->has_encode_memory() ? s.memory_dim : s.hidden_size;
  if (m->encoder_ && m->embed_dim_ != injected_width) {
    throw std::runtime_error(m->plugin_label_ + " encoder writes " + std::to_string(m->embed_dim_) +
                             "-wide embeddings but the model takes " + std::to_string(injected_width) +
                             "-wide rows");
  }
  if (m->processor_) {
    const char* fp = nullptr;
    if (MMRT_HAS_FIELD(m->processor_, MmrtProcessorRole, get_fingerprint) && m->processor_->get_fingerprint) {
      check(m->processor_->get_fingerprint(impl.instance.handle(), &fp), impl.plugin->id(),
            "processor fingerprint");
    } else {
      fp = m->processor_->fingerprint(impl.instance.handle());
    }
    // An empty fingerprint would alias every setting in the caches' keys.
    if (!fp || !*fp) throw std::runtime_error(m->plugin_label_ + " processor reported no fingerprint");
    m->fingerprint_ = fp;
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
  spdlog::info(
      "model {}: {} layers, {} KV heads x {}, vocab {}, weights on {}: {:.1f} MB converted to {}, "
      "{:.1f} MB used as stored in the mapped checkpoint",
      m->name_, s.n_layer, s.n_head_kv, s.head_dim, s.vocab_size, options.device,
      double(impl.weights->bytes_loaded()) / 1e6, backend::dtype_name(m->compute_dtype_),
      double(impl.weights->bytes_mapped()) / 1e6);
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
  item.metadata = std::move(sink.metadata);
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
    PaddedPrompt plain;
    if (is_encoder_decoder()) {
      plain.encoder = TokenRuns{ids, {}};
    } else {
      plain.ids = ids;
    }
    return plain;
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
  const ItemDataViews item_data(items);
  plugin::PluginLogScope log_scope(impl_->plugin->id());
  MmrtPadArgs args{};
  args.struct_size = MMRT_SIZEOF(MmrtPadArgs, emit_encoder_input);
  args.item_data = item_data.get();
  args.emit_encoder_input = &PadSink::emit_encoder_input;
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
  PaddedPrompt& result = sink.result;
  if (result.encoder && !is_encoder_decoder())
    throw std::runtime_error(plugin_label_ + " padder emitted an encoder input for a decoder-only model");
  if (is_encoder_decoder() && !result.encoder) {
    // The memory is the items' embeddings alone: an encoder input made only of their runs.
    TokenRuns runs;
    for (size_t i = 0; i < items.size(); ++i) {
      runs.ranges.push_back({int64_t(i), int64_t(runs.ids.size()), items[i]->n_tokens});
      runs.ids.resize(runs.ids.size() + size_t(items[i]->n_tokens), 0);
    }
    result.encoder = std::move(runs);
  }
  std::vector<bool> seen(items.size(), false);
  const auto check_runs = [&](const std::vector<int32_t>& run_ids,
                              const std::vector<PlaceholderRange>& ranges) {
    const int64_t n = int64_t(run_ids.size());
    for (const auto& r : ranges) {
      if (r.item < 0 || r.item >= int64_t(items.size()) || r.offset < 0 || r.offset + r.length > n ||
          r.length != items[size_t(r.item)]->n_tokens || seen[size_t(r.item)]) {
        throw std::runtime_error(plugin_label_ + " padder returned an invalid placeholder range");
      }
      seen[size_t(r.item)] = true;
    }
  };
  check_runs(result.ids, result.ranges);
  if (result.encoder) check_runs(result.encoder->ids, result.encoder->ranges);
  for (size_t i = 0; i < items.size(); ++i) {
    if (!seen[i]) {
      throw std::invalid_argument("the prompt has fewer image placeholders than images (image " +
                                  std::to_string(i + 1) + " has none)");
    }
  }
  if (!result.positions3.empty() && result.positions3.size() != 3 * result.ids.size()) {
    throw std::runtime_error(plugin_label_ + " padder returned positions of the wrong length");
  }
  return std::move(result);
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
  std::vector<int64_t> pixel_rows;
  for (const ProcessedItem* item : items) {
    std::memcpy(static_cast<char*>(pixels.data()) + offset, item->pixel_values.data(),
                item->pixel_values.nbytes());
    offset += item->pixel_values.nbytes();
    pixel_rows.push_back(item->pixel_values.shape()[0]);
  }
  const backend::Tensor grid = legacy_grid_thw(items);
  const ItemDataViews item_data(items);
  backend::Tensor embeds(device_, compute_dtype_, {total, embed_dim()});
  plugin::PluginLogScope log_scope(impl_->plugin->id());
  MmrtEncodeArgs args{};
  args.struct_size = MMRT_SIZEOF(MmrtEncodeArgs, item_data);
  args.n_items = int32_t(items.size());
  args.image_grid_thw = grid.empty() ? nullptr : grid.get();
  args.item_n_tokens = item_tokens.data();
  args.item_pixel_rows = pixel_rows.data();
  args.item_data = item_data.get();
  args.embeds = embeds.get();
  if (device_.device_type == MMRT_DEVICE_CPU) {
    args.pixel_values = pixels.get();
    args.stream = &kCpuStream;
    check(encoder_->encode(impl_->instance.handle(), &args), impl_->plugin->id(), "encoder");
    return embeds;
  }
  const MmrtStream& stream = impl_->stream->stream();
  Uploader uploader(impl_->staging, Uploader::footprint(pixels.get()), device_, stream);
  const std::optional<backend::Tensor> device_pixels = uploader.upload(pixels.get());
  args.pixel_values = device_pixels->get();
  args.stream = &stream;
  check(encoder_->encode(impl_->instance.handle(), &args), impl_->plugin->id(), "encoder");
  // The staging buffer is reused by the next call: the upload must have landed.
  impl_->stream->synchronize();
  return embeds;
}

const MmrtStream& Model::stream() const {
  return impl_->stream ? impl_->stream->stream() : kCpuStream;
}

backend::Tensor Model::encode_memory(const std::vector<int32_t>& ids, const std::vector<int32_t>& query_start,
                                     const backend::Tensor& embeds, const std::vector<int32_t>& embeds_rows) {
  if (!has_encode_memory()) throw std::runtime_error(plugin_label_ + " has no encode_memory slot");
  const MmrtDevice cpu{MMRT_DEVICE_CPU, 0};
  const int64_t n_tokens = int64_t(ids.size());
  backend::Tensor host_ids(cpu, backend::kI32, {n_tokens});
  std::copy(ids.begin(), ids.end(), host_ids.data_as<int32_t>());
  backend::Tensor host_rows(cpu, backend::kI32, {int64_t(embeds_rows.size())});
  std::copy(embeds_rows.begin(), embeds_rows.end(), host_rows.data_as<int32_t>());
  backend::Tensor memory(device_, compute_dtype_, {n_tokens, kv_spec_.memory_dim});
  const MmrtStream& s = stream();
  const bool on_gpu = device_.device_type != MMRT_DEVICE_CPU;
  std::optional<backend::Tensor> device_ids, device_rows;
  if (on_gpu) {
    Uploader uploader(impl_->staging,
                      Uploader::footprint(host_ids.get()) + Uploader::footprint(host_rows.get()), device_, s);
    device_ids = uploader.upload(host_ids.get());
    device_rows = uploader.upload(host_rows.get());
  }
  MmrtMemoryArgs args{};
  args.struct_size = MMRT_SIZEOF(MmrtMemoryArgs, stream);
  args.n_seqs = int32_t(query_start.size()) - 1;
  args.n_tokens = n_tokens;
  args.input_ids = on_device(device_ids, host_ids.get());
  args.query_start_host = query_start.data();
  args.embeds = embeds.empty() ? nullptr : embeds.get();
  args.embeds_rows = embeds.empty() ? nullptr : on_device(device_rows, host_rows.get());
  args.memory = memory.get();
  args.stream = &s;
  plugin::PluginLogScope log_scope(impl_->plugin->id());
  check(decoder_->encode_memory(impl_->instance.handle(), &args), impl_->plugin->id(),
        "decoder encode_memory");
  if (on_gpu) impl_->stream->synchronize();
  return memory;
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
  const MmrtBatchLayout* host_cross = args.cross_layout;
  const MmrtTensor* host_inputs[] = {args.input_ids,
                                     args.positions,
                                     host_layout.query_start,
                                     host_layout.seq_lens,
                                     host_layout.block_tables,
                                     host_layout.slot_mapping,
                                     args.embeds,
                                     args.embeds_rows,
                                     args.logits_rows,
                                     host_cross ? host_cross->seq_lens : nullptr,
                                     host_cross ? host_cross->block_tables : nullptr,
                                     host_cross ? host_cross->slot_mapping : nullptr};
  size_t total = 0;
  for (const MmrtTensor* t : host_inputs) total += Uploader::footprint(t);
  const size_t logits_bytes =
      args.logits ? size_t(backend::numel(*args.logits)) * backend::dtype_size(args.logits->dtype) : 0;
  // One reservation for the uploads and the logits landing area: the buffer must not move while copies
  // from it are queued.
  Uploader uploader(impl_->staging, total + logits_bytes, device_, stream);
  std::vector<std::optional<backend::Tensor>> copies;
  for (const MmrtTensor* t : host_inputs) copies.push_back(uploader.upload(t));
  const auto device_of = [&](size_t i) { return on_device(copies[i], host_inputs[i]); };

  MmrtBatchLayout layout = host_layout;
  layout.query_start = device_of(2);
  layout.seq_lens = device_of(3);
  layout.block_tables = device_of(4);
  layout.slot_mapping = device_of(5);
  MmrtBatchLayout cross_layout{};
  if (host_cross) {
    cross_layout = *host_cross;
    cross_layout.query_start = layout.query_start;
    cross_layout.seq_lens = device_of(9);
    cross_layout.block_tables = device_of(10);
    cross_layout.slot_mapping = device_of(11);
  }
  std::optional<backend::Tensor> logits;
  if (args.logits) {
    logits.emplace(device_, args.logits->dtype,
                   std::vector<int64_t>(args.logits->shape, args.logits->shape + args.logits->ndim));
  }
  MmrtDecodeArgs device_args = args;
  device_args.input_ids = device_of(0);
  device_args.positions = device_of(1);
  device_args.layout = &layout;
  device_args.embeds = device_of(6);
  device_args.embeds_rows = device_of(7);
  device_args.logits_rows = device_of(8);
  if (host_cross) device_args.cross_layout = &cross_layout;
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
