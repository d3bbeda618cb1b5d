"""HTTP-level safety of `mmrt serve`: Host and Origin checks against DNS rebinding and cross-site requests,
JSON-only bodies, CORS preflight, Expect: 100-continue, Transfer-Encoding, TLS, error bodies without server
paths."""
import json
import os
import shutil
import socket
import ssl
import subprocess
import tempfile
import unittest

import openai

from server_harness import MODEL, Server, model_dir, user_message


def chat(max_tokens=2):
    return json.dumps({"model": MODEL, "messages": user_message("Hello"), "max_tokens": max_tokens,
                       "temperature": 0}).encode()


def exchange(address, raw, read_until=b"\r\n\r\n", timeout=10):
    """Sends raw bytes and returns what comes back until the connection closes or `timeout`."""
    with socket.create_connection(address, timeout=timeout) as s:
        s.sendall(raw)
        out = b""
        try:
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    break
                out += chunk
        except socket.timeout:
            pass
        return out


def request(method, path, headers, body=b""):
    head = f"{method} {path} HTTP/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers.items())
    if body:
        head += f"Content-Length: {len(body)}\r\n"
    return (head + "Connection: close\r\n\r\n").encode() + body


def status_of(response):
    return int(response.split(b" ", 2)[1])


def header_of(response, name):
    for line in response.split(b"\r\n\r\n", 1)[0].split(b"\r\n")[1:]:
        key, _, value = line.partition(b":")
        if key.strip().lower() == name.lower().encode():
            return value.strip().decode()
    return None


class DefaultServerTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.server = Server().__enter__()

    @classmethod
    def tearDownClass(cls):
        cls.server.__exit__(None, None, None)

    def send(self, method, path, headers, body=b""):
        return exchange(self.server.address, request(method, path, headers, body))

    def test_a_rebound_host_name_is_refused(self):
        for host in ["attacker.example", "attacker.example:8000", "localhost.attacker.example"]:
            with self.subTest(host=host):
                r = self.send("POST", "/v1/chat/completions", {"Host": host, "Content-Type": "application/json"},
                              chat())
                self.assertEqual(status_of(r), 421, r[:200])
                self.assertIn(b"host_not_allowed", r)
        self.assertEqual(status_of(self.send("GET", "/v1/models", {"Host": "localhost:1234"})), 200)
        self.assertEqual(status_of(self.send("GET", "/v1/models", {})), 400)  # HTTP/1.1 needs a Host

    def test_bodies_must_be_json(self):
        # A cross-site form or fetch without a preflight can only send text/plain or form encodings.
        host = "127.0.0.1:%d" % self.server.address[1]
        for content_type in ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data; b=x", None]:
            with self.subTest(content_type=content_type):
                headers = {"Host": host}
                if content_type:
                    headers["Content-Type"] = content_type
                r = self.send("POST", "/v1/chat/completions", headers, chat())
                self.assertEqual(status_of(r), 415, r[:200])
        r = self.send("POST", "/v1/chat/completions", {"Host": host, "Content-Type": "Application/JSON; charset=utf-8"},
                      chat())
        self.assertEqual(status_of(r), 200, r[:300])

    def test_cross_origin_requests_and_preflights_are_refused_by_default(self):
        host = "127.0.0.1:%d" % self.server.address[1]
        r = self.send("OPTIONS", "/v1/chat/completions",
                      {"Host": host, "Origin": "https://attacker.example", "Access-Control-Request-Method": "POST",
                       "Access-Control-Request-Headers": "content-type"})
        self.assertEqual(status_of(r), 403, r[:200])
        self.assertIsNone(header_of(r, "Access-Control-Allow-Origin"))
        r = self.send("POST", "/v1/chat/completions",
                      {"Host": host, "Origin": "https://attacker.example", "Content-Type": "application/json"},
                      chat())
        self.assertEqual(status_of(r), 403, r[:200])
        # The server's own origin is not cross-site.
        r = self.send("POST", "/v1/chat/completions",
                      {"Host": host, "Origin": "http://" + host, "Content-Type": "application/json"}, chat())
        self.assertEqual(status_of(r), 200, r[:300])

    def test_expect_100_continue_is_answered_before_the_body(self):
        host = "127.0.0.1:%d" % self.server.address[1]
        body = chat()
        with socket.create_connection(self.server.address, timeout=10) as s:
            s.sendall(f"POST /v1/chat/completions HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
                      f"Content-Length: {len(body)}\r\nExpect: 100-continue\r\nConnection: close\r\n\r\n".encode())
            interim = s.recv(4096)
            self.assertTrue(interim.startswith(b"HTTP/1.1 100 Continue\r\n\r\n"), interim)
            s.sendall(body)
            rest = b""
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    break
                rest += chunk
        final = (interim[len(b"HTTP/1.1 100 Continue\r\n\r\n"):] + rest)
        self.assertEqual(status_of(final), 200, final[:300])
        # A body over the limit is refused without asking for it.
        with socket.create_connection(self.server.address, timeout=10) as s:
            s.sendall(f"POST /v1/chat/completions HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
                      f"Content-Length: {1 << 30}\r\nExpect: 100-continue\r\n\r\n".encode())
            self.assertEqual(status_of(s.recv(4096)), 413)

    def test_transfer_encoding_other_than_chunked_is_refused(self):
        # Before, "Transfer-Encoding: identity" made the body parse as a second request.
        host = "127.0.0.1:%d" % self.server.address[1]
        smuggled = b"GET /v1/models HTTP/1.1\r\nHost: " + host.encode() + b"\r\n\r\n"
        r = exchange(self.server.address,
                     f"POST /v1/chat/completions HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
                     f"Transfer-Encoding: identity\r\nContent-Length: {len(smuggled)}\r\n\r\n".encode() + smuggled)
        self.assertEqual(status_of(r), 400, r[:200])
        self.assertEqual(r.count(b"HTTP/1.1 "), 1, r)
        # Chunked bodies still work.
        body = chat()
        chunked = b"%x\r\n" % len(body) + body + b"\r\n0\r\n\r\n"
        r = exchange(self.server.address,
                     f"POST /v1/chat/completions HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
                     f"Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n".encode() + chunked)
        self.assertEqual(status_of(r), 200, r[:300])


class CorsTest(unittest.TestCase):
    def test_allowed_origins_get_a_correct_preflight(self):
        origin = "https://app.example.com"
        with Server("--allowed-origins", origin, "--allowed-hosts", "api.example.com") as server:
            host = "127.0.0.1:%d" % server.address[1]
            r = exchange(server.address, request("OPTIONS", "/v1/chat/completions", {
                "Host": host, "Origin": origin, "Access-Control-Request-Method": "POST",
                "Access-Control-Request-Headers": "authorization, content-type"}))
            self.assertEqual(status_of(r), 204, r[:300])
            self.assertEqual(header_of(r, "Access-Control-Allow-Origin"), origin)
            self.assertIn("POST", header_of(r, "Access-Control-Allow-Methods"))
            self.assertIn("Content-Type", header_of(r, "Access-Control-Allow-Headers"))
            self.assertIn("Authorization", header_of(r, "Access-Control-Allow-Headers"))
            self.assertEqual(header_of(r, "Vary"), "Origin")
            r = exchange(server.address, request("POST", "/v1/chat/completions", {
                "Host": host, "Origin": origin, "Content-Type": "application/json"}, chat()))
            self.assertEqual(status_of(r), 200, r[:300])
            self.assertEqual(header_of(r, "Access-Control-Allow-Origin"), origin)
            # Another origin still gets nothing.
            r = exchange(server.address, request("OPTIONS", "/v1/chat/completions", {
                "Host": host, "Origin": "https://other.example", "Access-Control-Request-Method": "POST"}))
            self.assertEqual(status_of(r), 403)
            self.assertIsNone(header_of(r, "Access-Control-Allow-Origin"))
            # --allowed-hosts admits a name behind a proxy.
            r = exchange(server.address, request("GET", "/v1/models", {"Host": "api.example.com"}))
            self.assertEqual(status_of(r), 200, r[:300])


