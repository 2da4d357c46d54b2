// Lossless PNG encoding of decoded pixels, for an image-valued output column
// (pdf_pages' rendered page kept by output.keep: docs/pdf.md). libpng's
// simplified write API, which reports errors as messages, not longjmp.
#pragma once

#include <string>

#include "image/pixels.h"
#include "nightshift/status.h"

namespace nightshift::image {

// `px` (gray or RGB, 8-bit) as a PNG file's bytes. InvalidData when the
// pixels are malformed or libpng fails.
Result<std::string> EncodePng(const Pixels& px);

}  // namespace nightshift::image
