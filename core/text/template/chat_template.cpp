#include "chat_template.hpp"

#include <fstream>
#include <sstream>

#include <boost/json/parse.hpp>

#include "template_ast.hpp"
#include "template_parser.hpp"
#include "template_renderer.hpp"

namespace mmrt::text {
namespace {

std::string read_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw ChatTemplateError("chat template: cannot read " + path.string());
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

boost::json::object read_json_object(const std::filesystem::path& path) {
  boost::system::error_code ec;
  boost::json::value json = boost::json::parse(read_file(path), ec);
  if (ec) throw ChatTemplateError("chat template: " + path.string() + " is not valid JSON: " + ec.message());
  if (!json.is_object()) throw ChatTemplateError("chat template: " + path.string() + " is not a JSON object");
  return std::move(json.as_object());
}

// tokenizer_config.json's "chat_template" is a string, or a list of {"name", "template"} of
// which transformers uses "default" when no name is asked for.
std::string template_from_field(const boost::json::value& field, const std::filesystem::path& path) {
  if (field.is_string()) return std::string(field.get_string());
  if (field.is_array()) {
    for (const auto& entry : field.get_array()) {
      const auto* object = entry.if_object();
      if (!object) continue;
      const auto* name = object->if_contains("name");
      const auto* text = object->if_contains("template");
      if (name && name->is_string() && name->get_string() == "default" && text && text->is_string()) {
        return std::string(text->get_string());
      }
    }
    throw ChatTemplateError("chat template: " + path.string() +
                            " lists several chat templates and none is named \"default\"");
  }
  throw ChatTemplateError("chat template: " + path.string() +
                          ": \"chat_template\" must be a string or a list of {name, template}");
}

// transformers copies a message's reasoning to `thinking` and `reasoning_content` before
// rendering (_alias_reasoning_fields), so templates may read either name.
boost::json::value alias_reasoning_fields(const boost::json::value& message) {
  const auto* object = message.if_object();
  if (!object) return message;
  const boost::json::value* reasoning = nullptr;
  for (const char* key : {"reasoning_content", "thinking", "reasoning"}) {
    const auto* v = object->if_contains(key);
    if (v && !v->is_null()) {
      reasoning = v;
      break;
    }
  }
  if (!reasoning) return message;
  boost::json::object aliased;
  aliased["thinking"] = *reasoning;
  for (const auto& [key, value] : *object) aliased[key] = value;
  aliased["thinking"] = *reasoning;
  aliased["reasoning_content"] = *reasoning;
  return aliased;
}

}  // namespace

ChatTemplate ChatTemplate::from_dir(const std::filesystem::path& dir) {
  const auto jinja_path = dir / "chat_template.jinja";
  if (std::filesystem::exists(jinja_path)) return ChatTemplate(read_file(jinja_path), jinja_path.string());
  const auto json_path = dir / "chat_template.json";
  if (std::filesystem::exists(json_path)) {
    const boost::json::object config = read_json_object(json_path);
    if (const auto* field = config.if_contains("chat_template")) {
      return ChatTemplate(template_from_field(*field, json_path), json_path.string());
    }
  }
  const auto tokenizer_config_path = dir / "tokenizer_config.json";
  if (std::filesystem::exists(tokenizer_config_path)) {
    const boost::json::object config = read_json_object(tokenizer_config_path);
    if (const auto* field = config.if_contains("chat_template"); field && !field->is_null()) {
      return ChatTemplate(template_from_field(*field, tokenizer_config_path), tokenizer_config_path.string());
    }
  }
  throw ChatTemplateNotFound(
      "chat template: no chat template in " + dir.string() +
      " (looked for chat_template.jinja, chat_template.json and tokenizer_config.json's "
      "\"chat_template\")");
}

ChatTemplate ChatTemplate::from_file(const std::filesystem::path& path) {
  return ChatTemplate(read_file(path), path.string());
}

ChatTemplate::ChatTemplate(std::string source, std::string origin)
    : source_(std::move(source)), origin_(std::move(origin)) {
  parsed_ = std::make_shared<const jinja::ParsedTemplate>(jinja::parse_template(source_, origin_));
}

std::string ChatTemplate::render(const boost::json::array& messages, bool add_generation_prompt,
                                 const boost::json::object& extra) const {
  using jinja::Value;
  jinja::ValueDict variables;
  boost::json::array aliased;
  aliased.reserve(messages.size());
  for (const auto& message : messages) aliased.push_back(alias_reasoning_fields(message));
  try {
    variables.set("messages", Value::from_json(aliased));
    variables.set("tools", Value::none());
    variables.set("documents", Value::none());
    variables.set("add_generation_prompt", Value::boolean(add_generation_prompt));
    for (const auto& [key, value] : extra) {
      if (key == "messages" || key == "add_generation_prompt") {
        throw ChatTemplateError("chat template " + origin_ + ": extra variables may not set '" +
                                std::string(key) + "'");
      }
      variables.set(std::string(key), Value::from_json(value));
    }
  } catch (const jinja::TemplateRuntimeError& e) {
    throw ChatTemplateError("chat template " + origin_ + ": cannot use the messages: " + e.what());
  }
  return jinja::render_template(*parsed_, variables);
}

}  // namespace mmrt::text
