#include "python_string.hpp"

#include <utf8proc.h>

#include "core/text/utf8.hpp"
#include "template_error.hpp"

namespace mmrt::text::jinja::pystr {
namespace {

// An invalid byte b decodes to the lone surrogate 0xDC00 + b (Python's "surrogateescape"), which
// valid UTF-8 can never produce, so append_utf8 can write the original byte back.
constexpr char32_t kEscapedByteBase = 0xDC00;

bool is_escaped_byte(char32_t cp) {
  return cp >= kEscapedByteBase + 0x80 && cp <= kEscapedByteBase + 0xFF;
}

char32_t map_case(char32_t cp, utf8proc_int32_t (*mapping)(utf8proc_int32_t)) {
  if (is_escaped_byte(cp)) return cp;
  return static_cast<char32_t>(mapping(static_cast<utf8proc_int32_t>(cp)));
}

bool is_cased(char32_t cp) {
  if (is_escaped_byte(cp)) return false;
  const auto category = utf8proc_category(static_cast<utf8proc_int32_t>(cp));
  return category == UTF8PROC_CATEGORY_LU || category == UTF8PROC_CATEGORY_LL ||
         category == UTF8PROC_CATEGORY_LT;
}

bool is_printable(char32_t cp) {
  if (cp == ' ') return true;
  if (is_escaped_byte(cp)) return false;
  switch (utf8proc_category(static_cast<utf8proc_int32_t>(cp))) {
    case UTF8PROC_CATEGORY_CC:
    case UTF8PROC_CATEGORY_CF:
    case UTF8PROC_CATEGORY_CS:
    case UTF8PROC_CATEGORY_CO:
    case UTF8PROC_CATEGORY_CN:
    case UTF8PROC_CATEGORY_ZL:
    case UTF8PROC_CATEGORY_ZP:
    case UTF8PROC_CATEGORY_ZS:
      return false;
    default:
      return true;
  }
}

std::vector<char32_t> decode_all(std::string_view s) {
  std::vector<char32_t> out;
  out.reserve(s.size());
  for (size_t pos = 0; pos < s.size();) out.push_back(decode_one(s, pos));
  return out;
}

bool contains_code_point(std::string_view set, char32_t cp) {
  for (size_t pos = 0; pos < set.size();) {
    if (decode_one(set, pos) == cp) return true;
  }
  return false;
}

bool is_line_break(char32_t cp) {
  return cp == '\n' || cp == '\r' || cp == 0x0B || cp == 0x0C || cp == 0x1C || cp == 0x1D || cp == 0x1E ||
         cp == 0x85 || cp == 0x2028 || cp == 0x2029;
}

}  // namespace

char32_t decode_one(std::string_view s, size_t& pos) {
  const auto byte = [&](size_t i) { return static_cast<unsigned char>(s[i]); };
  const unsigned char lead = byte(pos);
  if (lead < 0x80) {
    ++pos;
    return lead;
  }
  int n_continuation = 0;
  char32_t cp = 0;
  char32_t min_value = 0;
  if ((lead & 0xE0) == 0xC0) {
    n_continuation = 1, cp = lead & 0x1F, min_value = 0x80;
  } else if ((lead & 0xF0) == 0xE0) {
    n_continuation = 2, cp = lead & 0x0F, min_value = 0x800;
  } else if ((lead & 0xF8) == 0xF0) {
    n_continuation = 3, cp = lead & 0x07, min_value = 0x10000;
  } else {
    ++pos;
    return kEscapedByteBase + lead;
  }
  if (pos + n_continuation >= s.size()) {
    ++pos;
    return kEscapedByteBase + lead;
  }
  for (int i = 1; i <= n_continuation; ++i) {
    const unsigned char c = byte(pos + i);
    if ((c & 0xC0) != 0x80) {
      ++pos;
      return kEscapedByteBase + lead;
    }
    cp = (cp << 6) | (c & 0x3F);
  }
  if (cp < min_value || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) {
    ++pos;
    return kEscapedByteBase + lead;
  }
  pos += n_continuation + 1;
  return cp;
}

void append_utf8(std::string& out, char32_t cp) {
  if (is_escaped_byte(cp)) {
    out.push_back(static_cast<char>(cp - kEscapedByteBase));
  } else {
    text::utf8::append_codepoint(out, cp);
  }
}

std::vector<size_t> code_point_offsets(std::string_view s) {
  std::vector<size_t> offsets;
  offsets.reserve(s.size() + 1);
  for (size_t pos = 0; pos < s.size();) {
    offsets.push_back(pos);
    decode_one(s, pos);
  }
  offsets.push_back(s.size());
  return offsets;
}

size_t code_point_count(std::string_view s) {
  size_t n = 0;
  for (size_t pos = 0; pos < s.size(); ++n) decode_one(s, pos);
  return n;
}

bool is_space(char32_t cp) {
  return (cp >= 0x09 && cp <= 0x0D) || (cp >= 0x1C && cp <= 0x20) || cp == 0x85 || cp == 0xA0 ||
         cp == 0x1680 || (cp >= 0x2000 && cp <= 0x200A) || cp == 0x2028 || cp == 0x2029 || cp == 0x202F ||
         cp == 0x205F || cp == 0x3000;
}

std::string upper(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (char32_t cp : decode_all(s)) append_utf8(out, map_case(cp, utf8proc_toupper));
  return out;
}

std::string lower(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (char32_t cp : decode_all(s)) append_utf8(out, map_case(cp, utf8proc_tolower));
  return out;
}

std::string title(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  bool previous_is_cased = false;
  for (char32_t cp : decode_all(s)) {
    const char32_t mapped = map_case(cp, previous_is_cased ? utf8proc_tolower : utf8proc_totitle);
    append_utf8(out, mapped);
    previous_is_cased = is_cased(mapped);
  }
  return out;
}

std::string capitalize(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  bool first = true;
  for (char32_t cp : decode_all(s)) {
    append_utf8(out, map_case(cp, first ? utf8proc_totitle : utf8proc_tolower));
    first = false;
  }
  return out;
}

std::string strip(std::string_view s, const std::optional<std::string>& chars, bool left, bool right) {
  const std::vector<char32_t> cps = decode_all(s);
  const auto strippable = [&](char32_t cp) { return chars ? contains_code_point(*chars, cp) : is_space(cp); };
  size_t begin = 0;
  size_t end = cps.size();
  if (left) {
    while (begin < end && strippable(cps[begin])) ++begin;
  }
  if (right) {
    while (end > begin && strippable(cps[end - 1])) --end;
  }
  std::string out;
  for (size_t i = begin; i < end; ++i) append_utf8(out, cps[i]);
  return out;
}

std::vector<std::string> split(std::string_view s, const std::optional<std::string>& sep, int64_t maxsplit) {
  std::vector<std::string> parts;
  if (sep) {
    if (sep->empty()) throw TemplateRuntimeError("str.split: empty separator");
    size_t start = 0;
    while (maxsplit < 0 || static_cast<int64_t>(parts.size()) < maxsplit) {
      const size_t hit = s.find(*sep, start);
      if (hit == std::string_view::npos) break;
      parts.emplace_back(s.substr(start, hit - start));
      start = hit + sep->size();
    }
    parts.emplace_back(s.substr(start));
    return parts;
  }
  // Whitespace split: runs of whitespace separate, leading and trailing runs are dropped.
  size_t pos = 0;
  while (pos < s.size()) {
    size_t word_start = pos;
    while (word_start < s.size()) {
      size_t next = word_start;
      if (!is_space(decode_one(s, next))) break;
      word_start = next;
    }
    if (word_start >= s.size()) break;
    if (maxsplit >= 0 && static_cast<int64_t>(parts.size()) >= maxsplit) {
      // The remainder keeps its trailing whitespace, as in Python.
      parts.emplace_back(s.substr(word_start));
      return parts;
    }
    size_t word_end = word_start;
    while (word_end < s.size()) {
      size_t next = word_end;
      if (is_space(decode_one(s, next))) break;
      word_end = next;
    }
    parts.emplace_back(s.substr(word_start, word_end - word_start));
    pos = word_end;
  }
  return parts;
}

std::vector<std::string> splitlines(std::string_view s) {
  std::vector<std::string> lines;
  size_t line_start = 0;
  size_t pos = 0;
  while (pos < s.size()) {
    const size_t cp_start = pos;
    const char32_t cp = decode_one(s, pos);
    if (!is_line_break(cp)) continue;
    lines.emplace_back(s.substr(line_start, cp_start - line_start));
    if (cp == '\r' && pos < s.size() && s[pos] == '\n') ++pos;
    line_start = pos;
  }
  if (line_start < s.size()) lines.emplace_back(s.substr(line_start));
  return lines;
}

std::string replace(std::string_view s, std::string_view from, std::string_view to, int64_t count) {
  std::string out;
  if (from.empty()) {
    // Python inserts `to` before every code point and at the end.
    int64_t done = 0;
    for (size_t pos = 0; pos < s.size();) {
      if (count < 0 || done < count) out.append(to), ++done;
      const size_t start = pos;
      decode_one(s, pos);
      out.append(s.substr(start, pos - start));
    }
    if (count < 0 || done < count) out.append(to);
    return out;
  }
  size_t start = 0;
  int64_t done = 0;
  while (count < 0 || done < count) {
    const size_t hit = s.find(from, start);
    if (hit == std::string_view::npos) break;
    out.append(s.substr(start, hit - start));
    out.append(to);
    start = hit + from.size();
    ++done;
  }
  out.append(s.substr(start));
  return out;
}

std::string repr(std::string_view s) {
  const bool has_single = s.find('\'') != std::string_view::npos;
  const bool has_double = s.find('"') != std::string_view::npos;
  const char quote = has_single && !has_double ? '"' : '\'';
  std::string out(1, quote);
  static constexpr char kHex[] = "0123456789abcdef";
  for (char32_t cp : decode_all(s)) {
    if (cp == static_cast<char32_t>(quote) || cp == '\\') {
      out.push_back('\\');
      out.push_back(static_cast<char>(cp));
    } else if (cp == '\n') {
      out += "\\n";
    } else if (cp == '\r') {
      out += "\\r";
    } else if (cp == '\t') {
      out += "\\t";
    } else if (is_printable(cp)) {
      append_utf8(out, cp);
    } else {
      const char32_t value = is_escaped_byte(cp) ? cp - kEscapedByteBase : cp;
      const int n_digits = value < 0x100 ? 2 : value < 0x10000 ? 4 : 8;
      out += n_digits == 2 ? "\\x" : n_digits == 4 ? "\\u" : "\\U";
      for (int shift = (n_digits - 1) * 4; shift >= 0; shift -= 4)
        out.push_back(kHex[(value >> shift) & 0xF]);
    }
  }
  out.push_back(quote);
  return out;
}

}  // namespace mmrt::text::jinja::pystr
