"""OpenAI API behaviour of `mmrt serve`, driven by the official openai client.

Expected texts come from two references: the Transformers goldens (tests/fixtures/llava/goldens.json) and
`mmrt generate --chat`, which runs the same engine without HTTP.
"""
import json
import signal
import threading
import unittest

import openai

from server_harness import MODEL, Server, data_url, generate_cli, goldens, user_message

GOLDEN = goldens()


class ServerApiTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.server = Server().__enter__()
        cls.client = cls.server.client()

    @classmethod
    def tearDownClass(cls):
        cls.server.__exit__(None, None, None)

    def chat(self, messages, **kwargs):
        kwargs.setdefault("temperature", 0)
        return self.client.chat.completions.create(model=MODEL, messages=messages, **kwargs)

    def test_models_and_health(self):
        self.assertEqual([m.id for m in self.client.models.list().data], [MODEL])
        status, body = self.server.get("/health")
        self.assertEqual(status, 200)
        self.assertEqual(json.loads(body), {"status": "ok"})

    def test_chat_with_image_matches_golden_generate_and_stream(self):
        case = GOLDEN["default_chat_tall"]
        images = [i.split("/")[-1] for i in case["images"]]
        messages = user_message(case["chat_messages_text"], images)
        plain = self.chat(messages, max_tokens=case["max_tokens"])
        choice = plain.choices[0]
        self.assertEqual(choice.message.role, "assistant")
        self.assertEqual(choice.message.content, case["text"])
        self.assertEqual(choice.finish_reason, case["finish_reason"])
        self.assertEqual(plain.usage.prompt_tokens, len(case["prompt_token_ids"]))
        self.assertEqual(plain.usage.completion_tokens, len(case["token_ids"]))
        self.assertEqual(plain.usage.total_tokens, plain.usage.prompt_tokens + plain.usage.completion_tokens)

        chunks = list(self.chat(messages, max_tokens=case["max_tokens"], stream=True,
                                stream_options={"include_usage": True}))
        streamed = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
        self.assertEqual(streamed, choice.message.content)
        self.assertEqual(chunks[0].choices[0].delta.role, "assistant")
        finishes = [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason]
        self.assertEqual(finishes, [case["finish_reason"]])
        self.assertEqual(chunks[-1].choices, [])
        self.assertEqual(chunks[-1].usage.completion_tokens, plain.usage.completion_tokens)
        self.assertEqual(chunks[-1].usage.prompt_tokens, plain.usage.prompt_tokens)
        self.assertTrue(all(c.usage is None for c in chunks[:-1]))

        cli = generate_cli(case["chat_messages_text"], images, case["max_tokens"])
        self.assertEqual(cli["text"], choice.message.content)

    def test_stream_without_usage_ends_with_finish_chunk(self):
        messages = user_message("What is this?", ["rgb_48x40.png"])
        plain = self.chat(messages, max_tokens=10).choices[0].message.content
        chunks = list(self.chat(messages, max_tokens=10, stream=True))
        self.assertEqual("".join(c.choices[0].delta.content or "" for c in chunks), plain)
        self.assertEqual(chunks[-1].choices[0].finish_reason, "length")
        self.assertEqual(plain, generate_cli("What is this?", ["rgb_48x40.png"], 10)["text"])

    def test_logprobs_match_golden(self):
        case = GOLDEN["default_chat_tall"]
        messages = user_message(case["chat_messages_text"], ["tall_20x60.png"])
        r = self.chat(messages, max_tokens=case["max_tokens"], logprobs=True, top_logprobs=5)
        content = r.choices[0].logprobs.content
        self.assertEqual(len(content), len(case["token_ids"]))
        for step, entry in enumerate(content):
            golden_top = case["top_logprobs"][step]
            self.assertEqual(len(entry.top_logprobs), 5)
            self.assertLessEqual(entry.logprob, 0.0)
            self.assertTrue(all(0 <= b < 256 for b in entry.bytes))
            # Greedy: the chosen token is the most likely one, with the golden log-probability.
            self.assertAlmostEqual(entry.logprob, golden_top[0][1], delta=2e-3)
            self.assertAlmostEqual(entry.top_logprobs[0].logprob, entry.logprob, places=6)
            for alt, (_, golden_lp) in zip(entry.top_logprobs, golden_top):
                self.assertAlmostEqual(alt.logprob, golden_lp, delta=2e-3)
            lps = [a.logprob for a in entry.top_logprobs]
            self.assertEqual(lps, sorted(lps, reverse=True))

        streamed = list(self.chat(messages, max_tokens=case["max_tokens"], logprobs=True, top_logprobs=2,
                                  stream=True))
        entries = [e for c in streamed if c.choices and c.choices[0].logprobs for e in c.choices[0].logprobs.content]
        self.assertEqual(len(entries), len(content))
        for a, b in zip(entries, content):
            self.assertEqual(a.token, b.token)
            self.assertAlmostEqual(a.logprob, b.logprob, places=5)
            self.assertEqual(len(a.top_logprobs), 2)

    def test_stop_strings(self):
        messages = user_message("What is this?", ["rgb_48x40.png"])
        full = self.chat(messages, max_tokens=12).choices[0].message.content
        # Stop at the first word longer than one character after the start, as a string and as a list.
        words = [w for w in full.split(" ")[1:] if len(w) > 1 and "\ufffd" not in w]
        self.assertTrue(words, full)
        stop = words[0]
        for stop_arg in (stop, [stop, "zzzz-never"]):
            r = self.chat(messages, max_tokens=12, stop=stop_arg)
            self.assertEqual(r.choices[0].message.content, full[: full.index(stop)])
            self.assertEqual(r.choices[0].finish_reason, "stop")

    def test_seeded_sampling_repeats(self):
        messages = user_message("What is this?", ["checker_32x32.png"])
        a = self.chat(messages, max_tokens=8, temperature=1.0, top_p=0.9, seed=1234, extra_body={"top_k": 50})
        b = self.chat(messages, max_tokens=8, temperature=1.0, top_p=0.9, seed=1234, extra_body={"top_k": 50})
        self.assertEqual(a.choices[0].message.content, b.choices[0].message.content)
        self.assertEqual(a.usage.completion_tokens, 8)

    def test_max_completion_tokens(self):
        r = self.chat(user_message("Hi"), max_completion_tokens=3)
        self.assertEqual(r.usage.completion_tokens, 3)
        self.assertEqual(r.choices[0].finish_reason, "length")

    def test_completions_endpoint_matches_golden(self):
        case = GOLDEN["default_single_image"]
        r = self.client.completions.create(model=MODEL, prompt=case["prompt"], max_tokens=case["max_tokens"],
                                           temperature=0, extra_body={"images": [data_url("rgb_48x40.png")]})
        self.assertEqual(r.choices[0].text, case["text"])
        self.assertEqual(r.usage.prompt_tokens, len(case["prompt_token_ids"]))
        text_only = GOLDEN["default_text_only"]
        r = self.client.completions.create(model=MODEL, prompt=text_only["prompt"],
                                           max_tokens=text_only["max_tokens"], temperature=0, logprobs=3)
        self.assertEqual(r.choices[0].text, text_only["text"])
        self.assertEqual(len(r.choices[0].logprobs.tokens), text_only["max_tokens"])
        for lp, golden_top in zip(r.choices[0].logprobs.token_logprobs, text_only["top_logprobs"]):
            self.assertAlmostEqual(lp, golden_top[0][1], delta=2e-3)
        streamed = list(self.client.completions.create(model=MODEL, prompt=text_only["prompt"],
                                                       max_tokens=text_only["max_tokens"], temperature=0,
                                                       stream=True))
        self.assertEqual("".join(c.choices[0].text for c in streamed if c.choices), text_only["text"])

    def test_errors(self):
        messages = user_message("What is this?", ["rgb_48x40.png"])
        with self.assertRaises(openai.NotFoundError) as e:
            self.client.chat.completions.create(model="no-such-model", messages=messages)
        self.assertEqual(e.exception.body["code"], "model_not_found")

        bad_image = [{"role": "user", "content": [
            {"type": "image_url", "image_url": {"url": "data:image/png;base64,aGVsbG8gd29ybGQ="}},
            {"type": "text", "text": "hi"}]}]
        with self.assertRaises(openai.BadRequestError) as e:
            self.chat(bad_image, max_tokens=2)
        self.assertEqual(e.exception.status_code, 400)
        self.assertIn("image", e.exception.body["message"])
        self.assertEqual(e.exception.body["param"], "messages[0].content[0].image_url")

        status, body = self.server.post("/v1/chat/completions", json.dumps({"model": MODEL}).encode())
        self.assertEqual(status, 400)
        self.assertEqual(body["error"]["param"], "messages")
        self.assertEqual(body["error"]["type"], "invalid_request_error")

        for kwargs, param in [({"n": 9}, "n"), ({"temperature": 5}, "temperature"), ({"top_p": 0}, "top_p")]:
            with self.assertRaises(openai.BadRequestError) as e:
                self.chat(messages, max_tokens=2, **kwargs)
            self.assertEqual(e.exception.body["param"], param)

        remote_part = {"type": "image_url", "image_url": {"url": "https://example.com/a.png"}}
        remote = [{"role": "user", "content": [remote_part]}]
        with self.assertRaises(openai.BadRequestError) as e:
            self.chat(remote, max_tokens=2)
        self.assertEqual(e.exception.body["code"], "remote_media_disabled")

        local = [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "file:///etc/passwd"}}]}]
        with self.assertRaises(openai.BadRequestError):
            self.chat(local, max_tokens=2)

        with self.assertRaises(openai.BadRequestError) as e:
            self.chat(user_message("a " * 600), max_tokens=2)
        self.assertEqual(e.exception.body["code"], "context_length_exceeded")

        self.assertEqual(self.server.get("/v1/nothing")[0], 404)
        # Still serving after all of that, and nothing leaked.
        self.assertEqual(self.chat(messages, max_tokens=2).usage.completion_tokens, 2)
        self.server.wait_kv_released()

    def test_metrics(self):
        self.chat(user_message("What is this?", ["grey_36x36.png"]), max_tokens=4)
        m = self.server.wait_kv_released()
        self.assertGreater(m["mmrt_kv_blocks_total"], 0)
        self.assertGreaterEqual(m["mmrt_time_to_first_token_seconds_count"], 1)
        self.assertGreaterEqual(m["mmrt_time_per_output_token_seconds_count"], 1)
        self.assertGreaterEqual(m['mmrt_http_requests_total{endpoint="/v1/chat/completions",status="200"}'], 1)
        self.assertGreaterEqual(m["mmrt_generation_tokens_total"], 4)
        self.assertEqual(m["mmrt_num_requests_waiting"], 0)


