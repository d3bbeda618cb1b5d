#include "model.hpp"

#include "bpe_model.hpp"
#include "json_fields.hpp"
#include "tokenizer_error.hpp"
#include "unigram_model.hpp"

namespace mmrt::text {

std::unique_ptr<Model> parse_model(const boost::json::value& value, const std::string& path) {
  const auto& object = json::as_object(value, path);
  const std::string type = json::type_of(object, path);
  if (type == "BPE") return std::make_unique<BpeModel>(object, path);
  if (type == "Unigram") return std::make_unique<UnigramModel>(object, path);
  throw TokenizerError(path + ": model type '" + type + "' is not supported (supported: BPE, Unigram)");
}

}  // namespace mmrt::text
