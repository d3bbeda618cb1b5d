#pragma once
// Typed access to tokenizer.json fields. Every error names the dotted path of the field (for example
// "normalizer.normalizers[1].pattern") so the caller only has to add the file name.

#include <boost/json.hpp>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace mmrt::text::json {

const boost::json::object& as_object(const boost::json::value& value, const std::string& path);
const boost::json::array& as_array(const boost::json::value& value, const std::string& path);
std::string as_string(const boost::json::value& value, const std::string& path);

const boost::json::value& field(const boost::json::object& object, std::string_view key,
                                const std::string& path);
// nullptr when the key is absent or null.
const boost::json::value* optional_field(const boost::json::object& object, std::string_view key);

std::string string_field(const boost::json::object& object, std::string_view key, const std::string& path);
std::optional<std::string> optional_string_field(const boost::json::object& object, std::string_view key,
                                                 const std::string& path);
bool bool_field(const boost::json::object& object, std::string_view key, bool fallback,
                const std::string& path);
int64_t int_field(const boost::json::object& object, std::string_view key, const std::string& path);
double number(const boost::json::value& value, const std::string& path);

// The "type" of a component object, e.g. "BPE" or "Sequence".
std::string type_of(const boost::json::object& object, const std::string& path);

}  // namespace mmrt::text::json
