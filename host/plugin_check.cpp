#include "host/plugin_check.hpp"

#include <dlfcn.h>
#include <malloc.h>

#include <algorithm>
#include <array>
#include <boost/json.hpp>
#include <cmath>
#include <cstring>
#include <functional>
#include <map>
#include <thread>

#include "core/backend/image_service.hpp"
#include "core/backend/kernels_dispatch.hpp"
#include "core/backend/weights.hpp"
#include "core/model/checkpoint.hpp"
#include "core/model/model_files.hpp"
#include "core/plugin/host_api.hpp"
#include "core/plugin/library_check.hpp"
#include "core/plugin/loaded_plugin.hpp"
#include "core/plugin/manifest.hpp"
#include "core/plugin/sha256.hpp"
#include "core/plugin/status.hpp"

namespace mmrt::host::plugin_check {

namespace fs = std::filesystem;

namespace {

[[noreturn]] void fail(const std::string& why) {
  throw CheckFailed(why);
}

// A struct_size beyond this is garbage, not a newer minor.
constexpr uint32_t kMaxPlausibleStructSize = 64 * 1024;
// The smallest struct a writer can hand over: just MMRT_STRUCT_PREFIX. Slots given it must refuse it.
constexpr uint32_t kPrefixOnly = MMRT_SIZEOF(MmrtExt, next);
constexpr int kThreads = 4;
constexpr int kCallsPerThread = 16;

// Runs a call into the plugin; a C++ exception that crosses the ABI fails the check.
template <class Call>
auto plugin_call(const std::string& what, Call&& call) {
  try {
    return call();
  } catch (const std::exception& error) {
    fail(what + " threw a C++ exception across the ABI (" + error.what() + "); return a status instead");
  } catch (...) {
    fail(what + " threw a non-standard C++ exception across the ABI; return a status instead");
  }
}

std::string take_message(MmrtStatus* status) {
  plugin::StatusPtr owned(status);
  return "[" + plugin::status_code_name(owned->code) + "] " + owned->message;
}

void expect_ok(MmrtStatus* status, const std::string& what) {
  if (status != nullptr) fail(what + " failed: " + take_message(status));
}

// Bad arguments must come back as an error status, never as success.
void expect_error(MmrtStatus* status, const std::string& what) {
  if (status == nullptr) fail(what + " returned success; it must return an error status");
  plugin::StatusPtr owned(status);
}

void expect_code(MmrtStatus* status, int32_t code, const std::string& what) {
  if (status == nullptr)
    fail(what + " returned success; it must refuse with " + plugin::status_code_name(code));
  plugin::StatusPtr owned(status);
  if (owned->code != code) {
    fail(what + " returned " + plugin::status_code_name(owned->code) + " (" + owned->message +
         "), expected " + plugin::status_code_name(code));
  }
}

MmrtStatus* error_status(int32_t code, const std::string& message) {
  return plugin::host_api()->status_new(code, message.data(), message.size());
}

fs::path manifest_path_of(const fs::path& library) {
  return library.parent_path() / (library.stem().string() + ".mmrt.json");
}

// The weights of a plugin created without --model: none.
MmrtStatus* no_weight(MmrtWeights*, const char* name, MmrtTensor*) {
  const std::string message = std::string("no checkpoint given (mmrt plugin-check --model DIR): no tensor ") +
                              (name ? name : "(null)");
  return error_status(MMRT_STATUS_NOT_FOUND, message);
}
int32_t contains_none(MmrtWeights*, const char*) {
  return 0;
}
uint64_t count_none(MmrtWeights*) {
  return 0;
}
const char* name_none(MmrtWeights*, uint64_t) {
  return nullptr;
}
void ignore_none(MmrtWeights*, const char*) {}
constexpr MmrtWeightsApi kNoWeights = {MMRT_SIZEOF(MmrtWeightsApi, ignore),
                                       0,
                                       nullptr,
                                       no_weight,
                                       contains_none,
                                       count_none,
                                       name_none,
                                       ignore_none};

}  // namespace

class Subject {
 public:
  explicit Subject(const CheckTarget& target) : target_(target) {
    plugin::register_host_extension(MMRT_KERNELS_EXTENSION, backend::dispatch_kernels());
    plugin::register_host_extension(MMRT_IMAGE_EXTENSION, backend::image_service());
  }
  ~Subject() { instance_ = plugin::Instance(); }

  const CheckTarget& target() const { return target_; }

  const plugin::PluginManifest& manifest() {
    if (!manifest_) {
      try {
        manifest_ = plugin::read_manifest(manifest_path_of(target_.library));
      } catch (const std::exception& error) {
        fail(error.what());
      }
    }
    return *manifest_;
  }

  // Loaded exactly as the host loads it (sha256, dlopen, entry, descriptor, init).
  plugin::LoadedPlugin& loaded() {
    if (!loaded_) {
      try {
        loaded_ = plugin::load_plugin(manifest());
      } catch (const std::exception& error) {
        fail(error.what());
      }
    }
    return *loaded_;
  }
  const MmrtPluginApi& api() { return loaded().api(); }

  // What every create of this process gets: the --model checkpoint, or an empty config and no weights.
  const MmrtCreateArgs& create_args() {
    if (args_.struct_size != 0) return args_;
    args_.struct_size = MMRT_SIZEOF(MmrtCreateArgs, compute_dtype);
    args_.device = {MMRT_DEVICE_CPU, 0};
    args_.compute_dtype = {MMRT_DTYPE_FLOAT, 32, 1};
    if (target_.model) {
      try {
        files_ = std::make_unique<model::ModelFiles>(model::ModelFiles::load(*target_.model));
        checkpoint_ = std::make_unique<model::Checkpoint>(model::Checkpoint::open(*target_.model));
        weights_ = std::make_unique<backend::WeightStore>(*checkpoint_, args_.device, args_.compute_dtype);
      } catch (const std::exception& error) {
        fail(std::string("cannot read the --model checkpoint: ") + error.what());
      }
      if (files_->architectures.empty()) fail("the --model config.json has no \"architectures\"");
      architecture_ = files_->architectures.front();
      config_ = boost::json::serialize(files_->config);
      preprocessor_ = boost::json::serialize(files_->preprocessor_config);
      model_dir_ = target_.model->string();
      args_.weights_api = weights_->api();
      args_.weights = weights_->handle();
    } else {
      architecture_ = manifest().architectures.front();
      config_ = "{}";
      preprocessor_ = "{}";
      args_.weights_api = &kNoWeights;
      args_.weights = reinterpret_cast<MmrtWeights*>(&args_);  // any non-NULL handle: kNoWeights ignores it
    }
    args_.architecture = architecture_.c_str();
    args_.model_dir = model_dir_.c_str();
    args_.config_json = config_.data();
    args_.config_json_len = config_.size();
    args_.preprocessor_config_json = preprocessor_.data();
    args_.preprocessor_config_json_len = preprocessor_.size();
    return args_;
  }

