"""`mmrt bench` in both modes on the tiny fixture: the counts it reports follow from its arguments."""
import json
import os
import subprocess
import unittest

from server_harness import MMRT_BIN, PLUGIN_DIR, SOURCE_DIR, Server, model_dir

DATASET = os.path.join(SOURCE_DIR, "tools", "bench", "serve_example.jsonl")


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
