// Every golden case written by tools/fixtures/make_tokenizer_goldens.py (Hugging Face tokenizers and
// transformers) must match exactly: encode with and without special tokens, decode with and without
// skip_special_tokens, and the streaming decode must equal the one-shot decode.
#include <doctest/doctest.h>

#include "tokenizer_test_support.hpp"

namespace mmrt::text {
namespace {

using testing::read_json;
using testing::stream_decode;
using testing::to_ids;

struct GoldenTally {
  int n_cases = 0;
  int n_failed = 0;
};

void check_goldens(const Tokenizer& tokenizer, const std::filesystem::path& goldens_path,
                   const std::string& name) {
  const auto goldens = read_json(goldens_path).as_object();
  GoldenTally tally;
  CHECK_MESSAGE(tokenizer.vocab_size() == goldens.at("vocab_size").as_int64(), name);
  for (const auto& case_value : goldens.at("cases").as_array()) {
    const auto& c = case_value.as_object();
    const std::string text(c.at("text").as_string());
    const auto expected = to_ids(c.at("ids"));
    const auto expected_no_special = to_ids(c.at("ids_no_special"));
    const std::string decoded(c.at("decoded").as_string());
    const std::string decoded_skip(c.at("decoded_skip_special").as_string());
    INFO(name << " text: \"" << text << "\"");
    const auto ids = tokenizer.encode(text, true);
    const auto ids_no_special = tokenizer.encode(text, false);
    const bool ok = ids == expected && ids_no_special == expected_no_special &&
                    tokenizer.decode(expected, false) == decoded &&
                    tokenizer.decode(expected, true) == decoded_skip &&
                    stream_decode(tokenizer, expected, false) == decoded &&
                    stream_decode(tokenizer, expected, true) == decoded_skip;
    CHECK(ids == expected);
    CHECK(ids_no_special == expected_no_special);
    CHECK(tokenizer.decode(expected, false) == decoded);
    CHECK(tokenizer.decode(expected, true) == decoded_skip);
    CHECK(stream_decode(tokenizer, expected, false) == decoded);
    CHECK(stream_decode(tokenizer, expected, true) == decoded_skip);
    ++tally.n_cases;
    tally.n_failed += ok ? 0 : 1;
  }
  for (const auto& case_value : goldens.at("decode_cases").as_array()) {
    const auto& c = case_value.as_object();
    const auto ids = to_ids(c.at("ids"));
    const std::string decoded(c.at("decoded").as_string());
    const std::string decoded_skip(c.at("decoded_skip_special").as_string());
    INFO(name << " decode case of " << ids.size() << " ids");
    const bool ok = tokenizer.decode(ids, false) == decoded && tokenizer.decode(ids, true) == decoded_skip &&
                    stream_decode(tokenizer, ids, false) == decoded &&
                    stream_decode(tokenizer, ids, true) == decoded_skip;
    CHECK(tokenizer.decode(ids, false) == decoded);
    CHECK(tokenizer.decode(ids, true) == decoded_skip);
    CHECK(stream_decode(tokenizer, ids, false) == decoded);
    CHECK(stream_decode(tokenizer, ids, true) == decoded_skip);
    ++tally.n_cases;
    tally.n_failed += ok ? 0 : 1;
  }
  MESSAGE(name << ": " << tally.n_cases - tally.n_failed << "/" << tally.n_cases << " golden cases pass");
}

TEST_CASE("tokenizer matches Hugging Face on every fixture's golden cases") {
  int n_fixtures = 0;
  for (const auto& entry : std::filesystem::directory_iterator(testing::fixtures_dir())) {
    if (!std::filesystem::exists(entry.path() / "tokenizer.json")) continue;
    const std::string name = entry.path().filename().string();
    SUBCASE(name.c_str()) {
      check_goldens(Tokenizer::from_dir(entry.path()), entry.path() / "goldens.json", name);
    }
    ++n_fixtures;
  }
  CHECK(n_fixtures >= 10);
}

TEST_CASE("tokenizer matches Hugging Face on the full Qwen tokenizer") {
  const auto dir = testing::refdata_dir() / "qwen";
  if (!std::filesystem::exists(dir / "tokenizer.json")) {
    MESSAGE("skipped: " << dir.string() << " is absent");
    return;
  }
  check_goldens(Tokenizer::from_dir(dir), testing::fixtures_dir() / "qwen_full/goldens.json", "qwen_full");
}

}  // namespace
}  // namespace mmrt::text
