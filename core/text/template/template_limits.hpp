#pragma once
// Hard limits that keep a hostile or broken chat template from crashing or hanging the server.
//
// Templates come from downloaded checkpoints, so they are untrusted input (the fuzz target
// fuzz_chat_template exercises these). Real chat templates stay far below every limit: the
// largest hub templates nest about 10 levels and evaluate a few thousand nodes per message.
// Exceeding a limit is an ordinary ChatTemplateError naming the limit and the template line.

#include <cstddef>
#include <cstdint>

namespace mmrt::text::jinja {

// Nesting of expressions and statements in the parsed template ((((x)))) or if-in-for-in-if),
// which bounds the recursion of the parser and of the evaluator.
inline constexpr int kMaxSyntaxDepth = 64;
// Nesting of list and dict values built at render time ([[[...]]]), which bounds the recursion
// of printing, comparison and tojson.
inline constexpr int kMaxValueDepth = 64;
// Nested macro calls (a macro may call itself).
inline constexpr int kMaxCallDepth = 16;
// Expression and statement evaluations per render: bounds the time of loops such as
// {% for i in range(10**6) %}{% for j in range(10**6) %}.
inline constexpr int64_t kMaxEvaluationSteps = 1'000'000;
// Bytes of strings and elements of lists created during one render, output included: bounds the
// memory of {% set ns.s = ns.s ~ ns.s %} doubling and of 'x' * 10**9.
inline constexpr int64_t kMaxAllocatedBytes = int64_t{256} << 20;
// Elements of range(); larger ranges are refused before anything is allocated.
inline constexpr int64_t kMaxRangeLength = 1'000'000;

}  // namespace mmrt::text::jinja
