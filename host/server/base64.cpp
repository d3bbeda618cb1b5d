#include "host/server/base64.hpp"

#include <array>

namespace mmrt::server {

namespace {

constexpr int8_t kInvalid = -1, kPad = -2, kSpace = -3;

constexpr std::array<int8_t, 256> make_table() {
  std::array<int8_t, 256> t{};
  for (auto& v : t) v = kInvalid;
  const char* alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  for (int i = 0; i < 64; ++i) t[uint8_t(alphabet[i])] = int8_t(i);
  t[uint8_t('=')] = kPad;
  for (char c : {' ', '\t', '\r', '\n'}) t[uint8_t(c)] = kSpace;
  return t;
}
constexpr auto kTable = make_table();

}  // namespace

std::optional<std::vector<uint8_t>> decode_base64(std::string_view text) {
  std::vector<uint8_t> out;
  out.reserve(text.size() / 4 * 3);
  uint32_t group = 0;
  int n_in_group = 0, n_pad = 0;
  for (char c : text) {
    const int8_t v = kTable[uint8_t(c)];
    if (v == kSpace) continue;
    if (v == kInvalid) return std::nullopt;
    if (v == kPad) {
      ++n_pad;
      if (n_pad > 2 || n_in_group + n_pad > 4) return std::nullopt;
      continue;
    }
    if (n_pad) return std::nullopt;  // data after padding
    group = group << 6 | uint32_t(v);
    if (++n_in_group == 4) {
      out.push_back(uint8_t(group >> 16));
      out.push_back(uint8_t(group >> 8));
      out.push_back(uint8_t(group));
      group = 0;
      n_in_group = 0;
    }
  }
  if (n_pad == 0 && n_in_group == 0) return out;
  // A final group of two or three characters, padded to four.
  if (n_in_group + n_pad != 4 || n_in_group < 2) return std::nullopt;
  group <<= 6 * (4 - n_in_group);
  out.push_back(uint8_t(group >> 16));
  if (n_in_group == 3) out.push_back(uint8_t(group >> 8));
  return out;
}

}  // namespace mmrt::server
