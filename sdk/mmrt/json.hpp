// A small JSON reader for checkpoint configs (config.json, preprocessor_config.json).
//
// Recursive descent over RFC 8259 plus what Python's json.dumps writes for non-finite floats (NaN,
// Infinity, -Infinity), since Hugging Face configs are written by Python. Objects keep their keys in file
// order; a repeated key resolves to its last occurrence, as in Python. Nesting is limited to kMaxDepth so a
// hostile file cannot exhaust the stack. Errors are sdk::Error(INVALID_ARGUMENT) naming the source, line
// and column: "config.json:3:17: expected ',' or '}' in object".
//
// `Reader` reads typed keys with the key path in every message ("text_config.hidden_size: expected an
// integer, got string"); a key whose value is null counts as absent, matching Python's `None` defaults.
#ifndef MMRT_SDK_JSON_HPP_
#define MMRT_SDK_JSON_HPP_

#include <charconv>
#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "mmrt/status.hpp"

namespace mmrt::sdk::json {

enum class Kind { null, boolean, number, string, array, object };

inline const char* kind_name(Kind kind) {
  switch (kind) {
    case Kind::null:
      return "null";
    case Kind::boolean:
      return "boolean";
    case Kind::number:
      return "number";
    case Kind::string:
      return "string";
    case Kind::array:
      return "array";
    case Kind::object:
      return "object";
  }
  return "?";
}

class Value {
 public:
  using Member = std::pair<std::string, Value>;

  Value() = default;
  static Value boolean(bool b) {
    Value v(Kind::boolean);
    v.bool_ = b;
    return v;
  }
  static Value number(double d) {
    Value v(Kind::number);
    v.number_ = d;
    return v;
  }
  static Value integer(int64_t i) {
    Value v(Kind::number);
    v.number_ = static_cast<double>(i);
    v.integer_ = i;
    v.is_integer_ = true;
    return v;
  }
  static Value string(std::string s) {
    Value v(Kind::string);
    v.string_ = std::move(s);
    return v;
  }
  static Value array(std::vector<Value> items) {
    Value v(Kind::array);
    v.array_ = std::move(items);
    return v;
  }
  static Value object(std::vector<Member> members) {
    Value v(Kind::object);
    v.object_ = std::move(members);
    return v;
  }

  Kind kind() const { return kind_; }
  bool is_null() const { return kind_ == Kind::null; }
  bool is_bool() const { return kind_ == Kind::boolean; }
  bool is_number() const { return kind_ == Kind::number; }
  bool is_string() const { return kind_ == Kind::string; }
  bool is_array() const { return kind_ == Kind::array; }
  bool is_object() const { return kind_ == Kind::object; }
  // A number with an integral value that fits int64 ("4096", and also "4096.0").
  bool is_integer() const {
    if (kind_ != Kind::number) return false;
    if (is_integer_) return true;
    return std::isfinite(number_) && std::trunc(number_) == number_ && std::fabs(number_) < 9.2e18;
  }

  bool as_bool() const { return expect(Kind::boolean).bool_; }
  double as_double() const { return expect(Kind::number).number_; }
  int64_t as_int() const {
    expect(Kind::number);
    if (is_integer_) return integer_;
    if (!is_integer()) throw Error(MMRT_STATUS_INVALID_ARGUMENT, str("expected an integer, got ", number_));
    return static_cast<int64_t>(number_);
  }
  const std::string& as_string() const { return expect(Kind::string).string_; }
  const std::vector<Value>& as_array() const { return expect(Kind::array).array_; }
  const std::vector<Member>& as_object() const { return expect(Kind::object).object_; }

  // The value of `key` (last occurrence), or NULL when this is not an object or has no such key.
  const Value* find(std::string_view key) const {
    if (kind_ != Kind::object) return nullptr;
    for (auto it = object_.rbegin(); it != object_.rend(); ++it) {
      if (it->first == key) return &it->second;
    }
    return nullptr;
  }

 private:
  explicit Value(Kind kind) : kind_(kind) {}
  const Value& expect(Kind kind) const {
    if (kind_ != kind) {
      throw Error(MMRT_STATUS_INVALID_ARGUMENT,
                  str("expected ", kind_name(kind), ", got ", kind_name(kind_)));
    }
    return *this;
  }

