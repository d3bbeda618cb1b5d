"""What users bring from vLLM and llama-server, through the official openai client where it applies:
/version, /tokenize, /detokenize, --max-model-len, --chat-template, penalties and refused sampling fields, the
access log, several API keys from a file; and the server's life: shutdown while preparing, repeated signals, a warning for
an exposed server without a key, and model folders that fail at load with the file and field named."""
import json
import os
import shutil
import signal
import subprocess
import tempfile
import threading
import time
import unittest

import openai

from server_harness import MMRT_BIN, MODEL, PLUGIN_DIR, Server, model_dir, user_message
from server_images import data_url_of, image_content, png


class ConventionsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.server = Server("--max-model-len", "200").__enter__()
        cls.client = cls.server.client()

    @classmethod
    def tearDownClass(cls):
        cls.server.__exit__(None, None, None)

    def post(self, path, body):
        return self.server.post(path, json.dumps(body).encode())

    def test_version(self):
        status, raw = self.server.get("/version")
        self.assertEqual(status, 200)
        info = json.loads(raw)
        self.assertRegex(info["version"], r"^\d+\.\d+\.\d+$")
        self.assertRegex(info["abi_version"], r"^\d+\.\d+$")
        self.assertIn("cpu", info["backends"])
        line = subprocess.run([MMRT_BIN, "--version"], capture_output=True, text=True, check=True).stdout
        self.assertIn(info["version"], line)
        self.assertIn("plugin ABI " + info["abi_version"], line)

    def test_tokenize_and_detokenize(self):
        status, body = self.post("/tokenize", {"model": MODEL, "prompt": "Hello world"})
        self.assertEqual(status, 200, body)
        self.assertEqual(body["count"], len(body["tokens"]))
        self.assertEqual(body["max_model_len"], 200)
        status, text = self.post("/detokenize", {"model": MODEL, "tokens": body["tokens"]})
        self.assertEqual(status, 200, text)
        self.assertIn("Hello world", text["prompt"])
        # Messages count exactly the prompt tokens a chat completion uses.
        messages = user_message("How many tokens is this?")
        status, counted = self.post("/tokenize", {"model": MODEL, "messages": messages})
        self.assertEqual(status, 200, counted)
        r = self.client.chat.completions.create(model=MODEL, messages=messages, max_tokens=1, temperature=0)
        self.assertEqual(r.usage.prompt_tokens, counted["count"])
        for path, bad, param in [("/tokenize", {"prompt": 5}, "prompt"), ("/tokenize", {}, "prompt"),
                                 ("/detokenize", {"tokens": [10 ** 9]}, "tokens[0]"),
                                 ("/detokenize", {"tokens": "x"}, "tokens")]:
            with self.subTest(path=path, body=bad):
                status, err = self.post(path, bad)
                self.assertEqual(status, 400, err)
                self.assertEqual(err["error"]["param"], param)
        self.assertEqual(self.post("/tokenize", {"model": "other", "prompt": "x"})[0], 404)

    def test_max_model_len(self):
        self.assertEqual(self.client.models.list().data[0].model_extra["max_model_len"], 200)
        with self.assertRaises(openai.BadRequestError) as e:
            self.client.chat.completions.create(model=MODEL, messages=user_message("Hello"), max_tokens=250)
        self.assertEqual(e.exception.body["code"], "context_length_exceeded")
        self.assertIn("200", e.exception.body["message"])
        # Without max_tokens, the answer may fill what the limit leaves, and no more.
        r = self.client.chat.completions.create(model=MODEL, messages=user_message("Hello"), temperature=0,
                                                extra_body={"ignore_eos": True})
        self.assertEqual(r.usage.prompt_tokens + r.usage.completion_tokens, 200)

    def test_unknown_sampling_fields_are_refused_by_name(self):
        for extra in [{"mirostat": 2}, {"typical_p": 0.9}, {"repetition_penalty": 0}, {"min_p": 2}]:
            with self.subTest(extra=extra):
                with self.assertRaises(openai.BadRequestError) as e:
                    self.client.chat.completions.create(model=MODEL, messages=user_message("Hi"), max_tokens=2,
                                                        extra_body=extra)
                self.assertEqual(e.exception.body["param"], next(iter(extra)))
        # Fields that change nothing are accepted.
        r = self.client.chat.completions.create(model=MODEL, messages=user_message("Hi"), max_tokens=2,
                                                user="someone", extra_body={"metadata": {"a": "b"}})
        self.assertEqual(r.usage.completion_tokens, 2)

    def test_penalties_change_greedy_output(self):
        def greedy(**kwargs):
            r = self.client.chat.completions.create(model=MODEL, messages=user_message("Hello"), max_tokens=24,
                                                    temperature=0, logprobs=True,
                                                    extra_body={"ignore_eos": True, **kwargs.pop("extra", {})},
                                                    **kwargs)
            return [t.token for t in r.choices[0].logprobs.content]

        plain = greedy()
        self.assertLess(len(set(plain)), len(plain), "the greedy answer has no repeated token to penalize")
        for kwargs in [{"frequency_penalty": 2.0}, {"presence_penalty": 2.0}, {"extra": {"repetition_penalty": 5.0}}]:
            with self.subTest(kwargs=kwargs):
                penalized = greedy(**dict(kwargs))
                self.assertNotEqual(penalized, plain)
                self.assertGreater(len(set(penalized)), len(set(plain)))
        # Neutral values change nothing.
        self.assertEqual(greedy(frequency_penalty=0, presence_penalty=0,
                                extra={"repetition_penalty": 1.0, "min_p": 0}), plain)

    def test_n_choices(self):
        messages = user_message("Hello")
        r = self.client.chat.completions.create(model=MODEL, messages=messages, max_tokens=6, n=3, seed=11,
                                                temperature=1.0, extra_body={"ignore_eos": True})
        self.assertEqual([c.index for c in r.choices], [0, 1, 2])
        self.assertEqual(r.usage.completion_tokens, 18)
        texts = [c.message.content for c in r.choices]
        self.assertGreater(len(set(texts)), 1, "seeded choices should differ from each other")
        again = self.client.chat.completions.create(model=MODEL, messages=messages, max_tokens=6, n=3, seed=11,
                                                    temperature=1.0, extra_body={"ignore_eos": True})
        self.assertEqual([c.message.content for c in again.choices], texts)
        # Streamed, each choice's deltas add up to the same texts.
        streamed = {}
        for chunk in self.client.chat.completions.create(model=MODEL, messages=messages, max_tokens=6, n=3,
                                                         seed=11, temperature=1.0, stream=True,
                                                         extra_body={"ignore_eos": True}):
            for c in chunk.choices:
                streamed[c.index] = streamed.get(c.index, "") + (c.delta.content or "")
        self.assertEqual([streamed[i] for i in range(3)], texts)
        # Greedy choices are all the greedy answer; completions take n too.
        greedy = self.client.chat.completions.create(model=MODEL, messages=messages, max_tokens=6, n=2,
                                                     temperature=0)
        self.assertEqual(greedy.choices[0].message.content, greedy.choices[1].message.content)
        c = self.client.completions.create(model=MODEL, prompt="USER: Hi ASSISTANT:", max_tokens=3, n=2,
                                           temperature=0)
        self.assertEqual(len(c.choices), 2)
        self.assertEqual(c.choices[0].text, c.choices[1].text)
        self.server.wait_kv_released()

    def test_every_metric_names_the_model(self):
        status, raw = self.server.get("/metrics")
        self.assertEqual(status, 200)
        samples = [l for l in raw.decode().splitlines() if l and not l.startswith("#")]
        self.assertGreater(len(samples), 30)
        for line in samples:
            self.assertIn('model_name="%s"' % MODEL, line)
        self.assertIn('mmrt_kv_blocks_held{model_name="%s"} ' % MODEL, raw.decode())
        self.assertIn('mmrt_e2e_request_latency_seconds_bucket{model_name="%s",le="0.01"}' % MODEL, raw.decode())

    def test_access_log(self):
        r = self.client.chat.completions.create(model=MODEL, messages=user_message("Log me"), max_tokens=3,
                                                temperature=0)
        deadline = time.time() + 5
        pattern = (f'"POST /v1/chat/completions" 200 prompt_tokens={r.usage.prompt_tokens} '
                   f'completion_tokens=3 ')
        while time.time() < deadline and not any(pattern in l for l in self.server.stderr_lines):
            time.sleep(0.05)
        lines = [l for l in self.server.stderr_lines if pattern in l]
        self.assertTrue(lines, self.server.stderr_text()[-2000:])
        self.assertRegex(lines[-1], r"access 127\.0\.0\.1 .* \d+\.\dms")


