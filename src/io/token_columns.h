// Token columns: the `preprocess: tokenize` steps run inside the Source's
// DuckDB as scalar functions, so that the columns they make
// (`<into>.input_ids`, `<into>.attention_mask`, `<into>.token_type_ids`,
// BIGINT[]) are input columns like any other: described, bound, fed to
// list inputs, padded per batch, sorted by length and counted against
// max_tokens by the machinery that already does so for list columns, and
// computed only when the job reads them.
//
// A text that cannot be tokenized (not UTF-8: a BLOB column) or is null
// gives null lists: the ColumnPacker makes that row a dead letter with
// TokenColumnNullReason's message.
#pragma once

#include <string>
#include <vector>

#include "io/duck.h"
#include "nightshift/env.h"
#include "nightshift/job_spec.h"

namespace nightshift::io {

// Loads each step's tokenizer.json (through `env`) and registers it in the
// connection's database as `ns_tokenize_<i>`. InvalidJob naming the step's
// key for a file that is missing, not a tokenizer nightshift can run, or a
// max_length too short for its special tokens.
Status InstallTokenizers(DuckConnection* conn, const std::vector<TokenizeSpec>& steps, Env* env);

// `relation` (a FROM-clause item) with the steps' columns added after its own.
std::string WithTokenColumns(const std::string& relation, const std::vector<TokenizeSpec>& steps);

// When `column` is a token column of one of `steps`: the dead-letter reason
// for a row where it is null; otherwise "".
std::string TokenColumnNullReason(const std::vector<TokenizeSpec>& steps,
                                  const std::string& column);

}  // namespace nightshift::io
