// mmrt tokenize / detokenize: the checkpoint's tokenizer alone, exactly as Transformers' tokenizer(text).
#include <boost/json.hpp>
#include <iostream>
#include <sstream>

#include "core/text/tokenizer.hpp"
#include "host/commands.hpp"
#include "host/runtime.hpp"

namespace mmrt::host {

int run_tokenize(const std::vector<std::string>& argv) {
  Args args("tokenize",
            {{"model", true, false, "model folder with tokenizer.json"},
             {"text", true, false, "text to tokenize"},
             {"file", true, false, "read the text from this file (bytes as they are)"},
             {"no-special", false, false, "add_special_tokens=False"},
             {"json", false, false, "print {\"ids\": [...]}"}},
            argv);
  if (args.flag("help")) {
    std::cout << args.usage();
    return 0;
  }
  setup_logging(args);
  if (!args.has("model")) throw UsageError("tokenize: --model is required");
  if (args.has("text") == args.has("file"))
    throw UsageError("tokenize: give exactly one of --text and --file");
  std::string text;
  if (args.has("file")) {
    const auto bytes = read_file(args.get("file"));
    text.assign(bytes.begin(), bytes.end());
  } else {
    text = args.get("text");
  }
  const auto tokenizer = text::Tokenizer::from_dir(args.get("model"));
  const std::vector<int32_t> ids = tokenizer.encode(text, !args.flag("no-special"));
  if (args.flag("json")) {
    std::cout << boost::json::serialize(boost::json::object{{"ids", boost::json::value_from(ids)}}) << "\n";
  } else {
    for (size_t i = 0; i < ids.size(); ++i) std::cout << (i ? " " : "") << ids[i];
    std::cout << "\n";
  }
  return 0;
}

int run_detokenize(const std::vector<std::string>& argv) {
  Args args("detokenize",
            {{"model", true, false, "model folder with tokenizer.json"},
             {"ids", true, true, "token ids, comma-separated"},
             {"skip-special", false, false, "drop special tokens from the text"},
             {"json", false, false, "print {\"text\": ...}"}},
            argv);
  if (args.flag("help")) {
    std::cout << args.usage();
    return 0;
  }
  setup_logging(args);
  if (!args.has("model")) throw UsageError("detokenize: --model is required");
  std::vector<int32_t> ids;
  for (const auto& s : args.list("ids")) {
    try {
      size_t used = 0;
      const long long v = std::stoll(s, &used);
      if (used != s.size() || v < INT32_MIN || v > INT32_MAX) throw std::invalid_argument(s);
      ids.push_back(int32_t(v));
    } catch (const std::exception&) {
      throw UsageError("detokenize: '" + s + "' is not a token id");
    }
  }
  const auto tokenizer = text::Tokenizer::from_dir(args.get("model"));
  const std::string text = tokenizer.decode(ids, args.flag("skip-special"));
  if (args.flag("json")) {
    std::cout << boost::json::serialize(boost::json::object{{"text", text}}) << "\n";
  } else {
    std::cout << text << "\n";
  }
  return 0;
}

}  // namespace mmrt::host