class OptionsTest(unittest.TestCase):
    def test_chat_template_file(self):
        with tempfile.NamedTemporaryFile("w", suffix=".jinja", delete=False) as f:
            f.write("{% for m in messages %}{{ m['content'] if m['content'] is string else "
                    "m['content'][0]['text'] }}{% endfor %}")
        try:
            with Server("--chat-template", f.name) as server:
                messages = user_message("Hello there")
                status, by_messages = server.post("/tokenize", json.dumps({"messages": messages}).encode())
                status2, by_prompt = server.post("/tokenize", json.dumps({"prompt": "Hello there"}).encode())
                self.assertEqual((status, status2), (200, 200))
                self.assertEqual(by_messages["tokens"], by_prompt["tokens"])
        finally:
            os.unlink(f.name)

    def test_api_key_file_takes_several_keys_and_keeps_them_out_of_ps(self):
        with tempfile.NamedTemporaryFile("w", delete=False) as f:
            f.write("# team keys\nkey-one-secret\n\n  key-two-secret  \n")
        try:
            with Server("--api-key-file", f.name) as server:
                for key in ["key-one-secret", "key-two-secret"]:
                    self.assertEqual(server.client(api_key=key).models.list().data[0].id, MODEL)
                with self.assertRaises(openai.AuthenticationError):
                    server.client(api_key="key-three").models.list()
                with open(f"/proc/{server.proc.pid}/cmdline", "rb") as cmdline:
                    self.assertNotIn(b"secret", cmdline.read())
                self.assertEqual(server.get("/version")[0], 200)  # open, like /health
        finally:
            os.unlink(f.name)

    def test_exposed_server_without_key_warns(self):
        with Server("--host", "0.0.0.0") as server:
            self.assertIn("no API key is set", server.stderr_text())
        with Server("--host", "0.0.0.0", env={"MMRT_API_KEY": "k"}) as server:
            self.assertNotIn("no API key is set", server.stderr_text())
        with Server() as server:
            self.assertNotIn("no API key is set", server.stderr_text())


