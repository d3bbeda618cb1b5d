// Renders the hub chat templates of tests/fixtures/corpus/chat_templates over the conversations of
// tests/fixtures/corpus/chat_template_goldens.json (written by tools/fixtures/make_corpus_goldens.py from
// transformers' renderer) and compares byte for byte; where transformers raises, mmrt must raise with the
// same message.
#include <doctest/doctest.h>

#include <ctime>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>

#include <boost/json.hpp>

#include "core/text/template/chat_template.hpp"

namespace {

using mmrt::text::ChatTemplate;
using mmrt::text::ChatTemplateError;

const std::filesystem::path kCorpus = std::filesystem::path(MMRT_SOURCE_DIR) / "tests/fixtures/corpus";

std::string read_text(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  REQUIRE_MESSAGE(in.good(), "cannot read " << path);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

std::string format_time(const std::string& format, const std::tm& time) {
  char buffer[256];
  const size_t n = std::strftime(buffer, sizeof buffer, format.c_str(), &time);
  return std::string(buffer, n);
}

// The golden with the dates of the generator's fixed clock replaced by today's, for templates that call
// strftime_now.
std::string with_todays_date(std::string expected, const boost::json::object& golden) {
  const auto* formats = golden.if_contains("strftime_formats");
  if (!formats) return expected;
  std::tm fixed{};
  std::istringstream(std::string(golden.at("fixed_now").as_string())) >>
      std::get_time(&fixed, "%Y-%m-%dT%H:%M:%S");
  const std::time_t now = std::time(nullptr);
  std::tm today{};
  localtime_r(&now, &today);
  for (const auto& format_value : formats->as_array()) {
    const std::string format(format_value.as_string());
    const std::string from = format_time(format, fixed), to = format_time(format, today);
    for (size_t at = expected.find(from); at != std::string::npos; at = expected.find(from, at + to.size())) {
      expected.replace(at, from.size(), to);
    }
  }
  return expected;
}

// "UndefinedError: 'x' is undefined" -> "'x' is undefined": the message without Python's exception type.
std::string message_of(const std::string& python_error) {
  const size_t colon = python_error.find(": ");
  return colon == std::string::npos ? python_error : python_error.substr(colon + 2);
}

}  // namespace

TEST_CASE("every corpus chat template renders as transformers renders it, or fails where it fails") {
  const boost::json::object goldens =
      boost::json::parse(read_text(kCorpus / "chat_template_goldens.json")).as_object();
  std::map<std::string, std::string> sources;
  std::set<std::string> conversations;
  int n_rendered = 0, n_errors = 0;
  for (const auto& case_value : goldens.at("cases").as_array()) {
    boost::json::object golden = case_value.as_object();
    golden["fixed_now"] = goldens.at("fixed_now");
    const std::string file(golden.at("template").as_string());
    const std::string conversation(golden.at("conversation").as_string());
    const bool add_generation_prompt = golden.at("add_generation_prompt").as_bool();
    CAPTURE(file);
    CAPTURE(conversation);
    CAPTURE(add_generation_prompt);
    conversations.insert(conversation);
    auto source = sources.find(file);
    if (source == sources.end())
      source = sources.emplace(file, read_text(kCorpus / "chat_templates" / file)).first;
    std::string rendered, error;
    try {
      rendered = ChatTemplate(source->second, file)
                     .render(golden.at("messages").as_array(), add_generation_prompt,
                             golden.at("extra").as_object());
    } catch (const ChatTemplateError& e) {
      error = e.what();
    }
    if (const auto* expected = golden.if_contains("expected")) {
      CHECK_MESSAGE(error.empty(), error);
      CHECK(rendered == with_todays_date(std::string(expected->as_string()), golden));
      ++n_rendered;
    } else {
      const std::string python_error(golden.at("error").as_string());
      CAPTURE(python_error);
      REQUIRE_MESSAGE(!error.empty(), "mmrt rendered a template that transformers rejects");
      CHECK(error.find("chat template " + file + ":") == 0);
      CHECK_MESSAGE(error.find(message_of(python_error)) != std::string::npos, error);
      ++n_errors;
    }
  }
  CHECK(sources.size() == 40);
  CHECK(conversations.size() == 7);
  CHECK(n_rendered + n_errors == 40 * 7 * 2);
  CHECK(n_rendered > 400);
}

TEST_CASE("the Jinja semantics the corpus needed render as transformers renders them") {
  const boost::json::object goldens =
      boost::json::parse(read_text(kCorpus / "chat_template_goldens.json")).as_object();
  const boost::json::array& features = goldens.at("features").as_array();
  CHECK(features.size() > 20);
  for (const auto& feature_value : features) {
    const boost::json::object& feature = feature_value.as_object();
    const std::string source(feature.at("source").as_string());
    CAPTURE(source);
    std::string rendered, error;
    try {
      rendered = ChatTemplate(source, "feature").render(boost::json::array{}, false);
    } catch (const ChatTemplateError& e) {
      error = e.what();
    }
    if (const auto* expected = feature.if_contains("expected")) {
      CHECK_MESSAGE(error.empty(), error);
      CHECK(rendered == std::string(expected->as_string()));
    } else {
      const std::string python_error(feature.at("error").as_string());
      CAPTURE(python_error);
      REQUIRE_MESSAGE(!error.empty(), "mmrt rendered a template that transformers rejects");
      CHECK_MESSAGE(error.find(message_of(python_error)) != std::string::npos, error);
    }
  }
}
