#pragma once
// Shared by the tokenizer tests: fixture paths, golden files and the streaming-decode reference.

#include <boost/json.hpp>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "core/text/tokenizer.hpp"

namespace mmrt::text::testing {

inline std::filesystem::path fixtures_dir() {
  return std::filesystem::path(MMRT_SOURCE_DIR) / "tests/fixtures/tokenizers";
}
inline std::filesystem::path refdata_dir() {
  return std::filesystem::path(MMRT_SOURCE_DIR) / "../shared/refdata/tokenizers";
}

inline boost::json::value read_json(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream buffer;
  buffer << in.rdbuf();
  return boost::json::parse(buffer.str());
}

inline std::vector<int32_t> to_ids(const boost::json::value& value) {
  std::vector<int32_t> ids;
  for (const auto& id : value.as_array()) ids.push_back(static_cast<int32_t>(id.as_int64()));
  return ids;
}

// Feeds ids one at a time and concatenates the deltas.
inline std::string stream_decode(const Tokenizer& tokenizer, const std::vector<int32_t>& ids,
                                 bool skip_special) {
  StreamingDetokenizer stream(tokenizer, skip_special);
  std::string text;
  for (int32_t id : ids) text += stream.push(id);
  text += stream.finish();
  return text;
}

}  // namespace mmrt::text::testing
