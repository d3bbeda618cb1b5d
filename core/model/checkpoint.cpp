#include "core/model/checkpoint.hpp"

#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <bit>
#include <cstdint>
#include <cstring>
#include <set>
#include <utility>

#include <spdlog/spdlog.h>
#include <boost/json.hpp>

#include "core/model/half_float.hpp"
#include "core/model/model_error.hpp"
#include "core/util/json.hpp"

namespace mmrt::model {

// read_f32 copies F32 bytes as they are, and safetensors stores little-endian.
static_assert(std::endian::native == std::endian::little,
              "mmrt reads safetensors on little-endian hosts only");

namespace {

constexpr const char* kIndexFileName = "model.safetensors.index.json";
constexpr const char* kSingleFileName = "model.safetensors";

// The index's "weight_map", grouped by shard: shard file name -> the tensor names it must hold.
std::map<std::string, std::set<std::string>> read_shard_table(const std::filesystem::path& index_file) {
  boost::json::object index;
  try {
    index = util::read_json_object(index_file);
  } catch (const util::JsonError& error) {
    throw ModelError(error.what());
  }
  const boost::json::value* weight_map = index.if_contains("weight_map");
  if (weight_map == nullptr || !weight_map->is_object()) {
    throw ModelError(index_file.string() + ": missing or non-object \"weight_map\"");
  }
  std::map<std::string, std::set<std::string>> tensors_by_shard;
  for (const auto& item : weight_map->get_object()) {
    std::string tensor(item.key());
    if (!item.value().is_string()) {
      throw ModelError(index_file.string() + ": weight_map entry for tensor '" + tensor +
                       "' is not a file name");
    }
    std::filesystem::path shard(std::string(item.value().get_string()));
    // Shards live in the model folder; an index must not point the loader elsewhere on the machine.
    bool escapes = shard.empty() || shard.is_absolute() ||
                   std::any_of(shard.begin(), shard.end(), [](const auto& part) { return part == ".."; });
    if (escapes) {
      throw ModelError(index_file.string() + ": tensor '" + tensor + "' maps to shard '" + shard.string() +
                       "', which is not a file inside the model folder");
    }
    tensors_by_shard[shard.string()].insert(tensor);
  }
  return tensors_by_shard;
}

std::vector<std::filesystem::path> safetensors_files_in(const std::filesystem::path& dir) {
  std::vector<std::filesystem::path> files;
  for (const std::filesystem::directory_entry& entry : std::filesystem::directory_iterator(dir)) {
    if (entry.is_regular_file() && entry.path().extension() == ".safetensors") files.push_back(entry.path());
  }
  std::sort(files.begin(), files.end());
  return files;
}

// madvise over the whole pages inside `tensor`'s bytes; pages it shares with a neighbour are left alone.
// Advice is best effort: a refusal changes residency only, never data, so it is not an error.
void advise_pages(const TensorInfo& tensor, int advice) {
  static const uintptr_t page = uintptr_t(::sysconf(_SC_PAGESIZE));
  const auto begin = reinterpret_cast<uintptr_t>(tensor.data);
  const uintptr_t first = (begin + page - 1) / page * page;
  const uintptr_t last = (begin + tensor.nbytes) / page * page;
  if (last > first) ::madvise(reinterpret_cast<void*>(first), last - first, advice);
}

}  // namespace

Checkpoint Checkpoint::open(const std::filesystem::path& model_dir) {
  std::error_code status_error;
  if (!std::filesystem::is_directory(model_dir, status_error)) {
    throw ModelError(model_dir.string() + ": not a directory");
  }
  Checkpoint checkpoint;
  checkpoint.dir_ = model_dir;

  std::filesystem::path index_file = model_dir / kIndexFileName;
  if (std::filesystem::exists(index_file)) {
    for (const auto& [shard_name, listed] : read_shard_table(index_file)) {
      std::filesystem::path shard_path = model_dir / shard_name;
      if (!std::filesystem::is_regular_file(shard_path)) {
        throw ModelError(index_file.string() + ": shard '" + shard_name + "' (holding '" + *listed.begin() +
                         "' and " + std::to_string(listed.size() - 1) + " more tensors) is missing from " +
                         model_dir.string());
      }
      SafetensorsFile shard = SafetensorsFile::open(shard_path);
      std::set<std::string, std::less<>> present;
      for (const TensorInfo& tensor : shard.tensors()) {
        if (!listed.contains(tensor.name)) {
          throw ModelError(shard_path.string() + ": tensor '" + tensor.name +
                           "' is not listed for this shard in " + index_file.string());
        }
        present.insert(tensor.name);
      }
      for (const std::string& name : listed) {
        if (!present.contains(name)) {
          throw ModelError(index_file.string() + ": tensor '" + name + "' is listed in shard '" + shard_name +
                           "', but " + shard_path.string() + " does not contain it");
        }
      }
      checkpoint.add_file(std::move(shard));
    }
  } else if (std::filesystem::exists(model_dir / kSingleFileName)) {
    checkpoint.add_file(SafetensorsFile::open(model_dir / kSingleFileName));
  } else {
    std::vector<std::filesystem::path> files = safetensors_files_in(model_dir);
    if (files.empty()) {
      throw ModelError(model_dir.string() + ": no " + kIndexFileName + ", " + kSingleFileName +
                       " or other *.safetensors file");
    }
    for (const std::filesystem::path& file : files) checkpoint.add_file(SafetensorsFile::open(file));
  }
  spdlog::debug("checkpoint {}: {} tensors in {} files", model_dir.string(), checkpoint.tensors_.size(),
                checkpoint.files_.size());
  return checkpoint;
}

void Checkpoint::add_file(SafetensorsFile file) {
  files_.push_back(std::move(file));
  for (const TensorInfo& tensor : files_.back().tensors()) {
    auto [existing, inserted] = tensors_.emplace(tensor.name, &tensor);
    if (!inserted) {
      throw ModelError(dir_.string() + ": tensor '" + tensor.name + "' is in both " +
                       existing->second->file.filename().string() + " and " +
                       tensor.file.filename().string());
    }
  }
}

const TensorInfo* Checkpoint::find(std::string_view name) const {
  auto found = tensors_.find(name);
  return found == tensors_.end() ? nullptr : found->second;
}

const TensorInfo& Checkpoint::at(std::string_view name) const {
  const TensorInfo* tensor = find(name);
  if (tensor == nullptr) {
    throw ModelError(dir_.string() + ": checkpoint has no tensor '" + std::string(name) + "' (it holds " +
                     std::to_string(tensors_.size()) + " tensors)");
  }
  return *tensor;
}

std::vector<std::string> Checkpoint::names() const {
  std::vector<std::string> result;
  result.reserve(tensors_.size());
  for (const auto& item : tensors_) result.push_back(item.first);
  return result;
}

void Checkpoint::release(const TensorInfo& tensor) const {
  advise_pages(tensor, MADV_DONTNEED);
}

void Checkpoint::prefetch(const TensorInfo& tensor) const {
  advise_pages(tensor, MADV_WILLNEED);
}

void Checkpoint::read_f32(const TensorInfo& tensor, std::span<float> out) const {
  if (out.size() != tensor.numel()) {
    throw ModelError(tensor.file.string() + ": tensor '" + tensor.name + "' has " +
                     std::to_string(tensor.numel()) + " elements but the output span holds " +
                     std::to_string(out.size()));
  }
  auto read_halves = [&](float (*convert)(uint16_t)) {
    for (std::size_t i = 0; i < out.size(); ++i) {
      uint16_t bits;
      std::memcpy(&bits, tensor.data + 2 * i, sizeof bits);
      out[i] = convert(bits);
    }
  };
  switch (tensor.dtype) {
    case DType::f32:
      if (tensor.nbytes > 0)
        std::memcpy(out.data(), tensor.data, tensor.nbytes);  // an empty span has no data()
      return;
    case DType::bf16:
      read_halves(bf16_to_f32);
      return;
    case DType::f16:
      read_halves(f16_to_f32);
      return;
    case DType::f64:
    case DType::i64:
    case DType::i32:
    case DType::i16:
    case DType::i8:
    case DType::u8:
    case DType::boolean:
      break;
  }
  throw ModelError(tensor.file.string() + ": tensor '" + tensor.name + "' has dtype " +
                   std::string(dtype_name(tensor.dtype)) + "; read_f32 reads only F32, F16 and BF16");
}

}  // namespace mmrt::model
