#!/usr/bin/env python3
"""Writes a random-weight LLaVA checkpoint with the exact shape of llava-hf/llava-1.5-7b-hf.

CLIP ViT-L/14-336 vision tower, Llama-2-7B language model (vocab 32064), fp16 safetensors, CLIP image
processor at 336, the LLaVA-1.5 chat template, and the small shared test tokenizer (its ids, <image> included, are a
subset of the vocabulary). No download is needed, so mmrt and Transformers can be benchmarked on the same weights.

    python3 tools/bench/make_random_llava.py --out /tmp/llava-7b-random            # 14.1 GB, the real shape
    python3 tools/bench/make_random_llava.py --out /tmp/llava-small --preset small  # for CPU smoke runs
    python3 tools/bench/make_random_llava.py --out /work/bench/llava-1b --preset 1b --dtype bf16  # 2.2 GB, CPU
"""
import argparse
import json
import pathlib
import shutil

import torch
from transformers import CLIPVisionConfig, LlamaConfig, LlavaConfig, LlavaForConditionalGeneration

REPO = pathlib.Path(__file__).resolve().parents[2]
TOKENIZER = REPO / "tests" / "fixtures" / "llava" / "tokenizer"

PRESETS = {
    # llava-hf/llava-1.5-7b-hf
    "7b": dict(vision=dict(hidden_size=1024, intermediate_size=4096, num_hidden_layers=24, num_attention_heads=16,
                           image_size=336, patch_size=14, projection_dim=768),
               text=dict(hidden_size=4096, intermediate_size=11008, num_hidden_layers=32, num_attention_heads=32,
                         num_key_value_heads=32, vocab_size=32064, max_position_embeddings=4096, rms_norm_eps=1e-5),
               image_size=336),
    # CLIP-B/16 at 224 (196 image tokens) and a 1.1 B Llama (TinyLlama's shape, grouped-query attention): big
    # enough that decoding a token streams its 2.1 GB of 16-bit weights from memory, not from cache
    "1b": dict(vision=dict(hidden_size=768, intermediate_size=3072, num_hidden_layers=12, num_attention_heads=12,
                           image_size=224, patch_size=16, projection_dim=512),
               text=dict(hidden_size=2048, intermediate_size=5632, num_hidden_layers=22, num_attention_heads=32,
                         num_key_value_heads=4, vocab_size=32064, max_position_embeddings=2048, rms_norm_eps=1e-5),
               image_size=224),
    # same structure, small enough for a CPU
    "small": dict(vision=dict(hidden_size=256, intermediate_size=1024, num_hidden_layers=4, num_attention_heads=4,
                              image_size=224, patch_size=14, projection_dim=256),
                  text=dict(hidden_size=512, intermediate_size=1408, num_hidden_layers=4, num_attention_heads=8,
                            num_key_value_heads=8, vocab_size=32064, max_position_embeddings=4096,
                            rms_norm_eps=1e-5),
                  image_size=224),
}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", required=True)
    ap.add_argument("--preset", choices=sorted(PRESETS), default="7b")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--dtype", choices=("fp16", "bf16"), default="fp16", help="dtype of the saved weights")
    args = ap.parse_args()
    preset = PRESETS[args.preset]
    out = pathlib.Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    # The test tokenizer's own <image> id; llava-1.5 uses 32000, which changes nothing about speed.
    image_token = json.loads((TOKENIZER / "tokenizer.json").read_text())["added_tokens"]
    image_token = next(t["id"] for t in image_token if t["content"] == "<image>")
    config = LlavaConfig(
        vision_config=CLIPVisionConfig(**preset["vision"], hidden_act="quick_gelu"),
        text_config=LlamaConfig(**preset["text"], bos_token_id=1, eos_token_id=2, pad_token_id=image_token + 1),
        image_token_index=image_token, projector_hidden_act="gelu", vision_feature_layer=-2,
        vision_feature_select_strategy="default",
        image_seq_length=(preset["image_size"] // preset["vision"]["patch_size"]) ** 2,
    )
    config.architectures = ["LlavaForConditionalGeneration"]
    torch.manual_seed(args.seed)
    with torch.device("cpu"):
        model = LlavaForConditionalGeneration(config).to(torch.float16 if args.dtype == "fp16" else torch.bfloat16)
    model.save_pretrained(out, safe_serialization=True, max_shard_size="5GB")

    for name in ("tokenizer.json", "tokenizer_config.json"):
        shutil.copy(TOKENIZER / name, out / name)
    for name in ("chat_template.json", "special_tokens_map.json"):
        src = REPO / "tests" / "fixtures" / "llava" / "llava_default" / name
        if src.exists():
            shutil.copy(src, out / name)
    size = preset["image_size"]
    (out / "preprocessor_config.json").write_text(json.dumps({
        "image_processor_type": "CLIPImageProcessor", "do_resize": True, "size": {"shortest_edge": size},
        "resample": 3, "do_center_crop": True, "crop_size": {"height": size, "width": size}, "do_rescale": True,
        "rescale_factor": 1 / 255, "do_normalize": True, "image_mean": [0.48145466, 0.4578275, 0.40821073],
        "image_std": [0.26862954, 0.26130258, 0.27577711], "do_convert_rgb": True}, indent=2))
    (out / "processor_config.json").write_text(json.dumps({
        "image_token": "<image>", "num_additional_image_tokens": 1, "patch_size": preset["vision"]["patch_size"],
        "processor_class": "LlavaProcessor", "vision_feature_select_strategy": "default"}, indent=2))
    (out / "generation_config.json").write_text(json.dumps({"bos_token_id": 1, "eos_token_id": 2}, indent=2))
    n_params = sum(p.numel() for p in model.parameters())
    print(f"wrote {out}: {n_params / 1e9:.2f} B parameters, {2 * n_params / 1e9:.1f} GB {args.dtype}")


if __name__ == "__main__":
    main()
