#pragma once
// The "Unigram" model of tokenizer.json (T5, mT5, XLNet, ALBERT): the segmentation of a piece that
// maximizes the sum of the vocabulary's log-probability scores (Viterbi over every vocabulary token that
// starts at each character). A character that begins no token is an unknown node scored
// min_score - 10; consecutive unknowns are fused, then spelled as <0xNN> byte tokens when byte_fallback,
// else given unk_id.
// Example (T5): "▁Hello" -> "▁Hell" "o" when score(▁Hell)+score(o) beats every other split.

#include <boost/json.hpp>
#include <string>

#include "model.hpp"
#include "vocab_map.hpp"

namespace mmrt::text {

class UnigramModel final : public Model {
 public:
  UnigramModel(const boost::json::object& model, const std::string& path);

  ModelKind kind() const override { return ModelKind::kUnigram; }
  void encode(std::string_view piece, std::vector<int32_t>& out) const override;
  std::optional<int32_t> token_to_id(std::string_view token) const override;
  const std::string* id_to_token(int32_t id) const override;
  int32_t id_end() const override { return static_cast<int32_t>(pieces_.size()); }

 private:
  // A byte trie over the vocabulary: node 0 is the root; children are sorted by byte.
  struct TrieNode {
    std::vector<std::pair<unsigned char, int32_t>> children;
    int32_t token_id = -1;
  };
  int32_t child(int32_t node, unsigned char byte) const;
  void viterbi(std::string_view piece, std::vector<int32_t>& out) const;

  std::vector<std::string> pieces_;  // [id_end()]
  std::vector<double> scores_;       // [id_end()]
  VocabMap vocab_;
  std::vector<TrieNode> trie_;
  std::optional<int32_t> unk_id_;
  double unk_score_ = 0.0;
  bool byte_fallback_ = false;
  int32_t byte_ids_[256];  // id of "<0xNN>", or -1
  PieceCache cache_{1 << 16};
};

}  // namespace mmrt::text
