#include "post_processor.hpp"

#include "json_fields.hpp"
#include "tokenizer_error.hpp"

namespace mmrt::text {
namespace {

// A single-sequence template, e.g. [<s>] $A [</s>]: a list of id runs with the sequence slot between them.
class TemplateProcessing final : public PostProcessor {
 public:
  struct Item {
    bool is_sequence;
    std::vector<int32_t> ids;  // the special token's ids when !is_sequence
  };
  explicit TemplateProcessing(std::vector<Item> items) : items_(std::move(items)) {}
  void add_special_tokens(std::vector<int32_t>& ids) const override {
    std::vector<int32_t> out;
    out.reserve(ids.size() + 4);
    for (const auto& item : items_) {
      const auto& source = item.is_sequence ? ids : item.ids;
      out.insert(out.end(), source.begin(), source.end());
    }
    ids = std::move(out);
  }

 private:
  std::vector<Item> items_;
};

// Roberta and Bert: cls $A sep.
class ClsSepProcessing final : public PostProcessor {
 public:
  ClsSepProcessing(int32_t cls, int32_t sep) : cls_(cls), sep_(sep) {}
  void add_special_tokens(std::vector<int32_t>& ids) const override {
    ids.insert(ids.begin(), cls_);
    ids.push_back(sep_);
  }

 private:
  int32_t cls_;
  int32_t sep_;
};

class IdentityProcessing final : public PostProcessor {
 public:
  void add_special_tokens(std::vector<int32_t>&) const override {}
};

class SequenceProcessing final : public PostProcessor {
 public:
  explicit SequenceProcessing(std::vector<std::unique_ptr<PostProcessor>> steps) : steps_(std::move(steps)) {}
  void add_special_tokens(std::vector<int32_t>& ids) const override {
    for (const auto& step : steps_) step->add_special_tokens(ids);
  }

 private:
  std::vector<std::unique_ptr<PostProcessor>> steps_;
};

int32_t token_pair_id(const boost::json::object& object, std::string_view key, const std::string& path) {
  const std::string where = path + "." + std::string(key);
  const auto& pair = json::as_array(json::field(object, key, path), where);
  if (pair.size() != 2 || !pair[1].is_int64()) throw TokenizerError(where + ": expected [token, id]");
  return static_cast<int32_t>(pair[1].get_int64());
}

std::unique_ptr<PostProcessor> parse_template(const boost::json::object& object, const std::string& path) {
  const auto& special =
      json::as_object(json::field(object, "special_tokens", path), path + ".special_tokens");
  const auto& single = json::as_array(json::field(object, "single", path), path + ".single");
  std::vector<TemplateProcessing::Item> items;
  for (size_t i = 0; i < single.size(); ++i) {
    const std::string where = path + ".single[" + std::to_string(i) + "]";
    const auto& item = json::as_object(single[i], where);
    if (json::optional_field(item, "Sequence") != nullptr) {
      items.push_back({true, {}});
      continue;
    }
    const auto& token = json::as_object(json::field(item, "SpecialToken", where), where + ".SpecialToken");
    const std::string name = json::string_field(token, "id", where + ".SpecialToken");
    const auto* entry = special.if_contains(name);
    if (entry == nullptr)
      throw TokenizerError(where + ": special token '" + name + "' is not in special_tokens");
    const std::string entry_path = path + ".special_tokens." + name;
    const auto& ids = json::as_array(json::field(json::as_object(*entry, entry_path), "ids", entry_path),
                                     entry_path + ".ids");
    TemplateProcessing::Item special_item{false, {}};
    for (const auto& id : ids) {
      if (!id.is_int64()) throw TokenizerError(entry_path + ".ids: expected integers");
      special_item.ids.push_back(static_cast<int32_t>(id.get_int64()));
    }
    items.push_back(std::move(special_item));
  }
  return std::make_unique<TemplateProcessing>(std::move(items));
}

}  // namespace

std::unique_ptr<PostProcessor> parse_post_processor(const boost::json::value& value,
                                                    const std::string& path) {
  const auto& object = json::as_object(value, path);
  const std::string type = json::type_of(object, path);
  if (type == "TemplateProcessing") return parse_template(object, path);
  if (type == "BertProcessing" || type == "RobertaProcessing") {
    return std::make_unique<ClsSepProcessing>(token_pair_id(object, "cls", path),
                                              token_pair_id(object, "sep", path));
  }
  if (type == "ByteLevel") return std::make_unique<IdentityProcessing>();
  if (type == "Sequence") {
    const auto& items = json::as_array(json::field(object, "processors", path), path + ".processors");
    std::vector<std::unique_ptr<PostProcessor>> steps;
    for (size_t i = 0; i < items.size(); ++i) {
      steps.push_back(parse_post_processor(items[i], path + ".processors[" + std::to_string(i) + "]"));
    }
    return std::make_unique<SequenceProcessing>(std::move(steps));
  }
  throw TokenizerError(path + ": post-processor type '" + type + "' is not supported");
}

}  // namespace mmrt::text
