// The weight table helper: checkpoint tensors by Hugging Face name, shape-checked, every one accounted for.
//
//   Weights w(args, NameMapper({{"language_model.model.", "model.language_model."}}));
//   TensorView patch = w.get("vision_tower.vision_model.embeddings.patch_embedding.weight", {1024, 3, 14,
//   14}); w.ignore("vision_tower.vision_model.post_layernorm.*"); w.finish();  // throws when a checkpoint
//   tensor was neither claimed nor ignored
//
// Model code names tensors in one canonical layout; a NameMapper lists the prefix aliases other layouts use
// (Transformers v5 saves "model.language_model.layers.0..." for v4's "language_model.model.layers.0..."),
// so layout variants never reach model code. A shape mismatch throws naming the tensor and both shapes.
//
// Weights that linear or embedding read (matmul weights, embedding tables) come through matmul_weight():
// on the CPU of a 1.1 host in the checkpoint's own dtype (f32, bf16 or f16), a view of the mapped file
// that the kernels widen as they read it, so decoding streams half the bytes and nothing is copied;
// elsewhere, or on a 1.0 host, in the compute dtype like get().
//
// Ownership: views stay valid until the instance is destroyed (the host keeps the checkpoint mapped).
// Threading: build the table on the loader thread in create(); not thread-safe.
#ifndef MMRT_SDK_WEIGHTS_HPP_
#define MMRT_SDK_WEIGHTS_HPP_

#include <mmrt_abi.h>

#include <algorithm>
#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "mmrt/status.hpp"
#include "mmrt/tensor.hpp"

namespace mmrt::sdk {

// `pattern` with every "{i}" replaced by the layer index: layer_name("model.layers.{i}.mlp", 3).
inline std::string layer_name(std::string_view pattern, int64_t il) {
  std::string out;
  const std::string index = std::to_string(il);
  for (size_t i = 0; i < pattern.size();) {
    if (pattern.substr(i, 3) == "{i}") {
      out += index;
      i += 3;
    } else {
      out += pattern[i++];
    }
  }
  return out;
}

// Whether `name` matches `pattern`, where '*' matches any run of characters (including dots).
inline bool glob_match(std::string_view pattern, std::string_view name) {
  size_t p = 0, n = 0, star = std::string_view::npos, resume = 0;
  while (n < name.size()) {
    if (p < pattern.size() && pattern[p] == '*') {
      star = p++;
      resume = n;
    } else if (p < pattern.size() && pattern[p] == name[n]) {
      ++p;
      ++n;
    } else if (star != std::string_view::npos) {
      p = star + 1;
      n = ++resume;
    } else {
      return false;
    }
  }
  while (p < pattern.size() && pattern[p] == '*') ++p;
  return p == pattern.size();
}

// Prefix aliases between the layout model code uses ("canonical") and other checkpoint layouts.
class NameMapper {
 public:
  struct Alias {
    std::string canonical;    // e.g. "language_model.model."
    std::string alternative;  // e.g. "model.language_model."
  };

  NameMapper() = default;
  explicit NameMapper(std::vector<Alias> aliases) : aliases_(std::move(aliases)) {
    // Longest prefixes first, so "language_model.lm_head." is tried before a shorter overlapping alias.
    std::stable_sort(aliases_.begin(), aliases_.end(), [](const Alias& a, const Alias& b) {
      return a.alternative.size() > b.alternative.size();
    });
  }

  // Checkpoint names to try for a canonical name, canonical first.
  std::vector<std::string> candidates(std::string_view canonical_name) const {
    std::vector<std::string> out{std::string(canonical_name)};
    for (const Alias& a : aliases_) {
      if (canonical_name.starts_with(a.canonical)) {
        out.push_back(a.alternative + std::string(canonical_name.substr(a.canonical.size())));
      }
    }
    return out;
  }

  // The canonical spelling of a checkpoint name (unchanged when no alias applies).
  std::string canonical(std::string_view checkpoint_name) const {
    // A name already spelled canonically stays as it is, even when a shorter alternative prefix (such as
    // "vision_tower." for "vision_tower.vision_model.") would also match it.
    for (const Alias& a : aliases_) {
      if (checkpoint_name.starts_with(a.canonical)) return std::string(checkpoint_name);
    }
    for (const Alias& a : aliases_) {
      if (checkpoint_name.starts_with(a.alternative)) {
        return a.canonical + std::string(checkpoint_name.substr(a.alternative.size()));
      }
    }
    return std::string(checkpoint_name);
  }

 private:
  std::vector<Alias> aliases_;
};

class Weights {
 public:
  // `api` and `weights` come from MmrtCreateArgs; tensors must have `dtype` (the compute dtype) and live on
  // `device`.
  Weights(const MmrtWeightsApi* api, MmrtWeights* weights, MmrtDataType dtype, NameMapper mapper = {},
          MmrtDevice device = {MMRT_DEVICE_CPU, 0})
      : api_(api), weights_(weights), dtype_(dtype), device_(device), mapper_(std::move(mapper)) {
    require(api_ != nullptr && MMRT_SDK_HAS_SLOT(api_, MmrtWeightsApi, get) &&
                MMRT_SDK_HAS_SLOT(api_, MmrtWeightsApi, contains),
            MMRT_STATUS_INVALID_ARGUMENT, "weights api lacks get/contains");
  }
  Weights(const MmrtCreateArgs& args, NameMapper mapper)
      : Weights(args.weights_api, args.weights, args.compute_dtype, std::move(mapper), args.device) {}

