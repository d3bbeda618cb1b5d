#include "regex.hpp"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include "tokenizer_error.hpp"
#include "utf8.hpp"

namespace mmrt::text {
namespace {

// Per-thread match state: the match data only needs the overall match, and the JIT stack is larger than
// PCRE2's 32 KiB default so long runs of whitespace under `\s+(?!\S)` do not exhaust it.
struct ThreadMatchState {
  pcre2_match_data* match_data = pcre2_match_data_create(1, nullptr);
  pcre2_jit_stack* jit_stack = pcre2_jit_stack_create(64 * 1024, 4 * 1024 * 1024, nullptr);
  pcre2_match_context* context = pcre2_match_context_create(nullptr);
  ThreadMatchState() { pcre2_jit_stack_assign(context, nullptr, jit_stack); }
  ~ThreadMatchState() {
    pcre2_match_context_free(context);
    pcre2_jit_stack_free(jit_stack);
    pcre2_match_data_free(match_data);
  }
};

ThreadMatchState& thread_match_state() {
  thread_local ThreadMatchState state;
  return state;
}

}  // namespace

Regex::Regex(const std::string& pattern) : pattern_(pattern) {
  int error_code = 0;
  PCRE2_SIZE error_offset = 0;
  pcre2_code* code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pattern.data()), pattern.size(),
                                   PCRE2_UTF | PCRE2_UCP, &error_code, &error_offset, nullptr);
  if (code == nullptr) {
    PCRE2_UCHAR message[256];
    pcre2_get_error_message(error_code, message, sizeof(message));
    throw TokenizerError("regex pattern '" + pattern + "' does not compile at offset " +
                         std::to_string(error_offset) + ": " + reinterpret_cast<const char*>(message));
  }
  pcre2_jit_compile(code, PCRE2_JIT_COMPLETE);
  code_ = code;
}

Regex::~Regex() {
  pcre2_code_free(static_cast<pcre2_code*>(code_));
}

std::vector<ByteRange> Regex::find_all(std::string_view text) const {
  std::vector<ByteRange> out;
  find_all(text, out);
  return out;
}

void Regex::find_all(std::string_view text, std::vector<ByteRange>& out) const {
  auto& state = thread_match_state();
  auto* code = static_cast<pcre2_code*>(code_);
  const auto* subject = reinterpret_cast<PCRE2_SPTR>(text.data());
  size_t start = 0;
  while (start <= text.size()) {
    const int rc =
        pcre2_match(code, subject, text.size(), start, PCRE2_NO_UTF_CHECK, state.match_data, state.context);
    if (rc == PCRE2_ERROR_NOMATCH) return;
    if (rc < 0) {
      PCRE2_UCHAR message[256];
      pcre2_get_error_message(rc, message, sizeof(message));
      throw TokenizerError("regex '" + pattern_ + "' failed on a " + std::to_string(text.size()) +
                           "-byte input: " + reinterpret_cast<const char*>(message));
    }
    const PCRE2_SIZE* ovector = pcre2_get_ovector_pointer(state.match_data);
    const size_t match_start = ovector[0];
    const size_t match_end = ovector[1];
    if (match_end == match_start) {
      if (match_start >= text.size()) return;
      start = match_start + utf8::char_length(static_cast<unsigned char>(text[match_start]));
      continue;
    }
    out.emplace_back(match_start, match_end);
    start = match_end;
  }
}

}  // namespace mmrt::text
