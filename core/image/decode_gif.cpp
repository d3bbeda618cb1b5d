// GIF, first frame only, as Pillow's GifImagePlugin loads it (mode P, or L without a palette):
//   the canvas is the logical screen, grown to hold the frame; it starts filled with the transparent index
//   when the frame has one, else with index 0; the frame is drawn at its offset; indices map through the
//   local palette, else the global one, else to grey (i, i, i). A transparent index becomes PIL's
//   info["transparency"], kept here as alpha 0 on the pixels holding that index.
// Hand-written rather than stb_image because stb composites onto a transparent-black canvas.
#include <algorithm>
#include <array>
#include <string>
#include <vector>

#include "core/image/decode.hpp"

namespace mmrt::image {
namespace {

[[noreturn]] void fail(const std::string& problem) {
  throw ImageError("GIF: " + problem);
}

class ByteReader {
 public:
  explicit ByteReader(std::span<const uint8_t> bytes) : bytes_(bytes) {}
  uint8_t u8() {
    if (offset_ >= bytes_.size()) fail("file is truncated");
    return bytes_[offset_++];
  }
  unsigned u16() {
    const unsigned low = u8();
    return low | (u8() << 8);
  }
  std::span<const uint8_t> take(size_t n) {
    if (n > bytes_.size() - offset_) fail("file is truncated");
    auto out = bytes_.subspan(offset_, n);
    offset_ += n;
    return out;
  }
  // Concatenates data sub-blocks up to the zero-length terminator.
  std::vector<uint8_t> sub_blocks() {
    std::vector<uint8_t> out;
    for (uint8_t n = u8(); n != 0; n = u8()) {
      auto block = take(n);
      out.insert(out.end(), block.begin(), block.end());
    }
    return out;
  }
  void skip_sub_blocks() {
    for (uint8_t n = u8(); n != 0; n = u8()) take(n);
  }

