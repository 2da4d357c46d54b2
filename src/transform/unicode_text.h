// The Unicode questions BERT's text rules ask, answered from utf8proc's
// tables (general categories, canonical decomposition, case mapping) rather
// than from tables of our own, with the definitions Hugging Face tokenizers
// uses (its Rust code: char::is_whitespace, unicode_categories' is_other and
// is_punctuation, char::to_lowercase).
//
// All functions are pure and thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace nightshift::transform {

// Decodes UTF-8 `text` into code points. Returns the byte offset of the
// first invalid sequence (overlong forms, surrogates and values past
// U+10FFFF are invalid), or -1 when the whole text is valid.
int64_t DecodeUtf8(std::string_view text, std::u32string* out);

// Appends `cp` to `out` as UTF-8. REQUIRES: cp is a Unicode scalar value.
void AppendUtf8(char32_t cp, std::string* out);

// Rust's char::is_whitespace (the White_Space property): Zs, Zl, Zp and the
// controls \t \n \v \f \r and U+0085.
bool IsWhitespace(char32_t cp);

// BERT's "control": a character of category Cc, Cf, Cs, Co or Cn other
// than \t, \n and \r (clean_text removes these).
bool IsBertControl(char32_t cp);

// BERT's punctuation: ASCII punctuation (which includes symbols such as $
// and ^) or any Unicode punctuation category (Pc Pd Ps Pe Pi Pf Po).
bool IsBertPunctuation(char32_t cp);

// The CJK ideograph blocks BERT surrounds with spaces.
bool IsCjkIdeograph(char32_t cp);

// Appends the canonical decomposition (NFD) of `cp` to `out`, leaving out
// nonspacing marks (category Mn): BERT's strip_accents.
void AppendStrippedOfAccents(char32_t cp, std::u32string* out);

// Appends the full lowercase mapping of `cp` (one code point, except U+0130
// which lowercases to "i" + U+0307, as Rust's char::to_lowercase does).
void AppendLowercase(char32_t cp, std::u32string* out);

}  // namespace nightshift::transform