class GenerationDefaultsTest(unittest.TestCase):
    def answers(self, server, extra):
        client = server.client()
        return [client.chat.completions.create(model=MODEL, messages=user_message("Hello"), max_tokens=8, seed=seed,
                                               extra_body={"ignore_eos": True}, **extra).choices[0].message.content
                for seed in (1, 2, 3)]

    def test_generation_config_temperature_is_the_default(self):
        folder = tempfile.mkdtemp(prefix="mmrt-genconfig-")
        try:
            copy = os.path.join(folder, MODEL)
            shutil.copytree(model_dir(), copy)
            path = os.path.join(copy, "generation_config.json")
            with open(path) as f:
                config = json.load(f)
            config.update({"temperature": 0.0, "top_p": 5})
            with open(path, "w") as f:
                json.dump(config, f)
            with Server(model_path=copy) as server:
                self.assertIn("top_p 5", server.stderr_text())  # out of range: not applied, and said so
                greedy = self.answers(server, {"temperature": 0})
                self.assertEqual(self.answers(server, {}), greedy)  # the file's temperature 0
                self.assertNotEqual(self.answers(server, {"temperature": 2.0}), greedy)  # the request's own wins
            with Server() as server:
                # Without the file's default, temperature is 1 and the seeds give different answers.
                self.assertNotEqual(self.answers(server, {}), greedy)
        finally:
            shutil.rmtree(folder)


