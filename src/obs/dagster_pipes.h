// Dagster Pipes: when Dagster launches nightshift (PipesSubprocessClient and
// friends), it passes two parameters in the environment, each base64 of
// zlib-compressed JSON:
//   DAGSTER_PIPES_CONTEXT   {"path": FILE} or {"data": {...}}: the context
//                           (asset_keys, run_id, extras, ...)
//   DAGSTER_PIPES_MESSAGES  {"path": FILE} (JSON lines appended to FILE) or
//                           {"stdio": "stderr"|"stdout"}: where messages go
// Every message is {"__dagster_pipes_version": "0.1", "method", "params"}.
// nightshift writes `opened` first, `log` lines, one
// `report_asset_materialization` for the context's asset, and `closed` last
// (with an `exception` when the run failed). Thread-safe.
#pragma once

#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "nightshift/env.h"
#include "nightshift/status.h"

namespace nightshift::obs {

// base64 -> zlib inflate -> JSON (the encoding of both parameters).
Result<nlohmann::json> DecodePipesParam(std::string_view encoded);

class PipesSession {
 public:
  // nullptr when DAGSTER_PIPES_CONTEXT is not set; an InvalidJob error when it
  // is set but cannot be read (a launch misconfigured: no retry helps).
  static Result<std::unique_ptr<PipesSession>> OpenFromEnv(Env* env);

  // Writes `opened` (call once, first).
  void Opened();
  // One `log` message; level as Python's logging names it (INFO, WARNING...).
  void Log(std::string_view level, std::string_view message);
  // One `report_asset_materialization` for the context's (single) asset key;
  // `metadata` maps names to {raw_value, type}. Skipped without an asset key.
  void ReportMaterialization(const nlohmann::json& metadata,
                             const std::optional<std::string>& data_version);
  // Writes `closed` once; `failure` set: with the exception.
  void Closed(const std::optional<std::string>& failure_name,
              const std::optional<std::string>& failure_message);

  const std::string& asset_key() const { return asset_key_; }

 private:
  PipesSession(Env* env, nlohmann::json context, std::string path, std::string stdio);
  void Write(std::string_view method, const nlohmann::json& params);

  Env* env_;
  nlohmann::json context_;
  std::string path_;   // messages file, or
  std::string stdio_;  // "stderr" | "stdout"
  std::string asset_key_;
  std::mutex mu_;
  bool closed_ = false;
};

// {"raw_value": v, "type": t}: one metadata value of a materialization.
nlohmann::json PipesValue(const nlohmann::json& raw, std::string_view type);

}  // namespace nightshift::obs
