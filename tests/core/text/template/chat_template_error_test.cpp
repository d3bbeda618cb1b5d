// Unsupported or broken templates must fail with the template's name, line and column, never
// render a wrong prompt; hostile templates must hit a limit instead of hanging or crashing.
#include <doctest/doctest.h>

#include <string>

#include <boost/json.hpp>

#include "core/text/template/chat_template.hpp"

namespace {

using mmrt::text::ChatTemplate;
using mmrt::text::ChatTemplateError;

const boost::json::array kMessages{boost::json::object{{"role", "user"}, {"content", "hi"}}};

// The message of the error that parsing or rendering `source` throws, or "" when none does.
std::string error_of(const std::string& source, const boost::json::object& extra = {}) {
  try {
    ChatTemplate(source, "t.jinja").render(kMessages, true, extra);
  } catch (const ChatTemplateError& e) {
    return e.what();
  }
  return "";
}

bool contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

}  // namespace

TEST_CASE("syntax errors name the tag, the line and the column") {
  const std::string unknown = error_of("line one\n  {% frobnicate x %}");
  CHECK(contains(unknown, "chat template t.jinja:2:"));
  CHECK(contains(unknown, "unknown tag 'frobnicate'"));

  const std::string include = error_of("{% include 'other.jinja' %}");
  CHECK(contains(include, "t.jinja:1:4:"));
  CHECK(contains(include, "unsupported tag 'include'"));

  const std::string unclosed_for = error_of("a\nb\n{% for m in messages %}{{ m.content }}");
  CHECK(contains(unclosed_for, "t.jinja:3:1:"));
  CHECK(contains(unclosed_for, "'for' block is never closed"));
  CHECK(contains(unclosed_for, "endfor"));

  const std::string unclosed_if = error_of("{% if true %}x{% else %}y");
  CHECK(contains(unclosed_if, "'if' block is never closed"));

  CHECK(contains(error_of("x\n{{ messages[0].content"), "t.jinja:2:1: unclosed expression"));
  CHECK(contains(error_of("{# comment"), "unclosed comment"));
  CHECK(contains(error_of("{% raw %}never ends"), "unclosed raw block"));
  CHECK(contains(error_of("{{ 'never ends }}"), "unterminated string literal"));
  CHECK(contains(error_of("{% endif %}"), "unexpected 'endif'"));
  CHECK(contains(error_of("{% break %}"), "'break' outside of a for loop"));
  CHECK(contains(error_of("\n\n{{ x | frobnicate }}"), "t.jinja:3:8: No filter named 'frobnicate'."));
  CHECK(contains(error_of("{% for m in [] %}{{ m is frobnicated }}{% endfor %}"),
                 "No test named 'frobnicated'."));
  CHECK(contains(error_of("{{ 1 + }}"), "unexpected end of print statement"));
  CHECK(contains(error_of("{{ a $ b }}"), "unexpected character '$'"));
  CHECK(
      contains(error_of("{% for x in y recursive %}{% endfor %}"), "recursive for loops are not supported"));
  CHECK(contains(error_of("{{ f(*args) }}"), "*args and **kwargs"));
}

TEST_CASE(
    "unknown filters and tests inside if statements and conditional expressions fail only when they run") {
  // As in Jinja: such names are checked when the branch runs, everywhere else when the template loads.
  CHECK(
      ChatTemplate("{% if false %}{{ x | from_json }}{% elif false and x is frobnicated %}{% endif %}ok", "t")
          .render(kMessages, false) == "ok");
  CHECK(ChatTemplate("{{ 'a' if true else x | from_json }}", "t").render(kMessages, false) == "a");
  CHECK(contains(error_of("{% if true %}{{ 'x' | from_json }}{% endif %}"),
                 "No filter named 'from_json' found."));
  CHECK(contains(error_of("{% if x is frobnicated %}{% endif %}"), "No test named 'frobnicated' found."));
  // Loops, macros and blocks inside an if statement are checked when the template loads.
  CHECK_THROWS_WITH_AS(
      ChatTemplate("{% if false %}{% for m in [] %}{{ m | nope }}{% endfor %}{% endif %}", "t"),
      doctest::Contains("No filter named 'nope'."), ChatTemplateError);
  CHECK_THROWS_WITH_AS(
      ChatTemplate("{% if false %}{% macro f() %}{{ 1 | nope }}{% endmacro %}{% endif %}", "t"),
      doctest::Contains("No filter named 'nope'."), ChatTemplateError);
}

