// The BLIP-2 Querying Transformer (Transformers' Blip2QFormerModel with its learned query_tokens): a
// BERT-style post-norm stack whose only inputs are the query tokens and the image features.
//
//   h = layernorm(query_tokens)                                   [Q, Dq]
//   layer i:  h = LayerNorm(h + dense(self_attn(h)))              attention.{attention,output}
//             if i % cross_attention_frequency == 0:
//             h = LayerNorm(h + dense(cross_attn(q = h, kv = image_embeds)))   crossattention.*
//             h = LayerNorm(h + output_query.dense(act(intermediate_query.dense(h))))
//   -> last_hidden_state [Q, Dq] (no final norm)
//
// Attention is dense and unmasked, softmax(q·kᵀ / sqrt(Dh))·v. The text branch of each layer
// (`intermediate`, `output`) only runs for Q-Former text input, which generation never has, so it is ignored.
//
// Worked example (blip2-opt-2.7b): 32 queries of 768, 12 layers of 12 heads; layers 0, 2, .., 10
// cross-attend to the 257 vision rows of 1408 (key/value 1408 -> 768).
//
// Ownership: weight views belong to the host's weights object. Threading: forward is const; the caller
// owns the scratch.
#ifndef MMRT_PLUGINS_BLIP2_QFORMER_HPP_
#define MMRT_PLUGINS_BLIP2_QFORMER_HPP_

#include <optional>
#include <string>
#include <vector>

#include "config.hpp"
#include "mmrt/blocks/layers.hpp"
#include "mmrt/ops.hpp"
#include "mmrt/scratch.hpp"
#include "mmrt/weights.hpp"

namespace mmrt::blip2 {

class QFormer {
 public:
  // `<module>.attention.{query,key,value}` and `<module>.output.{dense,LayerNorm}`.
  struct Attention {
    sdk::blocks::Linear query, key, value;  // key/value take Dv inputs for cross-attention
    sdk::blocks::Linear dense;
    sdk::blocks::LayerNorm layer_norm;
  };
  struct Layer {
    Attention attention;
    std::optional<Attention> crossattention;
    sdk::blocks::Linear intermediate_query;  // [I, Dq]
    sdk::blocks::Linear output_query;        // [Dq, I]
    sdk::blocks::LayerNorm output_query_layer_norm;
  };

  // Loads `query_tokens` and `<prefix>{layernorm,encoder.layer.*}`; ignores the text-branch tensors.
  QFormer(const QFormerConfig& config, int64_t num_query_tokens, sdk::Weights& w, const std::string& prefix);

  // image_embeds [n_images · P, Dv] (image-major, P rows each) -> out [n_images · Q, Dq].
  void forward(const sdk::Ops& ops, sdk::Scratch& scratch, const sdk::TensorView& image_embeds, int64_t P,
               const sdk::TensorView& out) const;

 private:
  // out = LayerNorm(h + dense(attention(q = h, kv = kv))) per image; h, out [n·Q, Dq], kv [n·n_kv, Dkv].
  void attend(const sdk::Ops& ops, sdk::Scratch& scratch, const Attention& a, const sdk::TensorView& h,
              const sdk::TensorView& kv, int64_t n_kv, const sdk::TensorView& out) const;

  QFormerConfig config_;
  int64_t num_query_tokens_;
  sdk::TensorView query_tokens_;  // [Q, Dq]
  sdk::blocks::LayerNorm layernorm_;
  std::vector<Layer> layers_;
};

}  // namespace mmrt::blip2

#endif  // MMRT_PLUGINS_BLIP2_QFORMER_HPP_
