#include "obs/run_observer.h"

#include <algorithm>

namespace nightshift::obs {

ObserverList::ObserverList(std::vector<RunObserver*> observers) : observers_(std::move(observers)) {
  observers_.erase(std::remove(observers_.begin(), observers_.end(), nullptr), observers_.end());
}

void ObserverList::OnRunStarted(const std::string& job, const std::string& run_id, int workers) {
  for (RunObserver* o : observers_) o->OnRunStarted(job, run_id, workers);
}

void ObserverList::OnBatch(double seconds, int64_t rows) {
  for (RunObserver* o : observers_) o->OnBatch(seconds, rows);
}

void ObserverList::OnRetry(std::string_view reason) {
  for (RunObserver* o : observers_) o->OnRetry(reason);
}

void ObserverList::OnShardCommitted(int64_t shard_id, int64_t rows_written,
                                    const std::vector<ItemFailure>& failures) {
  for (RunObserver* o : observers_) o->OnShardCommitted(shard_id, rows_written, failures);
}

}  // namespace nightshift::obs
