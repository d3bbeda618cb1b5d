#include "core/model/model_files.hpp"

#include <algorithm>
#include <limits>
#include <optional>

#include "core/model/model_error.hpp"

namespace mmrt::model {
namespace {

constexpr double kDefaultRopeTheta = 10000.0;  // Transformers' RotaryEmbeddingConfigMixin.default_theta

boost::json::object read_object(const std::filesystem::path& file) {
  try {
    return util::read_json_object(file);
  } catch (const util::JsonError& error) {
    throw ModelError(error.what());
  }
}

std::optional<boost::json::object> read_optional_object(const std::filesystem::path& file) {
  if (!std::filesystem::exists(file)) return std::nullopt;
  return read_object(file);
}

// An "eos_token_id" value: an int, a list of ints, or null/absent (nullopt).
std::optional<std::vector<int32_t>> eos_ids(const boost::json::object& object, const std::string& where) {
  const boost::json::value* value = object.if_contains("eos_token_id");
  if (value == nullptr || value->is_null()) return std::nullopt;
  auto to_id = [&](const boost::json::value& element) {
    bool valid = element.is_int64() && element.get_int64() >= 0 &&
                 element.get_int64() <= std::numeric_limits<int32_t>::max();
    if (!valid) {
      throw ModelError(where + ": eos_token_id must be a token id or a list of them, got " +
                       boost::json::serialize(*value));
    }
    return static_cast<int32_t>(element.get_int64());
  };
  std::vector<int32_t> ids;
  if (value->is_array()) {
    for (const boost::json::value& element : value->get_array()) ids.push_back(to_id(element));
  } else {
    ids.push_back(to_id(*value));
  }
  return ids;
}

}  // namespace

ModelFiles ModelFiles::load(const std::filesystem::path& dir) {
  ModelFiles files;
  files.dir = dir;
  std::filesystem::path config_file = dir / "config.json";
  files.config = read_object(config_file);
  files.generation_config =
      read_optional_object(dir / "generation_config.json").value_or(boost::json::object{});

  std::filesystem::path processor_file = dir / "processor_config.json";
  std::optional<boost::json::object> processor = read_optional_object(processor_file);
  files.has_processor_config = processor.has_value();
  files.processor_config = processor.value_or(boost::json::object{});
  files.has_tokenizer_config = std::filesystem::exists(dir / "tokenizer_config.json");

  const boost::json::value* nested = files.processor_config.if_contains("image_processor");
  if (nested != nullptr && !nested->is_null()) {
    if (!nested->is_object())
      throw ModelError(processor_file.string() + ": \"image_processor\" is not an object");
    files.preprocessor_config = nested->get_object();
    files.preprocessor_config_file = processor_file;
  } else if (auto legacy = read_optional_object(dir / "preprocessor_config.json")) {
    files.preprocessor_config = std::move(*legacy);
    files.preprocessor_config_file = dir / "preprocessor_config.json";
  }

  try {
    util::JsonObjectView config = files.config_view();
    if (config.contains("architectures")) {
      const boost::json::value& list = files.config.at("architectures");
      if (!list.is_array()) config.fail("architectures", "expected an array of strings");
      for (const boost::json::value& name : list.get_array()) {
        if (!name.is_string()) config.fail("architectures", "expected an array of strings");
        files.architectures.emplace_back(name.get_string());
      }
    }
    files.model_type = config.get_string("model_type", "");
  } catch (const util::JsonError& error) {
    throw ModelError(error.what());
  }

  std::optional<std::vector<int32_t>> eos =
      eos_ids(files.generation_config, (dir / "generation_config.json").string());
  if (!eos) eos = eos_ids(files.config, config_file.string());
  if (!eos) eos = eos_ids(files.sub_config("text_config"), config_file.string() + ": text_config");
  files.eos_token_ids = eos.value_or(std::vector<int32_t>{});
  return files;
}

boost::json::object ModelFiles::sub_config(std::string_view key) const {
  const boost::json::value* value = config.if_contains(key);
  if (value == nullptr || value->is_null()) return {};
  if (!value->is_object()) {
    throw ModelError((dir / "config.json").string() + ": \"" + std::string(key) + "\" is not an object");
  }
  return value->get_object();
}

util::JsonObjectView ModelFiles::config_view() const {
  return util::JsonObjectView(config, (dir / "config.json").string());
}

boost::json::object normalize_rope(const boost::json::object& sub, std::string_view origin) {
  auto fail = [&](const std::string& message) { return ModelError(std::string(origin) + ": " + message); };
  boost::json::object result = sub;
  boost::json::object params;
  for (std::string_view key : {"rope_parameters", "rope_scaling"}) {
    const boost::json::value* value = sub.if_contains(key);
    if (value == nullptr || value->is_null()) continue;
    if (!value->is_object()) throw fail("\"" + std::string(key) + "\" must be an object or null");
    params = value->get_object();
    break;
  }
  result.erase("rope_parameters");

  // RoPE parameters are numbers, strings and arrays; an object value means one dict per layer type.
  bool nested_by_layer_type =
      std::any_of(params.begin(), params.end(), [](const auto& item) { return item.value().is_object(); });
  if (nested_by_layer_type) throw fail("rope_parameters nested by layer type are not supported");

  double theta = kDefaultRopeTheta;
  util::JsonObjectView top(sub, std::string(origin));
  util::JsonObjectView inner(params, std::string(origin), "rope_parameters");
  try {
    theta =
        inner.contains("rope_theta") ? inner.get_double("rope_theta") : top.get_double("rope_theta", theta);
  } catch (const util::JsonError& error) {
    throw ModelError(error.what());
  }
  params.erase("rope_theta");
  // emplace() keeps an existing key: an explicit v5 value wins over the v4 one.
  if (auto type = params.find("type"); type != params.end()) {
    boost::json::value type_name = type->value();
    params.erase(type);
    params.emplace("rope_type", std::move(type_name));
  }
  if (auto factor = params.find("partial_rotary_factor"); factor != params.end()) {
    result.emplace("partial_rotary_factor", factor->value());
    params.erase(factor);
  }
  params.emplace("rope_type", "default");
  const boost::json::value& rope_type = params.at("rope_type");
  bool plain = params.size() == 1 && rope_type.is_string() && rope_type.get_string() == "default";

  result["rope_theta"] = theta;
  result["rope_scaling"] = plain ? boost::json::value(nullptr) : boost::json::value(std::move(params));
  return result;
}

}  // namespace mmrt::model
