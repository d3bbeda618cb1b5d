// BMP as Pillow's BmpImagePlugin reads it, then convert("RGB"):
//   1/4/8-bit palette (BGRX entries, BGR for 12-byte OS/2 headers; indices past the palette map to grey),
//   16-bit 5-5-5 (default) or 5-6-5 bitfields scaled by v * 255 / max, 24-bit BGR, 32-bit BGRX, and 32-bit
//   bitfield layouts from Pillow's table (those with an alpha mask are mode RGBA: alpha is kept).
// RLE4/RLE8 and other compressions are rejected with an error (Pillow supports RLE; mmrt does not yet).
// Hand-written rather than stb_image because stb scales 16-bit channels by bit replication and treats the
// fourth byte of 32-bit BI_RGB pixels as alpha, where Pillow does neither.
#include <array>
#include <string>
#include <vector>

#include "core/image/decode.hpp"

namespace mmrt::image {
namespace {

[[noreturn]] void fail(const std::string& problem) {
  throw ImageError("BMP: " + problem);
}

constexpr uint32_t kCompressionRaw = 0, kCompressionBitfields = 3;

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
  } else if (compression != kCompressionRaw) {
    fail("unsupported compression " + std::to_string(compression) + " (RLE is not supported)");
  }
  check_image_size("BMP", width, height, limits);

  std::vector<uint8_t> palette;  // [n_entries, 3] RGB
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
  }

  const size_t stride = ((static_cast<size_t>(width) * bits + 31) >> 3) & ~size_t{3};
  if (data_offset > bytes.size() || stride * static_cast<size_t>(height) > bytes.size() - data_offset) {
    fail("pixel data is truncated");
  }
  Image image = make_image(static_cast<int32_t>(width), static_cast<int32_t>(height));
  if (layout.a >= 0) image.alpha.resize(static_cast<size_t>(width) * height);
  const size_t n_entries = palette.size() / 3;
  for (int64_t y = 0; y < height; ++y) {
    const uint8_t* row = bytes.data() + data_offset + stride * (top_down ? y : height - 1 - y);
    uint8_t* out = image.rgb.data() + static_cast<size_t>(y * width) * 3;
    for (int64_t x = 0; x < width; ++x, out += 3) {
      if (bits <= 8) {
        const unsigned per_byte = 8 / bits, shift = 8 - bits - (x % per_byte) * bits;
        const unsigned index = (row[x / per_byte] >> shift) & ((1u << bits) - 1);
        for (int c = 0; c < 3; ++c) out[c] = index < n_entries ? palette[3 * index + c] : index;
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
