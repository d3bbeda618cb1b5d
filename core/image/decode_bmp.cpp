// BMP as Pillow's BmpImagePlugin reads it, then convert("RGB"):
//   1/4/8-bit palette (BGRX entries, BGR for 12-byte OS/2 headers), raw or RLE8/RLE4 compressed; indices
//   past the palette map to black, or to grey (i, i, i) when the palette is a grey ramp (Pillow then
//   decodes mode L), 16-bit 5-5-5 (default) or 5-6-5 bitfields scaled by v * 255 / max, 24-bit BGR, 32-bit
//   BGRX, and 32-bit bitfield layouts from Pillow's table (those with an alpha mask are mode RGBA: alpha is
//   kept). Other compressions (JPEG, PNG, Huffman) are rejected with an error, as Pillow rejects them.
// Hand-written rather than stb_image because stb scales 16-bit channels by bit replication and treats the
// fourth byte of 32-bit BI_RGB pixels as alpha, where Pillow does neither.
#include <algorithm>
#include <array>
#include <string>
#include <vector>

#include "core/image/decode.hpp"

namespace mmrt::image {
namespace {

[[noreturn]] void fail(const std::string& problem) {
  throw ImageError("BMP: " + problem);
}

constexpr uint32_t kCompressionRaw = 0, kCompressionRle8 = 1, kCompressionRle4 = 2, kCompressionBitfields = 3;

uint32_t read_u32(std::span<const uint8_t> bytes, size_t offset) {
  if (offset + 4 > bytes.size()) fail("file is truncated");
  return bytes[offset] | (bytes[offset + 1] << 8) | (bytes[offset + 2] << 16) |
         (static_cast<uint32_t>(bytes[offset + 3]) << 24);
}

uint32_t read_u16(std::span<const uint8_t> bytes, size_t offset) {
  if (offset + 2 > bytes.size()) fail("file is truncated");
  return bytes[offset] | (bytes[offset + 1] << 8);
}

// Byte positions of R, G, B and A (-1: none) inside a 32-bit little-endian pixel.
struct ByteLayout {
  int r, g, b, a;
};

// Pillow's supported 32-bit (r, g, b, a) masks and the byte layouts its rawmodes give them.
ByteLayout layout_for_masks(uint32_t r, uint32_t g, uint32_t b, uint32_t a) {
  struct Entry {
    std::array<uint32_t, 4> masks;
    ByteLayout layout;
  };
  static constexpr Entry kTable[] = {
      {{0xFF0000, 0xFF00, 0xFF, 0x0}, {2, 1, 0, -1}},        // BGRX
      {{0xFF000000, 0xFF0000, 0xFF00, 0x0}, {3, 2, 1, -1}},  // XBGR
      {{0xFF000000, 0xFF00, 0xFF, 0x0}, {3, 1, 0, -1}},      // BGXR
      {{0xFF000000, 0xFF0000, 0xFF00, 0xFF}, {3, 2, 1, 0}},  // ABGR
      {{0xFF, 0xFF00, 0xFF0000, 0xFF000000}, {0, 1, 2, 3}},  // RGBA
      {{0xFF0000, 0xFF00, 0xFF, 0xFF000000}, {2, 1, 0, 3}},  // BGRA
      {{0xFF000000, 0xFF00, 0xFF, 0xFF0000}, {3, 1, 0, 2}},  // BGAR
      {{0x0, 0x0, 0x0, 0x0}, {2, 1, 0, 3}},                  // BGRA
  };
  for (const Entry& entry : kTable) {
    if (entry.masks == std::array<uint32_t, 4>{r, g, b, a}) return entry.layout;
  }
  fail("unsupported 32-bit bitfields layout");
}

// Pillow's BmpRleDecoder, quirks included: runs are clipped at the row end but absolute runs may wrap
// into the next row, a delta fills with index 0, absolute runs end on an even position of the file, and
// the data ending early (end of bitmap, or of the file) leaves the image short, which Pillow refuses.
// Returns width * height indices in file row order.
std::vector<uint8_t> decode_rle(std::span<const uint8_t> bytes, size_t offset, size_t width, size_t height,
                                bool rle4) {
  const size_t n_pixels = width * height;
  std::vector<uint8_t> data;
  data.reserve(n_pixels);
  size_t pos = offset, x = 0;
  while (data.size() < n_pixels && pos + 2 <= bytes.size()) {
    const size_t count = bytes[pos];
    const uint8_t value = bytes[pos + 1];
    pos += 2;
    if (count > 0) {  // encoded run
      const size_t run = x + count > width ? width - std::min(x, width) : count;
      for (size_t i = 0; i < run; ++i) data.push_back(rle4 ? (i % 2 == 0 ? value >> 4 : value & 15) : value);
      x += run;
    } else if (value == 0) {  // end of line
      while (data.size() % width != 0) data.push_back(0);
      x = 0;
    } else if (value == 1) {  // end of bitmap
      break;
    } else if (value == 2) {  // delta: right, up
      if (pos + 2 > bytes.size()) break;
      const size_t skip = bytes[pos] + bytes[pos + 1] * width;
      pos += 2;
      data.resize(data.size() + std::min(n_pixels - data.size(), skip), 0);
      x = data.size() % width;
    } else {  // absolute run of `value` indices
      const size_t n = std::min(n_pixels - data.size(), size_t{value});
      const size_t n_bytes = rle4 ? (n + 1) / 2 : n;
      const size_t available = std::min(n_bytes, bytes.size() - pos);
      for (size_t i = 0; i < available; ++i) {
        const uint8_t b = bytes[pos + i];
        if (!rle4) {
          data.push_back(b);
          continue;
        }
        data.push_back(b >> 4);
        if (2 * i + 1 < n) data.push_back(b & 15);
      }
      pos += available;
      if (available < n_bytes || data.size() == n_pixels) break;
      x += value;
      if (pos % 2 != 0) ++pos;
    }
  }
  if (data.size() < n_pixels) fail("not enough image data");
  return data;
}

}  // namespace

Image decode_bmp(std::span<const uint8_t> bytes, const DecodeLimits& limits) {
  if (bytes.size() < 18 || bytes[0] != 'B' || bytes[1] != 'M') fail("not a BMP file (bad signature)");
  size_t data_offset = read_u32(bytes, 10);
  const uint32_t header_size = read_u32(bytes, 14);
  const size_t h = 18;  // start of the header fields after header_size
  int64_t width = 0, height = 0;
  uint32_t bits = 0, compression = kCompressionRaw, n_colors = 0;
  bool top_down = false;
  size_t palette_entry_size = 4;
  uint32_t masks[4] = {0, 0, 0, 0};
  if (header_size == 12) {
    width = read_u16(bytes, h);
    height = read_u16(bytes, h + 2);
    bits = read_u16(bytes, h + 6);
    palette_entry_size = 3;
  } else if (header_size == 40 || header_size == 52 || header_size == 56 || header_size == 64 ||
             header_size == 108 || header_size == 124) {
    width = static_cast<int32_t>(read_u32(bytes, h));
    const uint32_t raw_height = read_u32(bytes, h + 4);
    top_down = (raw_height >> 24) == 0xFF;
    height = top_down ? (int64_t{1} << 32) - raw_height : raw_height;
    bits = read_u16(bytes, h + 10);
    compression = read_u32(bytes, h + 12);
    n_colors = read_u32(bytes, h + 28);
    if (compression == kCompressionBitfields) {
      // Masks follow a 40-byte header; larger headers hold them (and alpha from 56 bytes on).
      const size_t mask_offset = header_size >= 52 ? h + 36 : 14 + header_size;
      const int n_masks = header_size >= 56 ? 4 : 3;
      for (int i = 0; i < n_masks; ++i) masks[i] = read_u32(bytes, mask_offset + 4 * i);
    }
  } else {
    fail("unsupported header size " + std::to_string(header_size));
  }
  if (n_colors == 0) n_colors = bits < 32 ? 1u << bits : 0;
  if (data_offset == 14 + header_size && bits <= 8) data_offset += palette_entry_size * n_colors;

  // Decoded pixel: [r, g, b] plus alpha when `layout.a >= 0`.
  ByteLayout layout{2, 1, 0, -1};
  bool rgb_565 = false;
  if (bits != 1 && bits != 4 && bits != 8 && bits != 16 && bits != 24 && bits != 32) {
    fail("unsupported pixel depth " + std::to_string(bits));
  }
  if (compression == kCompressionBitfields) {
    const auto masks_are = [&masks](uint32_t r, uint32_t g, uint32_t b) {
      return masks[0] == r && masks[1] == g && masks[2] == b;
    };
    rgb_565 = bits == 16 && masks_are(0xF800, 0x7E0, 0x1F);
    if (bits == 32) {
      layout = layout_for_masks(masks[0], masks[1], masks[2], masks[3]);
    } else if (!(bits == 24 && masks_are(0xFF0000, 0xFF00, 0xFF)) && !rgb_565 &&
               !(bits == 16 && masks_are(0x7C00, 0x3E0, 0x1F))) {
      fail("unsupported bitfields layout");
    }
  } else if (compression == kCompressionRle8 || compression == kCompressionRle4) {
    if (bits > 8) fail("RLE compression of " + std::to_string(bits) + "-bit pixels");
  } else if (compression != kCompressionRaw) {
    fail("unsupported compression " + std::to_string(compression));
  }
  check_image_size("BMP", width, height, limits);

  std::vector<uint8_t> palette;  // [n_entries, 3] RGB
  bool grey_palette = false;     // entries 0..n-1 are (i, i, i), or black and white for two colours
  if (bits <= 8) {
    if (n_colors == 0 || n_colors > 65536) fail("unsupported palette size " + std::to_string(n_colors));
    const size_t palette_offset = 14 + header_size;
    if (palette_offset + palette_entry_size * n_colors > bytes.size()) fail("file is truncated");
    palette.resize(3 * static_cast<size_t>(n_colors));
    for (size_t i = 0; i < n_colors; ++i) {
      const uint8_t* entry = bytes.data() + palette_offset + i * palette_entry_size;
      palette[3 * i] = entry[2];
      palette[3 * i + 1] = entry[1];
      palette[3 * i + 2] = entry[0];
    }
    grey_palette = true;
    for (size_t i = 0; i < n_colors; ++i) {
      const uint8_t grey = n_colors == 2 ? static_cast<uint8_t>(i * 255) : static_cast<uint8_t>(i);
      grey_palette =
          grey_palette && palette[3 * i] == grey && palette[3 * i + 1] == grey && palette[3 * i + 2] == grey;
    }
  }
  Image image = make_image(static_cast<int32_t>(width), static_cast<int32_t>(height));
  const size_t n_entries = palette.size() / 3;
  const auto put_index = [&](uint8_t* out, unsigned index) {
    for (int c = 0; c < 3; ++c) {
      out[c] = index < n_entries ? palette[3 * index + c] : grey_palette ? static_cast<uint8_t>(index) : 0;
    }
  };
  if (compression == kCompressionRle8 || compression == kCompressionRle4) {
    if (data_offset > bytes.size()) fail("pixel data is truncated");
    const std::vector<uint8_t> indices =
        decode_rle(bytes, data_offset, static_cast<size_t>(width), static_cast<size_t>(height),
                   compression == kCompressionRle4);
    for (int64_t y = 0; y < height; ++y) {
      const uint8_t* row = indices.data() + static_cast<size_t>((top_down ? y : height - 1 - y) * width);
      uint8_t* out = image.rgb.data() + static_cast<size_t>(y * width) * 3;
      for (int64_t x = 0; x < width; ++x) put_index(out + 3 * x, row[x]);
    }
    return image;
  }

  const size_t stride = ((static_cast<size_t>(width) * bits + 31) >> 3) & ~size_t{3};
  if (data_offset > bytes.size() || stride * static_cast<size_t>(height) > bytes.size() - data_offset) {
    fail("pixel data is truncated");
  }
  if (layout.a >= 0) image.alpha.resize(static_cast<size_t>(width) * height);
  for (int64_t y = 0; y < height; ++y) {
    const uint8_t* row = bytes.data() + data_offset + stride * (top_down ? y : height - 1 - y);
    uint8_t* out = image.rgb.data() + static_cast<size_t>(y * width) * 3;
    for (int64_t x = 0; x < width; ++x, out += 3) {
      if (bits <= 8) {
        const unsigned per_byte = 8 / bits, shift = 8 - bits - (x % per_byte) * bits;
        const unsigned index = (row[x / per_byte] >> shift) & ((1u << bits) - 1);
        put_index(out, index);
      } else if (bits == 16) {
        const unsigned pixel = row[2 * x] | (row[2 * x + 1] << 8);
        if (rgb_565) {
          out[0] = ((pixel >> 11) & 31) * 255 / 31;
          out[1] = ((pixel >> 5) & 63) * 255 / 63;
        } else {
          out[0] = ((pixel >> 10) & 31) * 255 / 31;
          out[1] = ((pixel >> 5) & 31) * 255 / 31;
        }
        out[2] = (pixel & 31) * 255 / 31;
      } else {
        const uint8_t* p = row + x * (bits / 8);
        out[0] = p[layout.r];
        out[1] = p[layout.g];
        out[2] = p[layout.b];
        if (layout.a >= 0) image.alpha[y * width + x] = p[layout.a];
      }
    }
  }
  return image;
}

}  // namespace mmrt::image
