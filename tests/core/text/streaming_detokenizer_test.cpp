// StreamingDetokenizer: deltas never split a character and always add up to the one-shot decode.
#include <doctest/doctest.h>

#include <random>

#include "core/text/utf8.hpp"
#include "tokenizer_test_support.hpp"

namespace mmrt::text {
namespace {

bool is_valid_utf8(const std::string& text) {
  return !utf8::first_invalid_offset(text).has_value();
}

// Streams `ids`, checking each delta is whole UTF-8, and returns the concatenation.
std::string checked_stream(const Tokenizer& tokenizer, const std::vector<int32_t>& ids, bool skip) {
  StreamingDetokenizer stream(tokenizer, skip);
  std::string text;
  for (int32_t id : ids) {
    const std::string delta = stream.push(id);
    CHECK(is_valid_utf8(delta));
    text += delta;
  }
  text += stream.finish();
  return text;
}

TEST_CASE("random id sequences stream to the one-shot decode on every fixture") {
  std::mt19937 rng(7);
  for (const auto& entry : std::filesystem::directory_iterator(testing::fixtures_dir())) {
    if (!std::filesystem::exists(entry.path() / "tokenizer.json")) continue;
    const auto tokenizer = Tokenizer::from_dir(entry.path());
    INFO(entry.path().filename().string());
    std::uniform_int_distribution<int32_t> any_id(0, static_cast<int32_t>(tokenizer.vocab_size()) - 1);
    for (int trial = 0; trial < 40; ++trial) {
      std::vector<int32_t> ids(1 + rng() % 30);
      for (auto& id : ids) id = any_id(rng);
      for (bool skip : {false, true})
        CHECK(checked_stream(tokenizer, ids, skip) == tokenizer.decode(ids, skip));
    }
  }
}

TEST_CASE("byte-fallback runs are held until complete") {
  const auto llama = Tokenizer::from_dir(testing::fixtures_dir() / "llama2");
  // "中" is <0xE4><0xB8><0xAD> in Llama-2's byte fallback.
  const std::vector<int32_t> ids = {*llama.token_to_id("<0xE4>"), *llama.token_to_id("<0xB8>"),
                                    *llama.token_to_id("<0xAD>"), *llama.token_to_id("\xE2\x96\x81ok")};
  StreamingDetokenizer stream(llama, false);
  CHECK(stream.push(ids[0]).empty());
  CHECK(stream.push(ids[1]).empty());
  CHECK(stream.push(ids[2]).empty());
  const std::string first = stream.push(ids[3]);
  CHECK(first == "\xE4\xB8\xAD ok");
  CHECK(stream.finish().empty());
  // An invalid run decodes to one U+FFFD per byte, in both paths.
  const std::vector<int32_t> invalid = {*llama.token_to_id("<0x41>"), *llama.token_to_id("<0xE4>"),
                                        *llama.token_to_id("<0x42>"), *llama.token_to_id("\xE2\x96\x81ok")};
  CHECK(checked_stream(llama, invalid, false) == llama.decode(invalid));
}

TEST_CASE("clean-up spaces stream like the one-shot decode, contractions split over tokens included") {
  const auto t5 = Tokenizer::from_dir(testing::fixtures_dir() / "t5_small");
  // Pieces that make the clean-up patterns (" .", " n't", " ' ") straddle token boundaries.
  std::vector<int32_t> alphabet;
  for (const char* piece :
       {"\xE2\x96\x81", "'", "t", "n", ".", ",", "\xE2\x96\x81n", "s", "\xE2\x96\x81the", "e", "?"}) {
    if (const auto id = t5.token_to_id(piece)) alphabet.push_back(*id);
  }
  REQUIRE(alphabet.size() >= 8);
  std::mt19937 rng(11);
  for (int trial = 0; trial < 400; ++trial) {
    std::vector<int32_t> ids(1 + rng() % 16);
    for (auto& id : ids) id = alphabet[rng() % alphabet.size()];
    CHECK(checked_stream(t5, ids, true) == t5.decode(ids, true));
  }
}

}  // namespace
}  // namespace mmrt::text
