// Connection, Statement and Transaction: a thin layer over the SQLite3 C API
// that turns its return codes into Status and caches prepared statements.
//
// Error mapping: SQLITE_BUSY / SQLITE_LOCKED (still busy after the busy
// timeout) become Code::kTransient; every other SQLite error becomes
// Code::kIoError. Messages name the database file and carry sqlite3_errmsg.
//
// None of these classes is thread-safe: the owner (SqliteLedger) serializes
// all use of one Connection with a mutex.
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>

#include "nightshift/env.h"
#include "nightshift/status.h"

namespace nightshift::sqlite {

class Connection;

// A cached prepared statement, borrowed from its Connection for one use.
// Binding and stepping errors surface from Step()/Run(). On destruction the
// statement is reset and its bindings cleared, ready for the next use.
class Statement {
 public:
  Statement(Connection* conn, sqlite3_stmt* stmt) : conn_(conn), stmt_(stmt) {}
  Statement(Statement&& other) noexcept;
  Statement& operator=(Statement&&) = delete;
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;
  ~Statement();

  // Parameters are numbered from 1, as in SQLite. Strings are copied.
  Statement& Bind(int index, int64_t value);
  Statement& Bind(int index, std::string_view value);

  // Returns true when a row is ready, false when the statement is done.
  Result<bool> Step();
  // Steps until done (rows, if any, are discarded).
  Status Run();

  // Columns are numbered from 0. NULL reads as 0 / "".
  int64_t Int(int column) const;
  std::string Text(int column) const;

 private:
  Connection* conn_;
  sqlite3_stmt* stmt_;
  int bind_error_ = SQLITE_OK;
};

// One open database connection with its statement cache.
class Connection {
 public:
  // Opens (creating if missing) the database file at `path` and sets the
  // per-connection pragmas: WAL journal, synchronous=FULL, foreign keys on,
  // and a busy timeout of `busy_timeout_ms`. IoError naming `path` on
  // failure, including when the file is not a SQLite database.
  // Waits and stats through `env` (SQLite does its own file I/O).
  static Result<std::unique_ptr<Connection>> Open(const std::string& path, int busy_timeout_ms,
                                                  Env* env);
  // Opens the existing database at `path` for reading only; creates and
  // writes nothing next to it (see the .cc for how). IoError naming `path`.
  static Result<std::unique_ptr<Connection>> OpenReadOnly(const std::string& path, Env* env);

  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;
  ~Connection();

  // Runs one or more SQL statements that need no parameters.
  Status Exec(const char* sql);

  // Returns the cached prepared statement for `sql`, preparing it on first
  // use. REQUIRES: the previous Statement for the same `sql` is destroyed.
  Result<Statement> Prepare(const std::string& sql);

  // Builds the Status for a failed SQLite call that returned `rc`; `what`
  // says what was being done.
  Status ErrorFor(int rc, std::string_view what) const;

  const std::string& path() const { return path_; }
  sqlite3* handle() const { return db_; }

 private:
  Connection(sqlite3* db, std::string path) : db_(db), path_(std::move(path)) {}
  // sqlite3_open_v2 of `name` (a path or URI) with `flags`.
  static Result<std::unique_ptr<Connection>> OpenHandle(const std::string& name,
                                                        const std::string& path, int flags);
  // Puts the database in WAL mode, retrying while another process holds it.
  Status EnableWal(int busy_timeout_ms, Env* env);

  sqlite3* db_;
  std::string path_;
  std::unordered_map<std::string, sqlite3_stmt*> cache_;
};

// A transaction on a Connection: rolled back on destruction unless
// Commit() succeeded. Writes use BEGIN IMMEDIATE so that the write lock is
// taken up front (and waited for under the busy timeout) rather than failing
// on a lock upgrade halfway through.
//
// Durability: connections run with synchronous=NORMAL (see Connection::Open):
// a kWrite commit survives a crash or kill of the process, and a
// kDurableWrite commit (synchronous=FULL for that commit: the WAL is synced
// before COMMIT returns) survives a power loss or OS crash too, together
// with every commit before it (the WAL is one file, written in order).
class Transaction {
 public:
  enum class Kind { kRead, kWrite, kDurableWrite };

  static Result<Transaction> Begin(Connection* conn, Kind kind);

  Transaction(Transaction&& other) noexcept : conn_(other.conn_), durable_(other.durable_) {
    other.conn_ = nullptr;
  }
  Transaction& operator=(Transaction&&) = delete;
  Transaction(const Transaction&) = delete;
  Transaction& operator=(const Transaction&) = delete;
  ~Transaction();

  // Commits; on failure the transaction is rolled back by the destructor.
  Status Commit();

 private:
  Transaction(Connection* conn, bool durable) : conn_(conn), durable_(durable) {}
  // Back to synchronous=NORMAL after a kDurableWrite.
  void EndDurable();

  Connection* conn_;  // null once committed or moved from
  bool durable_ = false;
};

}  // namespace nightshift::sqlite
