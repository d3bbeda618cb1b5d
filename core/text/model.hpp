#pragma once
// The vocabulary model of tokenizer.json ("model"): turns one pre-tokenized piece into ids.
// Implementations: BpeModel (bpe_model.hpp), UnigramModel (unigram_model.hpp).
// Thread-safety: encode may be called concurrently (implementations guard their caches).

#include <boost/json.hpp>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace mmrt::text {

enum class ModelKind { kBpe, kUnigram };

class Model {
 public:
  virtual ~Model() = default;
  virtual ModelKind kind() const = 0;
  // Appends the ids of `piece` (non-empty, valid UTF-8) to `out`.
  virtual void encode(std::string_view piece, std::vector<int32_t>& out) const = 0;
  virtual std::optional<int32_t> token_to_id(std::string_view token) const = 0;
  // nullptr when the model has no token with this id.
  virtual const std::string* id_to_token(int32_t id) const = 0;
  // One past the largest id of the model's own vocabulary.
  virtual int32_t id_end() const = 0;
};

// Throws TokenizerError naming `path` and the type for unsupported models (e.g. "WordLevel").
std::unique_ptr<Model> parse_model(const boost::json::value& value, const std::string& path);

}  // namespace mmrt::text
