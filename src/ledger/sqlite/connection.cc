#include "ledger/sqlite/connection.h"

#include <fmt/format.h>

#include <utility>

#include "nightshift/env.h"

namespace nightshift::sqlite {

Statement::Statement(Statement&& other) noexcept
    : conn_(other.conn_), stmt_(other.stmt_), bind_error_(other.bind_error_) {
  other.stmt_ = nullptr;
}

Statement::~Statement() {
  if (stmt_ != nullptr) {
    sqlite3_reset(stmt_);
    sqlite3_clear_bindings(stmt_);
  }
}

Statement& Statement::Bind(int index, int64_t value) {
  int rc = sqlite3_bind_int64(stmt_, index, value);
  if (bind_error_ == SQLITE_OK) bind_error_ = rc;
  return *this;
}

Statement& Statement::Bind(int index, std::string_view value) {
  int rc =
      sqlite3_bind_text64(stmt_, index, value.data(), value.size(), SQLITE_TRANSIENT, SQLITE_UTF8);
  if (bind_error_ == SQLITE_OK) bind_error_ = rc;
  return *this;
}

Result<bool> Statement::Step() {
  if (bind_error_ != SQLITE_OK) {
    return Error(conn_->ErrorFor(bind_error_, fmt::format("binding '{}'", sqlite3_sql(stmt_))));
  }
  int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  return Error(conn_->ErrorFor(rc, fmt::format("running '{}'", sqlite3_sql(stmt_))));
}

Status Statement::Run() {
  while (true) {
    NS_ASSIGN_OR_RETURN(bool row, Step());
    if (!row) return Status::Ok();
  }
}

int64_t Statement::Int(int column) const {
  return sqlite3_column_int64(stmt_, column);
}

std::string Statement::Text(int column) const {
  const unsigned char* text = sqlite3_column_text(stmt_, column);
  if (text == nullptr) return std::string();
  int size = sqlite3_column_bytes(stmt_, column);
  return std::string(reinterpret_cast<const char*>(text), static_cast<size_t>(size));
}

namespace {

// Percent-encodes the characters a SQLite URI gives a meaning to.
std::string UriPath(const std::string& path) {
  std::string out;
  for (char c : path) {
    if (c == '%' || c == '?' || c == '#') {
      out += fmt::format("%{:02X}", static_cast<unsigned char>(c));
    } else {
      out += c;
    }
  }
  return out;
}

}  // namespace

Result<std::unique_ptr<Connection>> Connection::OpenHandle(const std::string& name,
                                                           const std::string& path, int flags) {
  sqlite3* db = nullptr;
  // NOMUTEX: the owner serializes all use of the connection.
  int rc = sqlite3_open_v2(name.c_str(), &db, flags | SQLITE_OPEN_NOMUTEX, nullptr);
  if (rc != SQLITE_OK) {
    std::string message = db != nullptr ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
    sqlite3_close_v2(db);
    return Error(Code::kIoError, fmt::format("cannot open ledger '{}': {}", path, message));
  }
  std::unique_ptr<Connection> conn(new Connection(db, path));
  sqlite3_extended_result_codes(db, 1);
  return conn;
}

Result<std::unique_ptr<Connection>> Connection::Open(const std::string& path, int busy_timeout_ms,
                                                     Env* env) {
  NS_ASSIGN_OR_RETURN(std::unique_ptr<Connection> conn,
                      OpenHandle(path, path, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE));
  sqlite3_busy_timeout(conn->handle(), busy_timeout_ms);
  // The first statement reads the file header: this is where a file that is
  // not a database is detected.
  NS_RETURN_IF_ERROR(conn->EnableWal(busy_timeout_ms, env));
  // NORMAL in WAL mode: a commit is in the WAL (the OS's page cache) when it
  // returns, so it survives the process crashing or being killed, and the
  // database is never corrupted; only a power loss or OS crash can lose the
  // newest commits, and then only those after the last synced one. FULL
  // would fdatasync the WAL on every commit (claims, heartbeats, tuning).
  // Measured with strace -c -f -e trace=fdatasync,fsync on a 300-row,
  // 3-shard CSV run into an existing ledger: 20 ledger syncs with FULL
  // throughout (12 before the first shard commit), 8 now (3). The commits resume relies on (shard
  // commits, run states) are Transaction::Kind::kDurableWrite, synced before they return; each also
  // makes every earlier commit durable, so what a power loss can take is only claims and
  // bookkeeping after the last of them, which the next run redoes.
  NS_RETURN_IF_ERROR(conn->Exec("PRAGMA synchronous=NORMAL"));
  NS_RETURN_IF_ERROR(conn->Exec("PRAGMA foreign_keys=ON"));
  return conn;
}

Status Connection::EnableWal(int busy_timeout_ms, Env* env) {
  // Switching to WAL takes an exclusive lock without calling the busy
  // handler, so two processes opening a new ledger at once would see
  // "database is locked": read the mode first (WAL is persistent, so only the
  // first open ever switches) and retry the switch ourselves.
  const int64_t deadline = env->MonotonicMicros() + int64_t{busy_timeout_ms} * 1000;
  while (true) {
    Status s = Status::Ok();
    {
      auto mode = Prepare("PRAGMA journal_mode");
      if (!mode.has_value()) return Status(mode.error());
      auto row = mode->Step();
      if (row.has_value() && *row && mode->Text(0) == "wal") return Status::Ok();
      if (!row.has_value()) s = Status(row.error());
    }
    if (s.ok()) s = Exec("PRAGMA journal_mode=WAL");
    if (s.ok() || s.code() != Code::kTransient || env->MonotonicMicros() > deadline) return s;
    env->SleepMicros(20000);
  }
}

Result<std::unique_ptr<Connection>> Connection::OpenReadOnly(const std::string& path, Env* env) {
  // Without a -wal file nobody has the ledger open and every commit is in the
  // main file: read it as immutable, which takes no locks and creates no
  // -shm/-wal files. With one, a run may be writing: read through the WAL
  // (needs a writable folder for the -shm file; failing that, immutable).
  const bool has_wal = env->Stat(path + "-wal").has_value();
  const int flags = SQLITE_OPEN_READONLY | SQLITE_OPEN_URI;
  Result<std::unique_ptr<Connection>> conn =
      Error(Code::kIoError, fmt::format("cannot open ledger '{}'", path));
  if (has_wal) {
    conn = OpenHandle("file:" + UriPath(path) + "?mode=ro", path, flags);
    // The open is lazy: the first read is where a missing -shm shows.
    if (conn.has_value() && !(*conn)->Exec("PRAGMA schema_version").ok()) {
      conn = Error(Code::kIoError, fmt::format("cannot read ledger '{}'", path));
    }
  }
  if (!conn.has_value() || !has_wal) {
    conn = OpenHandle("file:" + UriPath(path) + "?immutable=1", path, flags);
  }
  if (!conn.has_value()) return conn;
  sqlite3_busy_timeout((*conn)->handle(), 10000);
  NS_RETURN_IF_ERROR((*conn)->Exec("PRAGMA query_only=1"));
  return conn;
}

Connection::~Connection() {
  for (auto& [sql, stmt] : cache_) sqlite3_finalize(stmt);
  sqlite3_close_v2(db_);
}

Status Connection::Exec(const char* sql) {
  int rc = sqlite3_exec(db_, sql, nullptr, nullptr, nullptr);
  if (rc != SQLITE_OK) return ErrorFor(rc, fmt::format("running '{}'", sql));
  return Status::Ok();
}

Result<Statement> Connection::Prepare(const std::string& sql) {
  auto it = cache_.find(sql);
  if (it != cache_.end()) return Statement(this, it->second);
  sqlite3_stmt* stmt = nullptr;
  int rc = sqlite3_prepare_v3(db_, sql.c_str(), static_cast<int>(sql.size()),
                              SQLITE_PREPARE_PERSISTENT, &stmt, nullptr);
  if (rc != SQLITE_OK) {
    sqlite3_finalize(stmt);
    return Error(ErrorFor(rc, fmt::format("preparing '{}'", sql)));
  }
  cache_.emplace(sql, stmt);
  return Statement(this, stmt);
}

Status Connection::ErrorFor(int rc, std::string_view what) const {
  int primary = rc & 0xff;
  // sqlite3_errmsg describes the most recent failure on this connection; for
  // a bind error (never recorded there) fall back to the code's description.
  std::string detail =
      sqlite3_extended_errcode(db_) == rc ? std::string(sqlite3_errmsg(db_)) : sqlite3_errstr(rc);
  if (primary == SQLITE_BUSY || primary == SQLITE_LOCKED) {
    return Status(Code::kTransient,
                  fmt::format("ledger '{}' is busy: {} ({})", path_, detail, what));
  }
  return Status(Code::kIoError, fmt::format("ledger '{}': {} ({})", path_, detail, what));
}

Result<Transaction> Transaction::Begin(Connection* conn, Kind kind) {
  const bool durable = kind == Kind::kDurableWrite;
  // The setting applies to the connection's commits from here on (it cannot
  // change inside a transaction): FULL for this one, NORMAL again after.
  if (durable) NS_RETURN_IF_ERROR(conn->Exec("PRAGMA synchronous=FULL"));
  Status begun = conn->Exec(kind == Kind::kRead ? "BEGIN" : "BEGIN IMMEDIATE");
  Transaction txn(conn, durable);
  if (!begun.ok()) {
    txn.EndDurable();
    txn.conn_ = nullptr;
    return Error(begun);
  }
  return txn;
}

void Transaction::EndDurable() {
  if (durable_)
    sqlite3_exec(conn_->handle(), "PRAGMA synchronous=NORMAL", nullptr, nullptr, nullptr);
  durable_ = false;
}

Transaction::~Transaction() {
  if (conn_ == nullptr) return;
  // A failed statement may already have rolled the transaction back.
  if (sqlite3_get_autocommit(conn_->handle()) == 0) {
    sqlite3_exec(conn_->handle(), "ROLLBACK", nullptr, nullptr, nullptr);
  }
  EndDurable();
}

Status Transaction::Commit() {
  NS_RETURN_IF_ERROR(conn_->Exec("COMMIT"));
  EndDurable();
  conn_ = nullptr;
  return Status::Ok();
}

}  // namespace nightshift::sqlite
