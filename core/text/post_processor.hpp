#pragma once
// Post-processors of tokenizer.json ("post_processor"): TemplateProcessing, BertProcessing,
// RobertaProcessing, ByteLevel (offsets only: ids unchanged) and Sequence. They add the template's
// special tokens around a single sequence when add_special_tokens is true.
// Example (Llama-2, single "<s> $A"): [15043] -> [1, 15043].
// Immutable after parsing; safe to share between threads.

#include <boost/json.hpp>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace mmrt::text {

class PostProcessor {
 public:
  virtual ~PostProcessor() = default;
  // Rewrites the ids of one sequence with the special tokens added.
  virtual void add_special_tokens(std::vector<int32_t>& ids) const = 0;
};

std::unique_ptr<PostProcessor> parse_post_processor(const boost::json::value& value, const std::string& path);

}  // namespace mmrt::text
