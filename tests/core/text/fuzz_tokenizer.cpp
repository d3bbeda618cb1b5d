// libFuzzer target: arbitrary bytes through encode/decode of the Llama-2 (SentencePiece BPE, byte
// fallback) and GPT-2-style (byte-level BPE) fixtures.
// Invariants: invalid UTF-8 throws TokenizerError and nothing else; byte-level BPE round-trips any text
// that contains no added-token string; Llama-2 round-trips text without "▁" or added tokens; the
// streaming decode always equals the one-shot decode.
#include <cstdint>
#include <cstdlib>
#include <string>

#include "core/text/tokenizer.hpp"
#include "core/text/utf8.hpp"

namespace {

using mmrt::text::StreamingDetokenizer;
using mmrt::text::Tokenizer;

const Tokenizer& llama() {
  static const Tokenizer tokenizer = Tokenizer::from_dir(MMRT_SOURCE_DIR "/tests/fixtures/tokenizers/llama2");
  return tokenizer;
}
const Tokenizer& byte_level() {
  static const Tokenizer tokenizer =
      Tokenizer::from_dir(MMRT_SOURCE_DIR "/tests/fixtures/tokenizers/gpt2_small");
  return tokenizer;
}

void require(bool condition) {
  if (!condition) std::abort();
}

std::string stream(const Tokenizer& tokenizer, const std::vector<int32_t>& ids, bool skip) {
  StreamingDetokenizer detokenizer(tokenizer, skip);
  std::string text;
  for (int32_t id : ids) text += detokenizer.push(id);
  return text + detokenizer.finish();
}

void round_trip(const Tokenizer& tokenizer, const std::string& text, bool expect_identity) {
  const auto ids = tokenizer.encode(text, false);
  const std::string decoded = tokenizer.decode(ids, false);
  if (expect_identity) require(decoded == text);
  require(stream(tokenizer, ids, false) == decoded);
  const auto with_special = tokenizer.encode(text, true);
  require(stream(tokenizer, with_special, true) == tokenizer.decode(with_special, true));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  if (mmrt::text::utf8::first_invalid_offset(text)) {
    try {
      llama().encode(text);
    } catch (const mmrt::text::TokenizerError&) {
      return 0;
    }
    std::abort();
  }
  const bool has_added = text.find("<s>") != std::string::npos || text.find("</s>") != std::string::npos ||
                         text.find("<unk>") != std::string::npos;
  round_trip(llama(), text, !has_added && text.find("\xE2\x96\x81") == std::string::npos);
  round_trip(byte_level(), text, text.find("<|endoftext|>") == std::string::npos);
  return 0;
}
