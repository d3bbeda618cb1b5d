#include "template_lexer.hpp"

#include <algorithm>
#include <cstring>
#include <string_view>

#include "python_string.hpp"

namespace mmrt::text::jinja {
namespace {

bool is_jinja_space(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}
bool is_name_start(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}
bool is_name_char(char c) {
  return is_name_start(c) || (c >= '0' && c <= '9');
}
bool is_digit(char c) {
  return c >= '0' && c <= '9';
}

int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Jinja reads every template with universal newlines and, with keep_trailing_newline=False,
// drops one final newline.
std::string normalize_newlines(const std::string& source) {
  std::string out;
  out.reserve(source.size());
  for (size_t i = 0; i < source.size(); ++i) {
    if (source[i] == '\r') {
      out.push_back('\n');
      if (i + 1 < source.size() && source[i + 1] == '\n') ++i;
    } else {
      out.push_back(source[i]);
    }
  }
  if (!out.empty() && out.back() == '\n') out.pop_back();
  return out;
}

class Lexer {
 public:
  Lexer(std::string source, const std::string& origin) : src_(std::move(source)), origin_(origin) {
    line_starts_.push_back(0);
    for (size_t i = 0; i < src_.size(); ++i) {
      if (src_[i] == '\n') line_starts_.push_back(i + 1);
    }
  }

  std::vector<Token> run() {
    size_t pos = 0;
    bool line_starting = true;
    while (pos < src_.size()) {
      const size_t tag = find_tag_start(pos);
      if (tag == std::string::npos) {
        emit_data(src_.substr(pos), pos);
        break;
      }
      const char tag_kind = src_[tag + 1];
      const char sign =
          tag + 2 < src_.size() && (src_[tag + 2] == '-' || src_[tag + 2] == '+') ? src_[tag + 2] : 0;
      std::string text = src_.substr(pos, tag - pos);
      apply_left_whitespace_control(text, sign, tag_kind != '{', line_starting);
      emit_data(std::move(text), pos);
      const size_t after_open = tag + 2 + (sign ? 1 : 0);
      if (tag_kind == '#') {
        pos = lex_comment(tag, after_open);
      } else if (tag_kind == '%' && is_raw_begin(after_open)) {
        pos = lex_raw(tag, after_open);
      } else {
        pos = lex_tag(tag, after_open, tag_kind == '%');
      }
      line_starting = pos > 0 && src_[pos - 1] == '\n';
    }
    tokens_.push_back(Token{TokenKind::eof, loc(src_.size()), "", 0, 0.0});
    return std::move(tokens_);
  }

 private:
  SourceLoc loc(size_t pos) const {
    const auto it = std::upper_bound(line_starts_.begin(), line_starts_.end(), pos);
    const size_t line_index = static_cast<size_t>(it - line_starts_.begin()) - 1;
    return SourceLoc{static_cast<int>(line_index + 1), static_cast<int>(pos - line_starts_[line_index] + 1)};
  }

  [[noreturn]] void fail(size_t pos, const std::string& message) const {
    throw located_error(origin_, loc(pos), message);
  }

  size_t find_tag_start(size_t pos) const {
    for (size_t i = src_.find('{', pos); i != std::string::npos; i = src_.find('{', i + 1)) {
      if (i + 1 < src_.size() && (src_[i + 1] == '{' || src_[i + 1] == '%' || src_[i + 1] == '#')) return i;
    }
    return std::string::npos;
  }

  void emit_data(std::string text, size_t pos) {
    if (text.empty()) return;
    tokens_.push_back(Token{TokenKind::data, loc(pos), std::move(text), 0, 0.0});
  }

  // The data before a tag: "{%-" strips all trailing whitespace; otherwise lstrip_blocks strips
  // spaces and tabs between the start of the line and a block or comment tag.
  static void apply_left_whitespace_control(std::string& text, char sign, bool lstrip_applies,
                                            bool line_starting) {
    if (sign == '-') {
      size_t end = text.size();
      while (end > 0 && is_jinja_space(text[end - 1])) --end;
      text.resize(end);
      return;
    }
    if (sign == '+' || !lstrip_applies) return;
    const size_t newline = text.rfind('\n');
    const size_t line_begin = newline == std::string::npos ? 0 : newline + 1;
    if (line_begin == 0 && !line_starting) return;
    if (text.find_first_not_of(" \t", line_begin) == std::string::npos) text.resize(line_begin);
  }

