#include "core/util/json.hpp"

#include <cmath>
#include <fstream>
#include <limits>
#include <sstream>

namespace mmrt::util {
namespace {

std::string kind_name(const boost::json::value& value) {
  return std::string(boost::json::to_string(value.kind()));
}

const boost::json::object& empty_object() {
  static const boost::json::object empty;
  return empty;
}

}  // namespace

boost::json::object read_json_object(const std::filesystem::path& file) {
  std::error_code exists_error;
  if (!std::filesystem::is_regular_file(file, exists_error)) {
    throw JsonError(file.string() + ": file not found");
  }
  std::ifstream stream(file, std::ios::binary);
  std::ostringstream text;
  text << stream.rdbuf();
  if (!stream) throw JsonError(file.string() + ": cannot read file");

  boost::system::error_code parse_error;
  boost::json::value value = boost::json::parse(text.str(), parse_error);
  if (parse_error) throw JsonError(file.string() + ": invalid JSON: " + parse_error.message());
  if (!value.is_object()) {
    throw JsonError(file.string() + ": expected a JSON object at the top level, got " + kind_name(value));
  }
  return std::move(value.as_object());
}

JsonObjectView::JsonObjectView(const boost::json::object& object, std::string origin, std::string path)
    : object_(&object), origin_(std::move(origin)), path_(std::move(path)) {}

bool JsonObjectView::contains(std::string_view key) const {
  return find(key) != nullptr;
}

std::string JsonObjectView::key_path(std::string_view key) const {
  return path_.empty() ? std::string(key) : path_ + "." + std::string(key);
}

void JsonObjectView::fail(std::string_view key, std::string_view message) const {
  throw JsonError(origin_ + ": " + key_path(key) + ": " + std::string(message));
}

const boost::json::value* JsonObjectView::find(std::string_view key) const {
  const boost::json::value* value = object_->if_contains(key);
  return value == nullptr || value->is_null() ? nullptr : value;
}

const boost::json::value& JsonObjectView::require(std::string_view key) const {
  const boost::json::value* value = find(key);
  if (value == nullptr) fail(key, "required key is missing");
  return *value;
}

int64_t JsonObjectView::to_int(const boost::json::value& value, std::string_view key) const {
  if (value.is_int64()) return value.get_int64();
  if (value.is_uint64()) {
    if (value.get_uint64() > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
      fail(key, "integer " + std::to_string(value.get_uint64()) + " does not fit in int64");
    }
    return static_cast<int64_t>(value.get_uint64());
  }
  // Python may write an integer-valued float (2.0); anything else is a type error.
  if (value.is_double()) {
    double number = value.get_double();
    if (std::trunc(number) == number && std::abs(number) < 0x1p62) return static_cast<int64_t>(number);
    fail(key, "expected an integer, got " + boost::json::serialize(value));
  }
  fail(key, "expected an integer, got " + kind_name(value));
}

double JsonObjectView::to_double(const boost::json::value& value, std::string_view key) const {
  if (value.is_double()) return value.get_double();
  if (value.is_int64()) return static_cast<double>(value.get_int64());
  if (value.is_uint64()) return static_cast<double>(value.get_uint64());
  fail(key, "expected a number, got " + kind_name(value));
}

int64_t JsonObjectView::get_int(std::string_view key) const {
  return to_int(require(key), key);
}

int64_t JsonObjectView::get_int(std::string_view key, int64_t fallback) const {
  const boost::json::value* value = find(key);
  return value == nullptr ? fallback : to_int(*value, key);
}

double JsonObjectView::get_double(std::string_view key) const {
  return to_double(require(key), key);
}

double JsonObjectView::get_double(std::string_view key, double fallback) const {
  const boost::json::value* value = find(key);
  return value == nullptr ? fallback : to_double(*value, key);
}

bool JsonObjectView::get_bool(std::string_view key) const {
  const boost::json::value& value = require(key);
  if (!value.is_bool()) fail(key, "expected a boolean, got " + kind_name(value));
  return value.get_bool();
}

bool JsonObjectView::get_bool(std::string_view key, bool fallback) const {
  return contains(key) ? get_bool(key) : fallback;
}

std::string JsonObjectView::get_string(std::string_view key) const {
  const boost::json::value& value = require(key);
  if (!value.is_string()) fail(key, "expected a string, got " + kind_name(value));
  return std::string(value.get_string());
}

std::string JsonObjectView::get_string(std::string_view key, std::string_view fallback) const {
  return contains(key) ? get_string(key) : std::string(fallback);
}

std::vector<int64_t> JsonObjectView::get_int_list(std::string_view key) const {
  const boost::json::value& value = require(key);
  if (!value.is_array()) fail(key, "expected an array of integers, got " + kind_name(value));
  std::vector<int64_t> result;
  for (const boost::json::value& element : value.get_array()) result.push_back(to_int(element, key));
  return result;
}

std::vector<double> JsonObjectView::get_double_list(std::string_view key) const {
  const boost::json::value& value = require(key);
  if (!value.is_array()) fail(key, "expected an array of numbers, got " + kind_name(value));
  std::vector<double> result;
  for (const boost::json::value& element : value.get_array()) result.push_back(to_double(element, key));
  return result;
}

JsonObjectView JsonObjectView::get_object(std::string_view key) const {
  const boost::json::value* value = find(key);
  if (value == nullptr) return JsonObjectView(empty_object(), origin_, key_path(key));
  if (!value->is_object()) fail(key, "expected an object, got " + kind_name(*value));
  return JsonObjectView(value->get_object(), origin_, key_path(key));
}

}  // namespace mmrt::util
