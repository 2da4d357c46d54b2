// TextRowCounter: counts the records of a CSV or JSONL file at memchr speed,
// so that planning a run does not cost a second full parse of the input by
// DuckDB (its CSV scanner is several times slower than a byte scan).
//
// The count must equal the number of rows DuckDB's reader yields, or the
// shards of a run would not cover the file. So the counter only answers for
// inputs it understands exactly — one-byte delimiter, no quoting or '"'
// quoting with '"' escapes, "\n" or "\r\n" line ends — and gives up
// (nullopt) on anything DuckDB may treat differently: blank or
// whitespace-only lines, a lone '\r', a quote inside an unquoted value, an
// unterminated quote. The caller then counts with DuckDB, as before.
//
// Thread-safety: a TextRowCounter is used by one thread at a time.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "nightshift/env.h"
#include "nightshift/status.h"

namespace nightshift::io {

// How records are delimited in a text file.
struct TextDialect {
  char delimiter = ',';
  char quote = 0;       // 0: no quoting (every '\n' ends a record)
  bool header = false;  // the first record is a header, not a row
};

class TextRowCounter {
 public:
  explicit TextRowCounter(TextDialect dialect) : d_(dialect) {}

  // Consumes the next bytes of the file; blocks may split records, quotes
  // and "\r\n" anywhere.
  void Feed(std::string_view block);
  // The number of rows (records, less the header), or nullopt when the input
  // has something the counter does not model exactly (see the file comment).
  std::optional<int64_t> Finish();
  // True once the counter has given up: the rest of the file need not be read.
  bool gave_up() const { return unsure_; }

 private:
  enum class State { kFieldStart, kUnquoted, kQuoted, kQuoteInQuoted };
  // One byte, any state.
  void Step(char c);
  // A stretch of n > 0 bytes outside quotes holding no quote, '\r' or '\n'.
  void Plain(const char* p, size_t n);
  bool Blank(char c) const { return (c == ' ' || c == '\t') && c != d_.delimiter; }

  TextDialect d_;
  State state_ = State::kFieldStart;
  int64_t records_ = 0;
  bool unsure_ = false;
  bool pending_cr_ = false;   // the last byte seen was '\r' outside quotes
  bool blank_so_far_ = true;  // the current record holds only spaces/tabs so far
  bool record_open_ = false;  // the current record has at least one byte
};

// Counts the rows of the file at `path` (read through `env`) with `dialect`:
// Ok(nullopt) when the counter cannot vouch for the count (count with DuckDB
// instead), IoError naming the file when it cannot be read.
Result<std::optional<int64_t>> CountTextRows(Env* env, const std::string& path,
                                             TextDialect dialect);

}  // namespace nightshift::io
