#pragma once
// Renders Hugging Face chat templates (Jinja2) to prompt text, byte-identical to transformers'
// tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=...).
//
// For llava-hf/llava-1.5-7b-hf's template,
//   messages = [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": "What is this?"}]}]
//   render(messages, true) == "USER: <image>\nWhat is this? ASSISTANT:"
//
// The interpreter implements the Jinja subset hub templates use (see template_parser.hpp and
// template_builtins.hpp) under transformers' environment settings (trim_blocks, lstrip_blocks,
// tojson with ensure_ascii=False, raise_exception, strftime_now, namespace, loop controls).
// Anything outside the subset fails at construction with a ChatTemplateError naming the line
// (an unknown filter or test inside an if statement fails when it runs, as in Jinja); the
// interpreter never guesses. Rendering is bounded by template_limits.hpp.
//
// Threading: a ChatTemplate is immutable after construction; render() is const and may run
// concurrently from any number of threads.

#include <filesystem>
#include <memory>
#include <string>

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>

#include "template_error.hpp"

namespace mmrt::text {

namespace jinja {
struct ParsedTemplate;
}

// from_dir found no template at all (as opposed to one that does not compile).
class ChatTemplateNotFound : public ChatTemplateError {
 public:
  using ChatTemplateError::ChatTemplateError;
};

class ChatTemplate {
 public:
  // Finds the template in a checkpoint folder: chat_template.jinja, else chat_template.json's
  // "chat_template", else tokenizer_config.json's "chat_template" (the entry named "default" when
  // it is a list of {name, template}). Throws ChatTemplateNotFound naming the folder when none has one,
  // ChatTemplateError naming the file when the template does not compile.
  static ChatTemplate from_dir(const std::filesystem::path& dir);
  // A Jinja file (`mmrt serve --chat-template FILE`).
  static ChatTemplate from_file(const std::filesystem::path& path);

  // Parses source; origin names it in error messages (usually the file it came from).
  explicit ChatTemplate(std::string source, std::string origin);

  // messages: [{"role": ..., "content": "text" | [{"type": "text", "text": ...}, {"type": "image"}, ...]},
  // ...] extra: further template variables, as transformers passes them: the tokenizer's special tokens
  // (bos_token, eos_token, ...), tools, documents, add_vision_id, ... `tools` and `documents`
  // default to None as in transformers. `messages` and `add_generation_prompt` may not be in extra.
  // Throws ChatTemplateError on template errors, including the template's raise_exception().
  std::string render(const boost::json::array& messages, bool add_generation_prompt,
                     const boost::json::object& extra = {}) const;

  const std::string& source() const { return source_; }
  const std::string& origin() const { return origin_; }

 private:
  std::string source_;
  std::string origin_;
  std::shared_ptr<const jinja::ParsedTemplate> parsed_;
};

}  // namespace mmrt::text
