// ChatTemplate::from_dir looks where transformers looks: chat_template.jinja, chat_template.json,
// then tokenizer_config.json (a string, or the "default" entry of a list).
#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <random>
#include <string>

#include <boost/json.hpp>

#include "core/text/template/chat_template.hpp"

namespace {

using mmrt::text::ChatTemplate;
using mmrt::text::ChatTemplateError;
namespace fs = std::filesystem;

class TempDir {
 public:
  TempDir() {
    path_ = fs::temp_directory_path() / ("mmrt_chat_template_" + std::to_string(std::random_device{}()));
    fs::create_directories(path_);
  }
  ~TempDir() { fs::remove_all(path_); }
  const fs::path& path() const { return path_; }
  void write(const std::string& name, const std::string& text) const {
    std::ofstream(path_ / name, std::ios::binary) << text;
  }

 private:
  fs::path path_;
};

std::string json_text(const boost::json::value& v) {
  return boost::json::serialize(v);
}

const boost::json::array kMessages{boost::json::object{{"role", "user"}, {"content", "hi"}}};

std::string render_dir(const TempDir& dir) {
  return ChatTemplate::from_dir(dir.path()).render(kMessages, false);
}

}  // namespace

TEST_CASE("from_dir prefers chat_template.jinja, then chat_template.json, then tokenizer_config.json") {
  TempDir dir;
  dir.write("tokenizer_config.json",
            json_text({{"chat_template", "from tokenizer_config"}, {"eos_token", "</s>"}}));
  CHECK(render_dir(dir) == "from tokenizer_config");
  dir.write("chat_template.json", json_text({{"chat_template", "from chat_template.json"}}));
  CHECK(render_dir(dir) == "from chat_template.json");
  dir.write("chat_template.jinja", "from jinja {{ messages[0].content }}\n");
  CHECK(render_dir(dir) == "from jinja hi");
  CHECK(ChatTemplate::from_dir(dir.path()).origin() == (dir.path() / "chat_template.jinja").string());
}

TEST_CASE("from_dir takes the default entry of a list of named templates") {
  TempDir dir;
  boost::json::array templates{boost::json::object{{"name", "tool_use"}, {"template", "tools"}},
                               boost::json::object{{"name", "default"}, {"template", "default {{ 1 + 1 }}"}}};
  dir.write("tokenizer_config.json", json_text({{"chat_template", templates}}));
  CHECK(render_dir(dir) == "default 2");

  dir.write("tokenizer_config.json",
            json_text({{"chat_template",
                        boost::json::array{boost::json::object{{"name", "rag"}, {"template", "x"}}}}}));
  CHECK_THROWS_WITH_AS(ChatTemplate::from_dir(dir.path()), doctest::Contains("none is named \"default\""),
                       ChatTemplateError);
}

TEST_CASE("from_dir names the folder when there is no template") {
  TempDir dir;
  dir.write("tokenizer_config.json", json_text({{"eos_token", "</s>"}}));
  CHECK_THROWS_WITH_AS(ChatTemplate::from_dir(dir.path()), doctest::Contains(dir.path().string().c_str()),
                       ChatTemplateError);
  dir.write("chat_template.json", "{not json");
  CHECK_THROWS_WITH_AS(ChatTemplate::from_dir(dir.path()),
                       doctest::Contains("chat_template.json is not valid JSON"), ChatTemplateError);
}

TEST_CASE("errors in a template found by from_dir name its file") {
  TempDir dir;
  dir.write("chat_template.jinja", "ok\n{% include 'x' %}");
  CHECK_THROWS_WITH_AS(ChatTemplate::from_dir(dir.path()),
                       doctest::Contains(((dir.path() / "chat_template.jinja").string() + ":2:").c_str()),
                       ChatTemplateError);
}
