// decode_image against PIL's convert("RGB") (and convert("RGBA") alpha) on every fixture, plus hostile input.
#include <doctest/doctest.h>

#include <algorithm>
#include <array>
#include <string>

#include "core/image/decode.hpp"
#include "fixtures.hpp"

namespace mmrt::image {
namespace {

using test::fixture_dir;
using test::read_bytes;

TEST_CASE("decode_image matches PIL convert(RGB) byte for byte on every fixture") {
  const auto& decode_cases = test::manifest().at("decode").as_array();
  REQUIRE(decode_cases.size() > 30);
  for (const auto& value : decode_cases) {
    const auto& entry = value.as_object();
    const std::string file(entry.at("file").as_string());
    CAPTURE(file);
    const Image image = decode_image(read_bytes(fixture_dir() / "sources" / file));
    CHECK(image.width == entry.at("width").as_int64());
    CHECK(image.height == entry.at("height").as_int64());
    const std::vector<uint8_t> expected_rgb = read_bytes(fixture_dir() / "decoded" / (file + ".rgb"));
    CHECK(image.rgb == expected_rgb);
    const bool has_alpha = entry.at("has_alpha").as_bool();
    CHECK(image.has_alpha() == has_alpha);
    if (has_alpha && image.has_alpha()) {
      CHECK(image.alpha == read_bytes(fixture_dir() / "decoded" / (file + ".alpha")));
    }
  }
}

std::vector<uint8_t> fixture(const std::string& name) {
  return read_bytes(fixture_dir() / "sources" / name);
}

void check_throws_naming(std::span<const uint8_t> bytes, const std::string& format,
                         const DecodeLimits& limits = {}) {
  try {
    decode_image(bytes, limits);
    FAIL("expected ImageError for a hostile " << format << " input of " << bytes.size() << " bytes");
  } catch (const ImageError& error) {
    CHECK_MESSAGE(std::string(error.what()).starts_with(format), error.what());
  }
}

TEST_CASE("truncated files of every format fail with an error naming the format") {
  const std::array<std::pair<const char*, const char*>, 9> cases = {{
      {"png_rgb_37x23.png", "PNG"},
      {"png_rgb_interlaced_37x23.png", "PNG"},
      {"jpeg_baseline_64x48.jpg", "JPEG"},
      {"jpeg_progressive_64x48.jpg", "JPEG"},
      {"webp_lossy_40x30.webp", "WebP"},
      {"webp_lossless_rgba_37x23.webp", "WebP"},
      {"gif_37x23.gif", "GIF"},
      {"bmp_rgb24_37x23.bmp", "BMP"},
      {"bmp_p4_37x23.bmp", "BMP"},
  }};
  for (const auto& [name, format] : cases) {
    CAPTURE(name);
    const std::vector<uint8_t> bytes = fixture(name);
    // Cut inside the header, just after it, and in the middle and near the end of the pixel data. (PIL, like
    // mmrt, accepts a PNG that only lacks its IEND chunk, so the last cut stays inside the image data.)
    for (size_t keep : {size_t{12}, size_t{30}, bytes.size() / 2, bytes.size() * 3 / 4}) {
      CAPTURE(keep);
      check_throws_naming(std::span(bytes).first(keep), format);
    }
  }
}

uint32_t crc32(std::span<const uint8_t> bytes) {
  uint32_t crc = 0xFFFFFFFF;
  for (uint8_t b : bytes) {
    crc ^= b;
    for (int k = 0; k < 8; ++k) crc = (crc >> 1) ^ (0xEDB88320 & (0u - (crc & 1)));
  }
  return ~crc;
}

void put_u32_be(std::vector<uint8_t>& out, uint32_t v) {
  for (int shift = 24; shift >= 0; shift -= 8) out.push_back(static_cast<uint8_t>(v >> shift));
}

// A valid PNG signature and IHDR claiming width x height RGB8, followed by an empty IDAT.
std::vector<uint8_t> png_header(uint32_t width, uint32_t height) {
  std::vector<uint8_t> out = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
  std::vector<uint8_t> ihdr = {'I', 'H', 'D', 'R'};
  put_u32_be(ihdr, width);
  put_u32_be(ihdr, height);
  ihdr.insert(ihdr.end(), {8, 2, 0, 0, 0});
  put_u32_be(out, 13);
  out.insert(out.end(), ihdr.begin(), ihdr.end());
  put_u32_be(out, crc32(ihdr));
  const std::vector<uint8_t> idat = {'I', 'D', 'A', 'T'};
  put_u32_be(out, 0);
  out.insert(out.end(), idat.begin(), idat.end());
  put_u32_be(out, crc32(idat));
  return out;
}

TEST_CASE("a PNG header claiming 100000x100000 pixels is rejected before allocating") {
  const std::vector<uint8_t> bomb = png_header(100000, 100000);
  try {
    decode_image(bomb);
    FAIL("expected a decompression-bomb error");
  } catch (const ImageError& error) {
    CHECK_MESSAGE(std::string(error.what()).find("exceeds the limit") != std::string::npos, error.what());
  }
  // The same small header passes the size check and then fails on the missing data.
  check_throws_naming(png_header(4, 4), "PNG");
}

TEST_CASE("the pixel limit applies to every format") {
  const DecodeLimits tiny{.max_pixels = 100};
  for (const char* name : {"png_rgb_37x23.png", "jpeg_444_37x23.jpg", "webp_lossy_40x30.webp",
                           "gif_37x23.gif", "bmp_rgb24_37x23.bmp"}) {
    CAPTURE(name);
    try {
      decode_image(fixture(name), tiny);
      FAIL("expected the limit to trigger");
    } catch (const ImageError& error) {
      CHECK_MESSAGE(std::string(error.what()).find("exceeds the limit of 100 pixels") != std::string::npos,
                    error.what());
    }
  }
  CHECK(decode_image(fixture("png_rgb_1x1.png"), DecodeLimits{.max_pixels = 1}).width == 1);
}

void put_u32_le(std::vector<uint8_t>& out, uint32_t v) {
  for (int shift = 0; shift < 32; shift += 8) out.push_back(static_cast<uint8_t>(v >> shift));
}

// A 3x2 8-bit BMP with a 4-colour palette (index i is (10 i, 20 i, 30 i)) and the given RLE8 data.
std::vector<uint8_t> rle8_bmp(const std::vector<uint8_t>& rle) {
  const uint32_t data_offset = 14 + 40 + 4 * 4;
  std::vector<uint8_t> out = {'B', 'M'};
  put_u32_le(out, data_offset + static_cast<uint32_t>(rle.size()));
  put_u32_le(out, 0);
  put_u32_le(out, data_offset);
  for (uint32_t v : {40u, 3u, 2u}) put_u32_le(out, v);
  out.insert(out.end(), {1, 0, 8, 0});  // planes, bits
  for (uint32_t v : {1u, static_cast<uint32_t>(rle.size()), 0u, 0u, 4u, 0u}) put_u32_le(out, v);
  for (uint8_t i = 0; i < 4; ++i)
    out.insert(out.end(), {uint8_t(30 * i), uint8_t(20 * i), uint8_t(10 * i), 0});
  out.insert(out.end(), rle.begin(), rle.end());
  return out;
}

TEST_CASE("RLE8 BMP: runs, end of line, absolute runs and end of bitmap, bottom row first") {
  // Bottom row: a run of two 1s, a run of one 2, end of line. Top row: absolute 3, 0, 1 (padded to an even
  // file position), end of bitmap.
  const Image image = decode_image(rle8_bmp({2, 1, 1, 2, 0, 0, 0, 3, 3, 0, 1, 0, 0, 1}));
  REQUIRE(image.width == 3);
  REQUIRE(image.height == 2);
  const std::vector<uint8_t> expected = {30, 60, 90, 0, 0, 0, 10, 20, 30, 10, 20, 30, 10, 20, 30, 20, 40, 60};
  CHECK(image.rgb == expected);
  // Pillow refuses a bitmap whose data ends before the last pixel, whether at an end-of-bitmap or the file's
  // end.
  CHECK_THROWS_WITH_AS(decode_image(rle8_bmp({2, 1, 0, 1})), doctest::Contains("not enough image data"),
                       ImageError);
  CHECK_THROWS_WITH_AS(decode_image(rle8_bmp({2, 1, 0})), doctest::Contains("not enough image data"),
                       ImageError);
  // A delta past the end fills what is left with index 0.
  CHECK(decode_image(rle8_bmp({2, 1, 0, 2, 200, 200})).rgb[0] == 0);
}

void put_chunk(std::vector<uint8_t>& out, const std::string& type, const std::vector<uint8_t>& data) {
  std::vector<uint8_t> body(type.begin(), type.end());
  body.insert(body.end(), data.begin(), data.end());
  put_u32_be(out, static_cast<uint32_t>(data.size()));
  out.insert(out.end(), body.begin(), body.end());
  put_u32_be(out, crc32(body));
}

// A one-row 16-bit PNG (colour type 0 grey or 2 RGB) of big-endian `samples`, with a tRNS chunk of
// `trns` samples, its image data in one stored (uncompressed) deflate block.
std::vector<uint8_t> png16_row(uint8_t color_type, const std::vector<uint16_t>& samples,
                               const std::vector<uint16_t>& trns) {
  const uint32_t channels = color_type == 2 ? 3 : 1;
  std::vector<uint8_t> out = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
  std::vector<uint8_t> ihdr;
  put_u32_be(ihdr, static_cast<uint32_t>(samples.size() / channels));
  put_u32_be(ihdr, 1);
  ihdr.insert(ihdr.end(), {16, color_type, 0, 0, 0});
  put_chunk(out, "IHDR", ihdr);
  std::vector<uint8_t> trns_bytes;
  for (uint16_t v : trns) trns_bytes.insert(trns_bytes.end(), {uint8_t(v >> 8), uint8_t(v & 0xFF)});
  put_chunk(out, "tRNS", trns_bytes);
  std::vector<uint8_t> scanline = {0};  // filter type none
  for (uint16_t v : samples) scanline.insert(scanline.end(), {uint8_t(v >> 8), uint8_t(v & 0xFF)});
  const auto n = static_cast<uint16_t>(scanline.size());
  std::vector<uint8_t> zlib = {
      0x78, 0x01, 1, uint8_t(n & 0xFF), uint8_t(n >> 8), uint8_t(~n & 0xFF), uint8_t((~n >> 8) & 0xFF)};
  zlib.insert(zlib.end(), scanline.begin(), scanline.end());
  uint32_t a = 1, b = 0;  // Adler-32
  for (uint8_t byte : scanline) {
    a = (a + byte) % 65521;
    b = (b + a) % 65521;
  }
  put_u32_be(zlib, (b << 16) | a);
  put_chunk(out, "IDAT", zlib);
  put_chunk(out, "IEND", {});
  return out;
}

TEST_CASE("16-bit tRNS matches as Pillow's convert(RGBA) matches it: the 8-bit pixel against the low byte") {
  // Grey I;16: pixels clip to 255; tRNS 300 matches the pixel 44 (300 & 0xFF), not the pixel 300.
  const Image grey = decode_image(png16_row(0, {300, 44, 255, 7}, {300}));
  CHECK(grey.rgb == std::vector<uint8_t>{255, 255, 255, 44, 44, 44, 255, 255, 255, 7, 7, 7});
  CHECK(grey.alpha == std::vector<uint8_t>{255, 0, 255, 255});
  // RGB;16 keeps the high bytes; tRNS 0xFFFF matches 255, the high byte of 0xFFFF.
  const Image rgb =
      decode_image(png16_row(2, {65535, 65535, 65535, 255, 255, 255, 0, 0, 0}, {65535, 65535, 65535}));
  CHECK(rgb.rgb == std::vector<uint8_t>{255, 255, 255, 0, 0, 0, 0, 0, 0});
  CHECK(rgb.alpha == std::vector<uint8_t>{0, 255, 255});
}

TEST_CASE(
    "a PNG whose last IDAT runs past the end of the file decodes when its compressed stream is complete") {
  std::vector<uint8_t> png = png16_row(0, {1, 2}, {9});
  png.resize(png.size() - 12 - 4);  // drop IEND and the IDAT CRC
  const std::string idat = "IDAT";
  const auto type_at = std::search(png.begin(), png.end(), idat.begin(), idat.end());
  REQUIRE(type_at != png.end());
  *(type_at - 4) = 0x3F;  // the length now claims about 1 GiB
  CHECK(decode_image(png).rgb == std::vector<uint8_t>{1, 1, 1, 2, 2, 2});
  png.resize(png.size() - 6);  // now the compressed stream is cut too
  CHECK_THROWS_AS(decode_image(png), ImageError);
}

TEST_CASE("a PNG whose iCCP chunk names an unknown compression method is refused, as Pillow refuses it") {
  std::vector<uint8_t> png = png_header(1, 1);
  const std::vector<uint8_t> iccp = {'i', 'C', 'C', 'P', 'p', 0, 1, 0x78, 0x9c};
  std::vector<uint8_t> chunk;
  put_u32_be(chunk, static_cast<uint32_t>(iccp.size() - 4));
  chunk.insert(chunk.end(), iccp.begin(), iccp.end());
  put_u32_be(chunk, crc32(iccp));
  png.insert(png.begin() + 33, chunk.begin(), chunk.end());  // after the signature and IHDR
  CHECK_THROWS_WITH_AS(decode_image(png), doctest::Contains("unknown compression method 1 in iCCP chunk"),
                       ImageError);
}

TEST_CASE("empty, garbage and zero-size inputs fail cleanly") {
  CHECK_THROWS_AS(decode_image({}), ImageError);
  const std::vector<uint8_t> garbage(300, 0x5A);
  CHECK_THROWS_WITH_AS(decode_image(garbage), doctest::Contains("unrecognised format"), ImageError);
  check_throws_naming(png_header(0, 5), "PNG");
  // Valid signatures followed by noise.
  for (std::vector<uint8_t> bytes :
       {std::vector<uint8_t>{0xFF, 0xD8, 0xFF, 0xE0, 1, 2, 3},
        std::vector<uint8_t>{'G', 'I', 'F', '8', '9', 'a', 0, 0, 0, 0, 0, 0, 0, ','},
        std::vector<uint8_t>{'B', 'M', 0, 0, 0, 0, 0, 0, 0, 0, 54, 0, 0, 0, 40},
        std::vector<uint8_t>{'R', 'I', 'F', 'F', 4, 0, 0, 0, 'W', 'E', 'B', 'P'}}) {
    CHECK_THROWS_AS(decode_image(bytes), ImageError);
  }
}

}  // namespace
}  // namespace mmrt::image
