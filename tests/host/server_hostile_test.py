"""Hostile input to `mmrt serve`: each case gets a clear error (or is cleaned up), the server keeps serving,
and every KV block comes back."""
import base64
import json
import os
import socket
import struct
import time
import unittest
import zlib

from server_harness import FIXTURES, MODEL, Server, data_url, image_path, user_message

MAX_BODY = 1 << 20


def png_chunk(kind, payload):
    return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))


def bomb_png():
    """A valid PNG signature and IHDR claiming 100000 x 100000 RGB pixels, then a tiny IDAT."""
    ihdr = struct.pack(">IIBBBBB", 100000, 100000, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", ihdr) + png_chunk(b"IDAT", zlib.compress(b"\0" * 64)) +
            png_chunk(b"IEND", b""))


def image_message(url, text="What is this?"):
    return [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": url}},
                                         {"type": "text", "text": text}]}]


class ServerHostileTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.server = Server("--max-body-bytes", str(MAX_BODY), "--max-images", "4", "--allowed-local-media-dir",
                            os.path.join(FIXTURES, "images")).__enter__()
        host, port = cls.server.url[len("http://"):].split(":")
        cls.address = (host, int(port))

    @classmethod
    def tearDownClass(cls):
        cls.server.__exit__(None, None, None)

    def tearDown(self):
        # Whatever the case did, a normal request still works and no KV block stays held.
        status, body = self.chat_raw({"model": MODEL, "messages": user_message("What is this?", ["rgb_48x40.png"]),
                                      "max_tokens": 3, "temperature": 0})
        self.assertEqual(status, 200, body)
        self.assertEqual(body["usage"]["completion_tokens"], 3)
        self.server.wait_kv_released()

    def chat_raw(self, body):
        raw = body if isinstance(body, bytes) else json.dumps(body).encode()
        return self.server.post("/v1/chat/completions", raw)

    def assert_error(self, body, status, expected_status=400, param=None, contains=None):
        self.assertEqual(status, expected_status, body)
        self.assertIsInstance(body, dict, body)
        error = body["error"]
        self.assertEqual(set(error), {"message", "type", "param", "code"})
        self.assertTrue(error["message"])
        if param is not None:
            self.assertEqual(error["param"], param)
        if contains is not None:
            self.assertIn(contains, error["message"])

    def test_malformed_json(self):
        for raw in [b'{"model": ', b"", b"[1, 2]", b"\xff\xfe{}", b"[" * 100000 + b"]" * 100000, b"null"]:
            status, body = self.chat_raw(raw)
            self.assert_error(body, status)

    def test_wrong_types(self):
        base = {"model": MODEL, "messages": user_message("hi"), "max_tokens": 2}
        cases = [
            ({"messages": "hello"}, "messages"),
            ({"messages": []}, "messages"),
            ({"messages": [42]}, "messages[0]"),
            ({"messages": [{"role": "user"}]}, "messages[0].content"),
            ({"messages": [{"role": 7, "content": "x"}]}, "messages[0].role"),
            ({"messages": [{"role": "user", "content": [{"type": "audio"}]}]}, "messages[0].content[0].type"),
            ({"messages": [{"role": "user", "content": [{"type": "text", "text": 5}]}]},
             "messages[0].content[0].text"),
            ({"messages": [{"role": "user", "content": [{"type": "image_url", "image_url": 5}]}]},
             "messages[0].content[0].image_url"),
            ({"model": 3}, "model"),
            ({"temperature": "hot"}, "temperature"),
            ({"max_tokens": -1}, "max_tokens"),
            ({"max_tokens": 1.5}, "max_tokens"),
            ({"stream": "yes"}, "stream"),
            ({"stop": 5}, "stop"),
            ({"stop": [""]}, "stop"),
            ({"top_logprobs": 3}, "top_logprobs"),
            ({"logprobs": True, "top_logprobs": 99}, "top_logprobs"),
            ({"seed": "x"}, "seed"),
            ({"top_k": -5}, "top_k"),
            ({"stream_options": 1}, "stream_options"),
            ({"response_format": {"type": "json_object"}}, "response_format"),
            ({"n": "two"}, "n"),
        ]
        for override, param in cases:
            with self.subTest(override=override):
                status, body = self.chat_raw({**base, **override})
                self.assert_error(body, status, param=param)

    def test_body_over_limit(self):
        body = json.dumps({"model": MODEL, "messages": user_message("x" * (MAX_BODY + 1000))}).encode()
        status, body = self.chat_raw(body)
        self.assert_error(body, status, expected_status=413)

    def test_broken_images(self):
        with open(image_path("rgb_48x40.png"), "rb") as f:
            png = f.read()
        truncated = "data:image/png;base64," + base64.b64encode(png[: len(png) // 2]).decode()
        bomb = "data:image/png;base64," + base64.b64encode(bomb_png()).decode()
        cases = [
            ("data:image/png;base64,@@@not-base64@@@", "base64"),
            ("data:image/png;base64,QUJD=QUJD", "base64"),
            ("data:image/png,rawbytes", "base64"),
            ("data:image/png;base64,", "empty"),
            (truncated, "decode"),
            (bomb, "limit"),
            ("file://" + os.path.join(FIXTURES, "images", "..", "goldens.json"), "outside"),
            ("ftp://example.com/x.png", "unsupported"),
        ]
        for url, needle in cases:
            with self.subTest(url=url[:60]):
                status, body = self.chat_raw({"model": MODEL, "messages": image_message(url), "max_tokens": 2})
                self.assert_error(body, status, param="messages[0].content[0].image_url", contains=needle)

    def test_local_file_inside_allowed_dir_equals_data_url(self):
        results = []
        for url in ["file://" + image_path("checker_32x32.png"), data_url("checker_32x32.png")]:
            status, body = self.chat_raw({"model": MODEL, "messages": image_message(url), "max_tokens": 6,
                                          "temperature": 0})
            self.assertEqual(status, 200, body)
            results.append(body["choices"][0]["message"]["content"])
        self.assertEqual(results[0], results[1])

    def test_thousands_of_images(self):
        # The count is checked while parsing, before any image is decoded.
        url = "data:image/png;base64,iVBORw0KGgo="
        content = [{"type": "image_url", "image_url": {"url": url}} for _ in range(5000)]
        raw = json.dumps({"model": MODEL, "messages": [{"role": "user", "content": content}]}).encode()
        self.assertLess(len(raw), MAX_BODY)
        status, body = self.chat_raw(raw)
        self.assert_error(body, status, contains="too many images")
        self.assertEqual(body["error"]["code"], "too_many_images")

    def test_more_images_than_placeholders(self):
        status, body = self.server.post("/v1/completions", json.dumps(
            {"model": MODEL, "prompt": "no placeholder here", "images": [data_url("rgb_48x40.png")],
             "max_tokens": 2}).encode())
        self.assert_error(body, status)

    def raw_request(self, body, read_bytes=256):
        """Sends a chat request on a raw socket and returns the socket and the first bytes of the answer."""
        sock = socket.create_connection(self.address, timeout=30)
        raw = json.dumps(body).encode()
        sock.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                     b"Content-Length: " + str(len(raw)).encode() + b"\r\n\r\n" + raw)
        return sock, sock.recv(read_bytes) if read_bytes else b""

    def test_client_disconnects_mid_stream(self):
        aborted_before = self.server.metrics()["mmrt_engine_requests_aborted_total"]
        body = {"model": MODEL, "messages": user_message("What is this?", ["rgb_48x40.png"]), "max_tokens": 400,
                "temperature": 0, "stream": True, "ignore_eos": True}
        sock, first = self.raw_request(body)
        self.assertIn(b"200 OK", first)
        self.assertIn(b"text/event-stream", first)
        sock.close()
        # Non-streamed requests whose clients leave before the answer are cancelled too. The tiny model
        # answers 400 tokens in well under 100 ms, so sixteen run at once to keep them in flight.
        body["stream"] = False
        socks = [self.raw_request(body, read_bytes=0)[0] for _ in range(16)]
        time.sleep(0.02)
        for s in socks:
            s.close()
        deadline = time.time() + 20
        while time.time() < deadline:
            if (self.server.metrics()["mmrt_engine_requests_aborted_total"] >= aborted_before + 9 and
                    self.server.metrics()["mmrt_kv_blocks_held"] == 0):
                break
            time.sleep(0.05)
        self.assertGreaterEqual(self.server.metrics()["mmrt_engine_requests_aborted_total"], aborted_before + 9)

    def test_garbage_http(self):
        for raw in [b"GARBAGE\r\n\r\n", b"POST /v1/chat/completions HTTP/1.1\r\nContent-Length: -5\r\n\r\n",
                    b"GET / HTTP/1.1\r\n" + b"X-Long: " + b"a" * 100000 + b"\r\n\r\n"]:
            with socket.create_connection(self.address, timeout=30) as sock:
                try:
                    sock.sendall(raw)
                    answer = sock.recv(4096)
                except ConnectionError:
                    answer = b""
                self.assertTrue(answer == b"" or answer.startswith(b"HTTP/1.1 4"), answer[:100])
        self.assertEqual(self.server.get("/v1/chat/completions")[0], 405)

    def test_half_sent_body_then_close(self):
        with socket.create_connection(self.address, timeout=30) as sock:
            sock.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 5000\r\n\r\n{\"mod")


if __name__ == "__main__":
    unittest.main(verbosity=2)
