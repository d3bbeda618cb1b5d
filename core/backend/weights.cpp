#include "core/backend/weights.hpp"

#include <cstring>
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

const MmrtWeightsApi kWeightsApi = {
    MMRT_SIZEOF(MmrtWeightsApi, ignore),
    0,
    nullptr,
    api_get,
    api_contains,
    api_count,
    api_name_at,
    api_ignore,
};

// The checkpoint tensor in the compute dtype, in host memory: raw bytes when the checkpoint already has that
// dtype, otherwise through fp32 (exact for f16/bf16 sources; f32 -> 16-bit rounds to nearest even).
std::vector<std::byte> host_bytes(const model::Checkpoint& checkpoint, const model::TensorInfo& info,
                                  MmrtDataType dtype) {
  const size_t n = size_t(info.numel());
  std::vector<std::byte> out(n * dtype_size(dtype));
  const bool same = (dtype == kBF16 && info.dtype == model::DType::bf16) ||
                    (dtype == kF16 && info.dtype == model::DType::f16) ||
                    (dtype == kF32 && info.dtype == model::DType::f32);
  if (same && info.nbytes == out.size()) {
    std::memcpy(out.data(), info.data, out.size());
    return out;
  }
  if (dtype == kF32) {
    checkpoint.read_f32(info, std::span<float>(reinterpret_cast<float*>(out.data()), n));
    return out;
  }
  std::vector<float> f32(n);
  checkpoint.read_f32(info, f32);
  auto* half = reinterpret_cast<uint16_t*>(out.data());
  if (dtype == kBF16) {
    cpu::f32_to_bf16(f32.data(), half, int64_t(n));
  } else {
    cpu::f32_to_f16(f32.data(), half, int64_t(n));
  }
  return out;
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
  const bool cuda = device_.device_type == MMRT_DEVICE_CUDA &&
                    (compute_dtype_ == kF32 || compute_dtype_ == kBF16 || compute_dtype_ == kF16);
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
  std::lock_guard lock(mutex_);
  if (auto it = loaded_.find(name); it != loaded_.end()) return it->second.view();
  const model::TensorInfo* info = checkpoint_.find(name);
  if (!info) {
    throw StatusError(MMRT_STATUS_NOT_FOUND,
                      "tensor '" + name + "' is not in the checkpoint " + checkpoint_.dir().string());
  }
  Tensor t(device_, compute_dtype_, info->shape);
  if (device_.device_type == MMRT_DEVICE_CPU) {
    checkpoint_.read_f32(*info, std::span<float>(t.data_as<float>(), size_t(t.numel())));
  } else {
    const std::vector<std::byte> bytes = host_bytes(checkpoint_, *info, compute_dtype_);
    upload_sync(t.data(), device_, bytes.data(), bytes.size());
  }
  auto [it, inserted] = loaded_.emplace(name, std::move(t));
  bytes_read_ += info->nbytes;
  if (progress_) progress_(bytes_read_, bytes_total_);
  return it->second.view();
}

void WeightStore::ignore(const std::string& name) {
  std::lock_guard lock(mutex_);
  ignored_.insert(name);
}

std::vector<std::string> WeightStore::unclaimed() const {
  std::lock_guard lock(mutex_);
  std::vector<std::string> out;
  for (const auto& n : names_) {
    if (!loaded_.count(n) && !ignored_.count(n)) out.push_back(n);
  }
  return out;
}

size_t WeightStore::bytes_loaded() const {
  std::lock_guard lock(mutex_);
  size_t total = 0;
  for (const auto& [n, t] : loaded_) total += t.nbytes();
  return total;
}

}  // namespace mmrt::backend
