#!/usr/bin/env python3
"""Transformers on the same checkpoint and request shape as `mmrt bench --mode offline`, for side-by-side numbers.

Each request: one random image of --image-size and --input-len random ordinary tokens in the model's prompt
form (LLaVA: "USER: <image>\\n" ... " ASSISTANT:"; BLIP-2: "Question: " ... " Answer:", the processor adds the
query tokens; Qwen2-VL: its chat template with the image first), then exactly --output-len generated tokens
(EOS ignored), --batch requests per generate() call. Reports TTFT (a one-token generate of the batch), TPOT
((full - TTFT) / (output_len - 1)), output tokens/s, the image path (LLaVA: vision tower + projector; BLIP-2:
ViT + Q-Former + projection; Qwen2-VL: vision tower + merger) images/s at the batch size, and the process's
peak RSS, as JSON.

    python3 tools/bench/hf_baseline.py --model /tmp/llava-7b-random --device cuda --dtype fp16 \\
        --batch 1 --input-len 24 --output-len 128 --image-size 336x336
"""
import argparse
import json
import pathlib
import resource
import statistics
import sys
import time

import numpy as np
import torch
from PIL import Image
from transformers import (AutoProcessor, Blip2ForConditionalGeneration, LlavaForConditionalGeneration,
                          Qwen2VLForConditionalGeneration)

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "fixtures"))


def sync(device):
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", required=True)
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--dtype", choices=["fp16", "bf16", "fp32"], default="fp16")
    ap.add_argument("--batch", type=int, default=1)
    ap.add_argument("--input-len", type=int, default=24)
    ap.add_argument("--output-len", type=int, default=128)
    ap.add_argument("--image-size", default="336x336")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    dtype = {"fp16": torch.float16, "bf16": torch.bfloat16, "fp32": torch.float32}[args.dtype]
    w, h = (int(x) for x in args.image_size.split("x"))

    architecture = json.loads((pathlib.Path(args.model) / "config.json").read_text())["architectures"][0]
    qwen2_vl = architecture == "Qwen2VLForConditionalGeneration"
    blip2 = architecture == "Blip2ForConditionalGeneration"
    if qwen2_vl:
        from make_qwen2_vl_fixtures import allow_missing_video_processor, load_processor
        allow_missing_video_processor()
        processor = load_processor(args.model)
        model = Qwen2VLForConditionalGeneration.from_pretrained(args.model, dtype=dtype).to(args.device).eval()
    else:
        processor = AutoProcessor.from_pretrained(args.model)
        model_class = Blip2ForConditionalGeneration if blip2 else LlavaForConditionalGeneration
        model = model_class.from_pretrained(args.model, dtype=dtype).to(args.device).eval()
    processor.tokenizer.padding_side = "left"
    rng = np.random.default_rng(args.seed)
    images = [Image.fromarray(rng.integers(0, 256, (h, w, 3), dtype=np.uint8)) for _ in range(args.batch)]
    words = ["the", "a", "cat", "on", "mat", "blue", "sky", "house", "tree", "red"]
    prompts = []
    for _ in range(args.batch):
        text = " ".join(rng.choice(words, size=4 * args.input_len))
        ids = processor.tokenizer(text, add_special_tokens=False).input_ids[: args.input_len]
        text = processor.tokenizer.decode(ids)
        if qwen2_vl:
            messages = [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": text}]}]
            prompts.append(processor.apply_chat_template(messages, add_generation_prompt=True, tokenize=False))
        elif blip2:
            prompts.append(f"Question: {text} Answer:")
        else:
            prompts.append("USER: <image>\n" + text + " ASSISTANT:")
    inputs = processor(images=images, text=prompts, return_tensors="pt", padding=True).to(args.device)
    inputs["pixel_values"] = inputs["pixel_values"].to(dtype)
    gen = dict(do_sample=False, num_beams=1, min_new_tokens=args.output_len, max_new_tokens=args.output_len,
               pad_token_id=processor.tokenizer.pad_token_id or 0)

    def timed(fn):
        sync(args.device)
        t = time.perf_counter()
        with torch.inference_mode():
            fn()
        sync(args.device)
        return time.perf_counter() - t

    timed(lambda: model.generate(**inputs, **{**gen, "min_new_tokens": 1, "max_new_tokens": 2}))  # warm-up
    ttft = [timed(lambda: model.generate(**inputs, **{**gen, "min_new_tokens": 1, "max_new_tokens": 1}))
            for _ in range(args.repeats)]
    full = [timed(lambda: model.generate(**inputs, **gen)) for _ in range(args.repeats)]
    if qwen2_vl:
        def image_path():
            return model.model.get_image_features(pixel_values=inputs["pixel_values"],
                                                  image_grid_thw=inputs["image_grid_thw"])
    elif blip2:
        def image_path():
            return model.get_image_features(pixel_values=inputs["pixel_values"])
    else:
        def image_path():
            return model.model.get_image_features(
                pixel_values=inputs["pixel_values"], vision_feature_layer=model.config.vision_feature_layer,
                vision_feature_select_strategy=model.config.vision_feature_select_strategy)
    vision = [timed(image_path) for _ in range(args.repeats)]
    t_ttft, t_full, t_vision = statistics.median(ttft), statistics.median(full), statistics.median(vision)
    report = {
        "engine": "transformers", "device": args.device, "dtype": args.dtype, "batch": args.batch,
        "input_len": args.input_len, "output_len": args.output_len, "image_size": args.image_size,
        "ttft_ms": 1e3 * t_ttft,
        "tpot_ms": 1e3 * (t_full - t_ttft) / max(args.output_len - 1, 1),
        "output_tokens_per_s": args.batch * args.output_len / t_full,
        "vision_images_per_s": args.batch / t_vision,
        "peak_gpu_memory_gb": torch.cuda.max_memory_allocated() / 1e9 if args.device.startswith("cuda") else None,
        "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