TEST_CASE("filter blocks and filtered block sets run their body through the filters") {
  CHECK(ChatTemplate("{% filter trim | upper %}  a {{ 'b' }}  {% endfilter %}|", "t")
            .render(kMessages, false) == "A B|");
  CHECK(ChatTemplate("{% filter replace('a', 'o') %}banana{% endfilter %}", "t").render(kMessages, false) ==
        "bonono");
  CHECK(ChatTemplate("{% set x | trim %}  padded  {% endset %}[{{ x }}]", "t").render(kMessages, false) ==
        "[padded]");
  CHECK(contains(error_of("{% filter trim %}never closed"), "'filter' block is never closed"));
  CHECK(contains(error_of("{% filter nope %}x{% endfilter %}"), "No filter named 'nope'."));
}

TEST_CASE("raise_exception surfaces the template's message with its location") {
  const std::string source =
      "{% for message in messages %}\n"
      "  {% if message.role != 'system' %}{{ raise_exception('Only system messages, got ' + message.role) }}"
      "{% endif %}\n"
      "{% endfor %}";
  const std::string message = error_of(source);
  CHECK(contains(message, "t.jinja:2:"));
  CHECK(contains(message, "Only system messages, got user"));
}

TEST_CASE("runtime errors name the line of the failing expression") {
  CHECK(contains(error_of("a\nb\n{{ nope.attribute }}"), "t.jinja:3:4: 'nope' is undefined"));
  CHECK(contains(error_of("{% set n = namespace() %}\n{% set n._private = 1 %}"), "t.jinja:2:"));
  CHECK(contains(error_of("{{ messages[0].content + 1 }}"), "can only concatenate str"));
  CHECK(contains(error_of("{{ 9223372036854775807 + 1 }}"), "integer overflow"));
}

TEST_CASE("extra variables may not replace messages or add_generation_prompt") {
  CHECK(contains(error_of("x", boost::json::object{{"messages", 1}}), "may not set 'messages'"));
  CHECK(contains(error_of("x", boost::json::object{{"add_generation_prompt", false}}), "may not set"));
}

TEST_CASE("hostile templates stop at a limit") {
  CHECK(contains(error_of("{% for i in range(2000) %}{% for j in range(2000) %}{% endfor %}{% endfor %}"),
                 "evaluation steps"));
  CHECK(contains(error_of("{{ range(100000000) }}"), "range() longer than"));
  CHECK(contains(error_of("{{ 'x' * 100000000000 }}"), "allocated more than"));
  CHECK(contains(error_of("{% set ns = namespace(s='xxxxxxxxxxxxxxxx') %}{% for i in range(40) %}"
                          "{% set ns.s = ns.s ~ ns.s %}{% endfor %}"),
                 "allocated more than"));
  CHECK(contains(error_of("{{ " + std::string(200, '(') + "1" + std::string(200, ')') + " }}"),
                 "nests deeper"));
  CHECK(contains(error_of(std::string(100, '-') + "{{ " + std::string(500, '-') + "1 }}"), "nests deeper"));
  CHECK(contains(error_of("{% macro f(n) %}{{ f(n + 1) }}{% endmacro %}{{ f(0) }}"),
                 "macro calls nest deeper"));
  CHECK(contains(error_of("{% set ns = namespace(l=[]) %}{% for i in range(100) %}{% set ns.l = [ns.l] %}"
                          "{% endfor %}{{ ns.l }}"),
                 "nest deeper than 64 levels"));
  CHECK(contains(error_of("{{ 2 ** 64 }}"), "integer overflow"));
}

TEST_CASE("a namespace that contains itself renders and is released") {
  CHECK(ChatTemplate("{% set ns = namespace(x=1) %}{% set ns.self = [ns] %}{{ ns.self | length }}", "t")
            .render(kMessages, false) == "1");
}

TEST_CASE("strftime_now formats the current time") {
  const std::string year = ChatTemplate("{{ strftime_now('%Y') }}", "t").render(kMessages, false);
  REQUIRE(year.size() == 4);
  CHECK(year >= "2024");
}
