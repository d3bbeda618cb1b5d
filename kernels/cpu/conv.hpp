#pragma once
// Image convolutions of vision towers, as im2col followed by one OpenBLAS GEMM (fp32 accumulation).
// Single image per call, channel-first input like torch's pixel_values. Call outside OpenMP regions
// (see linear.hpp).

#include <cstdint>

namespace mmrt::cpu {

// Non-overlapping patch embedding: Conv2d(channels, out_ch, kernel_size=patch, stride=patch) whose output is
// flattened to tokens, as CLIP/SigLIP/EVA do with flatten(2).transpose(1, 2). Patch (py, px) is token
// py * (width / patch) + px. Like Conv2d, trailing rows/columns that do not fill a patch are dropped.
// Example: CLIP ViT-L/14 at 336 px: [3, 336, 336] -> 24 x 24 = 576 tokens of out_ch 1024.
void patch_embed(const float* pixels,  // [channels, height, width]
                 int64_t channels, int64_t height, int64_t width, int64_t patch,
                 const float* weight,  // [out_ch, channels, patch, patch] (Conv2d layout)
                 const float* bias,    // [out_ch] or null
                 int64_t out_ch,
                 float* out);  // [(height / patch) * (width / patch), out_ch]

struct Conv2dGeometry {
  int64_t kernel_h, kernel_w;
  int64_t stride_h, stride_w;
  int64_t pad_h, pad_w;  // zero padding on each side
};

// Output size along one axis, as nn.Conv2d: (in + 2·pad − kernel) / stride + 1 (floor).
int64_t conv2d_output_size(int64_t in, int64_t kernel, int64_t stride, int64_t pad);

// General nn.Conv2d (dilation 1, groups 1), channel-first output like torch. Throws std::invalid_argument
// if the kernel does not fit the padded input or a stride is not positive.
void conv2d(const float* input,  // [channels, height, width]
            int64_t channels, int64_t height, int64_t width,
            const float* weight,  // [out_ch, channels, kernel_h, kernel_w]
            const float* bias,    // [out_ch] or null
            int64_t out_ch, const Conv2dGeometry& geometry,
            float* out);  // [out_ch, out_h, out_w] (sizes from conv2d_output_size)

}  // namespace mmrt::cpu
