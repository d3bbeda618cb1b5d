"""`mmrt serve` with the BLIP-2 (OPT) plugin, driven by the official openai client.

Expected texts and log-probs are the Transformers goldens of tests/fixtures/blip2 (chat cases: the fixture
checkpoint's chat template renders "Question: ... Answer:").
"""
import base64
import json
import os
import unittest

import openai

from server_harness import SOURCE_DIR, Server

FIXTURES = os.path.join(SOURCE_DIR, "tests", "fixtures", "blip2")
MODEL = "blip2_opt"


def goldens():
    with open(os.path.join(FIXTURES, "goldens.json")) as f:
        return {case["name"]: case for case in json.load(f)}


def image_url(relative):
    with open(os.path.join(FIXTURES, relative), "rb") as f:
        return "data:image/png;base64," + base64.b64encode(f.read()).decode()


def question(text, image):
    return [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": image_url(image)}},
                                         {"type": "text", "text": text}]}]


GOLDEN = goldens()


class ServerBlip2Test(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.server = Server(model_path=os.path.join(FIXTURES, MODEL)).__enter__()
        cls.client = cls.server.client()

    @classmethod
    def tearDownClass(cls):
        cls.server.__exit__(None, None, None)

    def chat(self, messages, **kwargs):
        return self.client.chat.completions.create(model=MODEL, messages=messages, temperature=0, **kwargs)

    def test_chat_with_image_matches_golden(self):
        case = GOLDEN["opt_chat"]
        r = self.chat(question(case["chat_messages_text"], case["images"][0]), max_tokens=case["max_tokens"],
                      logprobs=True, top_logprobs=5)
        choice = r.choices[0]
        self.assertEqual(choice.message.content, case["text"])
        self.assertEqual(choice.finish_reason, case["finish_reason"])
        self.assertEqual(r.usage.prompt_tokens, len(case["prompt_token_ids"]))
        self.assertEqual(r.usage.completion_tokens, len(case["token_ids"]))
        content = choice.logprobs.content
        self.assertEqual(len(content), len(case["token_ids"]))
        for entry, want in zip(content, case["top_logprobs"]):
            self.assertAlmostEqual(entry.logprob, want[0][1], delta=1e-3)

    def test_same_image_reuses_pages_and_a_new_image_does_not(self):
        case = GOLDEN["tied_tall"]  # only its image: any picture the server has not seen in this test
        image = case["images"][0]
        first = self.chat(question("what is in the top left corner of this picture?", image), max_tokens=3)
        self.server.wait_kv_released()
        again = self.chat(question("what is in the top left corner of this picture?", image), max_tokens=3)
        self.assertEqual(again.choices[0].message.content, first.choices[0].message.content)
        # The 8 query rows and the text after them fill the first KV block; the same image and text hit it.
        self.assertGreater(again.usage.prompt_tokens_details.cached_tokens, 0)
        self.server.wait_kv_released()
        # The query rows carry the same token ids for every image: only content keys tell them apart.
        other_image = GOLDEN["tied_grey"]["images"][0]
        other = self.chat(question("what is in the top left corner of this picture?", other_image), max_tokens=3)
        self.assertEqual(other.usage.prompt_tokens_details.cached_tokens, 0)

    def test_encoder_cache_serves_the_same_image_with_another_question(self):
        image = GOLDEN["opt_no_resize"]["images"][0]
        self.chat(question("how many shapes are there?", image), max_tokens=2)
        before = self.server.wait_kv_released()
        # Another first word changes the first block: the prefix cache misses and the encoder cache answers.
        r = self.chat(question("count the shapes, please", image), max_tokens=2)
        after = self.server.wait_kv_released()
        self.assertEqual(r.usage.prompt_tokens_details.cached_tokens, 0)
        self.assertEqual(after["mmrt_encoder_runs_total"], before["mmrt_encoder_runs_total"])
        self.assertEqual(after["mmrt_encoder_cache_hits_total"], before["mmrt_encoder_cache_hits_total"] + 1)

    def test_two_images_are_refused_with_a_clear_error(self):
        image = GOLDEN["opt_chat"]["images"][0]
        messages = question("compare them", image)
        messages[0]["content"].insert(0, {"type": "image_url", "image_url": {"url": image_url(image)}})
        with self.assertRaises(openai.BadRequestError) as e:
            self.chat(messages, max_tokens=2)
        self.assertIn("one image per prompt", str(e.exception))
        self.assertEqual(self.chat(question("what is this?", image), max_tokens=2).usage.completion_tokens, 2)


if __name__ == "__main__":
    unittest.main()
