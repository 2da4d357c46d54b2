// The binder's half for `preprocess: pdf_pages`: the image step reading a
// PDF step's pages is fed from the PDF step's column, the output gains
// `page_number`, and the read layout expands each input row into its pages
// (src/pdf/pdf_pages_filler.h).
#pragma once

#include <vector>

#include "exec/binder.h"
#include "nightshift/env.h"
#include "nightshift/job_spec.h"
#include "nightshift/source.h"

namespace nightshift::exec {

// The column `page_number` that pdf_pages adds to every output row.
inline constexpr char kPageNumberColumn[] = "page_number";

// True when `column` is page_number, or the pdf_pages step's `into` (the
// rendered page), and the job has a pdf_pages step: then output.keep may name
// it although no input has it.
bool MadeByPdfPages(const JobSpec& job, const std::string& column);

// True when output.keep names the pdf_pages step's `into`: each page is then
// also encoded as PNG, on the rendering threads, and written as a BLOB.
bool KeepsRenderedPage(const JobSpec& job);

// `step` as the input is read for it: an image step over a pdf_pages `into`
// reads the PDF step's column (paths or BLOBs); any other is itself.
ImageSpec ImageStepAsRead(const JobSpec& job, const ImageSpec& step);

// Adds the page_number output column when the job has a pdf_pages step,
// right after the kept columns (where output.keep may name it), then the
// rendered page's BLOB column when output.keep names it (KeepsRenderedPage).
// SchemaMismatch when its pages feed no model input, or with
// batch.sort_by_length (a PDF's pages stay in order). A database output's
// table is keyed by input.key and page_number (io/db_columns.h, TableKey).
Status BindPdfPages(const JobSpec& job, Binding* b);

// Gives the input bound to the pdf_pages step's image step its filler and
// sets the layout's expander. REQUIRES: after AttachImageFillers.
void AttachPdfFillers(const JobSpec& job, const std::vector<InputColumn>& cols, Env* env,
                      ReadLayout* layout);

}  // namespace nightshift::exec