  Kind kind_ = Kind::null;
  bool bool_ = false;
  bool is_integer_ = false;
  double number_ = 0;
  int64_t integer_ = 0;
  std::string string_;
  std::vector<Value> array_;
  std::vector<Member> object_;
};

namespace detail {

class Parser {
 public:
  static constexpr int kMaxDepth = 256;

  Parser(std::string_view text, std::string_view source) : text_(text), source_(source) {}

  Value parse_document() {
    skip_space();
    Value v = parse_value(0);
    skip_space();
    if (pos_ != text_.size()) fail("unexpected text after the JSON value");
    return v;
  }

 private:
  [[noreturn]] void fail(std::string_view what) const {
    int64_t line = 1, column = 1;
    for (size_t i = 0; i < pos_ && i < text_.size(); ++i) {
      if (text_[i] == '\n') {
        ++line;
        column = 1;
      } else {
        ++column;
      }
    }
    throw Error(MMRT_STATUS_INVALID_ARGUMENT, str(source_, ":", line, ":", column, ": ", what));
  }

  bool at_end() const { return pos_ >= text_.size(); }
  char peek() const { return at_end() ? '\0' : text_[pos_]; }

  void skip_space() {
    while (!at_end() &&
           (text_[pos_] == ' ' || text_[pos_] == '\t' || text_[pos_] == '\n' || text_[pos_] == '\r')) {
      ++pos_;
    }
  }

  bool consume_word(std::string_view word) {
    if (text_.substr(pos_, word.size()) != word) return false;
    pos_ += word.size();
    return true;
  }

  Value parse_value(int depth) {
    if (depth > kMaxDepth) fail("nesting deeper than 256 levels");
    if (at_end()) fail("unexpected end of input, expected a value");
    char c = peek();
    if (c == '{') return parse_object(depth);
    if (c == '[') return parse_array(depth);
    if (c == '"') return Value::string(parse_string());
    if (consume_word("true")) return Value::boolean(true);
    if (consume_word("false")) return Value::boolean(false);
    if (consume_word("null")) return Value();
    if (consume_word("NaN")) return Value::number(std::numeric_limits<double>::quiet_NaN());
    if (consume_word("Infinity")) return Value::number(std::numeric_limits<double>::infinity());
    if (consume_word("-Infinity")) return Value::number(-std::numeric_limits<double>::infinity());
    if (c == '-' || (c >= '0' && c <= '9')) return parse_number();
    fail(str("unexpected character '", c, "', expected a value"));
  }

  Value parse_object(int depth) {
    ++pos_;  // '{'
    std::vector<Value::Member> members;
    skip_space();
    if (peek() == '}') {
      ++pos_;
      return Value::object(std::move(members));
    }
    while (true) {
      skip_space();
      if (peek() != '"') fail("expected a string key in object");
      std::string key = parse_string();
      skip_space();
      if (peek() != ':') fail("expected ':' after object key");
      ++pos_;
      skip_space();
      Value value = parse_value(depth + 1);
      members.emplace_back(std::move(key), std::move(value));
      skip_space();
      if (peek() == ',') {
        ++pos_;
        continue;
      }
      if (peek() == '}') {
        ++pos_;
        return Value::object(std::move(members));
      }
      fail("expected ',' or '}' in object");
    }
  }

  Value parse_array(int depth) {
    ++pos_;  // '['
    std::vector<Value> items;
    skip_space();
    if (peek() == ']') {
      ++pos_;
      return Value::array(std::move(items));
    }
    while (true) {
      skip_space();
      items.push_back(parse_value(depth + 1));
      skip_space();
      if (peek() == ',') {
        ++pos_;
        continue;
      }
      if (peek() == ']') {
        ++pos_;
        return Value::array(std::move(items));
      }
      fail("expected ',' or ']' in array");
    }
  }

