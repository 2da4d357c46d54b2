// Thin RAII wrappers over DuckDB's C API (duckdb.h), the only DuckDB API we
// use: its C++ API is internal and changes without notice. Everything here
// turns DuckDB errors into Status; nothing throws.
//
// Thread-safety: a DuckDatabase may be shared; a DuckConnection, DuckResult or
// DuckChunk must be used by one thread at a time.
#pragma once

#include <duckdb.h>

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "nightshift/status.h"

namespace nightshift::io {

// "name" with embedded quotes doubled: safe as a SQL identifier.
std::string QuoteIdent(std::string_view name);
// 'text' with embedded quotes doubled: safe as a SQL string literal.
std::string QuoteString(std::string_view text);

// Where DuckDB's extension and secret folders point: a path that can never
// exist (see duck.cc, KeepOffline). An error naming it is an extension or a
// persistent secret that nightshift's offline DuckDB cannot provide.
inline constexpr const char* kOfflineExtensionDirectory = "/dev/null/nightshift-offline";

class DuckDatabase {
 public:
  // An in-memory database using at most `threads` threads (0: DuckDB's default).
  static Result<std::shared_ptr<DuckDatabase>> OpenInMemory(int threads);
  ~DuckDatabase();
  duckdb_database get() const { return db_; }

 private:
  DuckDatabase() = default;
  duckdb_database db_ = nullptr;
};

// An owned data chunk. Moves only.
class DuckChunk {
 public:
  DuckChunk() = default;
  explicit DuckChunk(duckdb_data_chunk chunk) : chunk_(chunk) {}
  DuckChunk(DuckChunk&& o) noexcept : chunk_(o.chunk_) { o.chunk_ = nullptr; }
  DuckChunk& operator=(DuckChunk&& o) noexcept;
  DuckChunk(const DuckChunk&) = delete;
  DuckChunk& operator=(const DuckChunk&) = delete;
  ~DuckChunk();

  explicit operator bool() const { return chunk_ != nullptr; }
  duckdb_data_chunk get() const { return chunk_; }
  idx_t size() const { return chunk_ ? duckdb_data_chunk_get_size(chunk_) : 0; }
  duckdb_vector column(idx_t i) const { return duckdb_data_chunk_get_vector(chunk_, i); }

 private:
  duckdb_data_chunk chunk_ = nullptr;
};

// A query result, either materialized or streaming.
class DuckResult {
 public:
  DuckResult() = default;
  DuckResult(DuckResult&& o) noexcept;
  DuckResult& operator=(DuckResult&&) = delete;
  DuckResult(const DuckResult&) = delete;
  ~DuckResult();

  duckdb_result* raw() { return &result_; }
  void set_valid() { valid_ = true; }
  idx_t column_count() { return duckdb_column_count(&result_); }
  std::string column_name(idx_t i) { return duckdb_column_name(&result_, i); }
  // The next chunk; an empty DuckChunk at the end. Error when the query failed
  // while streaming (e.g. a malformed row deep in a CSV file).
  Result<DuckChunk> Next();
  // Reads the value at (col, row) of a materialized result as text ("" for NULL).
  std::string Text(idx_t col, idx_t row);
  int64_t Int(idx_t col, idx_t row) { return duckdb_value_int64(&result_, col, row); }
  idx_t row_count() { return duckdb_row_count(&result_); }

 private:
  duckdb_result result_{};
  bool valid_ = false;
};

class DuckConnection {
 public:
  static Result<std::unique_ptr<DuckConnection>> Open(std::shared_ptr<DuckDatabase> db);
  ~DuckConnection();
  duckdb_connection get() const { return conn_; }

  // Runs `sql` to completion; the message of a failure is DuckDB's, prefixed by
  // `context` when given.
  Status Exec(const std::string& sql, std::string_view context = {});
  // Runs `sql` and materializes the result.
  Result<DuckResult> Query(const std::string& sql, std::string_view context = {});
  // Runs `sql` as a streaming query: chunks are produced as Next() is called,
  // so memory stays bounded however large the input is.
  Result<DuckResult> Stream(const std::string& sql, std::string_view context = {});
  // Aborts a running query from another thread.
  void Interrupt() { duckdb_interrupt(conn_); }

 private:
  DuckConnection() = default;
  std::shared_ptr<DuckDatabase> db_;
  duckdb_connection conn_ = nullptr;
};

// Maps a DuckDB error message to a Status code: I/O errors naming files stay
// IoError (or NotFound), conversion errors are InvalidData, the rest IoError.
Status DuckError(std::string_view context, std::string_view message);

}  // namespace nightshift::io
