#pragma once
// Python str semantics over UTF-8 bytes: templates index, slice, measure and case-map strings by
// code point, as Python does ("héllo"[1] is "é", len("héllo") is 5).
//
// Invalid UTF-8 never fails: each byte that does not start a valid sequence counts as one code
// point and is kept as it is. Case mapping uses utf8proc's simple one-to-one mappings, so
// Python's multi-character cases ("ß".upper() == "SS") are not reproduced.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace mmrt::text::jinja::pystr {

// Byte offsets where each code point of s starts, plus s.size() at the end.
std::vector<size_t> code_point_offsets(std::string_view s);
size_t code_point_count(std::string_view s);

// Python's str.isspace() for one code point.
bool is_space(char32_t cp);

std::string upper(std::string_view s);
std::string lower(std::string_view s);
std::string title(std::string_view s);       // str.title()
std::string capitalize(std::string_view s);  // str.capitalize()

// str.strip/lstrip/rstrip; chars == nullopt strips whitespace.
std::string strip(std::string_view s, const std::optional<std::string>& chars, bool left, bool right);

// str.split(sep, maxsplit); sep == nullopt splits on runs of whitespace. Throws on an empty sep.
std::vector<std::string> split(std::string_view s, const std::optional<std::string>& sep, int64_t maxsplit);
// str.splitlines()
std::vector<std::string> splitlines(std::string_view s);

// str.replace(old, new, count); count < 0 replaces all.
std::string replace(std::string_view s, std::string_view from, std::string_view to, int64_t count);

// Python repr of a string: 'text' with quotes chosen as Python does and escapes for \n, \\, ...
std::string repr(std::string_view s);

// The code point that starts at s[pos] (advancing pos); an invalid byte decodes to itself.
char32_t decode_one(std::string_view s, size_t& pos);
void append_utf8(std::string& out, char32_t cp);

}  // namespace mmrt::text::jinja::pystr
