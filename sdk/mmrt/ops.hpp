// The op layer model code calls: MmrtKernels ("mmrt.host.kernels/1") as C++ methods that throw.
//
// An Ops is bound to one stream, so blocks read as a straight line of named ops:
//   ops.rms_norm(h, w.input_layernorm, eps, x);   ops.linear(x, w.q_proj, {}, q);
// The host picks the backend from the tensors' device; model code never names one. A slot the host does not
// offer (NULL or beyond struct_size) throws UNIMPLEMENTED "host lacks kernel X". A failing kernel throws with
// the kernel's name and its operands' shapes. Cheap to copy; thread-safe as the kernels are.
#ifndef MMRT_SDK_OPS_HPP_
#define MMRT_SDK_OPS_HPP_

#include <mmrt_abi.h>

#include <cstdint>
#include <initializer_list>
#include <span>
#include <string>

#include "mmrt/status.hpp"
#include "mmrt/tensor.hpp"

// The kernel slot `field` of `kernels_`, or a throw naming it.
#define MMRT_SDK_KERNEL(field)                     \
  (MMRT_SDK_HAS_SLOT(kernels_, MmrtKernels, field) \
       ? kernels_->field                           \
       : throw ::mmrt::sdk::Error(MMRT_STATUS_UNIMPLEMENTED, "host lacks kernel " #field))

namespace mmrt::sdk {

class Ops {
 public:
  // The host's kernel table; throws when the host offers none.
  static const MmrtKernels* host_kernels() {
    const auto* k = static_cast<const MmrtKernels*>(host_extension(MMRT_KERNELS_EXTENSION));
    require(k != nullptr, MMRT_STATUS_UNIMPLEMENTED, "host lacks the extension " MMRT_KERNELS_EXTENSION);
    return k;
  }

  Ops(const MmrtKernels* kernels, const MmrtStream* stream) : kernels_(kernels), stream_(stream) {}

  // y[m, n] = x[m, k] · w[n, k]ᵀ + bias[n]; an empty bias means none.
  void linear(const TensorView& x, const TensorView& w, const TensorView& bias, const TensorView& y) const {
    check_op(MMRT_SDK_KERNEL(linear)(x.raw(), w.raw(), opt(bias), y.raw(), stream_), "linear", {&x, &w, &y});
  }
  // out[i, :] = table[ids[i], :]; ids int32 [n].
  void embedding(const TensorView& table, const TensorView& ids, const TensorView& out) const {
    check_op(MMRT_SDK_KERNEL(embedding)(table.raw(), ids.raw(), out.raw(), stream_), "embedding",
             {&table, &ids, &out});
  }
  void layer_norm(const TensorView& x, const TensorView& weight, const TensorView& bias, float eps,
                  const TensorView& y) const {
    check_op(MMRT_SDK_KERNEL(layer_norm)(x.raw(), weight.raw(), opt(bias), eps, y.raw(), stream_),
             "layer_norm", {&x, &weight, &y});
  }
  void rms_norm(const TensorView& x, const TensorView& weight, float eps, const TensorView& y) const {
    check_op(MMRT_SDK_KERNEL(rms_norm)(x.raw(), weight.raw(), eps, y.raw(), stream_), "rms_norm",
             {&x, &weight, &y});
  }
  // y = act(x); kind is MMRT_ACT_*; y may be x.
  void activation(int32_t kind, const TensorView& x, const TensorView& y) const {
    check_op(MMRT_SDK_KERNEL(activation)(kind, x.raw(), y.raw(), stream_), "activation", {&x, &y});
  }
  // y = silu(gate) * up; y may be gate or up.
  void silu_mul(const TensorView& gate, const TensorView& up, const TensorView& y) const {
    check_op(MMRT_SDK_KERNEL(silu_mul)(gate.raw(), up.raw(), y.raw(), stream_), "silu_mul", {&gate, &up, &y});
  }
  // [1.1] y = act(gate) * up; kind is MMRT_ACT_* (T5's gated-GELU: MMRT_ACT_GELU_TANH); y may be gate or up.
  void gated_activation(int32_t kind, const TensorView& gate, const TensorView& up,
                        const TensorView& y) const {
    check_op(MMRT_SDK_KERNEL(gated_activation)(kind, gate.raw(), up.raw(), y.raw(), stream_),
             "gated_activation", {&gate, &up, &y});
  }
  // y = a + b; b may be one row broadcast over a's rows; y may be a.
  void add(const TensorView& a, const TensorView& b, const TensorView& y) const {
    check_op(MMRT_SDK_KERNEL(add)(a.raw(), b.raw(), y.raw(), stream_), "add", {&a, &b, &y});
  }
  // NeoX RoPE in place on x [n_tokens, n_heads, head_dim]; inv_freq f32 [rot_dim / 2].
  void rope(const TensorView& x, const TensorView& positions, const TensorView& inv_freq,
            const int32_t* mrope_section = nullptr, float attention_scaling = 1.0f) const {
    check_op(MMRT_SDK_KERNEL(rope)(x.raw(), positions.raw(), inv_freq.raw(), mrope_section, attention_scaling,
                                   stream_),
             "rope", {&x, &positions, &inv_freq});
  }
  // Dense attention within one sequence; q [n_q, n_head, d], k, v [n_kv, n_head_kv, d]; out like q.
  void attention(const TensorView& q, const TensorView& k, const TensorView& v, const TensorView& bias,
                 float scale, bool causal, const TensorView& out) const {
    check_op(MMRT_SDK_KERNEL(attention)(q.raw(), k.raw(), v.raw(), opt(bias), scale, causal ? 1 : 0,
                                        out.raw(), stream_),
             "attention", {&q, &k, &v, &out});
  }
  void kv_cache_write(const TensorView& k, const TensorView& v, MmrtKvLayer layer,
                      const MmrtBatchLayout* layout) const {
    check_op(MMRT_SDK_KERNEL(kv_cache_write)(k.raw(), v.raw(), layer, layout, stream_), "kv_cache_write",
             {&k, &v});
  }
  void paged_attention(const TensorView& q, MmrtKvLayer layer, const MmrtBatchLayout* layout, float scale,
                       const TensorView& out) const {
    check_op(MMRT_SDK_KERNEL(paged_attention)(q.raw(), layer, layout, scale, out.raw(), stream_),
             "paged_attention", {&q, &out});
  }
  // [1.1] T5's relative position bias for paged_attention_ex: rel_bias f32 [n_buckets, n_head] (the
  // checkpoint's relative_attention_bias.weight) with the config's bucket count and maximum distance.
  struct RelativeBias {
    TensorView table;
    int32_t n_buckets = 32;
    int32_t max_distance = 128;
    bool bidirectional = true;
  };
  // [1.1] paged_attention over a self (causal) or cross (causal false: every cached key) cache, with an
  // optional relative position bias (an empty table means none).
  void paged_attention_ex(const TensorView& q, MmrtKvLayer layer, const MmrtBatchLayout* layout, float scale,
                          bool causal, const RelativeBias& rel_bias, const TensorView& out) const {
    MmrtPagedAttentionArgs args{};
    args.struct_size = MMRT_SIZEOF(MmrtPagedAttentionArgs, out);
    args.q = q.raw();
    args.layer = layer;
    args.layout = layout;
    args.scale = scale;
    args.causal = causal ? 1 : 0;
    args.rel_bias = opt(rel_bias.table);
    args.n_buckets = rel_bias.n_buckets;
    args.max_distance = rel_bias.max_distance;
    args.bidirectional = rel_bias.bidirectional ? 1 : 0;
    args.out = out.raw();
    check_op(MMRT_SDK_KERNEL(paged_attention_ex)(&args, stream_), "paged_attention_ex", {&q, &out});
  }
  // [1.1] n_seqs = cu_q.size() - 1 dense attentions in one call: sequence s is query rows cu_q[s] ..
  // cu_q[s+1]-1 of q [Σ n_q, n_head, d] and key rows cu_k[s] .. cu_k[s+1]-1 of k, v [Σ n_k, n_head_kv, d];
  // out like q. bias (empty: none) f32 [bias_period, n_head, n_q, n_k] is shared by sequences of one size,
  // sequence s adding bias[s % bias_period] (Swin: one per window of an image).
  void attention_varlen(const TensorView& q, const TensorView& k, const TensorView& v,
                        std::span<const int32_t> cu_q, std::span<const int32_t> cu_k, const TensorView& bias,
                        int32_t bias_period, float scale, bool causal, const TensorView& out) const {
    require(!cu_q.empty() && cu_q.size() == cu_k.size(), MMRT_STATUS_INVALID_ARGUMENT,
            "attention_varlen: cu_q and cu_k need n_seqs + 1 entries each");
    MmrtVarlenAttentionArgs args{};
    args.struct_size = MMRT_SIZEOF(MmrtVarlenAttentionArgs, out);
    args.q = q.raw();
    args.k = k.raw();
    args.v = v.raw();
    args.n_seqs = static_cast<int32_t>(cu_q.size() - 1);
    args.cu_q_host = cu_q.data();
    args.cu_k_host = cu_k.data();
    args.bias = opt(bias);
    args.bias_period = bias_period;
    args.scale = scale;
    args.causal = causal ? 1 : 0;
    args.out = out.raw();
    check_op(MMRT_SDK_KERNEL(attention_varlen)(&args, stream_), "attention_varlen", {&q, &k, &v, &out});
  }
  // pixels [C, H, W], weight [out_ch, C, p, p] -> out [(H/p)·(W/p), out_ch].
  void patch_embed(const TensorView& pixels, const TensorView& weight, const TensorView& bias,
                   const TensorView& out) const {
    check_op(MMRT_SDK_KERNEL(patch_embed)(pixels.raw(), weight.raw(), opt(bias), out.raw(), stream_),
             "patch_embed", {&pixels, &weight, &out});
  }
  // dst = src for 2-D tensors of one shape; either may be row-strided; converts compute dtype <-> f32.
  void copy(const TensorView& src, const TensorView& dst) const {
    check_op(MMRT_SDK_KERNEL(copy)(src.raw(), dst.raw(), stream_), "copy", {&src, &dst});
  }
  void gather_rows(const TensorView& src, const TensorView& rows, const TensorView& dst) const {
    check_op(MMRT_SDK_KERNEL(gather_rows)(src.raw(), rows.raw(), dst.raw(), stream_), "gather_rows",
             {&src, &rows, &dst});
  }
  void scatter_rows(const TensorView& src, const TensorView& rows, const TensorView& dst) const {
    check_op(MMRT_SDK_KERNEL(scatter_rows)(src.raw(), rows.raw(), dst.raw(), stream_), "scatter_rows",
             {&src, &rows, &dst});
  }
  void scale(const TensorView& x, float s) const {
    check_op(MMRT_SDK_KERNEL(scale)(x.raw(), s, stream_), "scale", {&x});
  }

  const MmrtStream* stream() const { return stream_; }

 private:
  static const MmrtTensor* opt(const TensorView& t) { return t.empty() ? nullptr : t.raw(); }

  // Throws with the kernel name and operand shapes; the message is built only on failure.
  static void check_op(MmrtStatus* status, const char* name,
                       std::initializer_list<const TensorView*> operands) {
    if (status == nullptr) return;
    std::string context = str("kernel ", name, "(");
    bool first = true;
    for (const TensorView* t : operands) {
      context += (first ? "" : ", ") + t->describe();
      first = false;
    }
    check(status, context + ")");
  }

  const MmrtKernels* kernels_;
  const MmrtStream* stream_;
};

}  // namespace mmrt::sdk

#endif  // MMRT_SDK_OPS_HPP_
