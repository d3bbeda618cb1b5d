#include "tokenizer.hpp"

#include <fstream>
#include <sstream>
#include <unordered_map>

#include "added_vocabulary.hpp"
#include "decoder.hpp"
#include "json_fields.hpp"
#include "model.hpp"
#include "normalizer.hpp"
#include "post_processor.hpp"
#include "pre_tokenizer.hpp"
#include "utf8.hpp"
#include "vocab_map.hpp"

namespace mmrt::text {

struct Tokenizer::State {
  std::unique_ptr<Model> model;
  std::unique_ptr<Normalizer> normalizer;         // may be null
  std::unique_ptr<PreTokenizer> pre_tokenizer;    // may be null
  std::unique_ptr<PostProcessor> post_processor;  // may be null
  std::unique_ptr<Decoder> decoder;               // may be null: tokens are joined with spaces
  std::unique_ptr<AddedVocabulary> added;
  std::unordered_map<int32_t, const AddedToken*> added_by_id;
  VocabMap added_by_content;
  int64_t vocab_size = 0;
  bool clean_up_tokenization_spaces = false;
  boost::json::object config;
  std::unordered_map<std::string, std::string, StringHash, std::equal_to<>> special_strings;

  void read_config(const boost::json::object& config_object);
};

namespace {

std::string read_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw TokenizerError(path.string() + ": cannot open");
  std::ostringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

boost::json::value parse_json(std::string_view text, const std::string& name) {
  boost::system::error_code error;
  boost::json::value value = boost::json::parse(text, error);
  if (error) throw TokenizerError(name + ": not valid JSON: " + error.message());
  return value;
}

std::vector<AddedToken> parse_added_tokens(const boost::json::object& root) {
  std::vector<AddedToken> tokens;
  const auto* list = json::optional_field(root, "added_tokens");
  if (list == nullptr) return tokens;
  const auto& items = json::as_array(*list, "added_tokens");
  for (size_t i = 0; i < items.size(); ++i) {
    const std::string path = "added_tokens[" + std::to_string(i) + "]";
    const auto& item = json::as_object(items[i], path);
    AddedToken token;
    const int64_t id = json::int_field(item, "id", path);
    if (id < 0 || id > INT32_MAX) throw TokenizerError(path + ".id: out of range");
    token.id = static_cast<int32_t>(id);
    token.content = json::string_field(item, "content", path);
    token.special = json::bool_field(item, "special", false, path);
    token.lstrip = json::bool_field(item, "lstrip", false, path);
    token.rstrip = json::bool_field(item, "rstrip", false, path);
    token.normalized = json::bool_field(item, "normalized", !token.special, path);
    token.single_word = json::bool_field(item, "single_word", false, path);
    if (!token.content.empty()) tokens.push_back(std::move(token));
  }
  return tokens;
}

}  // namespace

void Tokenizer::State::read_config(const boost::json::object& config_object) {
  State& state = *this;
  state.config = config_object;
  const auto& config = config_object;
  for (const auto& entry : config) {
    const auto& value = entry.value();
    if (value.is_string()) {
      state.special_strings.emplace(std::string(entry.key()), std::string(value.get_string()));
    } else if (value.is_object()) {
      if (const auto* content = value.get_object().if_contains("content"); content && content->is_string()) {
        state.special_strings.emplace(std::string(entry.key()), std::string(content->get_string()));
      }
    }
  }
  // transformers 5 skips the clean-up for BPE models unless the long-named override is set.
  const bool clean_up = json::bool_field(config, "clean_up_tokenization_spaces", false, "tokenizer_config");
  const bool force_for_bpe =
      json::bool_field(config, "clean_up_tokenization_spaces_for_bpe_even_though_it_will_corrupt_output",
                       false, "tokenizer_config");
  state.clean_up_tokenization_spaces = clean_up && (state.model->kind() != ModelKind::kBpe || force_for_bpe);
}

std::shared_ptr<const Tokenizer::State> Tokenizer::load(std::string_view tokenizer_json,
                                                        std::string_view config_json,
                                                        const std::string& tokenizer_name,
                                                        const std::string& config_name) {
  auto state = std::make_shared<State>();
  const boost::json::value root_value = parse_json(tokenizer_json, tokenizer_name);
  try {
    const auto& root = json::as_object(root_value, "top level");
    state->model = parse_model(json::field(root, "model", "top level"), "model");
    if (const auto* v = json::optional_field(root, "normalizer"))
      state->normalizer = parse_normalizer(*v, "normalizer");
    if (const auto* v = json::optional_field(root, "pre_tokenizer")) {
      state->pre_tokenizer = parse_pre_tokenizer(*v, "pre_tokenizer");
    }
    if (const auto* v = json::optional_field(root, "post_processor")) {
      state->post_processor = parse_post_processor(*v, "post_processor");
    }
    if (const auto* v = json::optional_field(root, "decoder")) state->decoder = parse_decoder(*v, "decoder");
    state->added = std::make_unique<AddedVocabulary>(parse_added_tokens(root), state->normalizer.get());
  } catch (const TokenizerError& e) {
    throw TokenizerError(tokenizer_name + ": " + e.what());
  }
  for (const auto& token : state->added->tokens()) {
    state->added_by_id[token.id] = &token;
    state->added_by_content[token.content] = token.id;
  }
  int64_t n_ids = 0;
  for (int32_t id = 0; id < state->model->id_end(); ++id) {
    if (state->model->id_to_token(id) != nullptr) ++n_ids;
  }
  for (const auto& [id, token] : state->added_by_id) {
    if (state->model->id_to_token(id) == nullptr) ++n_ids;
  }
  state->vocab_size = n_ids;

  boost::json::object config;
  if (!config_json.empty()) {
    const boost::json::value config_value = parse_json(config_json, config_name);
    if (!config_value.is_object()) throw TokenizerError(config_name + ": expected a JSON object");
    config = config_value.get_object();
  }
  try {
    state->read_config(config);
  } catch (const TokenizerError& e) {
    throw TokenizerError(config_name + ": " + e.what());
  }
  return state;
}

Tokenizer Tokenizer::from_dir(const std::filesystem::path& dir) {
  const auto tokenizer_path = dir / "tokenizer.json";
  const auto config_path = dir / "tokenizer_config.json";
  const std::string tokenizer_json = read_file(tokenizer_path);
  const std::string config_json =
      std::filesystem::exists(config_path) ? read_file(config_path) : std::string();
  return Tokenizer(load(tokenizer_json, config_json, tokenizer_path.string(), config_path.string()));
}

Tokenizer Tokenizer::from_json(std::string_view tokenizer_json, std::string_view tokenizer_config_json) {
  return Tokenizer(load(tokenizer_json, tokenizer_config_json, "tokenizer.json", "tokenizer_config.json"));
}

std::vector<int32_t> Tokenizer::encode(std::string_view text, bool add_special_tokens) const {
  if (const auto offset = utf8::first_invalid_offset(text)) {
    throw TokenizerError("encode: the input is not valid UTF-8 (ill-formed byte 0x" +
                         [&] {
                           static const char* digits = "0123456789ABCDEF";
                           const auto b = static_cast<unsigned char>(text[*offset]);
                           return std::string{digits[b >> 4], digits[b & 15]};
                         }() +
                         " at offset " + std::to_string(*offset) + " of " + std::to_string(text.size()) +
                         ")");
  }
  const State& s = *state_;
  std::vector<int32_t> ids;
  ids.reserve(text.size() / 3 + 4);
  std::vector<PreToken> pre_tokens;
  for (auto& piece : s.added->extract_and_normalize(text, s.normalizer.get())) {
    if (piece.token_id >= 0) {
      ids.push_back(piece.token_id);
      continue;
    }
    pre_tokens.clear();
    pre_tokens.push_back({std::move(piece.text), piece.at_origin});
    if (s.pre_tokenizer) s.pre_tokenizer->pre_tokenize(pre_tokens);
    for (const auto& pre_token : pre_tokens) s.model->encode(pre_token.text, ids);
  }
  if (add_special_tokens && s.post_processor) s.post_processor->add_special_tokens(ids);
  return ids;
}

bool Tokenizer::decode_drops(int32_t id, bool skip_special_tokens) const {
  const State& s = *state_;
  const auto added = s.added_by_id.find(id);
  if (added != s.added_by_id.end()) return skip_special_tokens && added->second->special;
  return s.model->id_to_token(id) == nullptr;
}

std::string Tokenizer::decode_raw(std::span<const int32_t> ids, bool skip_special_tokens) const {
  const State& s = *state_;
  std::vector<std::string> tokens;
  tokens.reserve(ids.size());
  for (const int32_t id : ids) {
    if (decode_drops(id, skip_special_tokens)) continue;
    const auto added = s.added_by_id.find(id);
    tokens.push_back(added != s.added_by_id.end() ? added->second->decoded : *s.model->id_to_token(id));
  }
  std::string text;
  if (s.decoder) {
    s.decoder->decode_chain(tokens);
    for (const auto& token : tokens) text += token;
  } else {
    for (size_t i = 0; i < tokens.size(); ++i) {
      if (i > 0) text += ' ';
      text += tokens[i];
    }
  }
  return text;
}

std::string Tokenizer::decode(std::span<const int32_t> ids, bool skip_special_tokens) const {
  std::string text = decode_raw(ids, skip_special_tokens);
  return cleans_up_tokenization_spaces() ? clean_up_tokenization(text) : text;
}

bool Tokenizer::is_byte_fallback_token(int32_t id) const {
  if (state_->added_by_id.count(id) != 0) return false;
  const std::string* token = state_->model->id_to_token(id);
  return token != nullptr && is_byte_token(*token);
}

bool Tokenizer::cleans_up_tokenization_spaces() const {
  return state_->clean_up_tokenization_spaces;
}

std::optional<int32_t> Tokenizer::token_to_id(std::string_view token) const {
  const auto it = state_->added_by_content.find(token);
  if (it != state_->added_by_content.end()) return it->second;
  return state_->model->token_to_id(token);
}

std::string Tokenizer::id_to_token(int32_t id) const {
  const auto added = state_->added_by_id.find(id);
  if (added != state_->added_by_id.end()) return added->second->decoded;
  if (const std::string* token = state_->model->id_to_token(id)) return *token;
  throw TokenizerError("id_to_token: id " + std::to_string(id) + " has no token (vocab size " +
                       std::to_string(state_->vocab_size) + ")");
}

int64_t Tokenizer::vocab_size() const {
  return state_->vocab_size;
}

bool Tokenizer::is_special(int32_t id) const {
  const auto added = state_->added_by_id.find(id);
  return added != state_->added_by_id.end() && added->second->special;
}

const std::string& Tokenizer::special_token_string(std::string_view name) const {
  static const std::string empty;
  const auto it = state_->special_strings.find(name);
  return it == state_->special_strings.end() ? empty : it->second;
}

const boost::json::object& Tokenizer::tokenizer_config() const {
  return state_->config;
}

std::string clean_up_tokenization(std::string_view text) {
  static const std::pair<std::string_view, std::string_view> kReplacements[] = {
      {" .", "."},     {" ?", "?"},   {" !", "!"},   {" ,", ","},     {" ' ", "'"},
      {" n't", "n't"}, {" 'm", "'m"}, {" 's", "'s"}, {" 've", "'ve"}, {" 're", "'re"}};
  std::string current(text);
  for (const auto& [from, to] : kReplacements) {
    std::string next;
    next.reserve(current.size());
    size_t pos = 0;
    while (true) {
      const size_t found = current.find(from, pos);
      if (found == std::string::npos) break;
      next.append(current, pos, found - pos);
      next.append(to);
      pos = found + from.size();
    }
    next.append(current, pos, std::string::npos);
    current = std::move(next);
  }
  return current;
}

}  // namespace mmrt::text
