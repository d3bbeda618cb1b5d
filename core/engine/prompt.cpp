#include "core/engine/prompt.hpp"

#include <boost/json.hpp>
#include <stdexcept>

#include "core/text/template/chat_template.hpp"
#include "core/text/tokenizer.hpp"

namespace mmrt::engine {

std::string render_chat(const Model& model, const boost::json::array& messages) {
  const text::ChatTemplate* tmpl = model.chat_template();
  if (!tmpl) throw std::invalid_argument("model " + model.name() + " has no chat template");
  boost::json::object extra;
  for (const char* name : {"bos_token", "eos_token", "unk_token", "pad_token"}) {
    const std::string& value = model.tokenizer().special_token_string(name);
    if (!value.empty()) extra[name] = value;
  }
  try {
    return tmpl->render(messages, true, extra);
  } catch (const text::ChatTemplateError& e) {
    throw std::invalid_argument(std::string("chat template: ") + e.what());
  }
}

boost::json::array single_turn_messages(const std::string& text, size_t n_images) {
  boost::json::array content;
  for (size_t i = 0; i < n_images; ++i) content.push_back(boost::json::object{{"type", "image"}});
  content.push_back(boost::json::object{{"type", "text"}, {"text", text}});
  return boost::json::array{boost::json::object{{"role", "user"}, {"content", std::move(content)}}};
}

PreparedPrompt prepare_prompt(const Model& model, std::string text, const std::vector<image::Image>& images) {
  std::vector<std::shared_ptr<const ProcessedItem>> items;
  for (const auto& img : images) items.push_back(std::make_shared<ProcessedItem>(model.process_image(img)));
  return prepare_processed_prompt(model, std::move(text), std::move(items));
}

PreparedPrompt prepare_processed_prompt(const Model& model, std::string text,
                                        std::vector<std::shared_ptr<const ProcessedItem>> items) {
  PreparedPrompt out;
  // A rendered template that already starts with the BOS text must not get a second BOS, which is what
  // Transformers' processors do when add_special_tokens meets such a prompt.
  const std::string& bos = model.tokenizer().special_token_string("bos_token");
  const bool add_special = bos.empty() || text.compare(0, bos.size(), bos) != 0;
  std::vector<int32_t> ids = model.tokenizer().encode(text, add_special);
  std::vector<const ProcessedItem*> raw;
  for (const auto& item : items) raw.push_back(item.get());
  out.prompt = model.pad(ids, raw);
  out.items = std::move(items);
  out.text = std::move(text);
  return out;
}

}  // namespace mmrt::engine
