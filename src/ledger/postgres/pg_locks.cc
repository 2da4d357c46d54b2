#include "ledger/postgres/pg_locks.h"

#include <fmt/format.h>

namespace nightshift::pgledger {
namespace {

using std::to_string;

// The advisory-lock class of named locks: any constant, the same in every
// nightshift (the migration lock is 0x6e73686966740001).
constexpr int32_t kLockClass = 0x6e730002;

// A table of holder rows: one process holds each key.
struct HolderTable {
  const char* table;
  const char* key;   // the key column
  const char* noun;  // in messages: "run", "lock"
};
constexpr HolderTable kRunOwners{"nightshift.run_owners", "run_id", "run"};
constexpr HolderTable kLocks{"nightshift.locks", "name", "lock"};

std::vector<std::string> HolderParams(const std::string& key, const RunOwner& me) {
  return {key, me.host, to_string(me.pid), to_string(me.start_time)};
}

Result<std::optional<RunOwner>> SelectHolder(PgConn* conn, const HolderTable& t,
                                             const std::string& key) {
  NS_ASSIGN_OR_RETURN(PgResult r,
                      conn->Exec(fmt::format("SELECT host, pid, start_time, acquired_at_ms, "
                                             "heartbeat_at_ms FROM {} WHERE {} = $1::text",
                                             t.table, t.key),
                                 fmt::format("reading a {}'s holder", t.noun), {key}));
  if (r.rows() == 0) return std::optional<RunOwner>();
  return std::optional<RunOwner>(RunOwner{.host = r.Text(0, 0),
                                          .pid = r.Int(0, 1),
                                          .start_time = r.Int(0, 2),
                                          .acquired_at_ms = r.Int(0, 3),
                                          .heartbeat_at_ms = r.Int(0, 4)});
}

// Inside a transaction that serializes takers of `key`: `me` takes it unless
// another live process holds it.
Result<RunAcquisition> TakeHolder(PgConn* conn, const HolderTable& t, const std::string& key,
                                  const RunOwner& me,
                                  const std::function<bool(const RunOwner&)>& holder_gone) {
  NS_ASSIGN_OR_RETURN(std::optional<RunOwner> current, SelectHolder(conn, t, key));
  if (current.has_value() && !current->SameProcess(me) && !holder_gone(*current)) {
    return RunAcquisition{.acquired = false, .holder = *current};
  }
  NS_ASSIGN_OR_RETURN(
      PgResult r,
      conn->Exec(fmt::format("INSERT INTO {0} ({1}, host, pid, start_time, acquired_at_ms, "
                             "heartbeat_at_ms) VALUES ($1::text, $2::text, $3::bigint, "
                             "$4::bigint, nightshift.now_ms(), nightshift.now_ms()) ON CONFLICT "
                             "({1}) DO UPDATE SET host = excluded.host, pid = excluded.pid, "
                             "start_time = excluded.start_time, acquired_at_ms = "
                             "excluded.acquired_at_ms, heartbeat_at_ms = excluded.heartbeat_at_ms "
                             "RETURNING acquired_at_ms",
                             t.table, t.key),
                 fmt::format("taking a {}", t.noun), HolderParams(key, me)));
  RunOwner taken = me;
  taken.acquired_at_ms = r.Int(0, 0);
  taken.heartbeat_at_ms = taken.acquired_at_ms;
  return RunAcquisition{.acquired = true, .holder = taken};
}

Status TouchHolder(PgConn* conn, const HolderTable& t, const std::string& key, const RunOwner& me) {
  NS_ASSIGN_OR_RETURN(
      PgResult r,
      conn->Exec(fmt::format("UPDATE {} SET heartbeat_at_ms = nightshift.now_ms() WHERE {} = "
                             "$1::text AND host = $2::text AND pid = $3::bigint AND start_time = "
                             "$4::bigint",
                             t.table, t.key),
                 fmt::format("renewing a {}'s heartbeat", t.noun), HolderParams(key, me)));
  if (r.Affected() > 0) return Status::Ok();
  return Status(Code::kFailed, fmt::format("{} '{}' is no longer held by pid {} on host {}: "
                                           "another process took it over",
                                           t.noun, key, me.pid, me.host));
}

Status DeleteHolder(PgConn* conn, const HolderTable& t, const std::string& key,
                    const RunOwner& me) {
  return conn->Run(fmt::format("DELETE FROM {} WHERE {} = $1::text AND host = $2::text AND pid = "
                               "$3::bigint AND start_time = $4::bigint",
                               t.table, t.key),
                   fmt::format("releasing a {}", t.noun), HolderParams(key, me));
}

}  // namespace

Result<RunAcquisition> TakeLock(PgConn* conn, const std::string& name, const RunOwner& me,
                                const std::function<bool(const RunOwner&)>& holder_gone) {
  NS_ASSIGN_OR_RETURN(Txn txn, Txn::Begin(conn));
  NS_RETURN_IF_ERROR(
      conn->Run(fmt::format("SELECT pg_advisory_xact_lock({}, hashtext($1::text))", kLockClass),
                "waiting for a lock's row", {name}));
  NS_ASSIGN_OR_RETURN(RunAcquisition got, TakeHolder(conn, kLocks, name, me, holder_gone));
  NS_RETURN_IF_ERROR(txn.Commit());
  return got;
}

Status TouchLock(PgConn* conn, const std::string& name, const RunOwner& me) {
  return TouchHolder(conn, kLocks, name, me);
}

Status DeleteLock(PgConn* conn, const std::string& name, const RunOwner& me) {
  return DeleteHolder(conn, kLocks, name, me);
}

Result<std::optional<RunOwner>> SelectOwner(PgConn* conn, const std::string& run_id) {
  return SelectHolder(conn, kRunOwners, run_id);
}

Result<RunAcquisition> TakeOwner(PgConn* conn, const std::string& run_id, const RunOwner& me,
                                 const std::function<bool(const RunOwner&)>& owner_gone) {
  return TakeHolder(conn, kRunOwners, run_id, me, owner_gone);
}

Status TouchOwner(PgConn* conn, const std::string& run_id, const RunOwner& me) {
  return TouchHolder(conn, kRunOwners, run_id, me);
}

Status DeleteOwner(PgConn* conn, const std::string& run_id, const RunOwner& me) {
  return DeleteHolder(conn, kRunOwners, run_id, me);
}

}  // namespace nightshift::pgledger
