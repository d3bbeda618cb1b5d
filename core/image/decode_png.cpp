// PNG via libpng, reproducing PIL's PngImagePlugin modes followed by convert("RGB"):
//   palette -> palette lookup; 1/2/4-bit grey -> scaled to 8 bits; 16-bit channels -> their high byte
//   ("RGB;16B", "RGBA;16B", "LA;16B" rawmodes); 16-bit grey ("I;16") -> min(value, 255), PIL's I;16 -> RGB.
// Transparency as PIL reports it: alpha channels, and tRNS compared the way convert("RGBA") compares
// info["transparency"] (the raw sample value, masked to its low byte) with the 8-bit converted pixels.
// Before libpng reads the file, the chunk list is checked as PngImagePlugin reads it (see check_chunks).
//
// libpng reports errors by longjmp. Only the two small functions that call setjmp run libpng's reading code,
// and neither owns an object with a destructor, so a longjmp never skips C++ cleanup; the png structs are
// released by a guard in the caller's frame.
#include <png.h>
#include <zlib.h>

#include <algorithm>
#include <csetjmp>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "core/image/decode.hpp"

namespace mmrt::image {
namespace {

// State shared with the libpng callbacks. Plain data only: it is touched on both sides of a longjmp.
struct PngReader {
  const uint8_t* data;
  size_t size;
  size_t offset;
  png_structp png;
  png_infop info;
  char message[256];
};

struct PngHeader {
  png_uint_32 width, height;
  int bit_depth, color_type;
  bool has_trns;
  png_color_16 trns_color;  // raw sample values of a grey or RGB tRNS chunk
  int channels;             // per pixel after the transforms below
  size_t row_bytes;
};

void on_png_error(png_structp png, png_const_charp message) {
  auto* reader = static_cast<PngReader*>(png_get_error_ptr(png));
  std::snprintf(reader->message, sizeof reader->message, "%s", message);
  png_longjmp(png, 1);
}

void on_png_warning(png_structp, png_const_charp) {}

void read_from_memory(png_structp png, png_bytep out, size_t n_bytes) {
  auto* reader = static_cast<PngReader*>(png_get_io_ptr(png));
  if (n_bytes > reader->size - reader->offset) png_error(png, "file is truncated");
  std::memcpy(out, reader->data + reader->offset, n_bytes);
  reader->offset += n_bytes;
}

bool read_png_header(PngReader* reader, PngHeader* header) {
  if (setjmp(png_jmpbuf(reader->png))) return false;
  png_structp png = reader->png;
  png_infop info = reader->info;
  png_read_info(png, info);
  int interlace = 0;
  png_get_IHDR(png, info, &header->width, &header->height, &header->bit_depth, &header->color_type,
               &interlace, nullptr, nullptr);
  header->has_trns = png_get_valid(png, info, PNG_INFO_tRNS) != 0;
  if (header->has_trns && header->color_type != PNG_COLOR_TYPE_PALETTE) {
    png_color_16p trns = nullptr;
    png_get_tRNS(png, info, nullptr, nullptr, &trns);
    header->trns_color = *trns;
  }
  if (header->color_type == PNG_COLOR_TYPE_PALETTE) {
    png_set_palette_to_rgb(png);
    if (header->has_trns) png_set_tRNS_to_alpha(png);
  }
  if (header->color_type == PNG_COLOR_TYPE_GRAY && header->bit_depth < 8) png_set_expand_gray_1_2_4_to_8(png);
  const bool grey16 = header->color_type == PNG_COLOR_TYPE_GRAY && header->bit_depth == 16;
  if (header->bit_depth == 16 && !grey16) png_set_strip_16(png);
  png_set_interlace_handling(png);
  png_read_update_info(png, info);
  header->channels = png_get_channels(png, info);
  header->row_bytes = png_get_rowbytes(png, info);
  return true;
}

bool read_png_rows(PngReader* reader, png_bytepp rows) {
  if (setjmp(png_jmpbuf(reader->png))) return false;
  png_read_image(reader->png, rows);
  return true;
}

// Releases the libpng structs however decode_png exits.
struct PngStructsGuard {
  PngReader* reader;
  ~PngStructsGuard() { png_destroy_read_struct(&reader->png, &reader->info, nullptr); }
};

[[noreturn]] void fail(const std::string& problem) {
  throw ImageError("PNG: " + problem);
}

uint32_t read_u32_be(const uint8_t* p) {
  return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | p[3];
}

void put_u32_be(std::vector<uint8_t>& out, uint32_t v) {
  for (int shift = 24; shift >= 0; shift -= 8) out.push_back(static_cast<uint8_t>(v >> shift));
}

void append_chunk(std::vector<uint8_t>& out, const char* type, std::span<const uint8_t> data) {
  put_u32_be(out, static_cast<uint32_t>(data.size()));
  const size_t type_at = out.size();
  out.insert(out.end(), type, type + 4);
  out.insert(out.end(), data.begin(), data.end());
  put_u32_be(out, static_cast<uint32_t>(crc32(0, out.data() + type_at, static_cast<uInt>(4 + data.size()))));
}

// What PngImagePlugin decides from the chunk list, where libpng would decide otherwise:
// - an iCCP chunk before the image data with a compression method other than 0 makes Pillow refuse the
//   file (libpng drops the profile);
// - a last IDAT chunk whose length runs past the end of the file is read as far as the file goes, so a
//   complete compressed stream still decodes (libpng fails on the missing bytes).
// Returns the bytes libpng should read: `bytes`, or (for a cut IDAT) a copy in `repaired` whose last IDAT
// holds the bytes present, with its CRC, followed by IEND.
std::span<const uint8_t> check_chunks(std::span<const uint8_t> bytes, std::vector<uint8_t>& repaired) {
  bool seen_idat = false;
  for (size_t pos = 8; pos + 8 <= bytes.size();) {
    const uint32_t length = read_u32_be(bytes.data() + pos);
    const std::string type(reinterpret_cast<const char*>(bytes.data()) + pos + 4, 4);
    const size_t data_at = pos + 8, available = bytes.size() - data_at;
    if (type == "iCCP" && !seen_idat && length <= available) {
      const std::span<const uint8_t> data = bytes.subspan(data_at, length);
      const auto nul = std::find(data.begin(), data.end(), uint8_t{0});
      const size_t method_at = nul == data.end() ? 0 : static_cast<size_t>(nul - data.begin()) + 1;
      if (method_at >= data.size()) fail("iCCP chunk holds no compression method");
      if (data[method_at] != 0) {
        fail("unknown compression method " + std::to_string(data[method_at]) + " in iCCP chunk");
      }
    }
    if (type == "IDAT") {
      seen_idat = true;
      if (size_t{length} + 4 > available) {
        repaired.assign(bytes.begin(), bytes.begin() + static_cast<std::ptrdiff_t>(pos));
        append_chunk(repaired, "IDAT", bytes.subspan(data_at, std::min<size_t>(length, available)));
        append_chunk(repaired, "IEND", {});
        return repaired;
      }
    }
    pos = data_at + size_t{length} + 4;
  }
  return bytes;
}

}  // namespace

Image decode_png(std::span<const uint8_t> file, const DecodeLimits& limits) {
  if (file.size() < 8 || png_sig_cmp(file.data(), 0, 8) != 0) fail("not a PNG file (bad signature)");
  std::vector<uint8_t> repaired;
  const std::span<const uint8_t> bytes = check_chunks(file, repaired);
  PngReader reader{};
  reader.data = bytes.data();
  reader.size = bytes.size();
  reader.png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &reader, on_png_error, on_png_warning);
  if (reader.png == nullptr) fail("cannot create the libpng reader");
  PngStructsGuard guard{&reader};
  reader.info = png_create_info_struct(reader.png);
  if (reader.info == nullptr) fail("cannot create the libpng info struct");
  png_set_read_fn(reader.png, &reader, read_from_memory);

