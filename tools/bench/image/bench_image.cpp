// mmrt_bench_image: decode + preprocess throughput, one thread, for the resize/crop/normalize processors the
// SDK composes from the host's image primitives (the Qwen2-VL and Nougat processors live in their plugins).
//
// Usage: mmrt_bench_image [image.jpg] [seconds per processor, default 2]
// Without a file it encodes a synthetic 1024x768 JPEG (quality 90, 4:2:0) in memory, the same picture
// tools/bench/image/bench_transformers.py writes, so the two numbers compare like for like.
// The processor settings are the hub configs of llava-1.5 (CLIP 336) and BLIP-2 (224).
#include <cstddef>
#include <cstdio>

#include <jpeglib.h>

#include <chrono>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <string>
#include <utility>
#include <vector>

#include "core/backend/image_service.hpp"
#include "core/image/decode.hpp"
#include "core/plugin/host_api.hpp"
#include "mmrt/image/resize_crop_normalize.hpp"

namespace {

constexpr int kWidth = 1024, kHeight = 768;

// Same formula as bench_transformers.py: smooth gradients plus a sine pattern.
std::vector<uint8_t> synthetic_rgb() {
  std::vector<uint8_t> rgb(static_cast<size_t>(kWidth) * kHeight * 3);
  for (int y = 0; y < kHeight; ++y) {
    for (int x = 0; x < kWidth; ++x) {
      uint8_t* p = rgb.data() + (static_cast<size_t>(y) * kWidth + x) * 3;
      p[0] = static_cast<uint8_t>(x * 255 / (kWidth - 1));
      p[1] = static_cast<uint8_t>(y * 255 / (kHeight - 1));
      p[2] = static_cast<uint8_t>(128 + 100 * std::sin(x / 7.0) * std::cos(y / 5.0));
    }
  }
  return rgb;
}

std::vector<uint8_t> encode_jpeg(const std::vector<uint8_t>& rgb) {
  jpeg_compress_struct cinfo;
  jpeg_error_mgr error;
  cinfo.err = jpeg_std_error(&error);
  jpeg_create_compress(&cinfo);
  unsigned char* buffer = nullptr;
  unsigned long size = 0;
  jpeg_mem_dest(&cinfo, &buffer, &size);
  cinfo.image_width = kWidth;
  cinfo.image_height = kHeight;
  cinfo.input_components = 3;
  cinfo.in_color_space = JCS_RGB;
  jpeg_set_defaults(&cinfo);
  jpeg_set_quality(&cinfo, 90, TRUE);
  jpeg_start_compress(&cinfo, TRUE);
  while (cinfo.next_scanline < cinfo.image_height) {
    JSAMPROW row = const_cast<uint8_t*>(rgb.data()) + static_cast<size_t>(cinfo.next_scanline) * kWidth * 3;
    jpeg_write_scanlines(&cinfo, &row, 1);
  }
  jpeg_finish_compress(&cinfo);
  std::vector<uint8_t> out(buffer, buffer + size);
  jpeg_destroy_compress(&cinfo);
  std::free(buffer);
  return out;
}

const std::pair<const char*, const char*> kConfigs[] = {
    {"CLIP-336 (llava-1.5)",
     R"({"image_processor_type": "CLIPImageProcessor", "size": {"shortest_edge": 336},
         "crop_size": {"height": 336, "width": 336}, "resample": 3})"},
    {"BLIP-224 (blip2)",
     R"({"image_processor_type": "BlipImageProcessor", "size": {"height": 224, "width": 224}, "resample": 3})"},
};

}  // namespace

int main(int argc, char** argv) {
  std::vector<uint8_t> file;
  if (argc > 1) {
    std::ifstream in(argv[1], std::ios::binary);
    if (!in) {
      std::fprintf(stderr, "cannot open %s\n", argv[1]);
      return 1;
    }
    file.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  } else {
    file = encode_jpeg(synthetic_rgb());
  }
  const double seconds = argc > 2 ? std::atof(argv[2]) : 2.0;
  using Clock = std::chrono::steady_clock;

  int n_decodes = 0;
  const auto decode_start = Clock::now();
  while (std::chrono::duration<double>(Clock::now() - decode_start).count() < seconds) {
    mmrt::image::decode_image(file);
    ++n_decodes;
  }
  const double decode_time = std::chrono::duration<double>(Clock::now() - decode_start).count();
  std::printf("decode only: %.1f images/s (%zu-byte file)\n", n_decodes / decode_time, file.size());

  mmrt::sdk::set_host(mmrt::plugin::host_api());
  const mmrt::sdk::image::Primitives primitives(mmrt::backend::image_service());
  for (const auto& [name, json] : kConfigs) {
    const mmrt::sdk::json::Value config = mmrt::sdk::json::parse(json, name);
    const mmrt::sdk::image::ResizeCropNormalize processor(
        primitives,
        mmrt::sdk::image::ResizeCropNormalizeConfig::parse(mmrt::sdk::json::Reader(config, name)));
    int n_images = 0;
    size_t n_values = 0;
    const auto start = Clock::now();
    while (std::chrono::duration<double>(Clock::now() - start).count() < seconds) {
      const mmrt::image::Image image = mmrt::image::decode_image(file);
      MmrtImage view{};
      view.struct_size = MMRT_SIZEOF(MmrtImage, alpha);
      view.width = image.width;
      view.height = image.height;
      view.rgb = image.rgb.data();
      view.alpha = image.alpha.empty() ? nullptr : image.alpha.data();
      n_values = processor.process(view).values.size();
      ++n_images;
    }
    const double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
    std::printf("%-32s decode+preprocess: %.1f images/s (%.2f ms/image, %zu values)\n", name,
                n_images / elapsed, 1000 * elapsed / n_images, n_values);
  }
  return 0;
}
