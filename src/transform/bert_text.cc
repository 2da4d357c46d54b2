#include "transform/bert_text.h"

#include "transform/unicode_text.h"

namespace nightshift::transform {
namespace {

// After clean-up and CJK spacing, the accent and case steps of one character.
void AppendFolded(const BertNormalizerOptions& options, char32_t cp, std::u32string* out) {
  if (!options.strip_accents && !options.lowercase) {
    out->push_back(cp);
    return;
  }
  char32_t stripped_buf[1] = {cp};
  std::u32string stripped;
  std::u32string_view chars(stripped_buf, 1);
  if (options.strip_accents && cp >= 0x80) {
    AppendStrippedOfAccents(cp, &stripped);
    chars = stripped;
  }
  if (!options.lowercase) {
    out->append(chars);
    return;
  }
  for (char32_t c : chars) AppendLowercase(c, out);
}

}  // namespace

void BertNormalize(const BertNormalizerOptions& options, const std::u32string& text,
                   std::u32string* out) {
  out->reserve(out->size() + text.size());
  for (char32_t cp : text) {
    if (options.clean_text) {
      // The order matters: U+000B and U+0085 are both whitespace and
      // controls, and Hugging Face removes them.
      if (cp == 0 || cp == 0xFFFD || IsBertControl(cp)) continue;
      if (IsWhitespace(cp)) cp = ' ';
    }
    if (options.handle_chinese_chars && cp >= 0x3400 && IsCjkIdeograph(cp)) {
      out->push_back(' ');
      AppendFolded(options, cp, out);
      out->push_back(' ');
      continue;
    }
    AppendFolded(options, cp, out);
  }
}

void BertPreTokenize(const std::u32string& text,
                     const std::function<void(size_t begin, size_t end)>& word) {
  size_t start = 0;
  for (size_t i = 0; i < text.size(); ++i) {
    const char32_t cp = text[i];
    if (IsWhitespace(cp)) {
      if (i > start) word(start, i);
      start = i + 1;
    } else if (IsBertPunctuation(cp)) {
      if (i > start) word(start, i);
      word(i, i + 1);
      start = i + 1;
    }
  }
  if (text.size() > start) word(start, text.size());
}

}  // namespace nightshift::transform
