#include "added_vocabulary.hpp"

#include <algorithm>

#include "unicode_class.hpp"
#include "utf8.hpp"

namespace mmrt::text {
namespace {

char32_t last_codepoint(std::string_view text) {
  size_t start = text.size() - 1;
  while (start > 0 && (static_cast<unsigned char>(text[start]) & 0xC0) == 0x80) --start;
  return utf8::next_codepoint(text, start);
}

}  // namespace

void AddedVocabulary::Matcher::add(std::string_view pattern, size_t token_index) {
  if (pattern.empty()) return;
  int32_t node = 0;
  for (char c : pattern) {
    const auto byte = static_cast<unsigned char>(c);
    int32_t next = child(node, byte);
    if (next < 0) {
      next = static_cast<int32_t>(nodes_.size());
      auto& children = nodes_[static_cast<size_t>(node)].children;
      children.insert(std::lower_bound(children.begin(), children.end(), std::make_pair(byte, int32_t{0})),
                      {byte, next});
      nodes_.emplace_back();
    }
    node = next;
  }
  nodes_[static_cast<size_t>(node)].token_index = static_cast<int64_t>(token_index);
  first_byte_[static_cast<unsigned char>(pattern[0])] = true;
}

int32_t AddedVocabulary::Matcher::child(int32_t node, unsigned char byte) const {
  const auto& children = nodes_[static_cast<size_t>(node)].children;
  const auto it = std::lower_bound(children.begin(), children.end(), std::make_pair(byte, int32_t{0}));
  if (it == children.end() || it->first != byte) return -1;
  return it->second;
}

bool AddedVocabulary::Matcher::find(std::string_view text, size_t from, size_t& start, size_t& end,
                                    size_t& token_index) const {
  for (size_t i = from; i < text.size(); ++i) {
    if (!first_byte_[static_cast<unsigned char>(text[i])]) continue;
    int32_t node = 0;
    int64_t best_index = -1;
    size_t best_end = 0;
    for (size_t j = i; j < text.size(); ++j) {
      node = child(node, static_cast<unsigned char>(text[j]));
      if (node < 0) break;
      if (nodes_[static_cast<size_t>(node)].token_index >= 0) {
        best_index = nodes_[static_cast<size_t>(node)].token_index;
        best_end = j + 1;
      }
    }
    if (best_index >= 0) {
      start = i;
      end = best_end;
      token_index = static_cast<size_t>(best_index);
      return true;
    }
  }
  return false;
}

AddedVocabulary::AddedVocabulary(std::vector<AddedToken> tokens, const Normalizer* normalizer)
    : tokens_(std::move(tokens)) {
  for (size_t i = 0; i < tokens_.size(); ++i) {
    auto& token = tokens_[i];
    token.decoded = token.content;
    if (!token.normalized) {
      raw_matcher_.add(token.content, i);
      continue;
    }
    if (normalizer != nullptr) normalizer->normalize(token.decoded);
    normalized_matcher_.add(token.decoded, i);
  }
}

std::vector<AddedVocabulary::Match> AddedVocabulary::find_matches(std::string_view text,
                                                                  const Matcher& matcher) const {
  std::vector<Match> matches;
  size_t start_offset = 0;
  size_t search_from = 0;
  size_t start = 0, end = 0, index = 0;
  while (matcher.find(text, search_from, start, end, index)) {
    search_from = end;
    const AddedToken& token = tokens_[index];
    if (token.single_word) {
      const bool space_before = start == 0 || !unicode::is_word(last_codepoint(text.substr(0, start)));
      size_t after = end;
      const bool space_after = end == text.size() || !unicode::is_word(utf8::next_codepoint(text, after));
      if (!space_before || !space_after) continue;
    }
    if (token.lstrip) {
      size_t new_start = start;
      while (new_start > 0) {
        size_t char_start = new_start - 1;
        while (char_start > 0 && (static_cast<unsigned char>(text[char_start]) & 0xC0) == 0x80) --char_start;
        size_t next = char_start;
        if (!unicode::is_whitespace(utf8::next_codepoint(text, next))) break;
        new_start = char_start;
      }
      start = std::max(new_start, start_offset);
    }
    if (token.rstrip) {
      while (end < text.size()) {
        size_t next = end;
        if (!unicode::is_whitespace(utf8::next_codepoint(text, next))) break;
        end = next;
      }
    }
    matches.push_back({start, end, token.id});
    start_offset = end;
  }
  return matches;
}

std::vector<InputPiece> AddedVocabulary::extract_and_normalize(std::string_view text,
                                                               const Normalizer* normalizer) const {
  std::vector<InputPiece> pieces;
  // Appends text[from, to) after normalization, cut at the normalized added tokens.
  const auto add_text = [&](size_t from, size_t to) {
    std::string piece(text.substr(from, to - from));
    if (normalizer != nullptr) normalizer->normalize(piece);
    if (piece.empty()) return;
    const bool at_origin = from == 0;
    if (normalized_matcher_.empty()) {
      pieces.push_back({std::move(piece), -1, at_origin});
      return;
    }
    size_t previous = 0;
    for (const auto& match : find_matches(piece, normalized_matcher_)) {
      if (match.start > previous)
        pieces.push_back({piece.substr(previous, match.start - previous), -1, at_origin && previous == 0});
      pieces.push_back({"", match.id, false});
      previous = match.end;
    }
    if (previous < piece.size()) pieces.push_back({piece.substr(previous), -1, at_origin && previous == 0});
  };

  size_t previous = 0;
  if (!raw_matcher_.empty()) {
    for (const auto& match : find_matches(text, raw_matcher_)) {
      if (match.start > previous) add_text(previous, match.start);
      pieces.push_back({"", match.id, false});
      previous = match.end;
    }
  }
  if (previous < text.size()) add_text(previous, text.size());
  return pieces;
}

}  // namespace mmrt::text
