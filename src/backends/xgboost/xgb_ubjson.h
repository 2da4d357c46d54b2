// A bounds-checked structural check of UBJSON documents, run before XGBoost
// parses a model in that format. Internal to the xgboost backend.
//
// XGBoost 1.7's UBJSON reader (xgboost::UBJReader) trusts the lengths it
// reads: a truncated or corrupt .ubj file makes it read past the end of its
// buffer (found with AddressSanitizer), which can crash the process instead
// of failing the load. This check walks the same grammar with bounds checks,
// so such a file is refused with a ModelError first.
#pragma once

#include <string_view>

#include "nightshift/status.h"

namespace nightshift::xgb {

// OK when `bytes` starts with one complete UBJSON value as XGBoost's reader
// parses it (objects with 'L'-sized keys; arrays plain, counted ('#L') or
// typed ('$d', '$U', '$l', '$L'); the scalars Z T F d i U C I l L S), nested
// at most 256 deep. ModelError naming the byte offset otherwise. Bytes after
// the value are ignored, as XGBoost ignores them.
Status CheckUbjson(std::string_view bytes);

// True when XGBoosterLoadModel may parse the file at `path` as UBJSON: a
// ".ubj" name (any case), or content that starts with '{' and a letter
// (XGBoost's format sniffing for other names; never valid JSON text).
// `head`: at least the file's first two bytes (fewer if the file is shorter).
bool MayLoadAsUbjson(std::string_view path, std::string_view head);

}  // namespace nightshift::xgb
