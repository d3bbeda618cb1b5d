"""Bounded load on `mmrt serve`: 32 concurrent clients, 200 requests over 8 prompt/image pairs. Every answer
must equal the greedy answer the same request gets alone, KV blocks must all come back, and repeated images
must hit the prefix cache."""
import concurrent.futures
import time
import unittest

from server_harness import MODEL, Server, user_message

IMAGES = ["rgb_48x40.png", "checker_32x32.png", "tall_20x60.png", "grey_36x36.png"]
TEXTS = ["What is this?", "Describe the picture."]
MAX_TOKENS = 8
N_REQUESTS = 200
N_CLIENTS = 32


class ServerLoadTest(unittest.TestCase):
    def test_concurrent_clients_get_single_request_answers(self):
        with Server("--workers", "2") as server:
            client = server.client()
            pairs = [(text, image) for image in IMAGES for text in TEXTS]

            def ask(pair, stream):
                messages = user_message(pair[0], [pair[1]])
                if not stream:
                    r = client.chat.completions.create(model=MODEL, messages=messages, max_tokens=MAX_TOKENS,
                                                       temperature=0)
                    return r.choices[0].message.content
                chunks = client.chat.completions.create(model=MODEL, messages=messages, max_tokens=MAX_TOKENS,
                                                        temperature=0, stream=True)
                return "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)

            expected = {pair: ask(pair, False) for pair in pairs}
            server.wait_kv_released()
            hits_before = server.metrics()["mmrt_prefix_cache_hits_total"]

            started = time.time()
            with concurrent.futures.ThreadPoolExecutor(N_CLIENTS) as pool:
                jobs = [(pairs[i % len(pairs)], i % 2 == 1) for i in range(N_REQUESTS)]
                answers = list(pool.map(lambda job: ask(*job), jobs))
            elapsed = time.time() - started

            for (pair, stream), answer in zip(jobs, answers):
                self.assertEqual(answer, expected[pair], f"{pair} stream={stream}")
            self.assertLess(elapsed, 60)
            m = server.wait_kv_released()
            self.assertGreater(m["mmrt_prefix_cache_hits_total"], hits_before)
            self.assertEqual(m['mmrt_http_requests_total{endpoint="/v1/chat/completions",status="200"}'],
                             N_REQUESTS + len(pairs))
            self.assertEqual(m["mmrt_engine_requests_failed_total"], 0)
            print(f"{N_REQUESTS} requests from {N_CLIENTS} clients in {elapsed:.1f} s; "
                  f"prefix hit rate {m['mmrt_prefix_cache_hit_rate']:.2f}")
            self.assertEqual(server.stop(), 0)


if __name__ == "__main__":
    unittest.main(verbosity=2)
