#include "bpe_model.hpp"

#include <cstdio>
#include <queue>

#include "json_fields.hpp"
#include "tokenizer_error.hpp"
#include "utf8.hpp"

namespace mmrt::text {

BpeModel::BpeModel(const boost::json::object& model, const std::string& path) {
  const auto& vocab = json::as_object(json::field(model, "vocab", path), path + ".vocab");
  int32_t max_id = -1;
  vocab_.reserve(vocab.size());
  for (const auto& entry : vocab) {
    const auto& id_value = entry.value();
    if (!id_value.is_int64() || id_value.get_int64() < 0 || id_value.get_int64() > INT32_MAX) {
      throw TokenizerError(path + ".vocab: token '" + std::string(entry.key()) + "' has no valid id");
    }
    const auto id = static_cast<int32_t>(id_value.get_int64());
    vocab_.emplace(std::string(entry.key()), id);
    max_id = std::max(max_id, id);
  }
  id_to_token_.resize(static_cast<size_t>(max_id + 1));
  for (const auto& [token, id] : vocab_) id_to_token_[static_cast<size_t>(id)] = token;

  if (const auto unk = json::optional_string_field(model, "unk_token", path)) {
    if (const auto id = token_to_id(*unk)) unk_id_ = *id;
  }
  continuing_subword_prefix_ =
      json::optional_string_field(model, "continuing_subword_prefix", path).value_or("");
  end_of_word_suffix_ = json::optional_string_field(model, "end_of_word_suffix", path).value_or("");
  fuse_unk_ = json::bool_field(model, "fuse_unk", false, path);
  byte_fallback_ = json::bool_field(model, "byte_fallback", false, path);
  ignore_merges_ = json::bool_field(model, "ignore_merges", false, path);
  if (const auto* dropout = json::optional_field(model, "dropout")) {
    if (json::number(*dropout, path + ".dropout") != 0.0) {
      throw TokenizerError(path + ".dropout: BPE dropout is not supported (inference needs determinism)");
    }
  }
  for (int b = 0; b < 256; ++b) {
    char name[8];
    std::snprintf(name, sizeof(name), "<0x%02X>", b);
    byte_ids_[b] = token_to_id(name).value_or(-1);
  }

  const auto& merges = json::as_array(json::field(model, "merges", path), path + ".merges");
  merges_.reserve(merges.size());
  for (size_t rank = 0; rank < merges.size(); ++rank) {
    const std::string where = path + ".merges[" + std::to_string(rank) + "]";
    std::string left, right;
    if (merges[rank].is_string()) {
      const std::string line(merges[rank].get_string());
      const size_t space = line.find(' ');
      if (space == std::string::npos || line.find(' ', space + 1) != std::string::npos) {
        throw TokenizerError(where + ": '" + line + "' is not two tokens separated by one space");
      }
      left = line.substr(0, space);
      right = line.substr(space + 1);
    } else {
      const auto& pair = json::as_array(merges[rank], where);
      if (pair.size() != 2) throw TokenizerError(where + ": expected a pair of tokens");
      left = json::as_string(pair[0], where);
      right = json::as_string(pair[1], where);
    }
    const auto left_id = token_to_id(left);
    const auto right_id = token_to_id(right);
    std::string merged = left;
    merged += std::string_view(right).substr(
        right.compare(0, continuing_subword_prefix_.size(), continuing_subword_prefix_) == 0
            ? continuing_subword_prefix_.size()
            : 0);
    const auto merged_id = token_to_id(merged);
    if (!left_id || !right_id || !merged_id) {
      throw TokenizerError(where + ": merge '" + left + " " + right +
                           "' uses a token missing from the vocab");
    }
    merges_.emplace(pair_key(*left_id, *right_id), Merge{static_cast<int32_t>(rank), *merged_id});
  }
}

std::optional<int32_t> BpeModel::token_to_id(std::string_view token) const {
  const auto it = vocab_.find(token);
  if (it == vocab_.end()) return std::nullopt;
  return it->second;
}

const std::string* BpeModel::id_to_token(int32_t id) const {
  if (id < 0 || id >= id_end() || id_to_token_[static_cast<size_t>(id)].empty()) return nullptr;
  return &id_to_token_[static_cast<size_t>(id)];
}

void BpeModel::encode(std::string_view piece, std::vector<int32_t>& out) const {
  if (piece.empty()) return;
  if (ignore_merges_) {
    if (const auto id = token_to_id(piece)) {
      out.push_back(*id);
      return;
    }
  }
  if (cache_.lookup(piece, out)) return;
  const size_t first = out.size();
  merge_piece(piece, out);
  cache_.insert(piece, out.data() + first, out.size() - first);
}

void BpeModel::merge_piece(std::string_view piece, std::vector<int32_t>& out) const {
  struct Symbol {
    int32_t id;
    int32_t prev;
    int32_t next;
    bool alive;
  };
  std::vector<Symbol> symbols;
  symbols.reserve(piece.size());
  const auto add_symbol = [&](int32_t id) {
    const auto index = static_cast<int32_t>(symbols.size());
    symbols.push_back({id, index - 1, index + 1, true});
  };

  // Initial symbols, one per character (see the header for byte fallback and unk).
  std::optional<int32_t> pending_unk;
  std::string with_affixes;
  size_t pos = 0;
  while (pos < piece.size()) {
    const size_t start = pos;
    pos += utf8::char_length(static_cast<unsigned char>(piece[pos]));
    std::string_view character = piece.substr(start, pos - start);
    if ((start > 0 && !continuing_subword_prefix_.empty()) ||
        (pos == piece.size() && !end_of_word_suffix_.empty())) {
      with_affixes.clear();
      if (start > 0) with_affixes += continuing_subword_prefix_;
      with_affixes += character;
      if (pos == piece.size()) with_affixes += end_of_word_suffix_;
      character = with_affixes;
    }
    if (const auto id = token_to_id(character)) {
      if (pending_unk) {
        add_symbol(*pending_unk);
        pending_unk.reset();
      }
      add_symbol(*id);
      continue;
    }
    if (byte_fallback_) {
      bool all_bytes = true;
      for (char c : character) all_bytes = all_bytes && byte_ids_[static_cast<unsigned char>(c)] >= 0;
      if (all_bytes) {
        for (char c : character) add_symbol(byte_ids_[static_cast<unsigned char>(c)]);
        continue;
      }
    }
    if (unk_id_) {
      if (pending_unk && !fuse_unk_) add_symbol(*pending_unk);
      pending_unk = *unk_id_;
    }
  }
  if (pending_unk) add_symbol(*pending_unk);
  if (symbols.empty()) return;
  symbols.back().next = -1;

  struct Candidate {
    int32_t rank;
    int32_t pos;
    int32_t new_id;
    bool operator>(const Candidate& other) const {
      return rank != other.rank ? rank > other.rank : pos > other.pos;
    }
  };
  std::priority_queue<Candidate, std::vector<Candidate>, std::greater<>> queue;
  const auto push_pair = [&](int32_t left) {
    const int32_t right = symbols[static_cast<size_t>(left)].next;
    if (right < 0) return;
    const auto it =
        merges_.find(pair_key(symbols[static_cast<size_t>(left)].id, symbols[static_cast<size_t>(right)].id));
    if (it != merges_.end()) queue.push({it->second.rank, left, it->second.new_id});
  };
  for (int32_t i = 0; i + 1 < static_cast<int32_t>(symbols.size()); ++i) push_pair(i);

  while (!queue.empty()) {
    const Candidate top = queue.top();
    queue.pop();
    Symbol& left = symbols[static_cast<size_t>(top.pos)];
    if (!left.alive || left.next < 0) continue;
    Symbol& right = symbols[static_cast<size_t>(left.next)];
    // A stale entry: one side was merged since it was queued.
    const auto it = merges_.find(pair_key(left.id, right.id));
    if (it == merges_.end() || it->second.new_id != top.new_id) continue;
    left.id = top.new_id;
    right.alive = false;
    left.next = right.next;
    if (right.next >= 0) symbols[static_cast<size_t>(right.next)].prev = top.pos;
    if (left.prev >= 0) push_pair(left.prev);
    push_pair(top.pos);
  }
  for (int32_t i = 0; i >= 0; i = symbols[static_cast<size_t>(i)].next)
    out.push_back(symbols[static_cast<size_t>(i)].id);
}

}  // namespace mmrt::text
