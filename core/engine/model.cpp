#include "core/engine/model.hpp"

#include <spdlog/spdlog.h>
#include <boost/json.hpp>
#include <cstring>

#include "core/backend/cpu_kernels.hpp"
#include "core/backend/image_service.hpp"
#include "core/backend/status.hpp"
#include "core/backend/weights.hpp"
#include "core/model/checkpoint.h"
#include "core/model/model_files.h"
#include "core/plugin/host_api.h"
#include "core/plugin/plugin_registry.h"
#include "core/plugin/sha256.h"
#include "core/plugin/status.h"
#include "core/text/template/chat_template.hpp"
#include "core/text/tokenizer.hpp"

namespace mmrt::engine {

struct Model::Impl {
  std::shared_ptr<plugin::LoadedPlugin> plugin;
  std::unique_ptr<model::Checkpoint> checkpoint;
  std::unique_ptr<backend::WeightStore> weights;
  plugin::Instance instance;
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

}  // namespace

Model::Model() : impl_(std::make_unique<Impl>()) {}
Model::~Model() {
  impl_->instance = plugin::Instance();
}

std::unique_ptr<Model> Model::load(const ModelLoadOptions& options, plugin::PluginRegistry& registry) {
  std::unique_ptr<Model> m(new Model());
  if (options.device != "cpu") {
    throw std::runtime_error("device '" + options.device +
                             "' is not available in this build (use --device cpu)");
  }
  m->files_ = std::make_unique<model::ModelFiles>(model::ModelFiles::load(options.dir));
  m->name_ = std::filesystem::absolute(options.dir).lexically_normal().filename().string();
  if (m->name_.empty()) m->name_ = std::filesystem::absolute(options.dir).parent_path().filename().string();
  if (m->files_->architectures.empty()) {
    throw std::runtime_error((options.dir / "config.json").string() + " has no \"architectures\" entry");
  }
  m->architecture_ = m->files_->architectures.front();
  m->tokenizer_ = std::make_unique<text::Tokenizer>(text::Tokenizer::from_dir(options.dir));
  try {
    m->chat_template_ = std::make_unique<text::ChatTemplate>(text::ChatTemplate::from_dir(options.dir));
  } catch (const text::ChatTemplateError& e) {
    spdlog::debug("no chat template: {}", e.what());
  }
  m->eos_ids_ = m->files_->eos_token_ids;

  // Host extensions exist before any plugin code runs, so a plugin may look them up from its entry on.
  plugin::register_host_extension(MMRT_KERNELS_EXTENSION, backend::cpu_kernels());
  plugin::register_host_extension(MMRT_IMAGE_EXTENSION, backend::image_service());
  Impl& impl = *m->impl_;
  impl.plugin = registry.load_for_architecture(m->architecture_);
  m->plugin_label_ = impl.plugin->id() + "@" + impl.plugin->manifest().version;
  spdlog::info("model {}: {} served by {}", m->name_, m->architecture_, m->plugin_label_);

  impl.checkpoint = std::make_unique<model::Checkpoint>(model::Checkpoint::open(options.dir));
  impl.weights = std::make_unique<backend::WeightStore>(*impl.checkpoint, m->device_, backend::kF32);

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
  args.compute_dtype = backend::kF32;
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
  spdlog::info("model {}: {} layers, {} KV heads x {}, vocab {}, {:.1f} MB of weights", m->name_, s.n_layer,
               s.n_head_kv, s.head_dim, s.vocab_size, double(impl.weights->bytes_loaded()) / 1e6);
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
  backend::Tensor pixels(device_, backend::kF32, shape);
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
  backend::Tensor embeds(device_, backend::kF32, {total, embed_dim()});
  MmrtStream stream{device_.device_type, device_.device_id, nullptr};
  plugin::PluginLogScope log_scope(impl_->plugin->id());
  MmrtEncodeArgs args{};
  args.struct_size = MMRT_SIZEOF(MmrtEncodeArgs, stream);
  args.n_items = int32_t(items.size());
  args.pixel_values = pixels.get();
  args.image_grid_thw = grid.empty() ? nullptr : grid.get();
  args.item_n_tokens = item_tokens.data();
  args.embeds = embeds.get();
  args.stream = &stream;
  check(encoder_->encode(impl_->instance.handle(), &args), impl_->plugin->id(), "encoder");
  return embeds;
}

void Model::forward(const MmrtDecodeArgs& args) {
  plugin::PluginLogScope log_scope(impl_->plugin->id());
  check(decoder_->forward(impl_->instance.handle(), &args), impl_->plugin->id(), "decoder");
}

}  // namespace mmrt::engine
