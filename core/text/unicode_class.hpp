#pragma once
// Unicode character classes with the meanings the Hugging Face `tokenizers` crate gives them (Rust's char
// methods and its regex classes), computed from utf8proc's tables.

namespace mmrt::text::unicode {

// Rust char::is_whitespace: the White_Space property.
bool is_whitespace(char32_t cp);
// Rust char::is_numeric: general categories Nd, Nl and No.
bool is_numeric(char32_t cp);
// Rust char::is_alphanumeric: letters and numbers.
bool is_alphanumeric(char32_t cp);
// Rust regex `\w`: letters, marks, decimal digits, connector punctuation, ZWJ and ZWNJ.
bool is_word(char32_t cp);
// ASCII punctuation or a Unicode P* category (the Punctuation pre-tokenizer's test).
bool is_punctuation(char32_t cp);
// General categories Mn, Mc and Me (the StripAccents normalizer's test).
bool is_mark(char32_t cp);

}  // namespace mmrt::text::unicode