class LifecycleTest(unittest.TestCase):
    def test_grace_is_honoured_while_a_request_is_prepared(self):
        # Before, a request in preparation kept the server up until it was done (25 s with a grace of 2 s).
        heavy = data_url_of(png(2800, 2800))
        body = json.dumps({"model": MODEL, "messages": image_content([heavy] * 8), "max_tokens": 2}).encode()
        with Server("--shutdown-grace", "0.3", "--workers", "1") as server:
            outcome = []
            t = threading.Thread(target=lambda: outcome.append(server.post("/v1/chat/completions", body)))
            t.start()
            time.sleep(0.3)
            started = time.time()
            server.proc.send_signal(signal.SIGTERM)
            self.assertEqual(server.proc.wait(timeout=30), 0)
            self.assertLess(time.time() - started, 2.5)
            t.join(10)
            self.assertEqual(outcome[0][0], 503, outcome)

    def test_repeated_signals_end_the_grace_period_and_still_exit_0(self):
        with Server("--shutdown-grace", "60") as server:
            client = server.client()
            stream = client.chat.completions.create(model=MODEL, messages=user_message("Hello"), max_tokens=400,
                                                    temperature=0, stream=True, extra_body={"ignore_eos": True})
            next(iter(stream))
            started = time.time()
            # A storm of signals through shutdown and teardown: the second ends the grace period, the others
            # change nothing, and none kills the process (exit 143).
            while server.proc.poll() is None and time.time() - started < 20:
                server.proc.send_signal(signal.SIGTERM)
                time.sleep(0.005)
            self.assertEqual(server.proc.wait(timeout=30), 0)
            self.assertLess(time.time() - started, 10)
            self.assertIn("second signal", server.stderr_text())

    def broken_copy(self, edit):
        folder = tempfile.mkdtemp(prefix="mmrt-broken-")
        copy = os.path.join(folder, MODEL)
        shutil.copytree(model_dir(), copy)
        edit(copy)
        return folder, copy

    def assert_load_fails(self, copy, *needles):
        out = subprocess.run([MMRT_BIN, "serve", "--model", copy, "--port", "0", "--plugin-dirs", PLUGIN_DIR],
                             capture_output=True, text=True, timeout=60)
        self.assertNotEqual(out.returncode, 0)
        self.assertNotIn("listening on", out.stderr)
        for needle in needles:
            self.assertIn(needle, out.stderr)

    def test_broken_template_fails_at_load(self):
        def edit(copy):
            os.remove(os.path.join(copy, "chat_template.json"))
            with open(os.path.join(copy, "chat_template.jinja"), "w") as f:
                f.write("{% for m in messages %}{{ m['content'] }")
        folder, copy = self.broken_copy(edit)
        try:
            self.assert_load_fails(copy, "chat_template.jinja")
        finally:
            shutil.rmtree(folder)

    def test_unusable_processor_settings_fail_at_load(self):
        def edit(copy):
            path = os.path.join(copy, "preprocessor_config.json")
            with open(path) as f:
                config = json.load(f)
            config["size"] = {"shortest_edge": -5}
            with open(path, "w") as f:
                json.dump(config, f)
        folder, copy = self.broken_copy(edit)
        try:
            self.assert_load_fails(copy, "preprocessor_config.json")
        finally:
            shutil.rmtree(folder)

    def test_out_of_range_image_token_fails_at_load(self):
        def edit(copy):
            path = os.path.join(copy, "config.json")
            with open(path) as f:
                config = json.load(f)
            config["image_token_index"] = 100000
            with open(path, "w") as f:
                json.dump(config, f)
        folder, copy = self.broken_copy(edit)
        try:
            self.assert_load_fails(copy, "image_token_index", "config.json")
        finally:
            shutil.rmtree(folder)


if __name__ == "__main__":
    unittest.main(verbosity=2)
