// ChunkTable: rows held in DuckDB data chunks in memory, in append order, that
// a query on the same database reads as the table function `ns_chunks(id)`.
//
// The file sink keeps a shard's output rows here and writes the part with one
// `COPY (SELECT ... FROM ns_chunks(id)) TO ...`: no temp table, no catalog
// entry, no appender, and the table function hands DuckDB the chunks by
// reference. The rows stay until the ChunkTable goes, so the COPY can be run
// again after a failed attempt.
//
// Thread-safety: a ChunkScanRegistry may be shared. A ChunkTable is filled by
// one thread; queries may read it (from any thread) while it is not changed.
#pragma once

#include <duckdb.h>

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "io/duck.h"
#include "nightshift/status.h"

namespace nightshift::io {

// Column names and DuckDB types. Owns its logical types. Moves only.
class DuckSchema {
 public:
  // The types that DuckDB gives the SQL type names `sql_types` (e.g. "BIGINT",
  // "FLOAT[]", "DECIMAL(18,3)"), as columns named `names`. InvalidJob when
  // DuckDB does not know a type. REQUIRES: names.size() == sql_types.size().
  static Result<DuckSchema> FromSql(DuckConnection* conn, std::vector<std::string> names,
                                    const std::vector<std::string>& sql_types);
  DuckSchema() = default;
  DuckSchema(DuckSchema&& o) noexcept = default;
  DuckSchema& operator=(DuckSchema&& o) noexcept;
  DuckSchema(const DuckSchema&) = delete;
  DuckSchema& operator=(const DuckSchema&) = delete;
  ~DuckSchema();

  size_t size() const { return names_.size(); }
  const std::string& name(size_t i) const { return names_[i]; }
  duckdb_logical_type type(size_t i) const { return types_[i]; }

 private:
  void Clear();
  std::vector<std::string> names_;
  std::vector<duckdb_logical_type> types_;
};

class ChunkTable {
 public:
  // Where the caller writes the next rows: rows [offset, offset + count) of
  // `chunk`'s vectors, then calls Commit(count).
  struct Room {
    duckdb_data_chunk chunk;
    idx_t offset;
    idx_t count;
  };

  // REQUIRES: `schema` outlives the table.
  explicit ChunkTable(const DuckSchema* schema) : schema_(schema) {}

  // Room for up to `rows` more rows (at least one; fewer when the last chunk
  // is nearly full). REQUIRES: rows > 0; no Reserve() pending a Commit().
  Room Reserve(idx_t rows);
  // Makes the `count` rows written after the last Reserve() part of the table.
  void Commit(idx_t count);

  const DuckSchema& schema() const { return *schema_; }
  size_t chunk_count() const { return chunks_.size(); }
  const DuckChunk& chunk(size_t i) const { return chunks_[i]; }
  int64_t rows() const { return rows_; }

 private:
  const DuckSchema* schema_;
  std::vector<DuckChunk> chunks_;
  int64_t rows_ = 0;
};

// Installs the table function `ns_chunks(id BIGINT)` in one database and maps
// ids to the ChunkTables it reads. A query naming an id that is not
// registered fails at bind time.
class ChunkScanRegistry {
 public:
  // Registers the function through `conn` (for its whole database). The
  // database keeps the registry alive while it exists.
  static Result<std::shared_ptr<ChunkScanRegistry>> Install(DuckConnection* conn);

  // Makes `table` readable as ns_chunks(<id>) until the handle goes.
  class Handle {
   public:
    Handle() = default;
    Handle(Handle&& o) noexcept : registry_(std::move(o.registry_)), id_(o.id_) {}
    Handle& operator=(Handle&& o) noexcept;
    Handle(const Handle&) = delete;
    Handle& operator=(const Handle&) = delete;
    ~Handle() { Release(); }
    // "ns_chunks(<id>)", to use in a FROM clause.
    std::string Sql() const;

   private:
    friend class ChunkScanRegistry;
    Handle(std::shared_ptr<ChunkScanRegistry> registry, int64_t id)
        : registry_(std::move(registry)), id_(id) {}
    void Release();
    std::shared_ptr<ChunkScanRegistry> registry_;
    int64_t id_ = 0;
  };
  // REQUIRES: `table` outlives the handle.
  static Handle Register(const std::shared_ptr<ChunkScanRegistry>& registry,
                         const ChunkTable* table);

  // The table registered under `id`; nullptr when none is.
  const ChunkTable* Find(int64_t id);

 private:
  std::mutex mu_;
  int64_t next_id_ = 1;
  std::map<int64_t, const ChunkTable*> tables_;
};

}  // namespace nightshift::io