class TlsTest(unittest.TestCase):
    def test_https_through_the_openai_client(self):
        folder = tempfile.mkdtemp(prefix="mmrt-tls-")
        try:
            # A throwaway self-signed certificate for 127.0.0.1, made for this test only.
            cert, key = os.path.join(folder, "cert.pem"), os.path.join(folder, "key.pem")
            subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                            "-nodes", "-days", "1", "-subj", "/CN=mmrt serve test", "-addext",
                            "subjectAltName=IP:127.0.0.1", "-keyout", key, "-out", cert],
                           check=True, capture_output=True)
            with Server("--ssl-certfile", cert, "--ssl-keyfile", key) as server:
                self.assertTrue(server.url.startswith("https://"), server.url)
                # verify=cert: the client trusts exactly this certificate.
                client = server.client(http_client=openai.DefaultHttpxClient(verify=ssl.create_default_context(
                    cafile=cert)))
                r = client.chat.completions.create(model=MODEL, messages=user_message("Hello"), max_tokens=3,
                                                   temperature=0)
                self.assertEqual(r.usage.completion_tokens, 3)
                streamed = list(client.chat.completions.create(model=MODEL, messages=user_message("Hello"),
                                                               max_tokens=3, temperature=0, stream=True))
                text = "".join(c.choices[0].delta.content or "" for c in streamed if c.choices)
                self.assertEqual(text, r.choices[0].message.content)
                # Plain HTTP to the TLS port gets no HTTP answer, and the server keeps serving.
                answer = exchange(server.address, b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n", timeout=5)
                self.assertFalse(answer.startswith(b"HTTP/1.1 200"), answer[:100])
                # An unverified client is refused by its own TLS check (the certificate is self-signed).
                context = ssl.create_default_context()
                with socket.create_connection(server.address, timeout=10) as raw:
                    with self.assertRaises(ssl.SSLCertVerificationError):
                        context.wrap_socket(raw, server_hostname="127.0.0.1")
                self.assertEqual(client.models.list().data[0].id, MODEL)
        finally:
            shutil.rmtree(folder)


class TemplateErrorTest(unittest.TestCase):
    def test_template_errors_do_not_show_server_paths(self):
        # A template that compiles and renders one user turn but raises on a system message.
        folder = tempfile.mkdtemp(prefix="mmrt-secret-path-")
        try:
            copy = os.path.join(folder, "llava_default")
            shutil.copytree(model_dir(), copy)
            os.remove(os.path.join(copy, "chat_template.json"))
            with open(os.path.join(copy, "chat_template.jinja"), "w") as f:
                f.write("{% for m in messages %}{% if m['role'] == 'system' %}"
                        "{{ raise_exception('no system role in this template') }}{% endif %}"
                        "{{ m['role'] }}: {{ m['content'] if m['content'] is string else '' }}\n"
                        "{% endfor %}ASSISTANT:")
            with Server(model_path=copy) as server:
                status, body = server.post("/v1/chat/completions", json.dumps({
                    "model": "llava_default", "max_tokens": 2,
                    "messages": [{"role": "system", "content": "x"}, {"role": "user", "content": "y"}]}).encode())
                self.assertEqual(status, 400, body)
                self.assertIn("no system role", body["error"]["message"])
                self.assertNotIn(folder, json.dumps(body))
                self.assertNotIn("mmrt-secret-path", json.dumps(body))
        finally:
            shutil.rmtree(folder)


if __name__ == "__main__":
    unittest.main(verbosity=2)
