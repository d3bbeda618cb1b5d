"""Remote image URLs in `mmrt serve`: refused by default; with --allow-remote-media, fetched only from the
allow-list, within a size, a time and three redirects, each refusal a 400 with its own code.

A local http.server (and two https ones, with certificates made here by the openssl command) plays the
remote host on 127.0.0.1, which the allow-list names explicitly.
"""
import contextlib
import json
import os
import shutil
import socket
import ssl
import subprocess
import tempfile
import threading
import time
import unittest
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from server_harness import MMRT_BIN, MODEL, PLUGIN_DIR, Server, data_url, image_path, model_dir

IMAGE = "rgb_48x40.png"
MAX_BYTES = 64 << 10  # well above the fixture PNG (a few hundred bytes)
TIMEOUT_S = 1.0
TIMEOUT_MARGIN_S = 2.0


class MediaHandler(BaseHTTPRequestHandler):
    """The remote host: an image, a 404, a trickling and two oversized bodies, and redirects."""
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def send_body(self, status, body, content_type="image/png"):
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def redirect(self, location):
        self.send_response(302)
        self.send_header("Location", location)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def do_GET(self):
        path = self.path
        port = self.server.server_address[1]
        try:
            if path == "/" + IMAGE:
                with open(image_path(IMAGE), "rb") as f:
                    self.send_body(200, f.read())
            elif path == "/huge-declared":
                self.send_response(200)
                self.send_header("Content-Length", str(MAX_BYTES * 16))
                self.end_headers()
                self.wfile.write(b"\0" * MAX_BYTES * 16)
            elif path == "/huge-streamed":
                # No Content-Length: the body runs until the connection closes, so only counting catches it.
                self.send_response(200)
                self.send_header("Connection", "close")
                self.end_headers()
                for _ in range(64):
                    self.wfile.write(b"\0" * (MAX_BYTES // 4))
                self.close_connection = True
            elif path == "/slow":
                # Each byte comes quickly, the whole body never does: only a total deadline stops it.
                self.send_response(200)
                self.send_header("Content-Length", "1000")
                self.end_headers()
                for _ in range(1000):
                    self.wfile.write(b"\0")
                    time.sleep(0.05)
            elif path == "/redirect-ok":
                self.redirect("/" + IMAGE)
            elif path == "/redirect-away":
                self.redirect(f"http://localhost:{port}/{IMAGE}")
            elif path == "/redirect-file":
                self.redirect("file:///etc/passwd")
            elif path.startswith("/hops/"):
                n_redirects = int(path.split("/")[2])  # redirects before the image
                self.redirect(f"/hops/{n_redirects - 1}" if n_redirects > 1 else "/" + IMAGE)
            else:
                self.send_body(404, b"not here", "text/plain")
        except (BrokenPipeError, ConnectionResetError, ssl.SSLError):
            pass  # mmrt gave up on this body, as it should


@contextlib.contextmanager
def unused_port():
    """A loopback port that is bound, so no one else takes it, but not listening: connecting is refused."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        yield sock.getsockname()[1]


def start_media_server(tls_context=None):
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), MediaHandler)
    httpd.daemon_threads = True
    if tls_context:
        httpd.socket = tls_context.wrap_socket(httpd.socket, server_side=True)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    return httpd


def make_certificate(folder, name, subject_alt_name):
    """A self-signed certificate and key for `subject_alt_name` ("IP:127.0.0.1"); returns their paths."""
    cert, key = os.path.join(folder, name + ".crt"), os.path.join(folder, name + ".key")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                    "-nodes", "-days", "1", "-subj", "/CN=mmrt test " + name, "-addext",
                    "subjectAltName=" + subject_alt_name, "-keyout", key, "-out", cert],
                   check=True, capture_output=True)
    return cert, key


def tls_context(cert, key):
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    return context


def image_chat(url, **extra):
    body = {"model": MODEL, "max_tokens": 6, "temperature": 0, "logprobs": True, "top_logprobs": 2,
            "messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": url}},
                                                      {"type": "text", "text": "What is in this picture?"}]}]}
    body.update(extra)
    return json.dumps(body).encode()


def answer(body):
    """What must not depend on where the image came from."""
    choice = body["choices"][0]
    return choice["message"]["content"], choice["logprobs"], body["usage"]


class RemoteMediaTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="mmrt_remote_media_")
        cls.http = start_media_server()
        cls.base = f"http://127.0.0.1:{cls.http.server_address[1]}"
        env = {}
        cls.https = cls.https_wrong_name = None
        if shutil.which("openssl"):
            good = make_certificate(cls.tmp, "good", "IP:127.0.0.1")
            wrong = make_certificate(cls.tmp, "wrong", "DNS:elsewhere.invalid")
            bundle = os.path.join(cls.tmp, "trusted.pem")
            with open(bundle, "w") as out:
                for cert in (good[0], wrong[0]):
                    with open(cert) as f:
                        out.write(f.read())
            # OpenSSL's default verify paths honour SSL_CERT_FILE: this server trusts only these two.
            env["SSL_CERT_FILE"] = bundle
            cls.https = start_media_server(tls_context(*good))
            cls.https_wrong_name = start_media_server(tls_context(*wrong))
        # The switch and the list come from a TOML file, as an operator would keep them.
        config = os.path.join(cls.tmp, "serve.toml")
        with open(config, "w") as f:
            f.write('allow_remote_media = true\nremote_media_allow = ["127.0.0.1", "*.images.invalid"]\n')
        # Without prefix caching a repeated prompt is computed the same way again, so answers compare exactly.
        cls.server = Server("--config", config, "--remote-media-max-bytes", str(MAX_BYTES),
                            "--remote-media-timeout", str(TIMEOUT_S), "--no-prefix-caching", env=env).__enter__()

    @classmethod
    def tearDownClass(cls):
        cls.server.__exit__(None, None, None)
        for httpd in (cls.http, cls.https, cls.https_wrong_name):
            if httpd:
                httpd.shutdown()
                httpd.server_close()
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def tearDown(self):
        self.server.wait_kv_released()

    def chat(self, url):
        return self.server.post("/v1/chat/completions", image_chat(url))

    def assert_refused(self, url, code, host):
        status, body = self.chat(url)
        self.assertEqual(status, 400, body)
        self.assertEqual(body["error"]["code"], code, body)
        self.assertEqual(body["error"]["param"], "messages[0].content[0].image_url")
        self.assertIn(f"'{host}'", body["error"]["message"])
        return body["error"]["message"]

    def expected_answer(self):
        status, body = self.chat(data_url(IMAGE))
        self.assertEqual(status, 200, body)
        return answer(body)

    def test_fetched_image_answers_like_the_data_url(self):
        expected = self.expected_answer()
        for url in [f"{self.base}/{IMAGE}", f"{self.base}/redirect-ok", f"{self.base}/hops/3"]:
            status, body = self.chat(url)
            self.assertEqual(status, 200, (url, body))
            self.assertEqual(answer(body), expected, url)

    def test_hosts_and_addresses_off_the_list_are_refused(self):
        port = self.http.server_address[1]
        # localhost is the same loopback server, but the list names only the address 127.0.0.1.
        self.assert_refused(f"http://localhost:{port}/{IMAGE}", "remote_media_not_allowed", "localhost")
        self.assert_refused(f"http://127.0.0.2:{port}/{IMAGE}", "remote_media_not_allowed", "127.0.0.2")
        self.assert_refused("http://169.254.169.254/latest/meta-data/", "remote_media_not_allowed",
                            "169.254.169.254")
        self.assert_refused("http://[::1]/x.png", "remote_media_not_allowed", "::1")
        self.assert_refused("http://example.com/x.png", "remote_media_not_allowed", "example.com")
        status, body = self.chat(f"http://127.0.0.1@localhost:{port}/{IMAGE}")
        self.assertEqual((status, body["error"]["code"]), (400, "remote_media_not_allowed"), body)

    def test_oversize_bodies_are_refused(self):
        message = self.assert_refused(f"{self.base}/huge-declared", "remote_media_too_large", "127.0.0.1")
        self.assertIn("Content-Length", message)
        message = self.assert_refused(f"{self.base}/huge-streamed", "remote_media_too_large", "127.0.0.1")
        self.assertNotIn("Content-Length", message)  # caught while counting the body

    def test_slow_body_times_out_within_the_limit(self):
        start = time.monotonic()
        self.assert_refused(f"{self.base}/slow", "remote_media_timeout", "127.0.0.1")
        elapsed = time.monotonic() - start
        self.assertGreater(elapsed, TIMEOUT_S * 0.9)
        self.assertLess(elapsed, TIMEOUT_S + TIMEOUT_MARGIN_S)

    def test_redirects_are_checked_and_limited(self):
        self.assert_refused(f"{self.base}/redirect-away", "remote_media_not_allowed", "localhost")
        self.assert_refused(f"{self.base}/redirect-file", "remote_media_not_allowed", "127.0.0.1")
        message = self.assert_refused(f"{self.base}/hops/4", "remote_media_fetch_failed", "127.0.0.1")
        self.assertIn("redirects", message)

    def test_error_statuses_and_dead_ports_fail_cleanly(self):
        message = self.assert_refused(f"{self.base}/missing.png", "remote_media_fetch_failed", "127.0.0.1")
        self.assertIn("404", message)
        with unused_port() as dead_port:
            self.assert_refused(f"http://127.0.0.1:{dead_port}/{IMAGE}", "remote_media_fetch_failed", "127.0.0.1")

    def test_https_verifies_the_certificate(self):
        if not self.https:
            self.skipTest("the openssl command is not installed")
        status, body = self.chat(f"https://127.0.0.1:{self.https.server_address[1]}/{IMAGE}")
        self.assertEqual(status, 200, body)
        self.assertEqual(answer(body), self.expected_answer())
        message = self.assert_refused(f"https://127.0.0.1:{self.https_wrong_name.server_address[1]}/{IMAGE}",
                                      "remote_media_fetch_failed", "127.0.0.1")
        self.assertIn("certificate", message)
        # Plain http spoken to a TLS port, and TLS to a plain port, fail without hanging.
        self.assert_refused(f"https://127.0.0.1:{self.http.server_address[1]}/{IMAGE}",
                            "remote_media_fetch_failed", "127.0.0.1")


class RemoteMediaOffTest(unittest.TestCase):
    def test_default_server_refuses_remote_urls(self):
        with Server() as server:
            status, body = server.post("/v1/chat/completions", image_chat("http://127.0.0.1:9/x.png"))
            self.assertEqual(status, 400, body)
            self.assertEqual(body["error"]["code"], "remote_media_disabled")

    def test_fetching_without_an_allow_list_refuses_to_start(self):
        for extra in [[], ["--remote-media-allow", "*"], ["--remote-media-allow", "127.0.0.1",
                                                          "--remote-media-max-bytes", "0"]]:
            out = subprocess.run([MMRT_BIN, "serve", "--model", model_dir(), "--plugin-dirs", PLUGIN_DIR,
                                  "--port", "0", "--allow-remote-media", *extra],
                                 capture_output=True, text=True, timeout=60)
            self.assertNotEqual(out.returncode, 0, extra)
            self.assertIn("--remote-media", out.stderr, extra)
            self.assertNotIn("listening on", out.stderr, extra)


if __name__ == "__main__":
    unittest.main()
