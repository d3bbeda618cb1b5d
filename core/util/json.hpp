// Reading Hugging Face JSON files (config.json, preprocessor_config.json, ...) with errors that say where.
//
// A config value of the wrong type must fail with the file and the key path, not with a bare
// boost::system::system_error. JsonObjectView carries that location:
//   JsonObjectView config(read_json_object(dir / "config.json"), (dir / "config.json").string());
//   config.get_object("text_config").get_int("hidden_size", 4096)
// on {"text_config": {"hidden_size": "big"}} throws
//   JsonError("/m/config.json: text_config.hidden_size: expected an integer, got string").
#pragma once

#include <cstdint>
#include <filesystem>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include <boost/json.hpp>

namespace mmrt::util {

class JsonError : public std::runtime_error {
  using runtime_error::runtime_error;
};

// Reads `file` and parses it as one JSON object. Throws JsonError naming the file when it is missing,
// unreadable, not valid JSON (with the parser's message) or valid JSON that is not an object.
boost::json::object read_json_object(const std::filesystem::path& file);

// Typed read-only access to one JSON object. Absent keys and JSON null take the fallback (or throw, for the
// overloads without one); a present value of the wrong type always throws JsonError naming origin and key
// path. Holds a pointer: the viewed object must outlive the view. Cheap to copy; safe to share between
// threads.
class JsonObjectView {
 public:
  // `origin` names the source in messages (usually the file path); `path` is the dotted key prefix of
  // `object` inside it ("" for the top level).
  JsonObjectView(const boost::json::object& object, std::string origin, std::string path = {});

  const boost::json::object& object() const { return *object_; }
  // True when `key` is present and not null.
  bool contains(std::string_view key) const;

  int64_t get_int(std::string_view key) const;
  int64_t get_int(std::string_view key, int64_t fallback) const;
  // Accepts JSON integers too: Python writes 10000.0 and 10000 for the same float field.
  double get_double(std::string_view key) const;
  double get_double(std::string_view key, double fallback) const;
  bool get_bool(std::string_view key) const;
  bool get_bool(std::string_view key, bool fallback) const;
  std::string get_string(std::string_view key) const;
  std::string get_string(std::string_view key, std::string_view fallback) const;
  // Required arrays; every element must have the element type.
  std::vector<int64_t> get_int_list(std::string_view key) const;
  std::vector<double> get_double_list(std::string_view key) const;
  // The nested object at `key`, or a view of an empty object when absent or null.
  JsonObjectView get_object(std::string_view key) const;

  // "text_config.hidden_size": the key's path inside origin, for callers' own messages.
  std::string key_path(std::string_view key) const;
  // Throws JsonError "<origin>: <key path>: <message>", for checks the typed getters cannot make (enum
  // values).
  [[noreturn]] void fail(std::string_view key, std::string_view message) const;

 private:
  const boost::json::value* find(std::string_view key) const;  // nullptr when absent or null
  const boost::json::value& require(std::string_view key) const;
  int64_t to_int(const boost::json::value& value, std::string_view key) const;
  double to_double(const boost::json::value& value, std::string_view key) const;

  const boost::json::object* object_;
  std::string origin_;
  std::string path_;
};

}  // namespace mmrt::util