  size_t skip_whitespace(size_t pos) const {
    while (pos < src_.size() && is_jinja_space(src_[pos])) ++pos;
    return pos;
  }

  // After a block or comment end: "-%}" strips all following whitespace, "+%}" keeps it, and
  // trim_blocks removes a single newline after a plain "%}".
  size_t apply_right_whitespace_control(size_t pos, char sign) const {
    if (sign == '-') return skip_whitespace(pos);
    if (sign == '+') return pos;
    if (pos < src_.size() && src_[pos] == '\n') return pos + 1;
    return pos;
  }

  size_t lex_comment(size_t tag, size_t after_open) {
    const size_t close = src_.find("#}", after_open);
    if (close == std::string::npos) fail(tag, "unclosed comment: missing '#}'");
    const char sign =
        close > after_open && (src_[close - 1] == '-' || src_[close - 1] == '+') ? src_[close - 1] : 0;
    return apply_right_whitespace_control(close + 2, sign);
  }

  // Matches "\s*raw\s*(-%}|%})" after "{%" or "{%-".
  bool is_raw_begin(size_t pos) const {
    pos = skip_whitespace(pos);
    if (src_.compare(pos, 3, "raw") != 0) return false;
    pos = skip_whitespace(pos + 3);
    return src_.compare(pos, 2, "%}") == 0 || src_.compare(pos, 3, "-%}") == 0;
  }

  // Returns the position after "{%[-+]? endraw [-+]?%}" starting at pos, or npos; sets the signs.
  size_t match_endraw(size_t pos, char& open_sign, char& close_sign) const {
    size_t p = pos + 2;
    open_sign = p < src_.size() && (src_[p] == '-' || src_[p] == '+') ? src_[p] : 0;
    if (open_sign) ++p;
    p = skip_whitespace(p);
    if (src_.compare(p, 6, "endraw") != 0) return std::string::npos;
    p = skip_whitespace(p + 6);
    close_sign = p < src_.size() && (src_[p] == '-' || src_[p] == '+') ? src_[p] : 0;
    if (close_sign) ++p;
    if (src_.compare(p, 2, "%}") != 0) return std::string::npos;
    return p + 2;
  }

  size_t lex_raw(size_t tag, size_t after_open) {
    size_t pos = skip_whitespace(skip_whitespace(after_open) + 3);
    // The raw opening tag takes no trim_blocks newline; only "-%}" strips what follows.
    pos = src_[pos] == '-' ? skip_whitespace(pos + 3) : pos + 2;
    const bool line_starting = pos > 0 && src_[pos - 1] == '\n';
    for (size_t candidate = src_.find("{%", pos); candidate != std::string::npos;
         candidate = src_.find("{%", candidate + 1)) {
      char open_sign = 0;
      char close_sign = 0;
      const size_t end = match_endraw(candidate, open_sign, close_sign);
      if (end == std::string::npos) continue;
      std::string text = src_.substr(pos, candidate - pos);
      apply_left_whitespace_control(text, open_sign, true, line_starting);
      emit_data(std::move(text), pos);
      return apply_right_whitespace_control(end, close_sign);
    }
    fail(tag, "unclosed raw block: missing '{% endraw %}'");
  }

  size_t lex_tag(size_t tag, size_t pos, bool is_block) {
    tokens_.push_back(Token{is_block ? TokenKind::block_begin : TokenKind::var_begin, loc(tag), "", 0, 0.0});
    std::vector<char> brackets;
    while (true) {
      pos = skip_whitespace(pos);
      if (pos >= src_.size()) {
        fail(tag, is_block ? "unclosed block tag: missing '%}'" : "unclosed expression: missing '}}'");
      }
      if (brackets.empty()) {
        const size_t end = match_tag_end(pos, is_block);
        if (end != std::string::npos) return end;
      }
      pos = lex_expression_token(pos, brackets);
    }
  }

