"""A short soak of `mmrt serve`: for about 40 s, clients send valid, hostile and cancelled requests at once.
Every valid request must succeed with the single-request answer, and afterwards KV blocks, buffered bytes and
resident memory are back at their baseline."""
import json
import os
import socket
import threading
import time
import unittest


from server_harness import MODEL, Server, user_message
from server_images import data_url_of, image_content, png

SOAK_SECONDS = float(os.environ.get("MMRT_SOAK_SECONDS", "40"))
MIB = 1 << 20


class SoakTest(unittest.TestCase):
    def test_mixed_traffic(self):
        with Server("--max-body-bytes", str(8 * MIB), "--max-buffered-bytes", str(32 * MIB)) as server:
            client = server.client()
            messages = user_message("What is this?", ["rgb_48x40.png"])
            expected = client.chat.completions.create(model=MODEL, messages=messages, max_tokens=6,
                                                      temperature=0).choices[0].message.content
            server.wait_kv_released()
            baseline_rss = server.rss_bytes()
            stop_at = time.time() + SOAK_SECONDS
            failures, counts, lock = [], {"valid": 0, "hostile": 0, "cancelled": 0}, threading.Lock()

            def count(kind):
                with lock:
                    counts[kind] += 1

            def valid():
                while time.time() < stop_at:
                    try:
                        if counts["valid"] % 2:
                            text = "".join(c.choices[0].delta.content or "" for c in client.chat.completions.create(
                                model=MODEL, messages=messages, max_tokens=6, temperature=0, stream=True)
                                if c.choices)
                        else:
                            text = client.chat.completions.create(model=MODEL, messages=messages, max_tokens=6,
                                                                  temperature=0).choices[0].message.content
                        if text != expected:
                            failures.append(f"wrong answer {text!r}")
                    except Exception as e:  # noqa: BLE001 - every failure of a valid request is reported
                        failures.append(repr(e))
                    count("valid")

            tall = data_url_of(png(1, 100000, b"\x40\x40\x40"))
            hostile_bodies = [
                b'{"model": ', b"[" * 5000,
                json.dumps({"model": MODEL, "messages": image_content([tall] * 4)}).encode(),
                json.dumps({"model": MODEL, "messages": user_message("x"), "mirostat": 2}).encode(),
                json.dumps({"model": MODEL, "messages": image_content(["data:image/png;base64,@@"])}).encode(),
            ]

            def hostile():
                i = 0
                while time.time() < stop_at:
                    body = hostile_bodies[i % len(hostile_bodies)]
                    status, _ = server.post("/v1/chat/completions", body)
                    if status != 400:
                        failures.append(f"hostile body {i % len(hostile_bodies)} got {status}")
                    # Raw abuse: a foreign Host, a stalled upload, garbage.
                    for raw in [b"POST /v1/chat/completions HTTP/1.1\r\nHost: attacker.example\r\n\r\n",
                                b"POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: "
                                b"application/json\r\nContent-Length: 4000000\r\n\r\n{\"a",
                                b"\x16\x03\x01garbage\r\n\r\n"]:
                        try:
                            with socket.create_connection(server.address, timeout=5) as s:
                                s.sendall(raw)
                                s.settimeout(0.2)
                                try:
                                    s.recv(4096)
                                except socket.timeout:
                                    pass
                        except OSError:
                            pass
                    i += 1
                    count("hostile")

            def cancelled():
                body = json.dumps({"model": MODEL, "messages": messages, "max_tokens": 200, "stream": True,
                                   "ignore_eos": True}).encode()
                while time.time() < stop_at:
                    with socket.create_connection(server.address, timeout=10) as s:
                        s.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: "
                                  b"application/json\r\nContent-Length: " + str(len(body)).encode() + b"\r\n\r\n" +
                                  body)
                        s.recv(256)
                    count("cancelled")

            threads = ([threading.Thread(target=valid) for _ in range(3)] + [threading.Thread(target=hostile)] +
                       [threading.Thread(target=cancelled)])
            for t in threads:
                t.start()
            for t in threads:
                t.join(SOAK_SECONDS + 120)
            self.assertEqual(failures, [])
            self.assertGreater(counts["valid"], 20, counts)
            self.assertGreater(counts["hostile"], 5, counts)
            self.assertGreater(counts["cancelled"], 5, counts)
            m = server.wait_kv_released(timeout=30)
            self.assertEqual(m["mmrt_requests_in_flight"], 0)
            deadline = time.time() + 10
            while server.metrics()["mmrt_http_buffered_bytes"] > 64 * 1024 and time.time() < deadline:
                time.sleep(0.1)
            self.assertLessEqual(server.metrics()["mmrt_http_buffered_bytes"], 64 * 1024)
            self.assertLess(server.rss_bytes() - baseline_rss, 64 * MIB)
            self.assertEqual(server.stop(), 0)


if __name__ == "__main__":
    unittest.main(verbosity=2)
