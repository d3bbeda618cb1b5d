// JPEG via libjpeg-turbo with Pillow's decoder settings: the library defaults (islow integer DCT, fancy
// upsampling, no scaling), RGB output for YCbCr/RGB files and grey for one-component files. Four-component
// files (CMYK, YCCK) are read as CMYK and, like Pillow ("CMYK;I": it always assumes Adobe's inverted
// polarity), inverted before PIL's CMYK -> RGB conversion.
//
// libjpeg reports errors by longjmp. Only the two functions that call setjmp run libjpeg's decoding code and
// neither owns an object with a destructor; the decompressor is destroyed by a guard in the caller's frame.
// jpeglib.h needs size_t and FILE declared first.
#include <cstddef>
#include <cstdio>

#include <jerror.h>
#include <jpeglib.h>

#include <csetjmp>
#include <string>
#include <vector>

#include "core/image/decode.hpp"

namespace mmrt::image {
namespace {

// More scans than any encoder writes; a hostile progressive file could otherwise force thousands of passes.
constexpr int kMaxScans = 1000;

// libjpeg's error manager extended with the jump target. Plain data: it lives across longjmp.
struct JpegErrorManager {
  jpeg_error_mgr base;
  jmp_buf jump;
  char message[JMSG_LENGTH_MAX];
};

struct JpegReader {
  jpeg_decompress_struct cinfo;
  JpegErrorManager error;
  jpeg_progress_mgr progress;
};

void on_jpeg_error(j_common_ptr cinfo) {
  auto* error = reinterpret_cast<JpegErrorManager*>(cinfo->err);
  error->base.format_message(cinfo, error->message);
  longjmp(error->jump, 1);
}

// Pillow fails on a file that ends early ("image file is truncated"); libjpeg would only warn and pad.
void on_jpeg_message(j_common_ptr cinfo, int level) {
  if (level == -1 && cinfo->err->msg_code == JWRN_JPEG_EOF) on_jpeg_error(cinfo);
}

void on_jpeg_progress(j_common_ptr cinfo) {
  if (cinfo->is_decompressor) {
    auto* dinfo = reinterpret_cast<j_decompress_ptr>(cinfo);
    if (dinfo->input_scan_number > kMaxScans) {
      auto* error = reinterpret_cast<JpegErrorManager*>(cinfo->err);
      std::snprintf(error->message, sizeof error->message, "more than %d progressive scans", kMaxScans);
      longjmp(error->jump, 1);
    }
  }
}

bool read_jpeg_header(JpegReader* reader, const uint8_t* data, size_t size) {
  if (setjmp(reader->error.jump)) return false;
  jpeg_mem_src(&reader->cinfo, data, static_cast<unsigned long>(size));
  jpeg_read_header(&reader->cinfo, TRUE);
  switch (reader->cinfo.jpeg_color_space) {
    case JCS_GRAYSCALE:
      reader->cinfo.out_color_space = JCS_GRAYSCALE;
      break;
    case JCS_CMYK:
    case JCS_YCCK:
      reader->cinfo.out_color_space = JCS_CMYK;
      break;
    default:
      reader->cinfo.out_color_space = JCS_RGB;
      break;
  }
  return true;
}

bool read_jpeg_pixels(JpegReader* reader, uint8_t* pixels, size_t row_bytes) {
  if (setjmp(reader->error.jump)) return false;
  jpeg_start_decompress(&reader->cinfo);
  while (reader->cinfo.output_scanline < reader->cinfo.output_height) {
    JSAMPROW row = pixels + reader->cinfo.output_scanline * row_bytes;
    jpeg_read_scanlines(&reader->cinfo, &row, 1);
  }
  return true;
}

struct JpegDecompressGuard {
  JpegReader* reader;
  ~JpegDecompressGuard() { jpeg_destroy_decompress(&reader->cinfo); }
};

[[noreturn]] void fail(const std::string& problem) {
  throw ImageError("JPEG: " + problem);
}

// PIL's cmyk2rgb (Convert.c) applied to PIL's inverted ("CMYK;I") samples.
uint8_t cmyk_channel_to_rgb(uint8_t stored_channel, uint8_t stored_black) {
  const int c = 255 - stored_channel, nk = stored_black;  // nk = 255 - k, k = 255 - stored_black
  const int product = c * nk + 128;
  const int scaled = ((product >> 8) + product) >> 8;
  const int value = nk - scaled;
  return static_cast<uint8_t>(value < 0 ? 0 : value > 255 ? 255 : value);
}

}  // namespace

Image decode_jpeg(std::span<const uint8_t> bytes, const DecodeLimits& limits) {
  JpegReader reader{};
  reader.cinfo.err = jpeg_std_error(&reader.error.base);
  reader.error.base.error_exit = on_jpeg_error;
  reader.error.base.emit_message = on_jpeg_message;
  jpeg_create_decompress(&reader.cinfo);
  JpegDecompressGuard guard{&reader};
  reader.progress.progress_monitor = on_jpeg_progress;
  reader.cinfo.progress = &reader.progress;

  if (!read_jpeg_header(&reader, bytes.data(), bytes.size())) {
    fail(std::string("invalid header: ") + reader.error.message);
  }
  check_image_size("JPEG", reader.cinfo.image_width, reader.cinfo.image_height, limits);
  const size_t width = reader.cinfo.image_width, height = reader.cinfo.image_height;
  const int n_components = reader.cinfo.out_color_space == JCS_GRAYSCALE ? 1
                           : reader.cinfo.out_color_space == JCS_CMYK    ? 4
                                                                         : 3;
  std::vector<uint8_t> pixels(width * height * n_components);
  if (!read_jpeg_pixels(&reader, pixels.data(), width * n_components)) {
    fail(std::string("corrupt image data: ") + reader.error.message);
  }

  Image image = make_image(static_cast<int32_t>(width), static_cast<int32_t>(height));
  switch (n_components) {
    case 3:
      image.rgb = std::move(pixels);
      break;
    case 1:
      for (size_t i = 0; i < width * height; ++i) {
        image.rgb[3 * i] = image.rgb[3 * i + 1] = image.rgb[3 * i + 2] = pixels[i];
      }
      break;
    case 4:
      for (size_t i = 0; i < width * height; ++i) {
        for (int c = 0; c < 3; ++c)
          image.rgb[3 * i + c] = cmyk_channel_to_rgb(pixels[4 * i + c], pixels[4 * i + 3]);
      }
      break;
  }
  return image;
}

}  // namespace mmrt::image
