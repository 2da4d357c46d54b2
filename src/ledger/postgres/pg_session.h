// One libpq connection of the PostgreSQL ledger, shared by the threads of a
// process (calls are serialized on it), with the recovery rule for a lost
// connection: a call that finds the connection broken reconnects once and
// returns Transient, so the engine's retry runs on a fresh connection.
#pragma once

#include <memory>
#include <mutex>
#include <string>
#include <utility>

#include "io/postgres/pg_conn.h"
#include "nightshift/status.h"

namespace nightshift::pgledger {

using io::pg::PgConn;
using io::pg::PgResult;

// BEGIN ... COMMIT; rolled back when dropped uncommitted (an error return).
class Txn {
 public:
  static Result<Txn> Begin(PgConn* conn);
  Txn(Txn&& o) noexcept : conn_(std::exchange(o.conn_, nullptr)) {}
  Txn(const Txn&) = delete;
  Txn& operator=(const Txn&) = delete;
  Txn& operator=(Txn&&) = delete;
  ~Txn();
  Status Commit();

 private:
  explicit Txn(PgConn* conn) : conn_(conn) {}
  PgConn* conn_;
};

inline const Status& StatusOf(const Status& s) {
  return s;
}
template <typename T>
Status StatusOf(const Result<T>& r) {
  return r.has_value() ? Status::Ok() : r.error();
}

class Session {
 public:
  // `read_only`: every transaction of the session is READ ONLY (status), also
  // after a reconnect.
  static Result<std::unique_ptr<Session>> Connect(const std::string& url, bool read_only);

  // Runs fn(PgConn*) holding the session: first restores a broken
  // connection (Transient when it stays down), and after a failure that
  // broke the connection, reconnects once so that the retry finds it up.
  //
  // A call that failed on a broken connection is run again on a fresh one, a
  // few times with backoff (io::pg::kReconnectTries): each call is one transaction, rolled back by
  // the break, and the ledger's writes are idempotent when repeated (a
  // commit whose reply was lost is the same commit again).
  template <typename Fn>
  auto Call(Fn&& fn) -> decltype(fn(std::declval<PgConn*>())) {
    std::lock_guard lock(mu_);
    for (int attempt = 0;; ++attempt) {
      Status up = Restore();
      if (up.ok()) {
        auto result = fn(conn_.get());
        if (StatusOf(result).code() != Code::kTransient || attempt >= io::pg::kReconnectTries)
          return result;
      } else if (attempt >= io::pg::kReconnectTries) {
        return Error(up);
      }
      PauseBeforeRetry(attempt);
    }
  }

  const std::string& described() const { return conn_->described(); }

 private:
  Session(std::unique_ptr<PgConn> conn, bool read_only)
      : conn_(std::move(conn)), read_only_(read_only) {}
  // Sleeps io::pg::ReconnectPauseMicros(attempt).
  static void PauseBeforeRetry(int attempt);
  // Reconnects when the connection is broken and sets the session up again.
  Status Restore();
  Status SetUp();

  std::mutex mu_;
  std::unique_ptr<PgConn> conn_;
  const bool read_only_;
};

}  // namespace nightshift::pgledger
