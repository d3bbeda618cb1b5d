#pragma once
// Evaluates a parsed chat template against its variables and returns the rendered text.
//
// Scoping follows Jinja: each for-loop iteration and each macro call gets a fresh scope whose
// assignments vanish when it ends (hence templates' `namespace()` for loop-carried state), while
// if-blocks share the enclosing scope. Every evaluation step, byte allocated and macro call is
// counted against template_limits.hpp, so a hostile template fails instead of hanging.
//
// Threading: render_template keeps all mutable state in the call; any number of threads may
// render the same ParsedTemplate at once.

#include <string>

#include "template_ast.hpp"
#include "template_value.hpp"

namespace mmrt::text::jinja {

// Throws ChatTemplateError "<origin>:<line>:<column>: <message>" on any evaluation error,
// including the template's own raise_exception(message).
std::string render_template(const ParsedTemplate& parsed, const ValueDict& variables);

}  // namespace mmrt::text::jinja
