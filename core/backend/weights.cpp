#include "core/backend/weights.hpp"

#include <span>

#include "core/backend/status.hpp"

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

}  // namespace

WeightStore::WeightStore(const model::Checkpoint& checkpoint, MmrtDevice device, MmrtDataType compute_dtype)
    : checkpoint_(checkpoint), device_(device), compute_dtype_(compute_dtype), names_(checkpoint.names()) {
  if (device_.device_type != MMRT_DEVICE_CPU || !(compute_dtype_ == kF32)) {
    throw StatusError(MMRT_STATUS_UNIMPLEMENTED, "weights: only f32 on the CPU are built in");
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
  checkpoint_.read_f32(*info, std::span<float>(t.data_as<float>(), size_t(t.numel())));
  auto [it, inserted] = loaded_.emplace(name, std::move(t));
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
