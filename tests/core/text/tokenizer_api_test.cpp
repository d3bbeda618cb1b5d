// Loading errors, invalid input and the lookup API of mmrt::text::Tokenizer.
#include <doctest/doctest.h>

#include <atomic>
#include <fstream>
#include <functional>
#include <thread>

#include "tokenizer_test_support.hpp"

namespace mmrt::text {
namespace {

std::string error_of(const std::function<void()>& action) {
  try {
    action();
  } catch (const TokenizerError& e) {
    return e.what();
  }
  return "";
}

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

// The smallest tokenizer.json around one model/normalizer/pre-tokenizer object.
std::string minimal_json(const std::string& model, const std::string& normalizer = "null",
                         const std::string& pre_tokenizer = "null") {
  return R"({"version":"1.0","added_tokens":[],"normalizer":)" + normalizer + R"(,"pre_tokenizer":)" +
         pre_tokenizer + R"(,"post_processor":null,"decoder":null,"model":)" + model + "}";
}
const std::string kTinyBpe = R"({"type":"BPE","vocab":{"a":0,"b":1,"ab":2},"merges":["a b"]})";

TEST_CASE("loading errors name the file and the unsupported piece") {
  const auto missing = std::filesystem::temp_directory_path() / "mmrt_no_such_tokenizer_dir";
  CHECK(contains(error_of([&] { Tokenizer::from_dir(missing); }), (missing / "tokenizer.json").string()));

  CHECK(contains(error_of([] { Tokenizer::from_json("{not json", ""); }), "tokenizer.json: not valid JSON"));
  const std::string word_level = error_of(
      [] { Tokenizer::from_json(minimal_json(R"({"type":"WordLevel","vocab":{},"unk_token":"x"})"), ""); });
  CHECK(contains(word_level, "tokenizer.json"));
  CHECK(contains(word_level, "WordLevel"));
  const std::string normalizer = error_of([] {
    Tokenizer::from_json(
        minimal_json(kTinyBpe, R"({"type":"Sequence","normalizers":[{"type":"NFC"},{"type":"Fancy"}]})"), "");
  });
  CHECK(contains(normalizer, "normalizer.normalizers[1]"));
  CHECK(contains(normalizer, "Fancy"));
  CHECK(contains(
      error_of([] { Tokenizer::from_json(minimal_json(kTinyBpe, "null", R"({"type":"Bogus"})"), ""); }),
      "pre-tokenizer type 'Bogus'"));
  CHECK(contains(error_of([] { Tokenizer::from_json(minimal_json(kTinyBpe), "[1, 2"); }),
                 "tokenizer_config.json"));
  CHECK(contains(error_of([] {
                   Tokenizer::from_json(minimal_json(R"({"type":"BPE","vocab":{"a":0},"merges":["a b"]})"),
                                        "");
                 }),
                 "model.merges[0]"));

  // A directory with a broken tokenizer.json names that file.
  const auto dir = std::filesystem::temp_directory_path() / "mmrt_tokenizer_api_test_dir";
  std::filesystem::create_directories(dir);
  std::ofstream(dir / "tokenizer.json") << minimal_json(R"({"type":"WordPiece","vocab":{}})");
  const std::string from_dir = error_of([&] { Tokenizer::from_dir(dir); });
  CHECK(contains(from_dir, (dir / "tokenizer.json").string()));
  CHECK(contains(from_dir, "WordPiece"));
  std::filesystem::remove_all(dir);
}

TEST_CASE("invalid UTF-8 input to encode throws TokenizerError with the offset") {
  const auto tokenizer = Tokenizer::from_dir(testing::fixtures_dir() / "llama2");
  const std::string cases[] = {std::string("ab\xC3", 3), std::string("a\xFF"), std::string("x\xED\xA0\x80"),
                               std::string("\xF0\x9F\x98"), std::string("ok\xC0\xAF")};
  for (const auto& text : cases) {
    const std::string message = error_of([&] { tokenizer.encode(text); });
    CHECK(contains(message, "not valid UTF-8"));
    CHECK(contains(message, "offset"));
  }
  CHECK(contains(error_of([&] { tokenizer.encode(std::string("ab\xC3", 3)); }), "offset 2"));
}

TEST_CASE("lookups: token_to_id, id_to_token, is_special, config strings") {
  const auto tokenizer = Tokenizer::from_dir(testing::fixtures_dir() / "llama2");
  CHECK(tokenizer.token_to_id("<s>") == 1);
  CHECK(tokenizer.token_to_id("\xE2\x96\x81Hello") == 22557);  // values from tokenizers' token_to_id
  CHECK_FALSE(tokenizer.token_to_id("definitely not a token").has_value());
  CHECK(tokenizer.id_to_token(2) == "</s>");
  CHECK(tokenizer.id_to_token(22557) == "\xE2\x96\x81Hello");
  CHECK(contains(error_of([&] { tokenizer.id_to_token(32000); }), "32000"));
  CHECK(contains(error_of([&] { tokenizer.id_to_token(-1); }), "-1"));
  CHECK(tokenizer.is_special(1));
  CHECK_FALSE(tokenizer.is_special(22557));
  CHECK(tokenizer.special_token_string("bos_token") == "<s>");
  CHECK(tokenizer.special_token_string("eos_token") == "</s>");
  CHECK(tokenizer.special_token_string("pad_token").empty());
  CHECK(tokenizer.special_token_string("no_such_key").empty());
  CHECK(tokenizer.tokenizer_config().at("tokenizer_class").as_string() == "LlamaTokenizer");

  const auto qwen = Tokenizer::from_dir(testing::fixtures_dir() / "qwen2_small");
  const auto im_start = qwen.token_to_id("<|im_start|>");
  REQUIRE(im_start.has_value());
  CHECK(qwen.is_special(*im_start));
  CHECK(qwen.special_token_string("eos_token") == "<|im_end|>");
}

TEST_CASE("clean_up_tokenization applies the transformers replacements in order") {
  CHECK(clean_up_tokenization("Hello , world . Do n't ! I 'm sure ?") == "Hello, world. Don't! I'm sure?");
  // Later replacements see the output of earlier ones (Python's chained str.replace).
  CHECK(clean_up_tokenization("a  ' ve") == "a've");
  CHECK(clean_up_tokenization("do n ' t") == "don't");
}

TEST_CASE("copies share state and encode is usable from several threads") {
  const auto tokenizer = Tokenizer::from_dir(testing::fixtures_dir() / "gpt2_small");
  const Tokenizer copy = tokenizer;
  const std::string text = "The quick brown fox jumps over the lazy dog. 1234 \xE4\xB8\xAD\xE6\x96\x87";
  const auto expected = tokenizer.encode(text);
  std::vector<std::thread> threads;
  std::atomic<int> n_mismatch{0};
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 200; ++i) n_mismatch += copy.encode(text) != expected ? 1 : 0;
    });
  }
  for (auto& thread : threads) thread.join();
  CHECK(n_mismatch == 0);
}

}  // namespace
}  // namespace mmrt::text
