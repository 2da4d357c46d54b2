#include "io/duck.h"

#include <fmt/format.h>

#include <optional>

namespace nightshift::io {

std::string QuoteIdent(std::string_view name) {
  std::string out = "\"";
  for (char c : name) {
    if (c == '"') out += '"';
    out += c;
  }
  return out + "\"";
}

std::string QuoteString(std::string_view text) {
  std::string out = "'";
  for (char c : text) {
    if (c == '\'') out += '\'';
    out += c;
  }
  return out + "'";
}

namespace {

// DuckDB's advice for an extension it lacks (INSTALL it, turn auto-install
// on) cannot work with the offline DuckDB of KeepOffline: say what is
// available instead. DuckDB's own first line is kept unless it only names
// the impossible folder.
std::optional<std::string> OfflineExtensionMessage(std::string_view message) {
  const bool offline_dir = message.find(kOfflineExtensionDirectory) != std::string_view::npos ||
                           message.find("\"/dev/null\"") != std::string_view::npos;
  if (!offline_dir && message.find("Missing Extension Error") == std::string_view::npos &&
      message.find("Extension Autoloading Error") == std::string_view::npos &&
      message.find("autoinstall_known_extensions") == std::string_view::npos) {
    return std::nullopt;
  }
  std::string out =
      "extension or persistent secret not available: nightshift runs DuckDB offline with its "
      "built-in extensions only "
      "(parquet, json, icu); extensions that need installing (httpfs, postgres_scanner, ...), "
      "remote files and persistent secrets cannot be used";
  if (!offline_dir) out += fmt::format(" (DuckDB: {})", message.substr(0, message.find('\n')));
  return out;
}

}  // namespace

Status DuckError(std::string_view context, std::string_view message) {
  if (std::optional<std::string> offline = OfflineExtensionMessage(message)) {
    if (context.empty()) return Status(Code::kInvalidJob, *offline);
    return Status(Code::kInvalidJob, fmt::format("{}: {}", context, *offline));
  }
  Code code = Code::kIoError;
  if (message.find("No files found") != std::string_view::npos ||
      message.find("No such file") != std::string_view::npos) {
    code = Code::kNotFound;
  } else if (message.find("Conversion Error") != std::string_view::npos ||
             message.find("Invalid Input Error") != std::string_view::npos) {
    code = Code::kInvalidData;
  } else if (message.find("Binder Error") != std::string_view::npos ||
             message.find("Parser Error") != std::string_view::npos ||
             message.find("Catalog Error") != std::string_view::npos) {
    code = Code::kInvalidJob;
  } else if (message.find("Out of Memory") != std::string_view::npos) {
    code = Code::kOutOfMemory;
  }
  std::string msg(message);
  // DuckDB messages can be long (they quote the whole CSV dialect); keep them
  // readable on one terminal screen.
  if (msg.size() > 2000) msg = msg.substr(0, 2000) + "...";
  if (context.empty()) return Status(code, msg);
  return Status(code, fmt::format("{}: {}", context, msg));
}

namespace {

// Every DuckDB database nightshift opens (run, validate, status, sql) works
// offline and writes nothing under $HOME: by default DuckDB installs
// extensions into ~/.duckdb/extensions (downloading them) and persistent
// secrets into ~/.duckdb/stored_secrets. Those folders and the extension
// repositories point into /dev/null, under which no folder can ever be made
// (ENOTDIR, even for root), so INSTALL, LOAD of a non-built-in extension and
// persistent secrets fail at once, without network or files; the built-in
// extensions (parquet, json, ...) work as before. home_directory is left
// alone: it is also what `~` in a query's paths means.
void KeepOffline(duckdb_config config) {
  duckdb_set_config(config, "extension_directory", kOfflineExtensionDirectory);
  duckdb_set_config(config, "secret_directory", kOfflineExtensionDirectory);
  duckdb_set_config(config, "custom_extension_repository", kOfflineExtensionDirectory);
  duckdb_set_config(config, "autoinstall_extension_repository", kOfflineExtensionDirectory);
  duckdb_set_config(config, "autoinstall_known_extensions", "false");
  duckdb_set_config(config, "autoload_known_extensions", "false");
  duckdb_set_config(config, "allow_community_extensions", "false");
  duckdb_set_config(config, "allow_persistent_secrets", "false");
}

}  // namespace

Result<std::shared_ptr<DuckDatabase>> DuckDatabase::OpenInMemory(int threads) {
  duckdb_config config;
  if (duckdb_create_config(&config) == DuckDBError) {
    return Error(Code::kInternal, "cannot create a DuckDB config");
  }
  if (threads > 0) duckdb_set_config(config, "threads", std::to_string(threads).c_str());
  KeepOffline(config);
  // The external file cache keeps the byte ranges every query reads from a
  // file (~70 KiB per shard query on a large Parquet file) in buffer-managed
  // memory that is evicted only near memory_limit (80% of RAM): RSS grew
  // linearly with the number of shards. Our inputs are local files, which
  // the OS page cache already serves.
  duckdb_set_config(config, "enable_external_file_cache", "false");
  std::shared_ptr<DuckDatabase> db(new DuckDatabase());
  char* err = nullptr;
  duckdb_state st = duckdb_open_ext(nullptr, &db->db_, config, &err);
  duckdb_destroy_config(&config);
  if (st == DuckDBError) {
    std::string msg = err ? err : "unknown error";
    duckdb_free(err);
    return Error(Code::kInternal, "cannot open DuckDB: " + msg);
  }
  return db;
}

DuckDatabase::~DuckDatabase() {
  if (db_ != nullptr) duckdb_close(&db_);
}

DuckChunk& DuckChunk::operator=(DuckChunk&& o) noexcept {
  if (this != &o) {
    if (chunk_ != nullptr) duckdb_destroy_data_chunk(&chunk_);
    chunk_ = o.chunk_;
    o.chunk_ = nullptr;
  }
  return *this;
}

DuckChunk::~DuckChunk() {
  if (chunk_ != nullptr) duckdb_destroy_data_chunk(&chunk_);
}

DuckResult::DuckResult(DuckResult&& o) noexcept : result_(o.result_), valid_(o.valid_) {
  o.valid_ = false;
  o.result_ = duckdb_result{};
}

DuckResult::~DuckResult() {
  if (valid_) duckdb_destroy_result(&result_);
}

Result<DuckChunk> DuckResult::Next() {
  duckdb_data_chunk chunk = duckdb_fetch_chunk(result_);
  if (chunk == nullptr) {
    const char* err = duckdb_result_error(&result_);
    if (err != nullptr && *err != '\0') return Error(DuckError("", err));
    return DuckChunk();
  }
  return DuckChunk(chunk);
}

std::string DuckResult::Text(idx_t col, idx_t row) {
  char* v = duckdb_value_varchar(&result_, col, row);
  if (v == nullptr) return "";
  std::string out = v;
  duckdb_free(v);
  return out;
}

Result<std::unique_ptr<DuckConnection>> DuckConnection::Open(std::shared_ptr<DuckDatabase> db) {
  std::unique_ptr<DuckConnection> c(new DuckConnection());
  c->db_ = std::move(db);
  if (duckdb_connect(c->db_->get(), &c->conn_) == DuckDBError) {
    return Error(Code::kInternal, "cannot connect to DuckDB");
  }
  return c;
}

DuckConnection::~DuckConnection() {
  if (conn_ != nullptr) duckdb_disconnect(&conn_);
}

Status DuckConnection::Exec(const std::string& sql, std::string_view context) {
  auto r = Query(sql, context);
  if (!r.has_value()) return r.error();
  return Status::Ok();
}

Result<DuckResult> DuckConnection::Query(const std::string& sql, std::string_view context) {
  DuckResult result;
  duckdb_state st = duckdb_query(conn_, sql.c_str(), result.raw());
  result.set_valid();
  if (st == DuckDBError) {
    const char* err = duckdb_result_error(result.raw());
    return Error(DuckError(context, err ? err : "unknown DuckDB error"));
  }
  return result;
}

Result<DuckResult> DuckConnection::Stream(const std::string& sql, std::string_view context) {
  duckdb_prepared_statement stmt = nullptr;
  if (duckdb_prepare(conn_, sql.c_str(), &stmt) == DuckDBError) {
    Status s = DuckError(context, duckdb_prepare_error(stmt));
    duckdb_destroy_prepare(&stmt);
    return Error(s);
  }
  duckdb_pending_result pending = nullptr;
  if (duckdb_pending_prepared_streaming(stmt, &pending) == DuckDBError) {
    Status s = DuckError(context, duckdb_pending_error(pending));
    duckdb_destroy_pending(&pending);
    duckdb_destroy_prepare(&stmt);
    return Error(s);
  }
  DuckResult result;
  duckdb_state st = duckdb_execute_pending(pending, result.raw());
  result.set_valid();
  duckdb_destroy_pending(&pending);
  duckdb_destroy_prepare(&stmt);
  if (st == DuckDBError) {
    const char* err = duckdb_result_error(result.raw());
    return Error(DuckError(context, err ? err : "unknown DuckDB error"));
  }
  return result;
}

}  // namespace nightshift::io