  // The checkpoint name under which `name` (canonical) exists, or nullopt.
  std::optional<std::string> resolve(std::string_view name) const {
    for (const std::string& candidate : mapper_.candidates(name)) {
      if (api_->contains(weights_, candidate.c_str())) return candidate;
    }
    return std::nullopt;
  }
  bool contains(std::string_view name) const { return resolve(name).has_value(); }

  // A required tensor with exactly `shape`.
  TensorView get(std::string_view name, std::vector<int64_t> shape) {
    std::optional<TensorView> t = get_optional(name, std::move(shape));
    if (!t) {
      throw Error(MMRT_STATUS_NOT_FOUND, str("checkpoint lacks tensor ", name, alternatives_note(name)));
    }
    return *t;
  }

  // A tensor that may be absent (e.g. a bias the config makes optional); present means shape-checked.
  std::optional<TensorView> get_optional(std::string_view name, std::vector<int64_t> shape) {
    return fetch(name, shape, false);
  }

  // A required weight of linear or embedding, in the form they read fastest (see the file comment): its
  // dtype is the compute dtype, or on the CPU f32, bf16 or f16 as the checkpoint stores it.
  TensorView matmul_weight(std::string_view name, std::vector<int64_t> shape) {
    std::optional<TensorView> t = fetch(name, shape, true);
    if (!t) {
      throw Error(MMRT_STATUS_NOT_FOUND, str("checkpoint lacks tensor ", name, alternatives_note(name)));
    }
    return *t;
  }

  // Declares checkpoint tensors (canonical names, '*' wildcards) the model deliberately does not use.
  void ignore(std::string_view pattern) { ignored_.emplace_back(pattern); }

  // Fails when a checkpoint tensor was neither claimed by get() nor matched by ignore(); tells the host
  // about the ignored ones.
  void finish() {
    require(
        MMRT_SDK_HAS_SLOT(api_, MmrtWeightsApi, count) && MMRT_SDK_HAS_SLOT(api_, MmrtWeightsApi, name_at),
        MMRT_STATUS_INVALID_ARGUMENT, "weights api lacks count/name_at");
    std::vector<std::string> unclaimed;
    uint64_t n = api_->count(weights_);
    for (uint64_t i = 0; i < n; ++i) {
      std::string name = api_->name_at(weights_, i);
      if (claimed_.count(name)) continue;
      std::string canonical = mapper_.canonical(name);
      bool ignored = std::any_of(ignored_.begin(), ignored_.end(),
                                 [&](const std::string& p) { return glob_match(p, canonical); });
      if (!ignored) {
        unclaimed.push_back(std::move(name));
      } else if (MMRT_SDK_HAS_SLOT(api_, MmrtWeightsApi, ignore)) {
        api_->ignore(weights_, name.c_str());
      }
    }
    if (unclaimed.empty()) return;
    std::string list;
    for (size_t i = 0; i < unclaimed.size() && i < 8; ++i) list += (i ? ", " : "") + unclaimed[i];
    if (unclaimed.size() > 8) list += str(", ... (", unclaimed.size() - 8, " more)");
    throw Error(MMRT_STATUS_INVALID_ARGUMENT,
                str("checkpoint has ", unclaimed.size(), " tensor(s) the model does not use: ", list,
                    " (a config/checkpoint mismatch, or a tensor missing from the plugin's weight table)"));
  }

  size_t n_claimed() const { return claimed_.size(); }

 private:
  static bool linear_takes(const MmrtDataType& t) {
    return same(t, MmrtDataType{MMRT_DTYPE_FLOAT, 32, 1}) ||
           same(t, MmrtDataType{MMRT_DTYPE_BFLOAT, 16, 1}) || same(t, MmrtDataType{MMRT_DTYPE_FLOAT, 16, 1});
  }

  std::optional<TensorView> fetch(std::string_view name, const std::vector<int64_t>& shape, bool as_stored) {
    std::optional<std::string> resolved = resolve(name);
    if (!resolved) return std::nullopt;
    MmrtTensor raw{};
    bool stored = as_stored && device_.device_type == MMRT_DEVICE_CPU &&
                  MMRT_SDK_HAS_SLOT(api_, MmrtWeightsApi, get_as);
    if (stored) {
      check(api_->get_as(weights_, resolved->c_str(), MmrtDataType{0, 0, 0}, &raw),
            str("loading tensor ", *resolved));
      stored = linear_takes(raw.dtype);
    }
    if (!stored) check(api_->get(weights_, resolved->c_str(), &raw), str("loading tensor ", *resolved));
    TensorView t(raw);
    if (!std::equal(t.shape().begin(), t.shape().end(), shape.begin(), shape.end())) {
      throw Error(MMRT_STATUS_INVALID_ARGUMENT,
                  str("tensor ", *resolved, " has shape ", shape_string(t.shape()), ", the config implies ",
                      shape_string(shape)));
    }
    if (!stored && !same(t.dtype(), dtype_)) {
      throw Error(MMRT_STATUS_INVALID_ARGUMENT, str("tensor ", *resolved, " is ", dtype_name(t.dtype()),
                                                    ", expected ", dtype_name(dtype_)));
    }
    claimed_.insert(*resolved);
    return t;
  }

  std::string alternatives_note(std::string_view name) const {
    std::vector<std::string> c = mapper_.candidates(name);
    if (c.size() < 2) return "";
    std::string note = " (also tried";
    for (size_t i = 1; i < c.size(); ++i) note += " " + c[i];
    return note + ")";
  }

  const MmrtWeightsApi* api_;
  MmrtWeights* weights_;
  MmrtDataType dtype_;
  MmrtDevice device_;
  NameMapper mapper_;
  std::set<std::string> claimed_;
  std::vector<std::string> ignored_;
};

}  // namespace mmrt::sdk

#endif  // MMRT_SDK_WEIGHTS_HPP_