 private:
  std::span<const uint8_t> bytes_;
  size_t offset_ = 0;
};

// Decodes LZW data into `indices` (frame_width * frame_height entries, in file row order). Stops at the end
// code or when every pixel is set; fails when the data ends first or holds an impossible code.
void decode_lzw(const std::vector<uint8_t>& data, int min_code_size, std::vector<uint8_t>& indices) {
  if (min_code_size < 1 || min_code_size > 11) fail("invalid LZW code size " + std::to_string(min_code_size));
  constexpr int kMaxCodes = 4096;
  std::array<uint16_t, kMaxCodes> prefix{};
  std::array<uint8_t, kMaxCodes> suffix{};
  std::array<uint8_t, kMaxCodes> first{};
  std::array<uint8_t, kMaxCodes> stack{};
  const int clear = 1 << min_code_size, end = clear + 1;
  for (int i = 0; i < clear; ++i) suffix[i] = first[i] = static_cast<uint8_t>(i);
  int code_size = min_code_size + 1, next = end + 1, previous = -1;
  size_t n_out = 0, bit_pos = 0;
  const size_t n_bits = data.size() * 8;
  while (n_out < indices.size()) {
    if (bit_pos + code_size > n_bits) fail("image data is truncated");
    int code = 0;
    for (int b = 0; b < code_size; ++b, ++bit_pos) code |= ((data[bit_pos >> 3] >> (bit_pos & 7)) & 1) << b;
    if (code == clear) {
      code_size = min_code_size + 1;
      next = end + 1;
      previous = -1;
      continue;
    }
    if (code == end) return;
    if (previous < 0) {
      if (code >= clear) fail("corrupt LZW data");
      indices[n_out++] = static_cast<uint8_t>(code);
      previous = code;
      continue;
    }
    if (code > next || (code == next && next >= kMaxCodes)) fail("corrupt LZW data");
    // Walk the chain of `code` (or of previous + first(previous) for the not-yet-defined code).
    int depth = 0;
    int walk = code;
    if (code == next) {
      stack[depth++] = first[previous];
      walk = previous;
    }
    while (walk >= clear) {
      stack[depth++] = suffix[walk];
      walk = prefix[walk];
    }
    stack[depth++] = static_cast<uint8_t>(walk);
    if (next < kMaxCodes) {
      prefix[next] = static_cast<uint16_t>(previous);
      suffix[next] = static_cast<uint8_t>(walk);
      first[next] = first[previous];
      ++next;
      if (next == (1 << code_size) && code_size < 12) ++code_size;
    }
    while (depth > 0 && n_out < indices.size()) indices[n_out++] = stack[--depth];
    previous = code;
  }
}

}  // namespace

Image decode_gif(std::span<const uint8_t> bytes, const DecodeLimits& limits) {
  ByteReader in(bytes);
  const auto signature = in.take(6);
  if (std::string(signature.begin(), signature.end()) != "GIF87a" &&
      std::string(signature.begin(), signature.end()) != "GIF89a") {
    fail("not a GIF file (bad signature)");
  }
  unsigned canvas_width = in.u16(), canvas_height = in.u16();
  const uint8_t screen_flags = in.u8();
  in.u8();  // background index: Pillow does not use it for the first frame
  in.u8();  // pixel aspect ratio
  std::vector<uint8_t> global_palette;
  if (screen_flags & 0x80) {
    auto p = in.take(3u << ((screen_flags & 7) + 1));
    global_palette.assign(p.begin(), p.end());
  }

  int transparency = -1;
  for (;;) {
    const uint8_t introducer = in.u8();
    if (introducer == ';') fail("no image in file");
    if (introducer == '!') {
      const uint8_t label = in.u8();
      if (label == 0xF9) {
        const std::vector<uint8_t> block = in.sub_blocks();
        if (block.size() >= 4 && (block[0] & 1)) transparency = block[3];
      } else {
        in.skip_sub_blocks();
      }
      continue;
    }
    if (introducer != ',') fail("unexpected block type " + std::to_string(introducer));

    const unsigned x0 = in.u16(), y0 = in.u16(), frame_width = in.u16(), frame_height = in.u16();
    const uint8_t flags = in.u8();
    const bool interlaced = flags & 0x40;
    std::vector<uint8_t> palette = global_palette;
    if (flags & 0x80) {
      auto p = in.take(3u << ((flags & 7) + 1));
      palette.assign(p.begin(), p.end());
    }
    canvas_width = std::max(canvas_width, x0 + frame_width);
    canvas_height = std::max(canvas_height, y0 + frame_height);
    check_image_size("GIF", canvas_width, canvas_height, limits);
    const int min_code_size = in.u8();
    const std::vector<uint8_t> data = in.sub_blocks();

    std::vector<uint8_t> frame(static_cast<size_t>(frame_width) * frame_height);
    if (!frame.empty()) decode_lzw(data, min_code_size, frame);

    std::vector<uint8_t> canvas(static_cast<size_t>(canvas_width) * canvas_height,
                                static_cast<uint8_t>(transparency >= 0 ? transparency : 0));
    // Interlaced rows arrive in four passes: every 8th row from 0, every 8th from 4, every 4th from 2, odd
    // rows.
    static constexpr int kPassStart[4] = {0, 4, 2, 1}, kPassStep[4] = {8, 8, 4, 2};
    size_t file_row = 0;
    for (int pass = 0; pass < (interlaced ? 4 : 1); ++pass) {
      const unsigned start = interlaced ? kPassStart[pass] : 0, step = interlaced ? kPassStep[pass] : 1;
      for (unsigned y = start; y < frame_height; y += step, ++file_row) {
        const uint8_t* src = frame.data() + file_row * frame_width;
        uint8_t* dst = canvas.data() + static_cast<size_t>(y0 + y) * canvas_width + x0;
        for (unsigned x = 0; x < frame_width; ++x) {
          if (src[x] != transparency) dst[x] = src[x];
        }
      }
    }

    Image image = make_image(static_cast<int32_t>(canvas_width), static_cast<int32_t>(canvas_height));
    const size_t n_entries = palette.size() / 3;
    for (size_t i = 0; i < canvas.size(); ++i) {
      const uint8_t index = canvas[i];
      for (int c = 0; c < 3; ++c) image.rgb[3 * i + c] = index < n_entries ? palette[3 * index + c] : index;
    }
    if (transparency >= 0) {
      image.alpha.resize(canvas.size());
      for (size_t i = 0; i < canvas.size(); ++i) image.alpha[i] = canvas[i] == transparency ? 0 : 255;
    }
    return image;
  }
}

}  // namespace mmrt::image
