#include "obs/metrics.h"

#include <fmt/format.h>
#include <prometheus/counter.h>
#include <prometheus/exposer.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <mutex>

#include "nightshift/env.h"

namespace nightshift::obs {

using prometheus::Counter;
using prometheus::Family;
using prometheus::Gauge;
using prometheus::Histogram;

struct MetricsServer::Impl {
  std::shared_ptr<prometheus::Registry> registry = std::make_shared<prometheus::Registry>();
  std::unique_ptr<prometheus::Exposer> exposer;
  Family<Counter>& rows = prometheus::BuildCounter()
                              .Name("nightshift_rows_total")
                              .Help("Rows committed, by outcome (succeeded or failed)")
                              .Register(*registry);
  Family<Counter>& shards = prometheus::BuildCounter()
                                .Name("nightshift_shards_committed_total")
                                .Help("Shards committed")
                                .Register(*registry);
  Family<Histogram>& batch_seconds = prometheus::BuildHistogram()
                                         .Name("nightshift_batch_seconds")
                                         .Help("Wall seconds of one batch through the model")
                                         .Register(*registry);
  Family<Gauge>& batch_size = prometheus::BuildGauge()
                                  .Name("nightshift_batch_size")
                                  .Help("Rows in the last batch")
                                  .Register(*registry);
  Family<Gauge>& busy = prometheus::BuildGauge()
                            .Name("nightshift_model_busy_ratio")
                            .Help("Share of the run's wall time the model instances were busy")
                            .Register(*registry);
  Family<Counter>& retries = prometheus::BuildCounter()
                                 .Name("nightshift_retries_total")
                                 .Help("Batches run again, by reason")
                                 .Register(*registry);
};

namespace {

// Buckets from 1 ms to a minute: batches of small tabular models take
// milliseconds, those of large models on a CPU tens of seconds.
const Histogram::BucketBoundaries& BatchBuckets() {
  static const Histogram::BucketBoundaries kBuckets = {
      0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60};
  return kBuckets;
}

class MetricsObserver : public RunObserver {
 public:
  explicit MetricsObserver(MetricsServer::Impl* m) : m_(m) {}

  void OnRunStarted(const std::string& job, const std::string& run_id, int workers) override {
    std::lock_guard<std::mutex> lock(mu_);
    job_ = job;
    workers_ = std::max(1, workers);
    started_us_ = Env::Default()->MonotonicMicros();
    busy_s_ = 0;
    ok_ = &m_->rows.Add({{"job", job}, {"run_id", run_id}, {"outcome", "succeeded"}});
    failed_ = &m_->rows.Add({{"job", job}, {"run_id", run_id}, {"outcome", "failed"}});
    shards_ = &m_->shards.Add({{"job", job}, {"run_id", run_id}});
    seconds_ = &m_->batch_seconds.Add({{"job", job}}, BatchBuckets());
    size_ = &m_->batch_size.Add({{"job", job}});
    busy_ = &m_->busy.Add({{"job", job}});
  }

  void OnBatch(double seconds, int64_t rows) override {
    std::lock_guard<std::mutex> lock(mu_);
    if (seconds_ == nullptr) return;
    seconds_->Observe(seconds);
    size_->Set(static_cast<double>(rows));
    busy_s_ += seconds;
    double wall = static_cast<double>(Env::Default()->MonotonicMicros() - started_us_) / 1e6;
    if (wall > 0) busy_->Set(std::min(1.0, busy_s_ / (wall * workers_)));
  }

  void OnRetry(std::string_view reason) override {
    std::lock_guard<std::mutex> lock(mu_);
    m_->retries.Add({{"job", job_}, {"reason", std::string(reason)}}).Increment();
  }

  void OnShardCommitted(int64_t, int64_t rows_written,
                        const std::vector<ItemFailure>& failures) override {
    std::lock_guard<std::mutex> lock(mu_);
    if (ok_ == nullptr) return;
    ok_->Increment(static_cast<double>(rows_written));
    failed_->Increment(static_cast<double>(failures.size()));
    shards_->Increment();
  }

 private:
  MetricsServer::Impl* m_;
  std::mutex mu_;
  std::string job_;
  int workers_ = 1;
  int64_t started_us_ = 0;
  double busy_s_ = 0;
  Counter* ok_ = nullptr;
  Counter* failed_ = nullptr;
  Counter* shards_ = nullptr;
  Histogram* seconds_ = nullptr;
  Gauge* size_ = nullptr;
  Gauge* busy_ = nullptr;
};

}  // namespace

MetricsServer::MetricsServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
MetricsServer::~MetricsServer() = default;

Result<std::unique_ptr<MetricsServer>> MetricsServer::Start(const std::string& addr, int port) {
  if (port < 0 || port > 65535) {
    return Error(Code::kInvalidJob,
                 fmt::format("--metrics-port {} is not a port number (0-65535)", port));
  }
  auto impl = std::make_unique<Impl>();
  const std::string where = fmt::format("{}:{}", addr, port);
  try {
    // civetweb binds in the constructor and throws when it cannot.
    impl->exposer = std::make_unique<prometheus::Exposer>(where, 2);
  } catch (const std::exception& e) {
    return Error(Code::kInvalidJob,
                 fmt::format("--metrics-port {}: cannot listen on {} (is the port in use by "
                             "another process?): {}",
                             port, where, e.what()));
  }
  impl->exposer->RegisterCollectable(impl->registry);
  return std::unique_ptr<MetricsServer>(new MetricsServer(std::move(impl)));
}

int MetricsServer::port() const {
  auto ports = impl_->exposer->GetListeningPorts();
  return ports.empty() ? -1 : ports.front();
}

std::unique_ptr<RunObserver> MetricsServer::NewRunObserver() {
  return std::make_unique<MetricsObserver>(impl_.get());
}

}  // namespace nightshift::obs
