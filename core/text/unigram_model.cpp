#include "unigram_model.hpp"

#include <algorithm>
#include <cstdio>
#include <limits>

#include "json_fields.hpp"
#include "tokenizer_error.hpp"
#include "utf8.hpp"

namespace mmrt::text {
namespace {

// The unknown-character penalty of SentencePiece and `tokenizers`.
constexpr double kUnknownPenalty = 10.0;

}  // namespace

UnigramModel::UnigramModel(const boost::json::object& model, const std::string& path) {
  const auto& vocab = json::as_array(json::field(model, "vocab", path), path + ".vocab");
  double min_score = std::numeric_limits<double>::infinity();
  trie_.emplace_back();
  for (size_t id = 0; id < vocab.size(); ++id) {
    const std::string where = path + ".vocab[" + std::to_string(id) + "]";
    const auto& entry = json::as_array(vocab[id], where);
    if (entry.size() != 2) throw TokenizerError(where + ": expected [token, score]");
    pieces_.push_back(json::as_string(entry[0], where));
    scores_.push_back(json::number(entry[1], where));
    min_score = std::min(min_score, scores_.back());
    vocab_.insert_or_assign(pieces_.back(), static_cast<int32_t>(id));
    int32_t node = 0;
    for (char c : pieces_.back()) {
      const auto byte = static_cast<unsigned char>(c);
      int32_t next = child(node, byte);
      if (next < 0) {
        next = static_cast<int32_t>(trie_.size());
        auto& children = trie_[static_cast<size_t>(node)].children;
        children.insert(std::lower_bound(children.begin(), children.end(), std::make_pair(byte, int32_t{0})),
                        {byte, next});
        trie_.emplace_back();
      }
      node = next;
    }
    trie_[static_cast<size_t>(node)].token_id = static_cast<int32_t>(id);
  }
  unk_score_ = min_score - kUnknownPenalty;
  if (json::optional_field(model, "unk_id") != nullptr) {
    const int64_t id = json::int_field(model, "unk_id", path);
    if (id < 0 || id >= static_cast<int64_t>(pieces_.size())) {
      throw TokenizerError(path + ".unk_id: " + std::to_string(id) + " is outside the vocab");
    }
    unk_id_ = static_cast<int32_t>(id);
  }
  byte_fallback_ = json::bool_field(model, "byte_fallback", false, path);
  for (int b = 0; b < 256; ++b) {
    char name[8];
    std::snprintf(name, sizeof(name), "<0x%02X>", b);
    byte_ids_[b] = token_to_id(name).value_or(-1);
  }
}

int32_t UnigramModel::child(int32_t node, unsigned char byte) const {
  const auto& children = trie_[static_cast<size_t>(node)].children;
  const auto it = std::lower_bound(children.begin(), children.end(), std::make_pair(byte, int32_t{0}));
  if (it == children.end() || it->first != byte) return -1;
  return it->second;
}

std::optional<int32_t> UnigramModel::token_to_id(std::string_view token) const {
  const auto it = vocab_.find(token);
  if (it == vocab_.end()) return std::nullopt;
  return it->second;
}

const std::string* UnigramModel::id_to_token(int32_t id) const {
  if (id < 0 || id >= id_end()) return nullptr;
  return &pieces_[static_cast<size_t>(id)];
}

void UnigramModel::encode(std::string_view piece, std::vector<int32_t>& out) const {
  if (piece.empty()) return;
  if (cache_.lookup(piece, out)) return;
  const size_t first = out.size();
  viterbi(piece, out);
  cache_.insert(piece, out.data() + first, out.size() - first);
}

void UnigramModel::viterbi(std::string_view piece, std::vector<int32_t>& out) const {
  struct Best {
    double score = 0.0;
    int64_t starts_at = -1;  // -1: not reached yet
    int32_t id = -1;
  };
  const size_t n = piece.size();
  std::vector<Best> best(n + 1);
  best[0].starts_at = 0;
  size_t start = 0;
  while (start < n) {
    const double score_here = best[start].score;
    const size_t char_len = utf8::char_length(static_cast<unsigned char>(piece[start]));
    bool has_single_char_token = false;
    int32_t node = 0;
    for (size_t end = start; end < n; ++end) {
      node = child(node, static_cast<unsigned char>(piece[end]));
      if (node < 0) break;
      const int32_t id = trie_[static_cast<size_t>(node)].token_id;
      if (id < 0) continue;
      Best& target = best[end + 1];
      const double candidate = score_here + scores_[static_cast<size_t>(id)];
      if (target.starts_at < 0 || candidate > target.score)
        target = {candidate, static_cast<int64_t>(start), id};
      if (end + 1 - start == char_len) has_single_char_token = true;
    }
    if (!has_single_char_token) {
      if (!unk_id_)
        throw TokenizerError("Unigram model: a character has no token and the model has no unk_id");
      Best& target = best[start + char_len];
      const double candidate = score_here + unk_score_;
      if (target.starts_at < 0 || candidate > target.score) {
        target = {candidate, static_cast<int64_t>(start), *unk_id_};
      }
    }
    start += char_len;
  }

  // Walk back; consecutive unknown nodes fuse into one segment.
  struct Segment {
    size_t start;
    size_t end;
    bool unknown;
  };
  std::vector<Segment> segments;
  size_t end = n;
  while (end > 0) {
    const Best& node = best[end];
    const auto from = static_cast<size_t>(node.starts_at);
    const bool unknown = unk_id_ && node.id == *unk_id_;
    if (unknown && !segments.empty() && segments.back().unknown) {
      segments.back().start = from;
    } else {
      segments.push_back({from, end, unknown});
    }
    end = from;
  }
  for (auto it = segments.rbegin(); it != segments.rend(); ++it) {
    const std::string_view text = piece.substr(it->start, it->end - it->start);
    if (const auto id = token_to_id(text)) {
      out.push_back(*id);
      continue;
    }
    if (byte_fallback_) {
      bool all_bytes = true;
      for (char c : text) all_bytes = all_bytes && byte_ids_[static_cast<unsigned char>(c)] >= 0;
      if (all_bytes) {
        for (char c : text) out.push_back(byte_ids_[static_cast<unsigned char>(c)]);
        continue;
      }
    }
    out.push_back(*unk_id_);
  }
}

}  // namespace mmrt::text