  size_t match_tag_end(size_t pos, bool is_block) {
    const char* close = is_block ? "%}" : "}}";
    char sign = 0;
    size_t p = pos;
    if (src_[p] == '-' || (is_block && src_[p] == '+')) sign = src_[p++];
    if (src_.compare(p, 2, close) != 0) return std::string::npos;
    tokens_.push_back(Token{is_block ? TokenKind::block_end : TokenKind::var_end, loc(pos), "", 0, 0.0});
    p += 2;
    if (!is_block) return sign == '-' ? skip_whitespace(p) : p;
    return apply_right_whitespace_control(p, sign);
  }

  size_t lex_expression_token(size_t pos, std::vector<char>& brackets) {
    const char c = src_[pos];
    if (c == '\'' || c == '"') return lex_string(pos);
    if (is_digit(c)) return lex_number(pos);
    if (is_name_start(c)) {
      size_t end = pos;
      while (end < src_.size() && is_name_char(src_[end])) ++end;
      tokens_.push_back(Token{TokenKind::name, loc(pos), src_.substr(pos, end - pos), 0, 0.0});
      return end;
    }
    static constexpr const char* kTwoCharOps[] = {"//", "**", "==", "!=", "<=", ">="};
    for (const char* op : kTwoCharOps) {
      if (src_.compare(pos, 2, op) == 0) {
        tokens_.push_back(Token{TokenKind::op, loc(pos), op, 0, 0.0});
        return pos + 2;
      }
    }
    if (std::strchr("+-*/%~<>=.,:|()[]{};", c) == nullptr || c == '\0') {
      fail(pos, std::string("unexpected character '") + c + "' in expression");
    }
    if (c == '(' || c == '[' || c == '{') brackets.push_back(c == '(' ? ')' : c == '[' ? ']' : '}');
    if (c == ')' || c == ']' || c == '}') {
      if (brackets.empty() || brackets.back() != c) fail(pos, std::string("unexpected '") + c + "'");
      brackets.pop_back();
    }
    tokens_.push_back(Token{TokenKind::op, loc(pos), std::string(1, c), 0, 0.0});
    return pos + 1;
  }

  // A Python string literal, decoded like Jinja does (unicode-escape over the literal's text).
  size_t lex_string(size_t start) {
    const char quote = src_[start];
    std::string value;
    size_t pos = start + 1;
    while (true) {
      if (pos >= src_.size()) fail(start, "unterminated string literal");
      const char c = src_[pos];
      if (c == quote) break;
      if (c != '\\') {
        value.push_back(c);
        ++pos;
        continue;
      }
      if (pos + 1 >= src_.size()) fail(start, "unterminated string literal");
      pos = decode_escape(pos, value);
    }
    tokens_.push_back(Token{TokenKind::string, loc(start), std::move(value), 0, 0.0});
    return pos + 1;
  }

