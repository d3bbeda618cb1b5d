#!/usr/bin/env python3
"""Single-thread encode throughput of Hugging Face `tokenizers` on the corpus mmrt_bench_tokenizer uses.

Usage (from the repository root):
  python3 tools/bench/tokenizer/bench_hf.py --corpus /tmp/tokenizer_corpus.txt --make-corpus
  python3 tools/bench/tokenizer/bench_hf.py --corpus /tmp/tokenizer_corpus.txt tests/fixtures/tokenizers/llama2 ...
  build/bin/mmrt_bench_tokenizer tests/fixtures/tokenizers/llama2 /tmp/tokenizer_corpus.txt

Each line is encoded on its own with add_special_tokens=True, best of 3 passes; RAYON_NUM_THREADS=1 keeps
`tokenizers` on one thread. Two numbers are printed: a Python loop over encode() (includes the per-call
Python overhead) and encode_batch() on one thread.
"""
import argparse
import os
import time
from pathlib import Path

os.environ.setdefault("RAYON_NUM_THREADS", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from tokenizers import Tokenizer  # noqa: E402

MULTILINGUAL = [
    "中文分词测试，你好世界！日本語のテキストです。한국어 텍스트",
    "مرحبا بالعالم، هذا اختبار للأداء.",
    "Привет, мир! Γειά σου κόσμε. I love 🤗 and 🍕!",
]


def make_corpus(path: Path, target_bytes: int = 4_000_000):
    """English licence texts, Python sources and a sprinkle of other scripts, about 4 MB, deterministic."""
    parts = []
    size = 0
    sources = sorted(Path("/usr/share/common-licenses").glob("*")) + sorted(Path(os.__file__).parent.glob("*.py"))
    for i, source in enumerate(sources):
        if not source.is_file():
            continue
        text = source.read_text(errors="ignore")
        parts.append(text)
        parts.append("\n".join(MULTILINGUAL) + "\n")
        size += len(text.encode())
        if size >= target_bytes:
            break
    path.write_text("".join(parts))


def bench(tokenizer_dir: str, lines):
    tok = Tokenizer.from_file(str(Path(tokenizer_dir) / "tokenizer.json"))
    n_bytes = sum(len(line.encode()) for line in lines)
    best_loop = best_batch = float("inf")
    n_tokens = 0
    for _ in range(3):
        start = time.perf_counter()
        n_tokens = sum(len(tok.encode(line).ids) for line in lines)
        best_loop = min(best_loop, time.perf_counter() - start)
        start = time.perf_counter()
        tok.encode_batch(lines)
        best_batch = min(best_batch, time.perf_counter() - start)
    print(f"HF tokenizers {tokenizer_dir}: {len(lines)} lines, {n_bytes / 1e6:.2f} MB, {n_tokens} tokens; "
          f"encode() loop {n_bytes / 1e6 / best_loop:.2f} MB/s, encode_batch 1 thread "
          f"{n_bytes / 1e6 / best_batch:.2f} MB/s")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--corpus", required=True)
    parser.add_argument("--make-corpus", action="store_true")
    parser.add_argument("tokenizer_dirs", nargs="*")
    args = parser.parse_args()
    corpus = Path(args.corpus)
    if args.make_corpus or not corpus.exists():
        make_corpus(corpus)
    with open(corpus, "rb") as f:
        # Same split as the C++ benchmark (std::getline on '\n').
        lines = [line.decode("utf-8", errors="replace") for line in f.read().split(b"\n")]
    if lines and lines[-1] == "":
        lines.pop()
    for tokenizer_dir in args.tokenizer_dirs:
        bench(tokenizer_dir, lines)


if __name__ == "__main__":
    main()
