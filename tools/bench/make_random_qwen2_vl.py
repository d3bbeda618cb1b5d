#!/usr/bin/env python3
"""Writes a random-weight Qwen2-VL checkpoint with the shape of Qwen/Qwen2-VL-2B-Instruct (or a CPU-sized one).

Qwen2-VL ViT (depth 32, width 1280) and Qwen2-1.5B language model (vocab 151936, tied head), bf16
safetensors in the hub layout's Transformers 5 form, the hub's image settings, the Qwen2-VL chat template and
the small Qwen2 test tokenizer of tests/fixtures/tokenizers/qwen2_small (its ids are a subset of the
vocabulary; the special tokens' ids differ from the real ones, which changes nothing about speed). No
download is needed, so mmrt and Transformers can be benchmarked on the same weights.

    python3 tools/bench/make_random_qwen2_vl.py --out /tmp/qwen2-vl-2b-random           # 2.2 B parameters
    python3 tools/bench/make_random_qwen2_vl.py --out /tmp/qwen2-vl-small --preset small  # for CPU runs
"""
import argparse
import json
import pathlib
import shutil
import sys

import torch
from transformers import Qwen2VLConfig, Qwen2VLForConditionalGeneration

REPO = pathlib.Path(__file__).resolve().parents[2]
FIXTURE = REPO / "tests" / "fixtures" / "qwen2_vl" / "qwen2_vl_hub"
sys.path.insert(0, str(REPO / "tools" / "fixtures"))
from make_qwen2_vl_fixtures import ENDOFTEXT_ID, IM_END_ID, IMAGE_PAD_ID, VIDEO_PAD_ID, VISION_END_ID, \
    VISION_START_ID  # noqa: E402

PRESETS = {
    # Qwen/Qwen2-VL-2B-Instruct
    "2b": dict(vision=dict(depth=32, embed_dim=1280, num_heads=16, mlp_ratio=4),
               text=dict(hidden_size=1536, intermediate_size=8960, num_hidden_layers=28, num_attention_heads=12,
                         num_key_value_heads=2, vocab_size=151936),
               max_pixels=12845056),
    # same structure, small enough for a CPU
    "small": dict(vision=dict(depth=4, embed_dim=256, num_heads=4, mlp_ratio=4),
                  text=dict(hidden_size=512, intermediate_size=1408, num_hidden_layers=4, num_attention_heads=8,
                            num_key_value_heads=2, vocab_size=151936),
                  max_pixels=12845056),
}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", required=True)
    ap.add_argument("--preset", choices=sorted(PRESETS), default="2b")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    preset = PRESETS[args.preset]
    out = pathlib.Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    text = preset["text"]
    head_dim = text["hidden_size"] // text["num_attention_heads"]
    unit = head_dim // 16  # mrope_section is [16, 24, 24] for head_dim 128: 8 units summing to head_dim / 2
    config = Qwen2VLConfig(
        text_config=dict(**text, rms_norm_eps=1e-6, max_position_embeddings=32768,
                         rope_parameters={"rope_type": "default", "rope_theta": 1000000.0,
                                          "mrope_section": [2 * unit, 3 * unit, 3 * unit]},
                         bos_token_id=ENDOFTEXT_ID, eos_token_id=IM_END_ID),
        vision_config=dict(**preset["vision"], hidden_size=text["hidden_size"], patch_size=14, spatial_merge_size=2,
                           temporal_patch_size=2, in_channels=3),
        image_token_id=IMAGE_PAD_ID, video_token_id=VIDEO_PAD_ID, vision_start_token_id=VISION_START_ID,
        vision_end_token_id=VISION_END_ID, tie_word_embeddings=True)
    config.architectures = ["Qwen2VLForConditionalGeneration"]
    torch.manual_seed(args.seed)
    model = Qwen2VLForConditionalGeneration(config).to(torch.bfloat16)
    model.save_pretrained(out, safe_serialization=True, max_shard_size="5GB")

    for name in ("tokenizer.json", "tokenizer_config.json", "chat_template.json"):
        shutil.copy(FIXTURE / name, out / name)
    settings = json.loads((FIXTURE / "preprocessor_config.json").read_text())
    settings["max_pixels"] = preset["max_pixels"]
    (out / "preprocessor_config.json").write_text(json.dumps(settings, indent=2))
    (out / "generation_config.json").write_text(
        json.dumps({"bos_token_id": ENDOFTEXT_ID, "eos_token_id": [IM_END_ID, ENDOFTEXT_ID]}, indent=2))
    n_params = sum(p.numel() for p in model.parameters())
    print(f"wrote {out}: {n_params / 1e9:.2f} B parameters, {2 * n_params / 1e9:.1f} GB bf16")


if __name__ == "__main__":
    main()