class ServerAuthAndShutdownTest(unittest.TestCase):
    def test_api_key(self):
        with Server("--api-key", "sekret") as server:
            with self.assertRaises(openai.AuthenticationError):
                server.client(api_key="wrong").models.list()
            self.assertEqual([m.id for m in server.client(api_key="sekret").models.list().data], [MODEL])
            self.assertEqual(server.get("/health")[0], 200)
            self.assertEqual(server.stop(), 0)

    def test_graceful_shutdown_finishes_in_flight_stream(self):
        with Server("--shutdown-grace", "30") as server:
            client = server.client()
            stream = client.chat.completions.create(model=MODEL, messages=user_message("Hello"), max_tokens=200,
                                                    temperature=0, stream=True, extra_body={"ignore_eos": True})
            first = next(iter(stream))
            self.assertEqual(first.choices[0].delta.role, "assistant")
            stopper = threading.Timer(0.05, server.proc.send_signal, args=(signal.SIGTERM,))
            stopper.start()
            rest = list(stream)
            self.assertEqual(rest[-1].choices[0].finish_reason, "length")
            self.assertEqual(server.proc.wait(timeout=60), 0)

    def test_shutdown_grace_cancels_long_request(self):
        # One request runs at a time, so the queued ones are certainly unfinished when the grace period ends.
        with Server("--shutdown-grace", "0.05", "--max-num-seqs", "1") as server:
            client = server.client()
            started = threading.Event()
            outcomes = []

            def run():
                try:
                    stream = client.chat.completions.create(model=MODEL, messages=user_message("Hello"),
                                                            max_tokens=450, temperature=0, stream=True,
                                                            extra_body={"ignore_eos": True})
                    for _ in stream:
                        started.set()
                    outcomes.append("finished")
                except openai.APIError as e:
                    outcomes.append(e)

            threads = [threading.Thread(target=run) for _ in range(8)]
            for t in threads:
                t.start()
            self.assertTrue(started.wait(60))
            server.proc.send_signal(signal.SIGINT)
            for t in threads:
                t.join(60)
            self.assertEqual(len(outcomes), 8)
            self.assertTrue(any(isinstance(o, openai.APIError) for o in outcomes), outcomes)
            self.assertEqual(server.proc.wait(timeout=60), 0)

    def test_request_timeout_answers_504_and_frees_blocks(self):
        # One request runs at a time, so the later ones are still waiting when the timeout fires.
        with Server("--request-timeout", "0.05", "--max-num-seqs", "1") as server:
            client = server.client()
            outcomes = []

            def run():
                try:
                    client.chat.completions.create(model=MODEL, messages=user_message("Hello"), max_tokens=450,
                                                   temperature=0, extra_body={"ignore_eos": True})
                    outcomes.append(200)
                except openai.APIStatusError as e:
                    outcomes.append(e.status_code)
                    self.assertEqual(e.body["code"], "timeout")

            threads = [threading.Thread(target=run) for _ in range(8)]
            for t in threads:
                t.start()
            for t in threads:
                t.join(60)
            self.assertIn(504, outcomes)
            self.assertTrue(set(outcomes) <= {200, 504}, outcomes)
            server.wait_kv_released()
            self.assertEqual(server.stop(), 0)


if __name__ == "__main__":
    unittest.main(verbosity=2)
