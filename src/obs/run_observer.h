// RunObserver: what the engine tells the outside while a run goes (metrics,
// the ledger's batch-latency record, JSON logs, Dagster Pipes). The engine
// calls it in three places only: a batch finished (pipeline worker), a batch
// is retried (BatchRunner), a shard committed (the commit step). Every method
// may be called from several threads at once: implementations lock.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "nightshift/ledger.h"

namespace nightshift::obs {

class RunObserver {
 public:
  virtual ~RunObserver() = default;
  // Once, before the first batch: the run's job name, id and worker count.
  virtual void OnRunStarted(const std::string& /*job*/, const std::string& /*run_id*/,
                            int /*workers*/) {}
  // A batch left the model: its wall seconds (retries included) and rows.
  virtual void OnBatch(double /*seconds*/, int64_t /*rows*/) {}
  // A batch is run again; `reason` is a short class ("transient", "timeout").
  virtual void OnRetry(std::string_view /*reason*/) {}
  // A shard's output is committed in the ledger (written rows, failed rows).
  virtual void OnShardCommitted(int64_t /*shard_id*/, int64_t /*rows_written*/,
                                const std::vector<ItemFailure>& /*failures*/) {}
};

// Hands every call to each of a list of observers (not owned; nulls skipped).
class ObserverList : public RunObserver {
 public:
  explicit ObserverList(std::vector<RunObserver*> observers);
  void OnRunStarted(const std::string& job, const std::string& run_id, int workers) override;
  void OnBatch(double seconds, int64_t rows) override;
  void OnRetry(std::string_view reason) override;
  void OnShardCommitted(int64_t shard_id, int64_t rows_written,
                        const std::vector<ItemFailure>& failures) override;

 private:
  std::vector<RunObserver*> observers_;
};

}  // namespace nightshift::obs
