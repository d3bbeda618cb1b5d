"""`mmrt serve` with the Qwen2-VL plugin, driven by the official openai client: a chat turn with two images
answers what Transformers generated for the same turn (tests/fixtures/qwen2_vl/goldens.json), and asking
again reuses the cached prompt pages (the images' included) with the same answer.
"""
import json
import os
import unittest

import openai

from server_harness import SOURCE_DIR, Server, user_message

FIXTURES = os.path.join(SOURCE_DIR, "tests", "fixtures", "qwen2_vl")
with open(os.path.join(FIXTURES, "goldens.json")) as f:
    GOLDEN = {case["name"]: case for case in json.load(f)}


class ServerQwen2VLTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.server = Server(model_path=os.path.join(FIXTURES, "qwen2_vl_hub")).__enter__()
        cls.client = cls.server.client()

    @classmethod
    def tearDownClass(cls):
        cls.server.__exit__(None, None, None)

    def test_chat_with_two_images_matches_golden_and_reuses_the_prefix(self):
        case = GOLDEN["hub_chat_two_images"]
        messages = user_message(case["chat_messages_text"], [os.path.join(FIXTURES, i) for i in case["images"]])
        model = self.client.models.list().data[0].id

        def ask():
            return self.client.chat.completions.create(model=model, messages=messages, temperature=0,
                                                       max_tokens=case["max_tokens"], logprobs=True, top_logprobs=5)

        first = ask()
        choice = first.choices[0]
        self.assertEqual(choice.message.content, case["text"])
        self.assertEqual(choice.finish_reason, case["finish_reason"])
        self.assertEqual(first.usage.prompt_tokens, len(case["prompt_token_ids"]))
        self.assertEqual(first.usage.completion_tokens, len(case["token_ids"]))
        for entry, golden_top in zip(choice.logprobs.content, case["top_logprobs"]):
            self.assertAlmostEqual(entry.logprob, golden_top[0][1], delta=2e-3)

        hits_before = self.server.metrics()["mmrt_prefix_cache_hits_total"]
        again = ask()
        self.assertEqual(again.choices[0].message.content, case["text"])
        self.assertGreater(self.server.metrics()["mmrt_prefix_cache_hits_total"], hits_before)

    def test_image_count_mismatch_is_a_client_error(self):
        messages = [{"role": "user", "content": "<|vision_start|><|image_pad|><|vision_end|>No image here."}]
        model = self.client.models.list().data[0].id
        with self.assertRaises(openai.BadRequestError):
            self.client.chat.completions.create(model=model, messages=messages, max_tokens=4)


if __name__ == "__main__":
    unittest.main()
