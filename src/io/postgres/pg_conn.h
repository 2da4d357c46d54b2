// A small RAII wrapper over libpq (libpq-fe.h): a connection, its results and
// COPY FROM STDIN, with every libpq error turned into a Status. Credentials
// come from the URL, PGPASSWORD or ~/.pgpass (libpq reads them); no message
// made here ever holds the password: connections are named by
// Describe() (user@host:port/db) and any text libpq returns is scrubbed.
#pragma once

#include <libpq-fe.h>

#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "nightshift/status.h"

namespace nightshift::io::pg {

// "postgresql://user@host:port/db" for `conninfo` (a URL or key=value
// string), without the password; "" when libpq cannot parse it.
std::string Describe(const std::string& conninfo);

// "name" with embedded quotes doubled; "schema"."table" for a dotted name.
std::string QuoteIdent(std::string_view name);
std::string QuoteQualified(std::string_view schema, std::string_view table);
std::string QuoteLiteral(std::string_view text);

// The rule for a lost connection, shared by the PostgreSQL ledger and sink: a
// call that failed because the connection broke (Transient) is run again on a
// fresh connection, up to kReconnectTries more times, pausing
// ReconnectPauseMicros(attempt) before each (100 ms doubling, at most 2 s:
// about 6 s in all, enough for a database restart or a dropped connection,
// not an outage). Each call must be one transaction, safe to repeat.
inline constexpr int kReconnectTries = 6;
int64_t ReconnectPauseMicros(int attempt);

class PgResult {
 public:
  explicit PgResult(PGresult* r = nullptr) : r_(r) {}
  PgResult(PgResult&& o) noexcept : r_(o.r_) { o.r_ = nullptr; }
  PgResult& operator=(PgResult&& o) noexcept;
  PgResult(const PgResult&) = delete;
  PgResult& operator=(const PgResult&) = delete;
  ~PgResult() { PQclear(r_); }
  PGresult* get() const { return r_; }
  int rows() const { return PQntuples(r_); }
  bool IsNull(int row, int col) const { return PQgetisnull(r_, row, col) != 0; }
  std::string Text(int row, int col) const { return PQgetvalue(r_, row, col); }
  int64_t Int(int row, int col) const { return std::atoll(PQgetvalue(r_, row, col)); }
  // Rows a command touched (INSERT ... ON CONFLICT DO NOTHING: 0 or 1).
  int64_t Affected() const { return std::atoll(PQcmdTuples(r_)); }

 private:
  PGresult* r_;
};

class PgConn {
 public:
  // Connects. A server that cannot be reached or refuses the login is
  // InvalidJob (nothing ran yet), naming `what` (e.g. "output.url") and the
  // described URL.
  static Result<std::unique_ptr<PgConn>> Connect(const std::string& conninfo, std::string what);
  ~PgConn();
  PgConn(const PgConn&) = delete;
  PgConn& operator=(const PgConn&) = delete;

  // Runs `sql` (parameters as text); the error says `context` and the
  // server's message. A connection found broken is Transient (the caller
  // retries after EnsureConnected); other errors are IoError. With `binary`,
  // result values come in PostgreSQL's binary format.
  Result<PgResult> Exec(const std::string& sql, std::string_view context,
                        const std::vector<std::string>& params = {}, bool binary = false);
  // Exec for a statement whose result is not needed.
  Status Run(const std::string& sql, std::string_view context,
             const std::vector<std::string>& params = {}) {
    auto r = Exec(sql, context, params);
    return r.has_value() ? Status::Ok() : r.error();
  }
  // Runs `script`, several statements separated by ';' (no parameters: the
  // simple query protocol), e.g. a schema migration.
  Status RunScript(const std::string& script, std::string_view context);
  // COPY ... FROM STDIN of the stream that `produce` writes, piece by piece,
  // through the function it is given: the server parses one piece while the
  // next is made. A failing `produce` aborts the COPY with its error.
  using CopyPut = std::function<Status(std::string_view piece)>;
  Status CopyIn(const std::string& copy_sql, const std::function<Status(const CopyPut&)>& produce,
                std::string_view context);
  // Reconnects when the connection is broken (Transient while it stays down).
  Status EnsureConnected();
  // True while the connection is up (libpq's last known state).
  bool connected() const { return PQstatus(conn_) == CONNECTION_OK; }
  // Asks the server to cancel the statement running on this connection; safe
  // from another thread (the statement then fails, as an Exec error).
  void Cancel();
  const std::string& described() const { return described_; }
  // The SQLSTATE of the last statement's error ("" when the server sent none:
  // success, or a lost connection), and the server's reason for it without
  // the context: "SQLSTATE 23514: new row for relation ... (column p0)".
  const std::string& sqlstate() const { return sqlstate_; }
  const std::string& reason() const { return reason_; }
  // Where the server was when it failed, e.g. "COPY scores, line 57".
  const std::string& error_context() const { return error_context_; }

 private:
  PgConn() = default;
  Status ErrorOf(std::string_view context, const char* message) const;
  // ErrorOf for a failed result, recording its SQLSTATE and reason.
  Status ResultError(std::string_view context, const PGresult* r);
  std::string Scrub(std::string m) const;
  PGconn* conn_ = nullptr;
  std::string conninfo_;
  std::string what_;
  std::string described_;
  std::string password_;  // scrubbed from every message
  std::string sqlstate_, reason_, error_context_;
};

}  // namespace nightshift::io::pg
