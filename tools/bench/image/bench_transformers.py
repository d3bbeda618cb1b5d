#!/usr/bin/env python3
"""Times Pillow decode + transformers' PIL-backend image processors on the synthetic 1024x768 JPEG that
mmrt_bench_image uses (same picture, encoded by Pillow at quality 90, 4:2:0), one thread.

Usage: python3 tools/bench/image/bench_transformers.py [seconds per processor, default 2]
"""
import io
import os
import sys
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np
from PIL import Image
from transformers import (BlipImageProcessor, CLIPImageProcessor, NougatImageProcessor,
                          Qwen2VLImageProcessor)

W, H = 1024, 768


def synthetic_jpeg():
    y, x = np.mgrid[0:H, 0:W]
    rgb = np.stack([x * 255 // (W - 1), y * 255 // (H - 1),
                    (128 + 100 * np.sin(x / 7.0) * np.cos(y / 5.0)).astype(np.int64)], axis=-1)
    buf = io.BytesIO()
    Image.fromarray(rgb.astype(np.uint8)).save(buf, "JPEG", quality=90)
    return buf.getvalue()


PROCESSORS = [
    ("CLIP-336 (llava-1.5)", lambda: CLIPImageProcessor(size={"shortest_edge": 336},
                                                       crop_size={"height": 336, "width": 336}, resample=3)),
    ("BLIP-224 (blip2)", lambda: BlipImageProcessor(size={"height": 224, "width": 224}, resample=3)),
    ("Qwen2-VL (hub min/max_pixels)", lambda: Qwen2VLImageProcessor(min_pixels=3136, max_pixels=12845056)),
    ("Nougat-896x672", lambda: NougatImageProcessor(size={"height": 896, "width": 672})),
]


def main():
    seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 2.0
    data = synthetic_jpeg()
    for name, make in PROCESSORS:
        processor = make()
        n = 0
        start = time.perf_counter()
        while time.perf_counter() - start < seconds:
            image = Image.open(io.BytesIO(data))
            processor(images=[image], return_tensors="np")
            n += 1
        elapsed = time.perf_counter() - start
        print(f"{name:32s} {type(processor).__name__}: {n / elapsed:.1f} images/s ({1000 * elapsed / n:.2f} ms/image)")


if __name__ == "__main__":
    main()
