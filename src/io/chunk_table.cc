#include "io/chunk_table.h"

#include <fmt/format.h>

#include <atomic>

namespace nightshift::io {

Result<DuckSchema> DuckSchema::FromSql(DuckConnection* conn, std::vector<std::string> names,
                                       const std::vector<std::string>& sql_types) {
  std::string select;
  for (size_t i = 0; i < names.size(); ++i) {
    select +=
        fmt::format("{}CAST(NULL AS {}) AS {}", i ? ", " : "", sql_types[i], QuoteIdent(names[i]));
  }
  NS_ASSIGN_OR_RETURN(DuckResult r,
                      conn->Query("SELECT " + select + " LIMIT 0", "resolving column types"));
  if (r.column_count() != names.size()) {
    return Error(Code::kInternal, "resolving column types: wrong number of columns");
  }
  DuckSchema s;
  s.names_ = std::move(names);
  for (idx_t i = 0; i < r.column_count(); ++i) {
    s.types_.push_back(duckdb_column_logical_type(r.raw(), i));
  }
  return s;
}

DuckSchema& DuckSchema::operator=(DuckSchema&& o) noexcept {
  if (this != &o) {
    Clear();
    names_ = std::move(o.names_);
    types_ = std::move(o.types_);
    o.types_.clear();
  }
  return *this;
}

DuckSchema::~DuckSchema() {
  Clear();
}

void DuckSchema::Clear() {
  for (auto& t : types_) duckdb_destroy_logical_type(&t);
  types_.clear();
}

ChunkTable::Room ChunkTable::Reserve(idx_t rows) {
  const idx_t capacity = duckdb_vector_size();
  if (chunks_.empty() || chunks_.back().size() == capacity) {
    std::vector<duckdb_logical_type> types;
    for (size_t i = 0; i < schema_->size(); ++i) types.push_back(schema_->type(i));
    chunks_.emplace_back(duckdb_create_data_chunk(types.data(), types.size()));
  }
  duckdb_data_chunk chunk = chunks_.back().get();
  const idx_t used = duckdb_data_chunk_get_size(chunk);
  return Room{chunk, used, std::min(rows, capacity - used)};
}

void ChunkTable::Commit(idx_t count) {
  duckdb_data_chunk chunk = chunks_.back().get();
  duckdb_data_chunk_set_size(chunk, duckdb_data_chunk_get_size(chunk) + count);
  rows_ += static_cast<int64_t>(count);
}

namespace {

struct ScanState {
  std::atomic<size_t> next{0};
};

void ChunksBind(duckdb_bind_info info) {
  auto* registry =
      static_cast<std::shared_ptr<ChunkScanRegistry>*>(duckdb_bind_get_extra_info(info));
  duckdb_value v = duckdb_bind_get_parameter(info, 0);
  int64_t id = duckdb_get_int64(v);
  duckdb_destroy_value(&v);
  const ChunkTable* table = (*registry)->Find(id);
  if (table == nullptr) {
    duckdb_bind_set_error(info, fmt::format("ns_chunks: no chunk table {}", id).c_str());
    return;
  }
  const DuckSchema& schema = table->schema();
  for (size_t i = 0; i < schema.size(); ++i) {
    duckdb_bind_add_result_column(info, schema.name(i).c_str(), schema.type(i));
  }
  duckdb_bind_set_bind_data(info, const_cast<ChunkTable*>(table), nullptr);
}

void ChunksInit(duckdb_init_info info) {
  duckdb_init_set_init_data(info, new ScanState(),
                            [](void* p) { delete static_cast<ScanState*>(p); });
}

// Hands out the table's chunks in order, by reference (no copy).
void ChunksScan(duckdb_function_info info, duckdb_data_chunk output) {
  const auto* table = static_cast<const ChunkTable*>(duckdb_function_get_bind_data(info));
  auto* state = static_cast<ScanState*>(duckdb_function_get_init_data(info));
  size_t i = state->next.fetch_add(1);
  if (i >= table->chunk_count()) {
    duckdb_data_chunk_set_size(output, 0);
    return;
  }
  const DuckChunk& chunk = table->chunk(i);
  for (idx_t c = 0; c < table->schema().size(); ++c) {
    duckdb_vector_reference_vector(duckdb_data_chunk_get_vector(output, c), chunk.column(c));
  }
  duckdb_data_chunk_set_size(output, chunk.size());
}

}  // namespace

Result<std::shared_ptr<ChunkScanRegistry>> ChunkScanRegistry::Install(DuckConnection* conn) {
  auto registry = std::make_shared<ChunkScanRegistry>();
  duckdb_table_function f = duckdb_create_table_function();
  duckdb_table_function_set_name(f, "ns_chunks");
  duckdb_logical_type id_type = duckdb_create_logical_type(DUCKDB_TYPE_BIGINT);
  duckdb_table_function_add_parameter(f, id_type);
  duckdb_destroy_logical_type(&id_type);
  duckdb_table_function_set_extra_info(
      f, new std::shared_ptr<ChunkScanRegistry>(registry),
      [](void* p) { delete static_cast<std::shared_ptr<ChunkScanRegistry>*>(p); });
  duckdb_table_function_set_bind(f, ChunksBind);
  duckdb_table_function_set_init(f, ChunksInit);
  duckdb_table_function_set_function(f, ChunksScan);
  duckdb_state st = duckdb_register_table_function(conn->get(), f);
  duckdb_destroy_table_function(&f);
  if (st == DuckDBError) {
    return Error(Code::kInternal, "cannot register the ns_chunks table function");
  }
  return registry;
}

ChunkScanRegistry::Handle ChunkScanRegistry::Register(
    const std::shared_ptr<ChunkScanRegistry>& registry, const ChunkTable* table) {
  std::lock_guard<std::mutex> lock(registry->mu_);
  int64_t id = registry->next_id_++;
  registry->tables_[id] = table;
  return Handle(registry, id);
}

const ChunkTable* ChunkScanRegistry::Find(int64_t id) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = tables_.find(id);
  return it == tables_.end() ? nullptr : it->second;
}

ChunkScanRegistry::Handle& ChunkScanRegistry::Handle::operator=(Handle&& o) noexcept {
  if (this != &o) {
    Release();
    registry_ = std::move(o.registry_);
    id_ = o.id_;
  }
  return *this;
}

std::string ChunkScanRegistry::Handle::Sql() const {
  return fmt::format("ns_chunks({})", id_);
}

void ChunkScanRegistry::Handle::Release() {
  if (registry_ == nullptr) return;
  {
    std::lock_guard<std::mutex> lock(registry_->mu_);
    registry_->tables_.erase(id_);
  }
  registry_.reset();
}

}  // namespace nightshift::io
