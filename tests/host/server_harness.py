"""Starts a real `mmrt serve` for the server tests and talks to it.

ctest passes the binary, the plugin folder and the source tree in MMRT_BIN, MMRT_PLUGIN_DIR and
MMRT_SOURCE_DIR. The server binds 127.0.0.1 with --port 0 and announces its port on stderr.
"""
import base64
import json
import os
import re
import signal
import subprocess
import threading
import time
import urllib.error
import urllib.request

MMRT_BIN = os.environ["MMRT_BIN"]
PLUGIN_DIR = os.environ["MMRT_PLUGIN_DIR"]
SOURCE_DIR = os.environ["MMRT_SOURCE_DIR"]
FIXTURES = os.path.join(SOURCE_DIR, "tests", "fixtures", "llava")
MODEL = "llava_default"


def model_dir(name=MODEL):
    return os.path.join(FIXTURES, name)


def image_path(name):
    """An image under tests/fixtures/llava/images, or `name` itself when it is an absolute path."""
    return os.path.join(FIXTURES, "images", name)


def data_url(name):
    path = image_path(name)
    mime = "image/jpeg" if path.endswith(".jpg") else "image/png"
    with open(path, "rb") as f:
        return f"data:{mime};base64," + base64.b64encode(f.read()).decode()


def goldens():
    with open(os.path.join(FIXTURES, "goldens.json")) as f:
        return {case["name"]: case for case in json.load(f)}


def user_message(text, images=()):
    """One user turn, images first then the text: what `mmrt generate --chat` sends."""
    content = [{"type": "image_url", "image_url": {"url": data_url(i)}} for i in images]
    content.append({"type": "text", "text": text})
    return [{"role": "user", "content": content}]


class Server:
    def __init__(self, *extra_args, model=MODEL, env=None, preexec_fn=None, model_path=None):
        """env: variables added to the server's environment; preexec_fn runs in the child before exec (to
        set resource limits); model_path: a model folder outside the fixtures."""
        self.env = {**os.environ, **env} if env else None
        self.preexec_fn = preexec_fn
        self.args = [MMRT_BIN, "serve", "--model", model_path or model_dir(model), "--port", "0",
                     "--plugin-dirs", PLUGIN_DIR, "--log-level", "info", *extra_args]
        self.proc = None
        self.stderr_lines = []
        self.url = None
        self.drain_thread = None

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        if self.proc:
            if self.drain_thread:
                self.drain_thread.join(5)
            self.proc.stderr.close()
            # In a sanitizer build, a report on the server's stderr fails the test that ran it.
            reports = [l for l in self.stderr_lines
                       if "AddressSanitizer" in l or "ThreadSanitizer" in l or "runtime error:" in l]
            if reports and exc[0] is None:
                raise AssertionError("sanitizer report from mmrt serve:\n" + "".join(reports))

    def start(self, timeout=60):
        self.proc = subprocess.Popen(self.args, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.PIPE, text=True, env=self.env, preexec_fn=self.preexec_fn)
        deadline = time.time() + timeout
        while time.time() < deadline:
            line = self.proc.stderr.readline()
            if not line:
                raise RuntimeError("mmrt serve exited before listening:\n" + "".join(self.stderr_lines))
            self.stderr_lines.append(line)
            m = re.search(r"listening on (https?://\S+)", line)
            if m:
                self.url = m.group(1)
                break
        else:
            raise RuntimeError("mmrt serve did not announce its port in time")
        self.drain_thread = threading.Thread(target=self._drain, daemon=True)
        self.drain_thread.start()

    def _drain(self):
        for line in self.proc.stderr:
            self.stderr_lines.append(line)

    @property
    def address(self):
        """(host, port) to connect to."""
        host, port = self.url.split("://", 1)[1].rsplit(":", 1)
        return host, int(port)

    def stderr_text(self):
        return "".join(self.stderr_lines)

    def cpu_seconds(self):
        """User plus system CPU time the server process has used so far."""
        with open(f"/proc/{self.proc.pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def rss_bytes(self):
        with open(f"/proc/{self.proc.pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
        raise AssertionError("no VmRSS")

    def client(self, api_key="unused", **kwargs):
        import openai
        return openai.OpenAI(base_url=self.url + "/v1", api_key=api_key, max_retries=0, timeout=60, **kwargs)

    def get(self, path, headers=None):
        """(status, body bytes) of a GET."""
        req = urllib.request.Request(self.url + path, headers=headers or {})
        try:
            with urllib.request.urlopen(req, timeout=30) as r:
                return r.status, r.read()
        except urllib.error.HTTPError as e:
            return e.code, e.read()

    def post(self, path, body, headers=None):
        """(status, parsed JSON or raw bytes) of a POST of raw bytes."""
        h = {"Content-Type": "application/json"}
        h.update(headers or {})
        req = urllib.request.Request(self.url + path, data=body, headers=h, method="POST")
        try:
            with urllib.request.urlopen(req, timeout=60) as r:
                status, raw = r.status, r.read()
        except urllib.error.HTTPError as e:
            status, raw = e.code, e.read()
        try:
            return status, json.loads(raw)
        except ValueError:
            return status, raw

    def metrics(self):
        status, body = self.get("/metrics")
        assert status == 200, status
        out = {}
        for line in body.decode().splitlines():
            if line.startswith("#") or not line.strip():
                continue
            name, value = line.rsplit(" ", 1)
            # Every sample is labelled with the model; the tests address them without it.
            assert "model_name=" in name, line
            name = re.sub(r'model_name="[^"]*",?', "", name).replace("{}", "")
            out[name] = float(value)
        return out

    def wait_kv_released(self, timeout=10):
        """KV blocks held by requests return to zero once the engine has processed every finish or cancel."""
        deadline = time.time() + timeout
        held = None
        while time.time() < deadline:
            m = self.metrics()
            held = m["mmrt_kv_blocks_held"]
            if held == 0 and m["mmrt_requests_in_flight"] == 0 and m["mmrt_num_requests_running"] == 0:
                return m
            time.sleep(0.05)
        raise AssertionError(f"KV blocks still held after {timeout} s: {held}")

    def stop(self, sig=signal.SIGTERM, timeout=60):
        self.proc.send_signal(sig)
        return self.proc.wait(timeout=timeout)


def generate_cli(text, images, max_tokens, model=MODEL):
    """`mmrt generate --chat --json` for the same one-turn request; returns its JSON output."""
    args = [MMRT_BIN, "generate", "--model", model_dir(model), "--plugin-dirs", PLUGIN_DIR, "--prompt", text,
            "--chat", "--max-tokens", str(max_tokens), "--json"]
    for i in images:
        args += ["--image", image_path(i)]
    out = subprocess.run(args, check=True, capture_output=True, text=True, timeout=120)
    return json.loads(out.stdout)
