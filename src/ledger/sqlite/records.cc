#include "ledger/sqlite/records.h"

#include "ledger/record_columns.h"

namespace nightshift::sqlite {

Result<RunRecord> ReadRun(const Statement& s, const Connection& conn) {
  return Checked(ledger::RunFromRow(s), conn);
}

Result<ShardRecord> ReadShard(const Statement& s, const Connection& conn) {
  return Checked(ledger::ShardFromRow(s), conn);
}

}  // namespace nightshift::sqlite
