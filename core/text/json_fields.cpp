#include "json_fields.hpp"

#include "tokenizer_error.hpp"

namespace mmrt::text::json {

const boost::json::object& as_object(const boost::json::value& value, const std::string& path) {
  if (!value.is_object()) throw TokenizerError(path + ": expected an object");
  return value.get_object();
}

const boost::json::array& as_array(const boost::json::value& value, const std::string& path) {
  if (!value.is_array()) throw TokenizerError(path + ": expected an array");
  return value.get_array();
}

std::string as_string(const boost::json::value& value, const std::string& path) {
  if (!value.is_string()) throw TokenizerError(path + ": expected a string");
  return std::string(value.get_string());
}

const boost::json::value& field(const boost::json::object& object, std::string_view key,
                                const std::string& path) {
  const auto* value = object.if_contains(key);
  if (value == nullptr) throw TokenizerError(path + ": missing field '" + std::string(key) + "'");
  return *value;
}

const boost::json::value* optional_field(const boost::json::object& object, std::string_view key) {
  const auto* value = object.if_contains(key);
  if (value == nullptr || value->is_null()) return nullptr;
  return value;
}

std::string string_field(const boost::json::object& object, std::string_view key, const std::string& path) {
  return as_string(field(object, key, path), path + "." + std::string(key));
}

std::optional<std::string> optional_string_field(const boost::json::object& object, std::string_view key,
                                                 const std::string& path) {
  const auto* value = optional_field(object, key);
  if (value == nullptr) return std::nullopt;
  return as_string(*value, path + "." + std::string(key));
}

bool bool_field(const boost::json::object& object, std::string_view key, bool fallback,
                const std::string& path) {
  const auto* value = optional_field(object, key);
  if (value == nullptr) return fallback;
  if (!value->is_bool()) throw TokenizerError(path + "." + std::string(key) + ": expected true or false");
  return value->get_bool();
}

int64_t int_field(const boost::json::object& object, std::string_view key, const std::string& path) {
  const auto& value = field(object, key, path);
  if (value.is_int64()) return value.get_int64();
  if (value.is_uint64() && value.get_uint64() <= static_cast<uint64_t>(INT64_MAX)) {
    return static_cast<int64_t>(value.get_uint64());
  }
  throw TokenizerError(path + "." + std::string(key) + ": expected an integer");
}

double number(const boost::json::value& value, const std::string& path) {
  if (value.is_double()) return value.get_double();
  if (value.is_int64()) return static_cast<double>(value.get_int64());
  if (value.is_uint64()) return static_cast<double>(value.get_uint64());
  throw TokenizerError(path + ": expected a number");
}

std::string type_of(const boost::json::object& object, const std::string& path) {
  return string_field(object, "type", path);
}

}  // namespace mmrt::text::json