  // RFC 8259 number grammar; the value is read with from_chars (locale-independent, correctly rounded).
  Value parse_number() {
    size_t start = pos_;
    bool integral = true, has_exponent = false, exponent_negative = false, integer_part_zero = false;
    if (peek() == '-') ++pos_;
    if (peek() == '0') {
      integer_part_zero = true;
      ++pos_;
    } else if (peek() >= '1' && peek() <= '9') {
      while (peek() >= '0' && peek() <= '9') ++pos_;
    } else {
      fail("expected a digit in number");
    }
    if (peek() == '.') {
      integral = false;
      ++pos_;
      if (!(peek() >= '0' && peek() <= '9')) fail("expected a digit after '.' in number");
      while (peek() >= '0' && peek() <= '9') ++pos_;
    }
    if (peek() == 'e' || peek() == 'E') {
      integral = false;
      has_exponent = true;
      ++pos_;
      exponent_negative = peek() == '-';
      if (peek() == '+' || peek() == '-') ++pos_;
      if (!(peek() >= '0' && peek() <= '9')) fail("expected a digit in number exponent");
      while (peek() >= '0' && peek() <= '9') ++pos_;
    }
    const char* first = text_.data() + start;
    const char* last = text_.data() + pos_;
    if (integral) {
      int64_t i = 0;
      auto [end, ec] = std::from_chars(first, last, i);
      if (ec == std::errc() && end == last) return Value::integer(i);
      // Too large for int64: keep it as a double, like Python would keep a big int's magnitude.
    }
    double d = 0;
    auto [end, ec] = std::from_chars(first, last, d);
    if (ec == std::errc::result_out_of_range) {
      // from_chars reports overflow and underflow alike; Python parses them as ±inf and ±0.
      bool negative = *first == '-';
      bool tiny = exponent_negative || (!has_exponent && integer_part_zero);
      double inf = std::numeric_limits<double>::infinity();
      d = tiny ? (negative ? -0.0 : 0.0) : (negative ? -inf : inf);
    } else if (ec != std::errc() || end != last) {
      fail("malformed number");
    }
    return Value::number(d);
  }

  static void append_utf8(std::string& out, uint32_t cp) {
    if (cp < 0x80) {
      out += static_cast<char>(cp);
    } else if (cp < 0x800) {
      out += static_cast<char>(0xC0 | (cp >> 6));
      out += static_cast<char>(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
      out += static_cast<char>(0xE0 | (cp >> 12));
      out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
      out += static_cast<char>(0x80 | (cp & 0x3F));
    } else {
      out += static_cast<char>(0xF0 | (cp >> 18));
      out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
      out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
      out += static_cast<char>(0x80 | (cp & 0x3F));
    }
  }

  uint32_t parse_hex4() {
    if (pos_ + 4 > text_.size()) fail("truncated \\u escape");
    uint32_t v = 0;
    for (int i = 0; i < 4; ++i) {
      char c = text_[pos_++];
      v <<= 4;
      if (c >= '0' && c <= '9') {
        v |= static_cast<uint32_t>(c - '0');
      } else if (c >= 'a' && c <= 'f') {
        v |= static_cast<uint32_t>(c - 'a' + 10);
      } else if (c >= 'A' && c <= 'F') {
        v |= static_cast<uint32_t>(c - 'A' + 10);
      } else {
        fail("invalid hex digit in \\u escape");
      }
    }
    return v;
  }

  // A string token; escapes decoded to UTF-8. A lone surrogate becomes U+FFFD, as lenient decoders do.
  std::string parse_string() {
    ++pos_;  // opening quote
    std::string out;
    while (true) {
      if (at_end()) fail("unterminated string");
      char c = text_[pos_++];
      if (c == '"') return out;
      if (static_cast<unsigned char>(c) < 0x20) fail("raw control character in string");
      if (c != '\\') {
        out += c;
        continue;
      }
      if (at_end()) fail("unterminated escape in string");
      char e = text_[pos_++];
      switch (e) {
        case '"':
          out += '"';
          break;
        case '\\':
          out += '\\';
          break;
        case '/':
          out += '/';
          break;
        case 'b':
          out += '\b';
          break;
        case 'f':
          out += '\f';
          break;
        case 'n':
          out += '\n';
          break;
        case 'r':
          out += '\r';
          break;
        case 't':
          out += '\t';
          break;
        case 'u': {
          uint32_t cp = parse_hex4();
          if (cp >= 0xD800 && cp <= 0xDBFF) {
            if (text_.substr(pos_, 2) == "\\u") {
              size_t save = pos_;
              pos_ += 2;
              uint32_t low = parse_hex4();
              if (low >= 0xDC00 && low <= 0xDFFF) {
                cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
              } else {
                pos_ = save;
                cp = 0xFFFD;
              }
            } else {
              cp = 0xFFFD;
            }
          } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
            cp = 0xFFFD;
          }
          append_utf8(out, cp);
          break;
        }
        default:
          --pos_;
          fail(str("invalid escape '\\", e, "' in string"));
      }
    }
  }