  PngHeader header{};
  if (!read_png_header(&reader, &header)) fail(std::string("invalid header: ") + reader.message);
  check_image_size("PNG", header.width, header.height, limits);

  const size_t width = header.width, height = header.height;
  std::vector<uint8_t> pixels(header.row_bytes * height);
  std::vector<png_bytep> rows(height);
  for (size_t y = 0; y < height; ++y) rows[y] = pixels.data() + y * header.row_bytes;
  if (!read_png_rows(&reader, rows.data())) fail(std::string("corrupt image data: ") + reader.message);

  Image image = make_image(static_cast<int32_t>(width), static_cast<int32_t>(height));
  const bool grey =
      header.color_type == PNG_COLOR_TYPE_GRAY || header.color_type == PNG_COLOR_TYPE_GRAY_ALPHA;
  const bool grey16 = header.color_type == PNG_COLOR_TYPE_GRAY && header.bit_depth == 16;
  const bool alpha_channel = header.channels == 2 || header.channels == 4;
  const bool trns_compare = header.has_trns && header.color_type != PNG_COLOR_TYPE_PALETTE;
  if (alpha_channel || trns_compare) image.alpha.assign(width * height, 255);
  for (size_t y = 0; y < height; ++y) {
    const uint8_t* row = rows[y];
    uint8_t* out = image.rgb.data() + y * width * 3;
    for (size_t x = 0; x < width; ++x, out += 3) {
      const size_t i = y * width + x;
      if (grey16) {
        const unsigned value = (row[2 * x] << 8) | row[2 * x + 1];
        out[0] = out[1] = out[2] = static_cast<uint8_t>(std::min(value, 255u));
        if (trns_compare && out[0] == (header.trns_color.gray & 0xFF)) image.alpha[i] = 0;
      } else if (grey) {
        const uint8_t* p = row + x * header.channels;
        out[0] = out[1] = out[2] = p[0];
        if (alpha_channel) image.alpha[i] = p[1];
        if (trns_compare && p[0] == (header.trns_color.gray & 0xFF)) image.alpha[i] = 0;
      } else {
        const uint8_t* p = row + x * header.channels;
        std::memcpy(out, p, 3);
        if (alpha_channel) image.alpha[i] = p[3];
        if (trns_compare && p[0] == (header.trns_color.red & 0xFF) &&
            p[1] == (header.trns_color.green & 0xFF) && p[2] == (header.trns_color.blue & 0xFF)) {
          image.alpha[i] = 0;
        }
      }
    }
  }
  return image;
}

}  // namespace mmrt::image
