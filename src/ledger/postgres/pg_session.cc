#include "ledger/postgres/pg_session.h"

#include <algorithm>

#include "nightshift/env.h"

namespace nightshift::pgledger {

Result<Txn> Txn::Begin(PgConn* conn) {
  NS_RETURN_IF_ERROR(conn->Run("BEGIN", "beginning a ledger transaction"));
  return Txn(conn);
}

Txn::~Txn() {
  // An error path: nothing of the transaction may stay. A failure here means
  // the connection broke, which ends the transaction anyway.
  if (conn_ != nullptr) (void)conn_->Run("ROLLBACK", "rolling back a ledger transaction");
}

Status Txn::Commit() {
  PgConn* conn = std::exchange(conn_, nullptr);
  return conn->Run("COMMIT", "committing a ledger transaction");
}

Result<std::unique_ptr<Session>> Session::Connect(const std::string& url, bool read_only) {
  auto conn = PgConn::Connect(url, "run.ledger");
  // Ledger::Open promises IoError naming the location (the URL, described
  // without its password) when the ledger cannot be opened.
  if (!conn.has_value()) return Error(Code::kIoError, conn.error().message());
  std::unique_ptr<Session> session(new Session(std::move(*conn), read_only));
  NS_RETURN_IF_ERROR(session->SetUp());
  return session;
}

Status Session::SetUp() {
  // Timestamps are computed by the database (nightshift.now_ms()), so the
  // session's time zone does not matter; read-only sessions are enforced by
  // the server, not by our discipline.
  if (!read_only_) return Status::Ok();
  return conn_->Run("SET default_transaction_read_only = on", "opening the ledger read-only");
}

void Session::PauseBeforeRetry(int attempt) {
  Env::Default()->SleepMicros(io::pg::ReconnectPauseMicros(attempt));
}

Status Session::Restore() {
  if (conn_->connected()) return Status::Ok();
  NS_RETURN_IF_ERROR(conn_->EnsureConnected());
  return SetUp();
}

}  // namespace nightshift::pgledger
