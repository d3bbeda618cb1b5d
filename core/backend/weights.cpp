#include "core/backend/weights.hpp"

#include <cstring>
#include <optional>
#include <span>
#include <vector>

#include "core/backend/cuda_runtime.hpp"
#include "core/backend/status.hpp"
#include "kernels/cpu/convert.hpp"

namespace mmrt::backend {
namespace {

WeightStore* store(MmrtWeights* w) {
  return reinterpret_cast<WeightStore*>(w);
}

MmrtStatus* api_get(MmrtWeights* w, const char* name, MmrtTensor* out) {
  return status_boundary("weights.get", [&] {
    if (!w || !name || !out) throw StatusError(MMRT_STATUS_INVALID_ARGUMENT, "NULL argument");
    *out = store(w)->get(name);
  });
}

int32_t api_contains(MmrtWeights* w, const char* name) {
  return w && name && store(w)->contains(name) ? 1 : 0;
}

uint64_t api_count(MmrtWeights* w) {
  return w ? store(w)->names().size() : 0;
}

const char* api_name_at(MmrtWeights* w, uint64_t i) {
  if (!w || i >= store(w)->names().size()) return nullptr;
  return store(w)->names()[i].c_str();
}

void api_ignore(MmrtWeights* w, const char* name) {
  if (w && name) store(w)->ignore(name);
}

MmrtStatus* api_get_as(MmrtWeights* w, const char* name, MmrtDataType dtype, MmrtTensor* out) {
  return status_boundary("weights.get_as", [&] {
    if (!w || !name || !out) throw StatusError(MMRT_STATUS_INVALID_ARGUMENT, "NULL argument");
    *out = store(w)->get_as(name, dtype);
  });
}

const MmrtWeightsApi kWeightsApi = {
    MMRT_SIZEOF(MmrtWeightsApi, get_as),
    0,
    nullptr,
    api_get,
    api_contains,
    api_count,
    api_name_at,
    api_ignore,
    api_get_as,
};

constexpr MmrtDataType kStoredDtype{0, 0, 0};

// The ABI spelling of a checkpoint dtype; nullopt for BOOL, which the ABI has no code for.
std::optional<MmrtDataType> abi_dtype(model::DType d) {
  switch (d) {
    case model::DType::f32:
      return kF32;
    case model::DType::f16:
      return kF16;
    case model::DType::bf16:
      return kBF16;
    case model::DType::f64:
      return MmrtDataType{MMRT_DTYPE_FLOAT, 64, 1};
    case model::DType::i64:
      return kI64;
    case model::DType::i32:
      return kI32;
    case model::DType::i16:
      return MmrtDataType{MMRT_DTYPE_INT, 16, 1};
    case model::DType::i8:
      return MmrtDataType{MMRT_DTYPE_INT, 8, 1};
    case model::DType::u8:
      return MmrtDataType{MMRT_DTYPE_UINT, 8, 1};
    case model::DType::boolean:
      break;
  }
  return std::nullopt;
}

bool is_convertible_float(const MmrtDataType& t) {
  return t == kF32 || t == kBF16 || t == kF16;
}

uint32_t pack(const MmrtDataType& t) {
  return uint32_t(t.code) | uint32_t(t.bits) << 8 | uint32_t(t.lanes) << 16;
}

// The checkpoint tensor in `dtype` (f32, bf16 or f16), in host memory, through fp32 (exact for f16/bf16
// sources; f32 -> 16-bit rounds to nearest even).
void convert_into(const model::Checkpoint& checkpoint, const model::TensorInfo& info, MmrtDataType dtype,
                  std::byte* out) {
  const size_t n = size_t(info.numel());
  if (dtype == kF32) {
    checkpoint.read_f32(info, std::span<float>(reinterpret_cast<float*>(out), n));
    return;
  }
  std::vector<float> f32(n);
  checkpoint.read_f32(info, f32);
  auto* half = reinterpret_cast<uint16_t*>(out);
  if (dtype == kBF16) {
    cpu::f32_to_bf16(f32.data(), half, int64_t(n));
  } else {
    cpu::f32_to_f16(f32.data(), half, int64_t(n));
  }
}

}  // namespace

WeightStore::WeightStore(const model::Checkpoint& checkpoint, MmrtDevice device, MmrtDataType compute_dtype,
                         Progress progress)
    : checkpoint_(checkpoint),
      device_(device),
      compute_dtype_(compute_dtype),
      names_(checkpoint.names()),
      progress_(std::move(progress)) {
  for (const auto& file : checkpoint_.files()) {
    for (const auto& tensor : file.tensors()) bytes_total_ += tensor.nbytes;
  }
  const bool cpu_f32 = device_.device_type == MMRT_DEVICE_CPU && compute_dtype_ == kF32;
  const bool cuda = device_.device_type == MMRT_DEVICE_CUDA && is_convertible_float(compute_dtype_);
  if (!cpu_f32 && !cuda) {
    throw StatusError(MMRT_STATUS_UNIMPLEMENTED,
                      "weights: " + dtype_name(compute_dtype_) + " on device type " +
                          std::to_string(device_.device_type) + " (CPU takes f32; CUDA f32, f16 or bf16)");
  }
}

const MmrtWeightsApi* WeightStore::api() const {
  return &kWeightsApi;
}

const MmrtTensor& WeightStore::get(const std::string& name) {
  return load(name, compute_dtype_);
}

const MmrtTensor& WeightStore::get_as(const std::string& name, MmrtDataType dtype) {
  return load(name, dtype);
}

WeightStore::Entry WeightStore::make_entry(const model::TensorInfo& info, MmrtDataType dtype) const {
  const std::optional<MmrtDataType> stored = abi_dtype(info.dtype);
  const std::string what = "tensor '" + info.name + "' (" + std::string(model::dtype_name(info.dtype)) + ")";
  if (!stored) throw StatusError(MMRT_STATUS_UNIMPLEMENTED, what + ": mmrt hands out no BOOL tensors");
  const bool as_stored = dtype == *stored;
  if (!as_stored && !(is_convertible_float(dtype) && is_convertible_float(*stored))) {
    throw StatusError(MMRT_STATUS_INVALID_ARGUMENT,
                      what + " cannot be given as " + dtype_name(dtype) +
                          " (float tensors convert among f32, bf16 and f16; others come as stored)");
  }
  Entry entry;
  // The format puts tensors back to back after a header of any length, so a view of the mapping is only
  // handed out when it is aligned to its elements, as the kernels require.
  const bool aligned = reinterpret_cast<uintptr_t>(info.data) % dtype_size(dtype) == 0;
  if (device_.device_type == MMRT_DEVICE_CPU && as_stored && aligned) {
    entry.shape = info.shape;
    entry.view.data =
        const_cast<std::byte*>(info.data);  // read-only: PROT_READ, and the ABI's views are const
    entry.view.device = device_;
    entry.view.ndim = int32_t(entry.shape.size());
    entry.view.dtype = dtype;
    entry.mapped = true;
    checkpoint_.prefetch(info);
    return entry;
  }
  Tensor t(device_, dtype, info.shape);
  if (device_.device_type == MMRT_DEVICE_CPU) {
    if (as_stored) {
      if (info.nbytes > 0) std::memcpy(t.data(), info.data, info.nbytes);
    } else {
      convert_into(checkpoint_, info, dtype, static_cast<std::byte*>(t.data()));
    }
  } else if (as_stored) {
    upload_sync(t.data(), device_, info.data, info.nbytes);
  } else {
    std::vector<std::byte> bytes(t.nbytes());
    convert_into(checkpoint_, info, dtype, bytes.data());
    upload_sync(t.data(), device_, bytes.data(), bytes.size());
  }
  entry.copy = std::move(t);
  return entry;
}

const MmrtTensor& WeightStore::load(const std::string& name, MmrtDataType dtype) {
  std::lock_guard lock(mutex_);
  const model::TensorInfo* info = checkpoint_.find(name);
  if (!info) {
    throw StatusError(MMRT_STATUS_NOT_FOUND,
                      "tensor '" + name + "' is not in the checkpoint " + checkpoint_.dir().string());
  }
  if (dtype == kStoredDtype) {
    const std::optional<MmrtDataType> stored = abi_dtype(info->dtype);
    if (stored) dtype = *stored;
  }
  const Key key{name, pack(dtype)};
  if (auto it = loaded_.find(key); it != loaded_.end()) {
    return it->second.mapped ? it->second.view : it->second.copy.view();
  }
  Entry entry = make_entry(*info, dtype);
  if (!entry.mapped) {
    bool viewed = false;
    for (auto it = loaded_.lower_bound(Key{name, 0}); it != loaded_.end() && it->first.first == name; ++it) {
      viewed = viewed || it->second.mapped;
    }
    if (!viewed) checkpoint_.release(*info);
  }
  auto [it, inserted] = loaded_.emplace(key, std::move(entry));
  Entry& stored_entry = it->second;
  if (stored_entry.mapped) stored_entry.view.shape = stored_entry.shape.data();
  if (claimed_.insert(name).second) {
    bytes_read_ += info->nbytes;
    if (progress_) progress_(bytes_read_, bytes_total_);
  }
  return stored_entry.mapped ? stored_entry.view : stored_entry.copy.view();
}

void WeightStore::ignore(const std::string& name) {
  std::lock_guard lock(mutex_);
  ignored_.insert(name);
}

std::vector<std::string> WeightStore::unclaimed() const {
  std::lock_guard lock(mutex_);
  std::vector<std::string> out;
  for (const auto& n : names_) {
    if (!claimed_.count(n) && !ignored_.count(n)) out.push_back(n);
  }
  return out;
}

size_t WeightStore::bytes_loaded() const {
  std::lock_guard lock(mutex_);
  size_t total = 0;
  for (const auto& [key, entry] : loaded_) total += entry.mapped ? 0 : entry.copy.nbytes();
  return total;
}

size_t WeightStore::bytes_mapped() const {
  std::lock_guard lock(mutex_);
  size_t total = 0;
  for (const auto& [key, entry] : loaded_) {
    if (entry.mapped) total += size_t(numel(entry.view)) * dtype_size(entry.view.dtype);
  }
  return total;
}

}  // namespace mmrt::backend
