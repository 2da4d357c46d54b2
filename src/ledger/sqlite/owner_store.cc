#include "ledger/sqlite/owner_store.h"

#include <fmt/format.h>

namespace nightshift::sqlite {
namespace {

// The two tables of holders: run_owners (one process per run) and locks
// (named locks, schema version 8). Same columns but the key; one set of
// queries serves both.
struct HolderTable {
  const char* table;
  const char* key;   // its primary key column
  const char* noun;  // in messages: "run is no longer owned", "lock is no longer held"
  const char* held;
};
constexpr HolderTable kRunOwners{"run_owners", "run_id", "run", "owned"};
constexpr HolderTable kLocks{"locks", "name", "lock", "held"};

Result<std::optional<RunOwner>> SelectHolder(Connection* conn, const HolderTable& t,
                                             const std::string& key) {
  const std::string sql = fmt::format(
      "SELECT host, pid, start_time, acquired_at_ms, heartbeat_at_ms FROM {} WHERE {} = ?1",
      t.table, t.key);
  NS_ASSIGN_OR_RETURN(Statement select, conn->Prepare(sql.c_str()));
  select.Bind(1, key);
  NS_ASSIGN_OR_RETURN(bool row, select.Step());
  if (!row) return std::optional<RunOwner>();
  return std::optional<RunOwner>(RunOwner{.host = select.Text(0),
                                          .pid = select.Int(1),
                                          .start_time = select.Int(2),
                                          .acquired_at_ms = select.Int(3),
                                          .heartbeat_at_ms = select.Int(4)});
}

Result<RunAcquisition> TakeHolder(Connection* conn, const HolderTable& t, const std::string& key,
                                  const RunOwner& me,
                                  const std::function<bool(const RunOwner&)>& holder_gone,
                                  int64_t now_ms) {
  NS_ASSIGN_OR_RETURN(std::optional<RunOwner> current, SelectHolder(conn, t, key));
  if (current.has_value() && !current->SameProcess(me) && !holder_gone(*current)) {
    return RunAcquisition{.acquired = false, .holder = *current};
  }
  RunOwner taken = me;
  taken.acquired_at_ms = now_ms;
  taken.heartbeat_at_ms = now_ms;
  const std::string sql = fmt::format(
      "INSERT OR REPLACE INTO {} ({}, host, pid, start_time, acquired_at_ms, "
      "heartbeat_at_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?5)",
      t.table, t.key);
  NS_ASSIGN_OR_RETURN(Statement upsert, conn->Prepare(sql.c_str()));
  upsert.Bind(1, key).Bind(2, me.host).Bind(3, me.pid).Bind(4, me.start_time).Bind(5, now_ms);
  NS_RETURN_IF_ERROR(upsert.Run());
  return RunAcquisition{.acquired = true, .holder = taken};
}

Status TouchHolder(Connection* conn, const HolderTable& t, const std::string& key,
                   const RunOwner& me, int64_t now_ms) {
  {
    const std::string sql = fmt::format(
        "UPDATE {} SET heartbeat_at_ms = ?5 WHERE {} = ?1 AND host = ?2 AND "
        "pid = ?3 AND start_time = ?4",
        t.table, t.key);
    NS_ASSIGN_OR_RETURN(Statement update, conn->Prepare(sql.c_str()));
    update.Bind(1, key).Bind(2, me.host).Bind(3, me.pid).Bind(4, me.start_time).Bind(5, now_ms);
    NS_RETURN_IF_ERROR(update.Run());
  }
  if (sqlite3_changes(conn->handle()) > 0) return Status::Ok();
  return Status(Code::kFailed,
                fmt::format("{} '{}' is no longer {} by pid {} on host {}: another process "
                            "took it over",
                            t.noun, key, t.held, me.pid, me.host));
}

Status DeleteHolder(Connection* conn, const HolderTable& t, const std::string& key,
                    const RunOwner& me) {
  const std::string sql =
      fmt::format("DELETE FROM {} WHERE {} = ?1 AND host = ?2 AND pid = ?3 AND start_time = ?4",
                  t.table, t.key);
  NS_ASSIGN_OR_RETURN(Statement del, conn->Prepare(sql.c_str()));
  del.Bind(1, key).Bind(2, me.host).Bind(3, me.pid).Bind(4, me.start_time);
  return del.Run();
}

}  // namespace

Result<std::optional<RunOwner>> SelectOwner(Connection* conn, const std::string& run_id) {
  return SelectHolder(conn, kRunOwners, run_id);
}

Result<RunAcquisition> TakeOwner(Connection* conn, const std::string& run_id, const RunOwner& me,
                                 const std::function<bool(const RunOwner&)>& owner_gone,
                                 int64_t now_ms) {
  return TakeHolder(conn, kRunOwners, run_id, me, owner_gone, now_ms);
}

Status TouchOwner(Connection* conn, const std::string& run_id, const RunOwner& me, int64_t now_ms) {
  return TouchHolder(conn, kRunOwners, run_id, me, now_ms);
}

Status DeleteOwner(Connection* conn, const std::string& run_id, const RunOwner& me) {
  return DeleteHolder(conn, kRunOwners, run_id, me);
}

Result<RunAcquisition> TakeLock(Connection* conn, const std::string& name, const RunOwner& me,
                                const std::function<bool(const RunOwner&)>& holder_gone,
                                int64_t now_ms) {
  return TakeHolder(conn, kLocks, name, me, holder_gone, now_ms);
}

Status TouchLock(Connection* conn, const std::string& name, const RunOwner& me, int64_t now_ms) {
  return TouchHolder(conn, kLocks, name, me, now_ms);
}

Status DeleteLock(Connection* conn, const std::string& name, const RunOwner& me) {
  return DeleteHolder(conn, kLocks, name, me);
}

}  // namespace nightshift::sqlite
