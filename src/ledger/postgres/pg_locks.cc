#include "ledger/postgres/pg_locks.h"

#include <fmt/format.h>

#include <optional>

namespace nightshift::pgledger {
namespace {

using std::to_string;

// The advisory-lock class of named locks: any constant, the same in every
// nightshift (the migration lock is 0x6e73686966740001).
constexpr int32_t kLockClass = 0x6e730002;

std::vector<std::string> HolderParams(const std::string& name, const RunOwner& me) {
  return {name, me.host, to_string(me.pid), to_string(me.start_time)};
}

Result<std::optional<RunOwner>> SelectHolder(PgConn* conn, const std::string& name) {
  NS_ASSIGN_OR_RETURN(PgResult r,
                      conn->Exec("SELECT host, pid, start_time, acquired_at_ms, heartbeat_at_ms "
                                 "FROM nightshift.locks WHERE name = $1::text",
                                 "reading a lock's holder", {name}));
  if (r.rows() == 0) return std::optional<RunOwner>();
  return std::optional<RunOwner>(RunOwner{.host = r.Text(0, 0),
                                          .pid = r.Int(0, 1),
                                          .start_time = r.Int(0, 2),
                                          .acquired_at_ms = r.Int(0, 3),
                                          .heartbeat_at_ms = r.Int(0, 4)});
}

}  // namespace

Result<RunAcquisition> TakeLock(PgConn* conn, const std::string& name, const RunOwner& me,
                                const std::function<bool(const RunOwner&)>& holder_gone) {
  NS_ASSIGN_OR_RETURN(Txn txn, Txn::Begin(conn));
  NS_RETURN_IF_ERROR(
      conn->Run(fmt::format("SELECT pg_advisory_xact_lock({}, hashtext($1::text))", kLockClass),
                "waiting for a lock's row", {name}));
  NS_ASSIGN_OR_RETURN(std::optional<RunOwner> current, SelectHolder(conn, name));
  if (current.has_value() && !current->SameProcess(me) && !holder_gone(*current)) {
    NS_RETURN_IF_ERROR(txn.Commit());
    return RunAcquisition{.acquired = false, .holder = *current};
  }
  NS_ASSIGN_OR_RETURN(
      PgResult r,
      conn->Exec("INSERT INTO nightshift.locks (name, host, pid, start_time, acquired_at_ms, "
                 "heartbeat_at_ms) VALUES ($1::text, $2::text, $3::bigint, $4::bigint, "
                 "nightshift.now_ms(), nightshift.now_ms()) ON CONFLICT (name) DO UPDATE SET "
                 "host = excluded.host, pid = excluded.pid, start_time = excluded.start_time, "
                 "acquired_at_ms = excluded.acquired_at_ms, heartbeat_at_ms = "
                 "excluded.heartbeat_at_ms RETURNING acquired_at_ms",
                 "taking a lock", HolderParams(name, me)));
  NS_RETURN_IF_ERROR(txn.Commit());
  RunOwner taken = me;
  taken.acquired_at_ms = r.Int(0, 0);
  taken.heartbeat_at_ms = taken.acquired_at_ms;
  return RunAcquisition{.acquired = true, .holder = taken};
}

Status TouchLock(PgConn* conn, const std::string& name, const RunOwner& me) {
  NS_ASSIGN_OR_RETURN(PgResult r,
                      conn->Exec("UPDATE nightshift.locks SET heartbeat_at_ms = "
                                 "nightshift.now_ms() WHERE name = $1::text AND host = $2::text "
                                 "AND pid = $3::bigint AND start_time = $4::bigint",
                                 "renewing a lock", HolderParams(name, me)));
  if (r.Affected() > 0) return Status::Ok();
  return Status(Code::kFailed, fmt::format("lock '{}' is no longer held by pid {} on host {}: "
                                           "another process took it over",
                                           name, me.pid, me.host));
}

Status DeleteLock(PgConn* conn, const std::string& name, const RunOwner& me) {
  return conn->Run(
      "DELETE FROM nightshift.locks WHERE name = $1::text AND host = $2::text AND pid = "
      "$3::bigint AND start_time = $4::bigint",
      "releasing a lock", HolderParams(name, me));
}

}  // namespace nightshift::pgledger
