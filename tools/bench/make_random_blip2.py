#!/usr/bin/env python3
"""Writes a random-weight BLIP-2 (OPT) checkpoint with the shape of Salesforce/blip2-opt-2.7b, or a small one.

BLIP-2 ViT-g/14 at 224, the 12-layer Q-Former with 32 queries, OPT-2.7B (vocab 50304), fp16 safetensors, BLIP
image processor at 224, and the small BLIP-2 test tokenizer (tests/fixtures/blip2/blip2_opt; its ids, <image>
included, are a subset of the vocabulary). No download is needed, so mmrt and Transformers can be benchmarked
on the same weights.

    python3 tools/bench/make_random_blip2.py --out /tmp/blip2-opt-2.7b-random           # 7.7 GB, the real shape
    python3 tools/bench/make_random_blip2.py --out /tmp/blip2-small --preset small      # for CPU runs
"""
import argparse
import json
import pathlib
import shutil

import torch
from transformers import Blip2Config, Blip2ForConditionalGeneration, Blip2QFormerConfig, Blip2VisionConfig, OPTConfig

REPO = pathlib.Path(__file__).resolve().parents[2]
FIXTURE = REPO / "tests" / "fixtures" / "blip2" / "blip2_opt"

PRESETS = {
    # Salesforce/blip2-opt-2.7b
    "2.7b": dict(vision=dict(hidden_size=1408, intermediate_size=6144, num_hidden_layers=39, num_attention_heads=16),
                 qformer=dict(hidden_size=768, intermediate_size=3072, num_hidden_layers=12, num_attention_heads=12),
                 text=dict(hidden_size=2560, ffn_dim=10240, num_hidden_layers=32, num_attention_heads=32,
                           word_embed_proj_dim=2560)),
    # same structure, small enough for a CPU
    "small": dict(vision=dict(hidden_size=256, intermediate_size=1024, num_hidden_layers=4, num_attention_heads=4),
                  qformer=dict(hidden_size=256, intermediate_size=1024, num_hidden_layers=4, num_attention_heads=4),
                  text=dict(hidden_size=512, ffn_dim=2048, num_hidden_layers=4, num_attention_heads=8,
                            word_embed_proj_dim=512)),
}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", required=True)
    ap.add_argument("--preset", choices=sorted(PRESETS), default="2.7b")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    preset = PRESETS[args.preset]
    out = pathlib.Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    fixture_config = json.loads((FIXTURE / "config.json").read_text())
    newline = fixture_config["text_config"]["eos_token_id"]
    config = Blip2Config(
        vision_config=Blip2VisionConfig(**preset["vision"], image_size=224, patch_size=14).to_dict(),
        qformer_config=Blip2QFormerConfig(**preset["qformer"], cross_attention_frequency=2).to_dict(),
        text_config=OPTConfig(**preset["text"], vocab_size=50304, max_position_embeddings=2048, bos_token_id=2,
                              eos_token_id=newline, pad_token_id=1, tie_word_embeddings=True).to_dict(),
        num_query_tokens=32, image_token_index=fixture_config["image_token_index"],
    )
    config.architectures = ["Blip2ForConditionalGeneration"]
    torch.manual_seed(args.seed)
    with torch.device("cpu"):
        model = Blip2ForConditionalGeneration(config).to(torch.float16)
    model.save_pretrained(out, safe_serialization=True, max_shard_size="5GB")

    for name in ("tokenizer.json", "tokenizer_config.json", "chat_template.json"):
        shutil.copy(FIXTURE / name, out / name)
    preprocessor = json.loads((FIXTURE / "preprocessor_config.json").read_text())
    preprocessor["size"] = {"height": 224, "width": 224}
    (out / "preprocessor_config.json").write_text(json.dumps(preprocessor, indent=2))
    processor = json.loads((FIXTURE / "processor_config.json").read_text())
    processor["num_query_tokens"] = 32
    (out / "processor_config.json").write_text(json.dumps(processor, indent=2))
    (out / "generation_config.json").write_text(
        json.dumps({"bos_token_id": 2, "eos_token_id": newline, "pad_token_id": 1}, indent=2))
    n_params = sum(p.numel() for p in model.parameters())
    print(f"wrote {out}: {n_params / 1e9:.2f} B parameters, {2 * n_params / 1e9:.1f} GB fp16")


if __name__ == "__main__":
    main()
