#include "ledger/sqlite/owner_store.h"

#include <fmt/format.h>

namespace nightshift::sqlite {

Result<std::optional<RunOwner>> SelectOwner(Connection* conn, const std::string& run_id) {
  NS_ASSIGN_OR_RETURN(Statement select,
                      conn->Prepare("SELECT host, pid, start_time, acquired_at_ms, "
                                    "heartbeat_at_ms FROM run_owners WHERE run_id = ?1"));
  select.Bind(1, run_id);
  NS_ASSIGN_OR_RETURN(bool row, select.Step());
  if (!row) return std::optional<RunOwner>();
  return std::optional<RunOwner>(RunOwner{.host = select.Text(0),
                                          .pid = select.Int(1),
                                          .start_time = select.Int(2),
                                          .acquired_at_ms = select.Int(3),
                                          .heartbeat_at_ms = select.Int(4)});
}

Result<RunAcquisition> TakeOwner(Connection* conn, const std::string& run_id, const RunOwner& me,
                                 const std::function<bool(const RunOwner&)>& owner_gone,
                                 int64_t now_ms) {
  NS_ASSIGN_OR_RETURN(std::optional<RunOwner> current, SelectOwner(conn, run_id));
  if (current.has_value() && !current->SameProcess(me) && !owner_gone(*current)) {
    return RunAcquisition{.acquired = false, .holder = *current};
  }
  RunOwner taken = me;
  taken.acquired_at_ms = now_ms;
  taken.heartbeat_at_ms = now_ms;
  NS_ASSIGN_OR_RETURN(Statement upsert,
                      conn->Prepare("INSERT OR REPLACE INTO run_owners (run_id, host, pid, "
                                    "start_time, acquired_at_ms, heartbeat_at_ms) "
                                    "VALUES (?1, ?2, ?3, ?4, ?5, ?5)"));
  upsert.Bind(1, run_id).Bind(2, me.host).Bind(3, me.pid).Bind(4, me.start_time).Bind(5, now_ms);
  NS_RETURN_IF_ERROR(upsert.Run());
  return RunAcquisition{.acquired = true, .holder = taken};
}

Status TouchOwner(Connection* conn, const std::string& run_id, const RunOwner& me, int64_t now_ms) {
  {
    NS_ASSIGN_OR_RETURN(Statement update,
                        conn->Prepare("UPDATE run_owners SET heartbeat_at_ms = ?5 "
                                      "WHERE run_id = ?1 AND host = ?2 AND pid = ?3 "
                                      "AND start_time = ?4"));
    update.Bind(1, run_id).Bind(2, me.host).Bind(3, me.pid).Bind(4, me.start_time).Bind(5, now_ms);
    NS_RETURN_IF_ERROR(update.Run());
  }
  if (sqlite3_changes(conn->handle()) > 0) return Status::Ok();
  return Status(Code::kFailed,
                fmt::format("run '{}' is no longer owned by pid {} on host {}: another process "
                            "took it over",
                            run_id, me.pid, me.host));
}

Status DeleteOwner(Connection* conn, const std::string& run_id, const RunOwner& me) {
  NS_ASSIGN_OR_RETURN(Statement del,
                      conn->Prepare("DELETE FROM run_owners WHERE run_id = ?1 AND host = ?2 "
                                    "AND pid = ?3 AND start_time = ?4"));
  del.Bind(1, run_id).Bind(2, me.host).Bind(3, me.pid).Bind(4, me.start_time);
  return del.Run();
}

}  // namespace nightshift::sqlite
