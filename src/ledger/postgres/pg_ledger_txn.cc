#include "ledger/postgres/pg_ledger_txn.h"

#include <fmt/format.h>

#include "ledger/postgres/pg_claims.h"

namespace nightshift::pgledger {
namespace {

class PgLedgerInTxn final : public io::pg::LedgerInTxn {
 public:
  explicit PgLedgerInTxn(std::string location) : location_(std::move(location)) {}

  const std::string& location() const override { return location_; }

  Result<std::optional<int64_t>> Lock(PgConn* conn, const std::string& run_id, int64_t shard_id,
                                      int64_t epoch) override {
    return LockForCommit(conn, run_id, shard_id, epoch);
  }

  Status Commit(PgConn* conn, const std::string& run_id, int64_t shard_id, int64_t epoch,
                const ShardOutput& out) override {
    NS_ASSIGN_OR_RETURN(bool now,
                        MarkCommitted(conn, run_id, shard_id, epoch,
                                      ShardCommitRecord{out.rows_written, out.output_file,
                                                        out.dead_letter_file, out.failures}));
    if (now) return Status::Ok();
    // Lock() holds the row since the transaction began, so only a bug gets here.
    return Status(Code::kConflict,
                  fmt::format("shard {} of run '{}': epoch {} lost its claim inside its own "
                              "commit transaction",
                              shard_id, run_id, epoch));
  }

 private:
  std::string location_;
};

}  // namespace

std::unique_ptr<io::pg::LedgerInTxn> MakeLedgerInTxn(std::string location) {
  return std::make_unique<PgLedgerInTxn>(std::move(location));
}

}  // namespace nightshift::pgledger
