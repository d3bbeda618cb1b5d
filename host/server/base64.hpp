// Strict base64 (RFC 4648, standard alphabet) for data: URLs.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

namespace mmrt::server {

// The decoded bytes, or nullopt when `text` is not base64: a character outside the alphabet, a length that
// is not a multiple of four, or padding anywhere but the end. ASCII whitespace is skipped, as browsers do.
std::optional<std::vector<uint8_t>> decode_base64(std::string_view text);

}  // namespace mmrt::server
