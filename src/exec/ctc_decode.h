// ctc_decode: greedy CTC decoding of a text recogniser's per-time-step class
// probabilities, with PaddleOCR's CTCLabelDecode semantics: the arg-max class
// of each time step; a class equal to the previous step's is dropped
// (repeats collapse), and so is the blank; the kept classes map to the
// alphabet; the score is the mean of the kept steps' maximum probability
// (0 when nothing is kept).
//
// Classes: `blank` (default 0) is the blank; the alphabet's symbols are the
// other classes in order; a model with one class more than blank + alphabet
// has a space as its last class (PaddleOCR's use_space_char).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "nightshift/env.h"
#include "nightshift/status.h"

namespace nightshift::exec {

// The alphabet file: one symbol per line (UTF-8), taken as written except for
// the line break ("\n" or "\r\n"); the last line needs no line break. An empty
// line is an error (it would make a class that decodes to nothing).
// InvalidJob naming `where`, the file and the line.
Result<std::vector<std::string>> ReadAlphabet(Env* env, const std::string& path,
                                              const std::string& where);

// Class index -> symbol for a model with `classes` classes, or an error
// message when the count matches neither alphabet + blank nor alphabet +
// blank + space.
Result<std::vector<std::string>> ClassSymbols(const std::vector<std::string>& alphabet,
                                              int64_t blank, int64_t classes,
                                              const std::string& where);

struct Decoded {
  std::string text;
  float score = 0;
};

// `probs` is [time, classes] row-major; `symbols` from ClassSymbols (the
// blank's entry is never used).
Decoded CtcDecodeRow(const float* probs, int64_t time, int64_t classes,
                     const std::vector<std::string>& symbols, int64_t blank);

}  // namespace nightshift::exec
