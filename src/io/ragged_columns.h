// ragged_columns: writes the output columns whose rows differ in length
// (OutputColumn::length_index >= 0): lists (a text detector's boxes) and
// UTF-8 text (a recogniser's decoded string), from a padded [rows, longest]
// tensor and an int64 [rows] tensor of each row's length.
#pragma once

#include <duckdb.h>

#include "nightshift/row_batch.h"
#include "nightshift/sink.h"
#include "nightshift/status.h"

namespace nightshift::io {

// Writes column `c` of the batch rows `rows[0, n)` to rows [offset, offset + n)
// of `vec` (a LIST vector, or VARCHAR when c.is_text). Internal error when a
// length is negative or past its row's padded width.
Status WriteRaggedOutput(const OutputColumn& c, const RowBatch& batch, duckdb_vector vec,
                         const sel_t* rows, idx_t n, idx_t offset);

}  // namespace nightshift::io