  std::string_view text_;
  std::string_view source_;
  size_t pos_ = 0;
};

}  // namespace detail

// Parses one JSON document; `source` names it in error messages ("config.json").
inline Value parse(std::string_view text, std::string_view source = "json") {
  return detail::Parser(text, source).parse_document();
}

// Typed access to one object's keys, with the key path in every error ("text_config.rope_theta").
class Reader {
 public:
  // `value` must outlive the reader. A null value reads as an empty object (every key absent).
  Reader(const Value& value, std::string path) : value_(&value), path_(std::move(path)) {
    if (!value.is_null() && !value.is_object()) {
      throw Error(MMRT_STATUS_INVALID_ARGUMENT,
                  str(where(), "expected an object, got ", kind_name(value.kind())));
    }
  }

  // The value of `key`, or NULL when it is absent or null.
  const Value* find(std::string_view key) const {
    const Value* v = value_->find(key);
    return (v == nullptr || v->is_null()) ? nullptr : v;
  }
  bool has(std::string_view key) const { return find(key) != nullptr; }

  int64_t get_int(std::string_view key, int64_t fallback) const {
    const Value* v = find(key);
    return v ? to_int(key, *v) : fallback;
  }
  double get_double(std::string_view key, double fallback) const {
    const Value* v = find(key);
    if (!v) return fallback;
    if (!v->is_number()) bad_type(key, "a number", *v);
    return v->as_double();
  }
  bool get_bool(std::string_view key, bool fallback) const {
    const Value* v = find(key);
    if (!v) return fallback;
    if (!v->is_bool()) bad_type(key, "a boolean", *v);
    return v->as_bool();
  }
  std::string get_string(std::string_view key, std::string_view fallback) const {
    const Value* v = find(key);
    if (!v) return std::string(fallback);
    if (!v->is_string()) bad_type(key, "a string", *v);
    return v->as_string();
  }
  int64_t require_int(std::string_view key) const {
    const Value* v = find(key);
    if (!v) throw Error(MMRT_STATUS_INVALID_ARGUMENT, str(where(key), "missing"));
    return to_int(key, *v);
  }
  // An int key that may also be a list of ints (e.g. vision_feature_layer).
  std::vector<int64_t> get_int_list(std::string_view key, std::vector<int64_t> fallback) const {
    const Value* v = find(key);
    if (!v) return fallback;
    if (v->is_number()) return {to_int(key, *v)};
    if (!v->is_array()) bad_type(key, "an integer or a list of integers", *v);
    std::vector<int64_t> out;
    for (const Value& item : v->as_array()) out.push_back(to_int(key, item));
    return out;
  }
  // The nested object `key` (an empty reader when it is absent or null).
  Reader child(std::string_view key) const {
    const Value* v = find(key);
    return Reader(v ? *v : null_value(), path_.empty() ? std::string(key) : str(path_, ".", key));
  }
  const std::string& path() const { return path_; }

  // Message prefix naming `key` under this reader's path.
  std::string where(std::string_view key = {}) const {
    if (key.empty()) return path_.empty() ? std::string() : str(path_, ": ");
    return path_.empty() ? str(key, ": ") : str(path_, ".", key, ": ");
  }

 private:
  static const Value& null_value() {
    static const Value kNull;
    return kNull;
  }
  [[noreturn]] void bad_type(std::string_view key, const char* expected, const Value& got) const {
    throw Error(MMRT_STATUS_INVALID_ARGUMENT,
                str(where(key), "expected ", expected, ", got ", kind_name(got.kind())));
  }
  int64_t to_int(std::string_view key, const Value& v) const {
    if (!v.is_integer()) bad_type(key, "an integer", v);
    return v.as_int();
  }

  const Value* value_;
  std::string path_;
};

}  // namespace mmrt::sdk::json

#endif  // MMRT_SDK_JSON_HPP_
