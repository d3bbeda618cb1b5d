"""`mmrt bench` in both modes on the tiny fixture: the counts it reports follow from its arguments."""
import json
import os
import struct
import subprocess
import unittest

from server_harness import MMRT_BIN, PLUGIN_DIR, SOURCE_DIR, Server, model_dir

DATASET = os.path.join(SOURCE_DIR, "tools", "bench", "serve_example.jsonl")


def safetensors_header(path):
    with open(path, "rb") as f:
        (length,) = struct.unpack("<Q", f.read(8))
        header = json.loads(f.read(length))
    header.pop("__metadata__", None)
    return header


class BenchTest(unittest.TestCase):
    def test_offline(self):
        out = subprocess.run([MMRT_BIN, "bench", "--model", model_dir(), "--plugin-dirs", PLUGIN_DIR,
                              "--num-requests", "8", "--batch", "4", "--input-len", "40", "--output-len", "6",
                              "--image-size", "32x32", "--json"], check=True, capture_output=True, text=True,
                             timeout=120)
        r = json.loads(out.stdout)
        self.assertEqual(r["failed"], 0)
        self.assertEqual(r["output_tokens"], 8 * 6)
        # 40 text tokens, one of them the image placeholder that expands to the image's tokens.
        self.assertGreater(r["prompt_tokens"], 8 * 40)
        for key in ("ttft_ms", "tpot_ms", "e2e_ms"):
            self.assertGreater(r[key]["p50"], 0)
            self.assertLessEqual(r[key]["p50"], r[key]["p99"])
        self.assertGreater(r["output_tokens_per_s"], 0)
        self.assertGreater(r["images_per_s"], 0)
        self.assertGreater(r["peak_rss_mib"], 1)

        # A decode step reads every matmul weight of the language model once (lm_head included) and one
        # embedding row per running sequence (1 to 4 here), nothing of the vision tower.
        header = safetensors_header(os.path.join(model_dir(), "model.safetensors"))
        nbytes = {name: t["data_offsets"][1] - t["data_offsets"][0] for name, t in header.items()}
        matmul = sum(n for name, n in nbytes.items() if name.startswith("language_model.") and
                     (name.endswith("proj.weight") or name.endswith("lm_head.weight")))
        row = nbytes["language_model.model.embed_tokens.weight"] // header[
            "language_model.model.embed_tokens.weight"]["shape"][0]
        self.assertGreater(r["decode_steps"], 0)
        self.assertGreaterEqual(r["decode_weight_bytes_per_step"], matmul + row)
        self.assertLessEqual(r["decode_weight_bytes_per_step"], matmul + 4 * row)
        self.assertGreater(r["decode_step_ms"], 0)
        self.assertGreater(r["decode_weight_read_gb_per_s"], 0)

        text_only = subprocess.run([MMRT_BIN, "bench", "--model", model_dir(), "--plugin-dirs", PLUGIN_DIR,
                                    "--num-requests", "4", "--batch", "2", "--input-len", "16", "--output-len", "3",
                                    "--image-size", "0", "--json"], check=True, capture_output=True, text=True,
                                   timeout=120)
        r = json.loads(text_only.stdout)
        self.assertEqual(r["prompt_tokens"], 4 * 16)
        self.assertEqual(r["output_tokens"], 4 * 3)
        self.assertEqual(r["images_per_s"], 0)

    def test_serve(self):
        with open(DATASET) as f:
            lines = [json.loads(line) for line in f if line.strip()]
        with Server() as server:
            out = subprocess.run([MMRT_BIN, "bench", "--mode", "serve", "--url", server.url, "--dataset", DATASET,
                                  "--request-rate", "100", "--json"], check=True, capture_output=True, text=True,
                                 timeout=120)
            r = json.loads(out.stdout)
            self.assertEqual(r["completed"], len(lines))
            self.assertEqual(r["failed"], 0)
            self.assertEqual(r["output_tokens"], sum(line["output_len"] for line in lines))
            self.assertGreater(r["ttft_ms"]["p50"], 0)
            self.assertLessEqual(r["ttft_ms"]["p50"], r["e2e_ms"]["p50"])
            server.wait_kv_released()
            self.assertEqual(server.stop(), 0)


if __name__ == "__main__":
    unittest.main(verbosity=2)
