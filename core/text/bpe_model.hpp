#pragma once
// Byte-pair encoding by merge rank, the "BPE" model of tokenizer.json (GPT-2, OPT, Qwen2 byte-level
// vocabularies and Llama-2's SentencePiece-style vocabulary with byte_fallback).
//
// A piece starts as one symbol per character (a character missing from the vocabulary becomes <0xNN>
// byte tokens with byte_fallback, else the unk token, consecutive unks fused when fuse_unk). The adjacent
// pair with the lowest merge rank, leftmost first, is merged until no pair has a merge.
// Example (Llama-2): "▁Hello" -> ▁ H e l l o -> ... -> "▁Hello" (id 22557).

#include <boost/json.hpp>
#include <string>
#include <unordered_map>

#include "model.hpp"
#include "vocab_map.hpp"

namespace mmrt::text {

class BpeModel final : public Model {
 public:
  // `model` is the "model" object of tokenizer.json; merges may be "a b" strings or ["a", "b"] pairs.
  BpeModel(const boost::json::object& model, const std::string& path);

  ModelKind kind() const override { return ModelKind::kBpe; }
  void encode(std::string_view piece, std::vector<int32_t>& out) const override;
  std::optional<int32_t> token_to_id(std::string_view token) const override;
  const std::string* id_to_token(int32_t id) const override;
  int32_t id_end() const override { return static_cast<int32_t>(id_to_token_.size()); }

 private:
  struct Merge {
    int32_t rank;
    int32_t new_id;
  };
  static uint64_t pair_key(int32_t left, int32_t right) {
    return (static_cast<uint64_t>(static_cast<uint32_t>(left)) << 32) | static_cast<uint32_t>(right);
  }
  void merge_piece(std::string_view piece, std::vector<int32_t>& out) const;

  VocabMap vocab_;
  std::vector<std::string> id_to_token_;  // [id_end()], empty strings for unused ids
  std::unordered_map<uint64_t, Merge> merges_;
  std::optional<int32_t> unk_id_;
  std::string continuing_subword_prefix_;
  std::string end_of_word_suffix_;
  bool fuse_unk_ = false;
  bool byte_fallback_ = false;
  bool ignore_merges_ = false;
  int32_t byte_ids_[256];  // id of "<0xNN>", or -1
  PieceCache cache_{1 << 16};
};

}  // namespace mmrt::text
