// libFuzzer target: parses arbitrary bytes as a chat template and renders it against a fixed
// conversation. Any outcome but success or ChatTemplateError is a bug; template_limits.hpp bounds
// time, memory and recursion so that no input can hang or exhaust the process.
// Seeds: tests/fuzz_seeds/fuzz_chat_template/ (hub templates and one-feature snippets).
#include <cstddef>
#include <cstdint>
#include <string>

#include <boost/json.hpp>

#include "core/text/template/chat_template.hpp"

namespace {

const boost::json::array& conversation() {
  static const boost::json::array messages = boost::json::parse(R"([
    {"role": "system", "content": "You are helpful."},
    {"role": "user", "content": [{"type": "image"}, {"type": "text", "text": "What is this? é 世界"}]},
    {"role": "assistant", "content": [{"type": "text", "text": "A cat."}],
     "tool_calls": [{"type": "function", "function": {"name": "f", "arguments": {"x": 1.5}}}]},
    {"role": "user", "content": "And <|im_end|> now?", "reasoning_content": null}
  ])")
                                                 .as_array();
  return messages;
}

const boost::json::object& extra() {
  static const boost::json::object variables = boost::json::parse(R"({
    "bos_token": "<s>", "eos_token": "</s>", "add_vision_id": true,
    "tools": [{"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}]
  })")
                                                   .as_object();
  return variables;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string source(reinterpret_cast<const char*>(data), size);
  try {
    const mmrt::text::ChatTemplate chat_template(source, "fuzz");
    chat_template.render(conversation(), true, extra());
    chat_template.render(boost::json::array{}, false);
  } catch (const mmrt::text::ChatTemplateError&) {
  }
  return 0;
}