  // Decodes the escape sequence at src_[pos] == '\\' into out and returns the position after it.
  size_t decode_escape(size_t pos, std::string& out) {
    const char e = src_[pos + 1];
    const auto simple = [&](char decoded) {
      out.push_back(decoded);
      return pos + 2;
    };
    switch (e) {
      case '\n':
        return pos + 2;
      case '\\':
        return simple('\\');
      case '\'':
        return simple('\'');
      case '"':
        return simple('"');
      case 'a':
        return simple('\a');
      case 'b':
        return simple('\b');
      case 'f':
        return simple('\f');
      case 'n':
        return simple('\n');
      case 'r':
        return simple('\r');
      case 't':
        return simple('\t');
      case 'v':
        return simple('\v');
      default:
        break;
    }
    if (e >= '0' && e <= '7') {
      uint32_t cp = 0;
      size_t p = pos + 1;
      for (int i = 0; i < 3 && p < src_.size() && src_[p] >= '0' && src_[p] <= '7'; ++i, ++p) {
        cp = cp * 8 + (src_[p] - '0');
      }
      pystr::append_utf8(out, cp);
      return p;
    }
    if (e == 'x' || e == 'u' || e == 'U') {
      const int n_digits = e == 'x' ? 2 : e == 'u' ? 4 : 8;
      uint32_t cp = 0;
      for (int i = 0; i < n_digits; ++i) {
        const size_t p = pos + 2 + i;
        const int digit = p < src_.size() ? hex_digit(src_[p]) : -1;
        if (digit < 0) fail(pos, std::string("truncated \\") + e + " escape in string literal");
        cp = cp * 16 + static_cast<uint32_t>(digit);
      }
      if (cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
        fail(pos, "invalid code point escape in string literal");
      pystr::append_utf8(out, cp);
      return pos + 2 + n_digits;
    }
    if (e == 'N') fail(pos, "\\N{...} escapes are not supported in string literals");
    // Python keeps unknown escapes as they are: "\s" stays backslash + s.
    out.push_back('\\');
    return pos + 1;
  }

  size_t lex_number(size_t start) {
    const auto digits_with_underscores = [&](size_t p, auto valid) {
      while (p < src_.size() &&
             (valid(src_[p]) || (src_[p] == '_' && p + 1 < src_.size() && valid(src_[p + 1])))) {
        ++p;
      }
      return p;
    };
    const auto decimal = [](char c) { return is_digit(c); };
    if (src_[start] == '0' && start + 1 < src_.size() && std::strchr("xXoObB", src_[start + 1]) &&
        src_[start + 1] != '\0') {
      const char prefix = static_cast<char>(src_[start + 1] | 0x20);
      const int base = prefix == 'x' ? 16 : prefix == 'o' ? 8 : 2;
      const auto valid = [base](char c) { return hex_digit(c) >= 0 && hex_digit(c) < base; };
      size_t p = start + 2;
      if (p < src_.size() && src_[p] == '_') ++p;
      const size_t end = digits_with_underscores(p, valid);
      if (end == p) fail(start, "invalid integer literal");
      push_integer(start, end, base);
      return end;
    }
    size_t end = digits_with_underscores(start, decimal);
    bool is_float = false;
    if (end + 1 < src_.size() && src_[end] == '.' && is_digit(src_[end + 1])) {
      end = digits_with_underscores(end + 1, decimal);
      is_float = true;
    }
    if (end < src_.size() && (src_[end] == 'e' || src_[end] == 'E')) {
      size_t p = end + 1;
      if (p < src_.size() && (src_[p] == '+' || src_[p] == '-')) ++p;
      if (p < src_.size() && is_digit(src_[p])) {
        end = digits_with_underscores(p, decimal);
        is_float = true;
      }
    }
    if (is_float) {
      std::string text;
      for (size_t i = start; i < end; ++i) {
        if (src_[i] != '_') text.push_back(src_[i]);
      }
      tokens_.push_back(Token{TokenKind::floating, loc(start), text, 0, std::strtod(text.c_str(), nullptr)});
    } else {
      if (src_[start] == '0' && src_.find_first_not_of("0_", start) < end) {
        fail(start, "leading zeros in decimal integer literals are not permitted");
      }
      push_integer(start, end, 10);
    }
    return end;
  }

  void push_integer(size_t start, size_t end, int base) {
    int64_t value = 0;
    for (size_t i = start + (base == 10 ? 0 : 2); i < end; ++i) {
      if (src_[i] == '_') continue;
      if (__builtin_mul_overflow(value, base, &value) ||
          __builtin_add_overflow(value, hex_digit(src_[i]), &value)) {
        fail(start, "integer literal does not fit in 64 bits");
      }
    }
    tokens_.push_back(Token{TokenKind::integer, loc(start), src_.substr(start, end - start), value, 0.0});
  }

  std::string src_;
  const std::string& origin_;
  std::vector<size_t> line_starts_;
  std::vector<Token> tokens_;
};

}  // namespace

std::vector<Token> tokenize(const std::string& source, const std::string& origin) {
  return Lexer(normalize_newlines(source), origin).run();
}

}  // namespace mmrt::text::jinja