  plugin::Instance create() {
    const MmrtCreateArgs& args = create_args();
    try {
      return loaded().create(args);
    } catch (const CheckFailed&) {
      throw;
    } catch (const std::exception& error) {
      fail(std::string("create for ") + args.architecture + " failed: " + error.what() +
           (target_.model ? "" : " (without --model it gets config \"{}\" and no weights)"));
    }
  }

  // One instance that the role checks share.
  plugin::Instance& instance() {
    if (instance_.empty()) instance_ = create();
    return instance_;
  }

  std::vector<std::string> notes;

 private:
  CheckTarget target_;
  std::optional<plugin::PluginManifest> manifest_;
  std::shared_ptr<plugin::LoadedPlugin> loaded_;
  std::unique_ptr<model::ModelFiles> files_;
  std::unique_ptr<model::Checkpoint> checkpoint_;
  std::unique_ptr<backend::WeightStore> weights_;
  std::string architecture_, config_, preprocessor_, model_dir_;
  MmrtCreateArgs args_{};
  plugin::Instance instance_;  // last: destroyed before the weights and the plugin it needs
};

namespace {

// ---- Per-role checks -------------------------------------------------------------------------------------

struct Slot {
  const char* name;
  size_t offset;
};
#define MMRT_CHECK_SLOT(table, field) \
  Slot {                              \
#field, offsetof(table, field)    \
  }

// What this host knows of one role: its table and the checks that drive it.
struct RoleSpec {
  const char* id;           // MMRT_ROLE_*
  const char* table;        // the C struct get_role returns
  uint32_t min_size;        // MMRT_SIZEOF(table, its last slot in the minor this host is built for)
  std::vector<Slot> slots;  // every slot the host calls
  void (*bad_arguments)(Subject&, const void* table);
  void (*calls)(Subject&, const void* table);
  void (*concurrent)(Subject&, const void* table);  // nullptr when no slot is [thread-safe]
};

const std::vector<RoleSpec>& role_specs();

const RoleSpec* find_role(const std::string& id) {
  for (const RoleSpec& spec : role_specs()) {
    if (id == spec.id) return &spec;
  }
  return nullptr;
}

// The role table the instance hands out for `spec`, checked for size and slots.
const void* role_table(Subject& s, const RoleSpec& spec) {
  plugin::Instance& instance = s.instance();
  const void* table = plugin_call("get_role", [&] { return s.api().get_role(instance.handle(), spec.id); });
  if (table == nullptr)
    fail(std::string("get_role returned NULL for ") + spec.id + ", which the descriptor declares");
  uint32_t size = 0;
  std::memcpy(&size, table, sizeof(size));
  if (size < spec.min_size) {
    fail(std::string(spec.table) + ".struct_size is " + std::to_string(size) + ", smaller than the " +
         std::to_string(spec.min_size) + " bytes of its slots (set it with MMRT_SIZEOF(" + spec.table + ", " +
         spec.slots.back().name + "))");
  }
  if (size > kMaxPlausibleStructSize) {
    fail(std::string(spec.table) + ".struct_size " + std::to_string(size) + " is implausible");
  }
  for (const Slot& slot : spec.slots) {
    void* fn = nullptr;
    std::memcpy(&fn, static_cast<const char*>(table) + slot.offset, sizeof(fn));
    if (fn == nullptr) fail(std::string(spec.table) + "." + slot.name + " is NULL");
  }
  return table;
}

MmrtInstance* handle(Subject& s) {
  return s.instance().handle();
}

// Runs `call` on kThreads threads kCallsPerThread times each; every result must equal `reference`.
template <class Result>
void hammer(const std::string& what, const Result& reference, const std::function<Result()>& call) {
  std::vector<std::string> problems(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      try {
        for (int i = 0; i < kCallsPerThread; ++i) {
          if (!(call() == reference)) {
            problems[t] = what + " gave a different result when called from several threads at once";
            return;
          }
        }
      } catch (const std::exception& error) {
        problems[t] = error.what();
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  for (const std::string& problem : problems) {
    if (!problem.empty()) fail(problem + " (the slot is [thread-safe])");
  }
}

// processor
// --------------------------------------------------------------------------------------------------

// A 48x40 RGB gradient: enough for any image processor to resize, crop and normalise.
struct TestImage {
  std::vector<uint8_t> rgb;
  MmrtImage image{};
  TestImage() : rgb(48 * 40 * 3) {
    for (size_t i = 0; i < rgb.size(); ++i) rgb[i] = uint8_t((i * 7) % 251);
    image.struct_size = MMRT_SIZEOF(MmrtImage, alpha);
    image.width = 48;
    image.height = 40;
    image.rgb = rgb.data();
  }
};

// Where a processor writes; what it wrote, comparable between calls.
struct ProcessorResult {
  std::map<std::string, std::pair<std::vector<int64_t>, std::vector<uint8_t>>> tensors;
  std::map<std::string, std::array<uint32_t, 2>> dtypes;  // {code, bits} of each tensor
  int64_t n_tokens = 0;
  bool operator==(const ProcessorResult&) const = default;
};

struct ProcessorSink {
  MmrtProcessorOutput out{};
  ProcessorResult result;
  ProcessorSink() {
    out.struct_size = MMRT_SIZEOF(MmrtProcessorOutput, n_tokens);
    out.host_ctx = this;
    out.alloc_tensor = &alloc;
  }
  static MmrtStatus* alloc(void* ctx, const char* name, MmrtDataType dtype, int32_t ndim,
                           const int64_t* shape, void** data) {
    auto* self = static_cast<ProcessorSink*>(ctx);
    if (name == nullptr || data == nullptr || ndim < 0 || ndim > 8 || (ndim > 0 && shape == nullptr)) {
      return error_status(MMRT_STATUS_INVALID_ARGUMENT, "bad alloc_tensor call");
    }
    int64_t n = 1;
    for (int32_t i = 0; i < ndim; ++i) {
      if (shape[i] < 0 || shape[i] > (int64_t(1) << 24)) {
        return error_status(MMRT_STATUS_INVALID_ARGUMENT, "bad dim");
      }
      n *= shape[i];
    }
    if (n > (int64_t(1) << 28)) return error_status(MMRT_STATUS_RESOURCE_EXHAUSTED, "output too large");
    self->result.dtypes[name] = {dtype.code, dtype.bits};
    auto& [dims, bytes] = self->result.tensors[name];
    dims.assign(shape, shape + ndim);
    bytes.assign(size_t(n) * ((dtype.bits + 7) / 8), 0);
    *data = bytes.data();
    return nullptr;
  }
};

ProcessorResult process_test_image(Subject& s, const MmrtProcessorRole& role) {
  TestImage image;
  ProcessorSink sink;
  MmrtProcessArgs args{};
  args.struct_size = MMRT_SIZEOF(MmrtProcessArgs, out);
  args.image = &image.image;
  args.out = &sink.out;
  expect_ok(plugin_call("processor.process", [&] { return role.process(handle(s), &args); }),
            "processor.process of a 48x40 image");
  sink.result.n_tokens = sink.out.n_tokens;
  return sink.result;
}

void processor_bad_arguments(Subject& s, const void* table) {
  const auto& role = *static_cast<const MmrtProcessorRole*>(table);
  expect_error(plugin_call("processor.process", [&] { return role.process(handle(s), nullptr); }),
               "processor.process with NULL args");
  TestImage image;
  ProcessorSink sink;
  MmrtProcessArgs args{};
  args.struct_size = kPrefixOnly;
  args.image = &image.image;
  args.out = &sink.out;
  expect_error(plugin_call("processor.process", [&] { return role.process(handle(s), &args); }),
               "processor.process with a struct_size that ends before MmrtProcessArgs.image");
  args.struct_size = MMRT_SIZEOF(MmrtProcessArgs, out);
  args.image = nullptr;
  expect_error(plugin_call("processor.process", [&] { return role.process(handle(s), &args); }),
               "processor.process with a NULL image");
}

void processor_calls(Subject& s, const void* table) {
  const auto& role = *static_cast<const MmrtProcessorRole*>(table);
  const ProcessorResult result = process_test_image(s, role);
  if (!result.tensors.count("pixel_values")) fail("processor.process wrote no \"pixel_values\"");
  if (result.n_tokens <= 0 || result.n_tokens > (int64_t(1) << 20)) {
    fail("processor.process set n_tokens to " + std::to_string(result.n_tokens));
  }
  const char* fingerprint = plugin_call("processor.fingerprint", [&] { return role.fingerprint(handle(s)); });
  if (fingerprint == nullptr || *fingerprint == '\0') fail("processor.fingerprint returned an empty string");
}

void processor_concurrent(Subject& s, const void* table) {
  const auto& role = *static_cast<const MmrtProcessorRole*>(table);
  const ProcessorResult reference = process_test_image(s, role);
  hammer<ProcessorResult>("processor.process", reference, [&] { return process_test_image(s, role); });
  const std::string fingerprint =
      plugin_call("processor.fingerprint", [&] { return role.fingerprint(handle(s)); });
  hammer<std::string>("processor.fingerprint", fingerprint, [&] {
    const char* f = plugin_call("processor.fingerprint", [&] { return role.fingerprint(handle(s)); });
    return std::string(f ? f : "");
  });
}

// encoder
// ----------------------------------------------------------------------------------------------------

void encoder_bad_arguments(Subject& s, const void* table) {
  const auto& role = *static_cast<const MmrtEncoderRole*>(table);
  expect_error(plugin_call("encoder.encode", [&] { return role.encode(handle(s), nullptr); }),
               "encoder.encode with NULL args");
  MmrtEncodeArgs args{};
  args.struct_size = kPrefixOnly;
  expect_error(plugin_call("encoder.encode", [&] { return role.encode(handle(s), &args); }),
               "encoder.encode with a struct_size that ends before MmrtEncodeArgs.n_items");
}

// embed_dim, and when the instance also processes images, one encode of the test image (all finite).
void encoder_calls(Subject& s, const void* table) {
  const auto& role = *static_cast<const MmrtEncoderRole*>(table);
  const int64_t dim = plugin_call("encoder.embed_dim", [&] { return role.embed_dim(handle(s)); });
  if (dim <= 0 || dim > (int64_t(1) << 20)) fail("encoder.embed_dim returned " + std::to_string(dim));
  const void* processor_table =
      plugin_call("get_role", [&] { return s.api().get_role(handle(s), MMRT_ROLE_PROCESSOR); });
  if (processor_table == nullptr) {
    s.notes.push_back("encoder.encode not called: the instance offers no processor to make its input");
    return;
  }
  const ProcessorResult processed = process_test_image(
      s, *static_cast<const MmrtProcessorRole*>(role_table(s, *find_role(MMRT_ROLE_PROCESSOR))));
  auto it = processed.tensors.find("pixel_values");
  if (it == processed.tensors.end()) fail("processor.process wrote no \"pixel_values\" to encode");
  std::vector<int64_t> pixel_shape = it->second.first;
  std::vector<uint8_t> pixel_bytes = it->second.second;
  MmrtTensor pixels{pixel_bytes.data(),
                    {MMRT_DEVICE_CPU, 0},
                    int32_t(pixel_shape.size()),
                    {MMRT_DTYPE_FLOAT, 32, 1},
                    pixel_shape.data(),
                    nullptr,
                    0};
  std::vector<int64_t> grid_shape = {1, 3};
  std::vector<uint8_t> grid_bytes;
  MmrtTensor grid{};
  if (auto g = processed.tensors.find("image_grid_thw"); g != processed.tensors.end()) {
    grid_bytes = g->second.second;
    grid = {
        grid_bytes.data(), {MMRT_DEVICE_CPU, 0}, 2, {MMRT_DTYPE_INT, 64, 1}, grid_shape.data(), nullptr, 0};
  }
  std::vector<float> embeds(size_t(processed.n_tokens * dim), NAN);
  std::vector<int64_t> embeds_shape = {processed.n_tokens, dim};
  MmrtTensor embeds_tensor{
      embeds.data(), {MMRT_DEVICE_CPU, 0}, 2, {MMRT_DTYPE_FLOAT, 32, 1}, embeds_shape.data(), nullptr, 0};
  // The processor's other outputs are the item's metadata, which the host hands over as MmrtItemData.
  std::vector<std::string> names;
  std::vector<std::vector<uint8_t>> metadata_bytes;
  std::vector<MmrtTensor> metadata;
  for (const auto& [name, tensor] : processed.tensors) {
    if (name == "pixel_values") continue;
    names.push_back(name);
    metadata_bytes.push_back(tensor.second);
  }
  std::vector<std::vector<int64_t>> metadata_shapes;
  for (const std::string& name : names) metadata_shapes.push_back(processed.tensors.at(name).first);
  for (size_t i = 0; i < names.size(); ++i) {
    const auto [code, bits] = processed.dtypes.at(names[i]);
    const MmrtDataType dtype{uint8_t(code), uint8_t(bits), 1};
    metadata.push_back({metadata_bytes[i].data(),
                        {MMRT_DEVICE_CPU, 0},
                        int32_t(metadata_shapes[i].size()),
                        dtype,
                        metadata_shapes[i].data(),
                        nullptr,
                        0});
  }
  std::vector<const char*> name_ptrs;
  std::vector<const MmrtTensor*> tensor_ptrs;
  for (size_t i = 0; i < names.size(); ++i) {
    name_ptrs.push_back(names[i].c_str());
    tensor_ptrs.push_back(&metadata[i]);
  }
  MmrtItemData item_data{};
  item_data.struct_size = MMRT_SIZEOF(MmrtItemData, tensors);
  item_data.n_tensors = int32_t(names.size());
  item_data.names = name_ptrs.data();
  item_data.tensors = tensor_ptrs.data();
  const MmrtItemData* item_data_ptr = &item_data;
  const int64_t pixel_rows = pixel_shape.empty() ? 0 : pixel_shape[0];
  const MmrtStream stream{MMRT_DEVICE_CPU, 0, nullptr};
  MmrtEncodeArgs args{};
  args.struct_size = MMRT_SIZEOF(MmrtEncodeArgs, item_data);
  args.n_items = 1;
  args.pixel_values = &pixels;
  args.image_grid_thw = grid_bytes.empty() ? nullptr : &grid;
  args.item_n_tokens = &processed.n_tokens;
  args.embeds = &embeds_tensor;
  args.stream = &stream;
  args.item_pixel_rows = &pixel_rows;
  args.item_data = &item_data_ptr;
  expect_ok(plugin_call("encoder.encode", [&] { return role.encode(handle(s), &args); }),
            "encoder.encode of the processed test image");
  for (float v : embeds) {
    if (!std::isfinite(v)) fail("encoder.encode left a non-finite value in the embeddings");
  }
}

// padder
// -----------------------------------------------------------------------------------------------------

struct KvSpec {
  MmrtKvSpec spec{};
  bool operator==(const KvSpec& other) const { return std::memcmp(&spec, &other.spec, sizeof(spec)) == 0; }
};

struct PadResult {
  std::vector<int32_t> ids;
  int64_t n_ranges = 0;
  int emits = 0;
  bool operator==(const PadResult&) const = default;
};

MmrtStatus* record_emit(void* ctx, const int32_t* ids, int64_t n_ids, const MmrtPlaceholderRange*,
                        int64_t n_ranges) {
  auto* result = static_cast<PadResult*>(ctx);
  if (n_ids < 0 || (n_ids > 0 && ids == nullptr)) {
    return error_status(MMRT_STATUS_INVALID_ARGUMENT, "bad ids");
  }
  result->ids.assign(ids, ids + n_ids);
  result->n_ranges = n_ranges;
  ++result->emits;
  return nullptr;
}

// Multimodal-RoPE padders emit positions too; the host always offers the slot.
MmrtStatus* record_positions(void*, const int32_t* positions3, int64_t n_ids, int64_t) {
  if (n_ids < 0 || (n_ids > 0 && positions3 == nullptr)) {
    return error_status(MMRT_STATUS_INVALID_ARGUMENT, "bad positions");
  }
  return nullptr;
}

MmrtStatus* ignore_encoder_input(void*, const int32_t*, int64_t, const MmrtPlaceholderRange*, int64_t) {
  return nullptr;
}

KvSpec kv_spec(Subject& s, const MmrtDecoderRole& role);

// Whether the instance's decoder cross-attends to an encoder memory (its KV spec's n_cross_layer).
bool is_encoder_decoder(Subject& s);

// The test image's token count through the instance's processor, or 0 when it has none.
int64_t test_image_tokens(Subject& s);

// A text prompt without media, or for an encoder-decoder model whose padder may insist on its image the
// processed test image with no text: the padder must emit the decoder prompt once.
PadResult pad_text(Subject& s, const MmrtPadderRole& role) {
  const int32_t ids[] = {1, 2, 3, 4};
  const bool encoder_decoder = is_encoder_decoder(s);
  const int64_t n_tokens = encoder_decoder ? test_image_tokens(s) : 0;
  MmrtItemData item{};
  item.struct_size = MMRT_SIZEOF(MmrtItemData, tensors);
  const MmrtItemData* items[] = {&item};
  MmrtImage size{};
  size.struct_size = MMRT_SIZEOF(MmrtImage, alpha);
  size.width = size.height = 32;
  const MmrtImage* sizes[] = {&size};
  PadResult result;
  MmrtPadArgs args{};
  args.struct_size = MMRT_SIZEOF(MmrtPadArgs, emit_encoder_input);
  args.ids = ids;
  args.n_ids = n_tokens > 0 ? 0 : 4;
  if (n_tokens > 0) {
    args.item_n_tokens = &n_tokens;
    args.n_items = 1;
    args.images = sizes;
  }
  args.item_data = items;
  args.host_ctx = &result;
  args.emit = &record_emit;
  args.emit_positions = &record_positions;
  args.emit_encoder_input = &ignore_encoder_input;
  const std::string what = n_tokens > 0 ? "padder.expand of the test image without text"
                                        : "padder.expand of a 4-token prompt without media";
  expect_ok(plugin_call("padder.expand", [&] { return role.expand(handle(s), &args); }), what);
  if (result.emits != 1)
    fail("padder.expand called emit " + std::to_string(result.emits) + " times, not once");
  return result;
}

void padder_bad_arguments(Subject& s, const void* table) {
  const auto& role = *static_cast<const MmrtPadderRole*>(table);
  expect_error(plugin_call("padder.expand", [&] { return role.expand(handle(s), nullptr); }),
               "padder.expand with NULL args");
  MmrtPadArgs args{};
  args.struct_size = kPrefixOnly;
  expect_error(plugin_call("padder.expand", [&] { return role.expand(handle(s), &args); }),
               "padder.expand with a struct_size that ends before MmrtPadArgs.ids");
}

void padder_calls(Subject& s, const void* table) {
  pad_text(s, *static_cast<const MmrtPadderRole*>(table));
}

void padder_concurrent(Subject& s, const void* table) {
  const auto& role = *static_cast<const MmrtPadderRole*>(table);
  const PadResult reference = pad_text(s, role);
  hammer<PadResult>("padder.expand", reference, [&] { return pad_text(s, role); });
}

// decoder
// ----------------------------------------------------------------------------------------------------

KvSpec kv_spec(Subject& s, const MmrtDecoderRole& role) {
  KvSpec out;
  out.spec.struct_size = MMRT_SIZEOF(MmrtKvSpec, max_encoder_len);
  expect_ok(plugin_call("decoder.kv_spec", [&] { return role.kv_spec(handle(s), &out.spec); }),
            "decoder.kv_spec");
  return out;
}

void decoder_bad_arguments(Subject& s, const void* table) {
  const auto& role = *static_cast<const MmrtDecoderRole*>(table);
  expect_error(plugin_call("decoder.kv_spec", [&] { return role.kv_spec(handle(s), nullptr); }),
               "decoder.kv_spec with a NULL output");
  expect_error(plugin_call("decoder.forward", [&] { return role.forward(handle(s), nullptr); }),
               "decoder.forward with NULL args");
  MmrtDecodeArgs args{};
  args.struct_size = kPrefixOnly;
  expect_error(plugin_call("decoder.forward", [&] { return role.forward(handle(s), &args); }),
               "decoder.forward with a struct_size that ends before MmrtDecodeArgs.n_tokens");
}

// A CPU tensor over `data` (which the caller keeps alive) with `shape`.
template <class T>
MmrtTensor cpu_tensor(std::vector<T>& data, std::vector<int64_t>& shape, MmrtDataType dtype) {
  return {data.data(), {MMRT_DEVICE_CPU, 0}, int32_t(shape.size()), dtype, shape.data(), nullptr, 0};
}

// One prefill of a short prompt, as the engine runs it: one sequence in one block of a fresh f32 KV cache,
// logits of its last token. They must all be finite.
void decode_prompt(Subject& s, const MmrtDecoderRole& role, const MmrtKvSpec& spec) {
  constexpr MmrtDataType kF32 = {MMRT_DTYPE_FLOAT, 32, 1}, kI32 = {MMRT_DTYPE_INT, 32, 1},
                         kI64 = {MMRT_DTYPE_INT, 64, 1};
  constexpr int32_t kTokens = 4, kBlockSize = 16;
  std::vector<int64_t> cache_shape = {1, kBlockSize, spec.n_head_kv, spec.head_dim};
  const size_t cache_elements = size_t(kBlockSize) * size_t(spec.n_head_kv) * size_t(spec.head_dim);
  std::vector<std::vector<float>> k(size_t(spec.n_layer), std::vector<float>(cache_elements, 0.0f));
  std::vector<std::vector<float>> v = k;
  std::vector<MmrtTensor> k_tensors, v_tensors;
  for (int32_t il = 0; il < spec.n_layer; ++il) {
    k_tensors.push_back(cpu_tensor(k[size_t(il)], cache_shape, kF32));
    v_tensors.push_back(cpu_tensor(v[size_t(il)], cache_shape, kF32));
  }
  std::vector<MmrtKvLayer> kv;
  for (size_t il = 0; il < k_tensors.size(); ++il) kv.push_back({&k_tensors[il], &v_tensors[il]});

  std::vector<int32_t> ids, positions, query_start = {0, kTokens}, seq_lens = {kTokens}, block_table = {0},
                                       logits_rows = {kTokens - 1};
  std::vector<int64_t> slots;
  for (int32_t i = 0; i < kTokens; ++i) {
    ids.push_back(int32_t((i + 1) % spec.vocab_size));
    slots.push_back(i);
  }
  if (spec.n_cross_layer > 0) ids[0] = spec.decoder_start_token_id;
  for (int32_t axis = 0; axis < spec.position_axes; ++axis) {
    for (int32_t i = 0; i < kTokens; ++i) positions.push_back(i);
  }
  std::vector<float> logits(size_t(spec.vocab_size), NAN);
  std::vector<int64_t> tokens_shape = {kTokens}, positions_shape = {kTokens}, query_start_shape = {2},
                       one_shape = {1}, block_table_shape = {1, 1}, logits_shape = {1, spec.vocab_size};
  if (spec.position_axes == 3) positions_shape = {3, kTokens};
  MmrtTensor ids_t = cpu_tensor(ids, tokens_shape, kI32),
             positions_t = cpu_tensor(positions, positions_shape, kI32),
             query_start_t = cpu_tensor(query_start, query_start_shape, kI32),
             seq_lens_t = cpu_tensor(seq_lens, one_shape, kI32),
             block_table_t = cpu_tensor(block_table, block_table_shape, kI32),
             slots_t = cpu_tensor(slots, tokens_shape, kI64),
             logits_rows_t = cpu_tensor(logits_rows, one_shape, kI32),
             logits_t = cpu_tensor(logits, logits_shape, kF32);
  MmrtBatchLayout layout{};
  layout.struct_size = MMRT_SIZEOF(MmrtBatchLayout, slot_mapping);
  layout.n_seqs = 1;
  layout.block_size = kBlockSize;
  layout.query_start = &query_start_t;
  layout.seq_lens = &seq_lens_t;
  layout.block_tables = &block_table_t;
  layout.slot_mapping = &slots_t;
  const MmrtStream stream{MMRT_DEVICE_CPU, 0, nullptr};
  MmrtDecodeArgs args{};
  args.struct_size = MMRT_SIZEOF(MmrtDecodeArgs, stream);
  args.n_tokens = kTokens;
  args.input_ids = &ids_t;
  args.positions = &positions_t;
  args.layout = &layout;
  args.kv = kv.data();
  args.query_start_host = query_start.data();
  args.seq_lens_host = seq_lens.data();
  args.logits_rows = &logits_rows_t;
  args.logits = &logits_t;
  args.stream = &stream;

  // Encoder-decoder models: a memory of kTokens rows stored into a fresh cross cache on this first step.
  const int32_t cross_heads = spec.cross_n_head_kv > 0 ? spec.cross_n_head_kv : spec.n_head_kv;
  const int32_t cross_dim = spec.cross_head_dim > 0 ? spec.cross_head_dim : spec.head_dim;
  const int64_t memory_dim = spec.memory_dim > 0 ? spec.memory_dim : spec.hidden_size;
  std::vector<int64_t> cross_shape = {1, kBlockSize, cross_heads, cross_dim};
  std::vector<std::vector<float>> cross_k(
      size_t(spec.n_cross_layer), std::vector<float>(size_t(kBlockSize * cross_heads * cross_dim), 0.0f));
  std::vector<std::vector<float>> cross_v = cross_k;
  std::vector<MmrtTensor> cross_k_tensors, cross_v_tensors;
  for (int32_t il = 0; il < spec.n_cross_layer; ++il) {
    cross_k_tensors.push_back(cpu_tensor(cross_k[size_t(il)], cross_shape, kF32));
    cross_v_tensors.push_back(cpu_tensor(cross_v[size_t(il)], cross_shape, kF32));
  }
  std::vector<MmrtKvLayer> cross_kv;
  for (size_t il = 0; il < cross_k_tensors.size(); ++il)
    cross_kv.push_back({&cross_k_tensors[il], &cross_v_tensors[il]});
  std::vector<float> memory(size_t(kTokens * memory_dim));
  for (size_t i = 0; i < memory.size(); ++i) memory[i] = float(i % 7) * 0.01f;
  std::vector<int64_t> memory_shape = {kTokens, memory_dim};
  std::vector<int32_t> cross_lens = {kTokens};
  MmrtTensor memory_t = cpu_tensor(memory, memory_shape, kF32),
             cross_lens_t = cpu_tensor(cross_lens, one_shape, kI32);
  MmrtBatchLayout cross_layout = layout;
  cross_layout.seq_lens = &cross_lens_t;
  if (spec.n_cross_layer > 0) {
    args.encoder_states = &memory_t;
    args.cross_layout = &cross_layout;
    args.cross_kv = cross_kv.data();
  }
  expect_ok(plugin_call("decoder.forward", [&] { return role.forward(handle(s), &args); }),
            spec.n_cross_layer > 0 ? "decoder.forward of a 4-token prompt over a 4-row memory"
                                   : "decoder.forward of a 4-token prompt");
  for (float x : logits) {
    if (!std::isfinite(x)) fail("decoder.forward left a non-finite logit for a 4-token prompt");
  }
}

// The checks the host makes before it sizes the KV cache, then one forward through such a cache.
void decoder_calls(Subject& s, const void* table) {
  const auto& role = *static_cast<const MmrtDecoderRole*>(table);
  const MmrtKvSpec spec = kv_spec(s, role).spec;
  if (spec.n_layer <= 0 || spec.n_head_kv <= 0 || spec.head_dim <= 0 || spec.vocab_size <= 0 ||
      spec.hidden_size <= 0 || (spec.position_axes != 1 && spec.position_axes != 3)) {
    fail("decoder.kv_spec reported n_layer " + std::to_string(spec.n_layer) + ", n_head_kv " +
         std::to_string(spec.n_head_kv) + ", head_dim " + std::to_string(spec.head_dim) + ", vocab_size " +
         std::to_string(spec.vocab_size) + ", hidden_size " + std::to_string(spec.hidden_size) +
         ", position_axes " + std::to_string(spec.position_axes) +
         " (all must be positive, position_axes 1 or 3)");
  }
  if (spec.n_layer > 4096 || spec.n_head_kv > 4096 || spec.head_dim > 4096 || spec.vocab_size > (1 << 24)) {
    fail("decoder.kv_spec reported an implausibly large model");
  }
  decode_prompt(s, role, spec);
}

bool is_encoder_decoder(Subject& s) {
  const void* table = plugin_call("get_role", [&] { return s.api().get_role(handle(s), MMRT_ROLE_DECODER); });
  return table && kv_spec(s, *static_cast<const MmrtDecoderRole*>(table)).spec.n_cross_layer > 0;
}

int64_t test_image_tokens(Subject& s) {
  const void* table =
      plugin_call("get_role", [&] { return s.api().get_role(handle(s), MMRT_ROLE_PROCESSOR); });
  return table ? process_test_image(s, *static_cast<const MmrtProcessorRole*>(table)).n_tokens : 0;
}

void decoder_concurrent(Subject& s, const void* table) {
  const auto& role = *static_cast<const MmrtDecoderRole*>(table);
  const KvSpec reference = kv_spec(s, role);
  hammer<KvSpec>("decoder.kv_spec", reference, [&] { return kv_spec(s, role); });
}

const std::vector<RoleSpec>& role_specs() {
  static const std::vector<RoleSpec> specs = {
      {MMRT_ROLE_PROCESSOR,
       "MmrtProcessorRole",
       MMRT_SIZEOF(MmrtProcessorRole, fingerprint),
       {MMRT_CHECK_SLOT(MmrtProcessorRole, process), MMRT_CHECK_SLOT(MmrtProcessorRole, fingerprint)},
       processor_bad_arguments,
       processor_calls,
       processor_concurrent},
      {MMRT_ROLE_ENCODER,
       "MmrtEncoderRole",
       MMRT_SIZEOF(MmrtEncoderRole, encode),
       {MMRT_CHECK_SLOT(MmrtEncoderRole, embed_dim), MMRT_CHECK_SLOT(MmrtEncoderRole, encode)},
       encoder_bad_arguments,
       encoder_calls,
       nullptr},
      {MMRT_ROLE_PADDER,
       "MmrtPadderRole",
       MMRT_SIZEOF(MmrtPadderRole, expand),
       {MMRT_CHECK_SLOT(MmrtPadderRole, expand)},
       padder_bad_arguments,
       padder_calls,
       padder_concurrent},
      {MMRT_ROLE_DECODER,
       "MmrtDecoderRole",
       MMRT_SIZEOF(MmrtDecoderRole, forward),
       {MMRT_CHECK_SLOT(MmrtDecoderRole, kv_spec), MMRT_CHECK_SLOT(MmrtDecoderRole, forward)},
       decoder_bad_arguments,
       decoder_calls,
       decoder_concurrent},
  };
  return specs;
}

void check_role_table(Subject& s, const std::string& role) {
  role_table(s, *find_role(role));
}
void check_role_bad_arguments(Subject& s, const std::string& role) {
  const RoleSpec& spec = *find_role(role);
  spec.bad_arguments(s, role_table(s, spec));
}
void check_role_calls(Subject& s, const std::string& role) {
  const RoleSpec& spec = *find_role(role);
  spec.calls(s, role_table(s, spec));
}
void check_role_concurrent(Subject& s, const std::string& role) {
  const RoleSpec& spec = *find_role(role);
  spec.concurrent(s, role_table(s, spec));
}

// ---- Plugin-wide checks
// ------------------------------------------------------------------------------------

void check_manifest(Subject& s, const std::string&) {
  const plugin::PluginManifest& manifest = s.manifest();
  std::error_code error;
  if (!fs::equivalent(manifest.library_path, s.target().library, error)) {
    fail(manifest.manifest_path.string() + " names library \"" + manifest.library_path.filename().string() +
         "\", not " + s.target().library.filename().string());
  }
}

void check_library_file(Subject& s, const std::string&) {
  const fs::path& library = s.target().library;
  if (auto problem = plugin::inspect_plugin_library(library)) fail(*problem);
  if (plugin::sha256_hex_of_file(library) != s.manifest().sha256) {
    fail("its sha256 differs from the manifest's (rebuild, or let mmrt_add_plugin write the manifest)");
  }
  std::string extra;
  for (const std::string& symbol : plugin::exported_symbols(library)) {
    if (!symbol.starts_with("mmrt_plugin_entry_v")) extra += (extra.empty() ? "" : ", ") + symbol;
  }
  if (!extra.empty()) {
    fail("exports " + extra +
         " besides mmrt_plugin_entry_v*; link with the SDK's export map (mmrt_add_plugin)");
  }
}

void check_entry(Subject& s, const std::string&) {
  s.manifest();
  plugin::prepare_unwinder_for_plugin_exceptions();
  void* library = dlopen(s.target().library.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (library == nullptr) fail(std::string("dlopen failed: ") + dlerror());
  auto entry = reinterpret_cast<MmrtPluginEntryFn>(dlsym(library, MMRT_PLUGIN_ENTRY_SYMBOL));
  if (entry == nullptr) fail("does not export " MMRT_PLUGIN_ENTRY_SYMBOL);
  const MmrtHostApi* host = plugin::host_api();
  auto call_entry = [&](const MmrtHostApi* with, const MmrtPluginApi** out) {
    return plugin_call(MMRT_PLUGIN_ENTRY_SYMBOL, [&] { return entry(with, out); });
  };

  const MmrtPluginApi* api = nullptr;
  expect_ok(call_entry(host, &api), MMRT_PLUGIN_ENTRY_SYMBOL " with this host");
  if (api == nullptr) fail(MMRT_PLUGIN_ENTRY_SYMBOL " returned success but no MmrtPluginApi");
  if (api->struct_size < MMRT_SIZEOF(MmrtPluginApi, abi) || api->struct_size > kMaxPlausibleStructSize) {
    fail("MmrtPluginApi.struct_size " + std::to_string(api->struct_size) + " is implausible");
  }
  const MmrtAbiVersion abi = api->abi;
  if (abi.major != MMRT_ABI_MAJOR) {
    fail("MmrtPluginApi.abi.major is " + std::to_string(abi.major) + ", this host is ABI major " +
         std::to_string(MMRT_ABI_MAJOR));
  }
  // The host tables below stay valid for the life of the process, as the ABI promises a plugin.
  static MmrtHostApi other_major = *host;
  other_major.abi.major = MMRT_ABI_MAJOR + 1;
  const MmrtPluginApi* refused = nullptr;
  expect_code(call_entry(&other_major, &refused), MMRT_STATUS_UNSUPPORTED_VERSION,
              MMRT_PLUGIN_ENTRY_SYMBOL " with a host of ABI major " + std::to_string(MMRT_ABI_MAJOR + 1));
  if (abi.required_minor > 0) {
    static MmrtHostApi too_old = *host;
    too_old.abi.minor = abi.required_minor - 1;
    too_old.abi.required_minor = 0;
    expect_code(call_entry(&too_old, &refused), MMRT_STATUS_UNSUPPORTED_VERSION,
                MMRT_PLUGIN_ENTRY_SYMBOL " with a host of ABI minor " +
                    std::to_string(abi.required_minor - 1) + ", older than the plugin's required minor");
  }
  static MmrtHostApi newer_minor = *host;
  newer_minor.abi.minor = MMRT_ABI_MINOR + 1;
  const MmrtPluginApi* accepted = nullptr;
  expect_ok(call_entry(&newer_minor, &accepted), MMRT_PLUGIN_ENTRY_SYMBOL " with a host of ABI minor " +
                                                     std::to_string(MMRT_ABI_MINOR + 1) +
                                                     " (a newer minor of the same major is compatible)");
  expect_ok(call_entry(host, &api), MMRT_PLUGIN_ENTRY_SYMBOL " called again with this host");
}

void check_load(Subject& s, const std::string&) {
  const MmrtPluginApi& api = s.api();
  const uint32_t descriptor_size = api.descriptor->struct_size;
  if (api.struct_size > kMaxPlausibleStructSize || descriptor_size > kMaxPlausibleStructSize) {
    fail("MmrtPluginApi.struct_size " + std::to_string(api.struct_size) +
         " or MmrtPluginDescriptor.struct_size " + std::to_string(descriptor_size) + " is implausible");
  }
  if (api.init != nullptr) {
    expect_ok(plugin_call("init", api.init),
              "a second init (the ABI requires init to tolerate repeated calls)");
  }
}

void check_create(Subject& s, const std::string&) {
  plugin::Instance instance = s.create();
}

void check_create_bad_arguments(Subject& s, const std::string&) {
  const MmrtPluginApi& api = s.api();
  auto refuse = [&](const MmrtCreateArgs* args, MmrtInstance** out, const std::string& what) {
    MmrtStatus* status = plugin_call("create", [&] { return api.create(args, out); });
    if (status == nullptr && out != nullptr && *out != nullptr) {
      plugin_call("destroy", [&] {
        api.destroy(*out);
        return 0;
      });
    }
    expect_error(status, what);
  };
  MmrtInstance* out = nullptr;
  refuse(nullptr, &out, "create with NULL args");
  MmrtCreateArgs small = s.create_args();
  small.struct_size = kPrefixOnly;
  out = nullptr;
  refuse(&small, &out, "create with a struct_size that ends before MmrtCreateArgs.architecture");
  refuse(&s.create_args(), nullptr, "create with a NULL out pointer");
}

void check_get_role(Subject& s, const std::string&) {
  const MmrtPluginApi& api = s.api();
  MmrtInstance* instance = handle(s);
  auto get = [&](const char* id) {
    return plugin_call("get_role", [&] { return api.get_role(instance, id); });
  };
  if (get("mmrt.role.no_such_role/1") != nullptr)
    fail("get_role returned a table for mmrt.role.no_such_role/1");
  if (get(nullptr) != nullptr) fail("get_role returned a table for a NULL role id");
  const std::vector<std::string>& declared = s.loaded().roles();
  for (const RoleSpec& spec : role_specs()) {
    if (std::find(declared.begin(), declared.end(), spec.id) != declared.end()) continue;
    if (get(spec.id) != nullptr) {
      fail(std::string("get_role returned a table for ") + spec.id +
           ", which the descriptor does not declare (add it to ROLES in mmrt_add_plugin)");
    }
  }
}

// Memory the process holds through malloc (which the plugin's operator new also uses).
size_t heap_in_use() {
  const struct mallinfo2 info = mallinfo2();
  return info.uordblks + info.hblkhd;
}

void check_cycles(Subject& s, const std::string&) {
  constexpr int kWarmup = 2, kCycles = 8;
  constexpr size_t kAllowedPerCycle = 1024;
  for (int i = 0; i < kWarmup; ++i) plugin::Instance instance = s.create();
  const size_t before = heap_in_use();
  for (int i = 0; i < kCycles; ++i) plugin::Instance instance = s.create();
  const size_t after = heap_in_use();
  if (after > before + kCycles * kAllowedPerCycle) {
    fail("memory in use grew by " + std::to_string(after - before) + " bytes over " +
         std::to_string(kCycles) + " create/destroy cycles: destroy does not free what create allocated");
  }
}

}  // namespace

std::vector<Check> plan_checks(const CheckTarget& target, std::vector<std::string>* unknown_roles) {
  std::vector<Check> checks = {
      {"manifest", true, check_manifest, ""},
      {"library file", true, check_library_file, ""},
      {"entry and version negotiation", true, check_entry, ""},
      {"loads as the host loads it", true, check_load, ""},
      {"create and destroy", true, check_create, ""},
      {"create with bad arguments", false, check_create_bad_arguments, ""},
      {"get_role", false, check_get_role, ""},
  };
  std::vector<std::string> roles;
  try {
    roles = plugin::read_manifest(manifest_path_of(target.library)).roles;
  } catch (const std::exception&) {
    return checks;  // the manifest check reports why
  }
  for (const std::string& role : roles) {
    const RoleSpec* spec = find_role(role);
    if (spec == nullptr) {
      if (unknown_roles) unknown_roles->push_back(role);
      continue;
    }
    checks.push_back({"role " + role + ": table", false, check_role_table, role});
    checks.push_back({"role " + role + ": bad arguments", false, check_role_bad_arguments, role});
    checks.push_back({"role " + role + ": calls", false, check_role_calls, role});
    if (spec->concurrent)
      checks.push_back({"role " + role + ": concurrent calls", false, check_role_concurrent, role});
  }
  checks.push_back({"create/destroy cycles", false, check_cycles, ""});
  return checks;
}

void run_check(const CheckTarget& target, const Check& check, std::vector<std::string>& notes) {
  Subject subject(target);
  check.run(subject, check.role_id);
  notes = subject.notes;
}

}  // namespace mmrt::host::plugin_check
