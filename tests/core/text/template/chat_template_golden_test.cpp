// Renders every case of tests/fixtures/chat_templates/goldens.json (written by
// tools/fixtures/make_chat_template_goldens.py from transformers' renderer) and compares byte for byte.
#include <doctest/doctest.h>

#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <boost/json.hpp>

#include "core/text/template/chat_template.hpp"

namespace {

using mmrt::text::ChatTemplate;
using mmrt::text::ChatTemplateError;

boost::json::object load_goldens() {
  const std::string path = std::string(MMRT_SOURCE_DIR) + "/tests/fixtures/chat_templates/goldens.json";
  std::ifstream in(path, std::ios::binary);
  REQUIRE_MESSAGE(in.good(), "cannot read " << path);
  std::ostringstream text;
  text << in.rdbuf();
  return boost::json::parse(text.str()).as_object();
}

// The part of a Python exception message mmrt must reproduce: the text a template author wrote
// (raise_exception) and Jinja's undefined-variable messages.
std::string reproduced_message(const std::string& python_error) {
  for (const char* prefix : {"TemplateError: ", "UndefinedError: "}) {
    if (python_error.rfind(prefix, 0) == 0) return python_error.substr(std::string(prefix).size());
  }
  return "";
}

}  // namespace

TEST_CASE("chat templates render byte-identical to transformers") {
  const boost::json::object goldens = load_goldens();
  const boost::json::object& templates = goldens.at("templates").as_object();
  std::map<std::string, ChatTemplate> parsed;
  int n_rendered = 0;
  int n_errors = 0;
  for (const auto& case_value : goldens.at("cases").as_array()) {
    const boost::json::object& c = case_value.as_object();
    const std::string name(c.at("name").as_string());
    const std::string template_name(c.at("template").as_string());
    const std::string source(templates.at(template_name).at("source").as_string());
    CAPTURE(name);
    CAPTURE(source);
    const boost::json::array& messages = c.at("messages").as_array();
    const bool add_generation_prompt = c.at("add_generation_prompt").as_bool();
    const boost::json::object& extra = c.at("extra").as_object();
    if (const auto* expected = c.if_contains("expected")) {
      std::string rendered;
      try {
        auto it = parsed.find(template_name);
        if (it == parsed.end()) it = parsed.emplace(template_name, ChatTemplate(source, template_name)).first;
        rendered = it->second.render(messages, add_generation_prompt, extra);
      } catch (const ChatTemplateError& e) {
        FAIL_CHECK("unexpected error: " << e.what());
        continue;
      }
      CHECK(rendered == std::string(expected->as_string()));
      ++n_rendered;
    } else {
      const std::string python_error(c.at("error").as_string());
      CAPTURE(python_error);
      std::string message;
      try {
        ChatTemplate(source, template_name).render(messages, add_generation_prompt, extra);
      } catch (const ChatTemplateError& e) {
        message = e.what();
      }
      REQUIRE_MESSAGE(!message.empty(), "mmrt rendered a template that transformers rejects");
      CHECK(message.find("chat template " + template_name + ":") == 0);
      CHECK(message.find(reproduced_message(python_error)) != std::string::npos);
      ++n_errors;
    }
  }
  CHECK(n_rendered > 150);
  CHECK(n_errors > 10);
}

TEST_CASE("a parsed template renders the same from several threads") {
  const boost::json::object goldens = load_goldens();
  const boost::json::object& templates = goldens.at("templates").as_object();
  const ChatTemplate qwen(std::string(templates.at("qwen2_vl_instruct").at("source").as_string()),
                          "qwen2_vl");
  for (const auto& case_value : goldens.at("cases").as_array()) {
    const boost::json::object& c = case_value.as_object();
    if (c.at("template").as_string() != "qwen2_vl_instruct" || !c.contains("expected")) continue;
    const std::string expected(c.at("expected").as_string());
    std::vector<std::string> results(4);
    std::vector<std::thread> threads;
    for (auto& result : results) {
      threads.emplace_back([&, out = &result] {
        for (int i = 0; i < 20; ++i) {
          *out = qwen.render(c.at("messages").as_array(), c.at("add_generation_prompt").as_bool(),
                             c.at("extra").as_object());
        }
      });
    }
    for (auto& t : threads) t.join();
    for (const auto& result : results) CHECK(result == expected);
  }
}
