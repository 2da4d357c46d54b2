// CsvDialects: DuckDB's CSV dialect sniffer run once per distinct header
// line of a run's input files, not once per query per file.
//
// Why: left to itself, read_csv sniffs the dialect (delimiter, quote, escape,
// line end) on every query, trying dozens of candidates, and a run queries
// each CSV file several times (its schema, its row count, its rows). For
// tiny files that sniffing was most of the run's CPU. Files that share a
// header line share a dialect in practice (the header holds the delimiter
// and the line end), so the first such file is sniffed and the others are
// read with that dialect spelled out; DuckDB still works out each file's
// column types itself, so types may drift between files as before.
//
// Only dialects TextRowCounter can count are shared: one-byte delimiter,
// '"' quoting (or none, which reads the same as '"' on a file without
// quotes), no comment lines or skipped rows. A file with another dialect, a
// compressed file or one whose first line is longer than kMaxHeaderBytes
// gets none: DuckDB sniffs it on every query, as it always did.
//
// Thread-safety: used by one thread at a time (like the DuckDB connection).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <unordered_map>
#include <unordered_set>

#include "io/duck.h"
#include "io/text_row_counter.h"
#include "nightshift/env.h"
#include "nightshift/status.h"

namespace nightshift::io {

// True for a path whose name says it is compressed (.gz, .zst, ...): DuckDB
// decompresses it, and neither a byte scan nor a header read can see its text.
bool CompressedPath(const std::string& path);

class CsvDialects {
 public:
  // A header line longer than this is not a key: the file is sniffed alone.
  static constexpr size_t kMaxHeaderBytes = 64 * 1024;

  // `env` reads the header lines; `conn` runs sniff_csv. Not owned.
  CsvDialects(Env* env, DuckConnection* conn) : env_(env), conn_(conn) {}

  // The dialect of CSV input file `file` at `path`: sniffed unless a file
  // with the same header line was sniffed before. nullopt when the file has
  // no shared dialect (see the file comment) or Forget() dropped it. An error
  // is the sniff query's, naming `where`.
  Result<std::optional<TextDialect>> Of(int32_t file, const std::string& path,
                                        const std::string& where);

  // read_csv options spelling file `file`'s dialect (", delim = ',', ..."),
  // or "" when it has none: Of() was not called for it, found none, or
  // Forget() dropped it.
  std::string ReadOptions(int32_t file) const;

  // Drops file `file`'s dialect for the rest of the run: a file whose rows do
  // not read under its header's dialect is sniffed by DuckDB on every query.
  void Forget(int32_t file);

  // How many sniff_csv queries ran (one per distinct header line).
  int sniffs() const { return sniffs_; }

 private:
  struct Dialect {
    TextDialect text;
    std::string new_line;  // "\\n" or "\\r\\n" as read_csv spells it; "" to let DuckDB detect
  };
  // The file's first line with its line end, or nullopt (compressed, cannot
  // be read, longer than kMaxHeaderBytes).
  std::optional<std::string> HeaderLine(const std::string& path);
  Result<std::optional<Dialect>> Sniff(const std::string& path, const std::string& header,
                                       const std::string& where);

  Env* const env_;
  DuckConnection* const conn_;
  std::unordered_map<std::string, std::optional<Dialect>> by_header_;
  std::unordered_map<int32_t, Dialect> by_file_;
  std::unordered_set<int32_t> forgotten_;
  int sniffs_ = 0;
};

}  // namespace nightshift::io
