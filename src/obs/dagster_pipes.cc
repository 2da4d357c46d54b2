#include "obs/dagster_pipes.h"

#include <fmt/format.h>
#include <zlib.h>

#include <cstdio>
#include <cstdlib>

namespace nightshift::obs {
namespace {

constexpr const char* kVersion = "0.1";  // the protocol's, not the package's

Result<std::string> Base64Decode(std::string_view in) {
  auto value = [](char c) -> int {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+' || c == '-') return 62;
    if (c == '/' || c == '_') return 63;
    return -1;
  };
  std::string out;
  uint32_t acc = 0;
  int bits = 0;
  for (char c : in) {
    if (c == '=' || c == '\n' || c == '\r' || c == ' ') continue;
    int v = value(c);
    if (v < 0) return Error(Code::kInvalidJob, fmt::format("not base64 (character '{}')", c));
    acc = (acc << 6) | static_cast<uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out += static_cast<char>((acc >> bits) & 0xff);
    }
  }
  return out;
}

Result<std::string> Inflate(const std::string& in) {
  z_stream zs{};
  if (inflateInit(&zs) != Z_OK) return Error(Code::kInternal, "zlib inflateInit failed");
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  zs.avail_in = static_cast<uInt>(in.size());
  std::string out;
  char buf[16384];
  int rc;
  do {
    zs.next_out = reinterpret_cast<Bytef*>(buf);
    zs.avail_out = sizeof buf;
    rc = inflate(&zs, Z_NO_FLUSH);
    out.append(buf, sizeof buf - zs.avail_out);
  } while (rc == Z_OK);
  inflateEnd(&zs);
  if (rc != Z_STREAM_END) return Error(Code::kInvalidJob, "not zlib-compressed data");
  return out;
}

Result<nlohmann::json> ParamFromEnv(const char* name) {
  const char* raw = std::getenv(name);
  if (raw == nullptr) {
    return Error(
        Code::kInvalidJob,
        fmt::format("{} is not set (Dagster Pipes needs it with DAGSTER_PIPES_CONTEXT)", name));
  }
  auto j = DecodePipesParam(raw);
  if (!j.has_value()) return Error(j.error().WithContext(name));
  if (!j->is_object())
    return Error(Code::kInvalidJob, fmt::format("{} is not a JSON object", name));
  return j;
}

Result<nlohmann::json> LoadContext(Env* env, const nlohmann::json& params) {
  if (params.contains("data") && params["data"].is_object()) return params["data"];
  if (params.contains("path") && params["path"].is_string()) {
    const std::string path = params["path"];
    NS_ASSIGN_OR_RETURN(std::string text, env->ReadFile(path));
    auto j = nlohmann::json::parse(text, nullptr, false);
    if (!j.is_object()) {
      return Error(Code::kInvalidJob,
                   fmt::format("DAGSTER_PIPES_CONTEXT: '{}' does not hold a JSON object", path));
    }
    return j;
  }
  return Error(Code::kInvalidJob, "DAGSTER_PIPES_CONTEXT has neither \"path\" nor \"data\"");
}

}  // namespace

Result<nlohmann::json> DecodePipesParam(std::string_view encoded) {
  NS_ASSIGN_OR_RETURN(std::string compressed, Base64Decode(encoded));
  NS_ASSIGN_OR_RETURN(std::string text, Inflate(compressed));
  auto j = nlohmann::json::parse(text, nullptr, false);
  if (j.is_discarded()) return Error(Code::kInvalidJob, "not JSON after decompressing");
  return j;
}

nlohmann::json PipesValue(const nlohmann::json& raw, std::string_view type) {
  return {{"raw_value", raw}, {"type", type}};
}

Result<std::unique_ptr<PipesSession>> PipesSession::OpenFromEnv(Env* env) {
  if (std::getenv("DAGSTER_PIPES_CONTEXT") == nullptr) return std::unique_ptr<PipesSession>();
  NS_ASSIGN_OR_RETURN(nlohmann::json ctx_params, ParamFromEnv("DAGSTER_PIPES_CONTEXT"));
  NS_ASSIGN_OR_RETURN(nlohmann::json msg_params, ParamFromEnv("DAGSTER_PIPES_MESSAGES"));
  NS_ASSIGN_OR_RETURN(nlohmann::json context, LoadContext(env, ctx_params));
  std::string path, stdio;
  if (msg_params.contains("path") && msg_params["path"].is_string()) {
    path = msg_params["path"];
  } else if (msg_params.value("stdio", "") == "stderr" ||
             msg_params.value("stdio", "") == "stdout") {
    stdio = msg_params["stdio"];
  } else {
    return Error(
        Code::kInvalidJob,
        "DAGSTER_PIPES_MESSAGES has neither \"path\" nor \"stdio\": \"stderr\"|\"stdout\"");
  }
  return std::unique_ptr<PipesSession>(
      new PipesSession(env, std::move(context), std::move(path), std::move(stdio)));
}

PipesSession::PipesSession(Env* env, nlohmann::json context, std::string path, std::string stdio)
    : env_(env), context_(std::move(context)), path_(std::move(path)), stdio_(std::move(stdio)) {
  // One asset per `run`: the step's only asset key (none: no materialization).
  const auto keys = context_.value("asset_keys", nlohmann::json());
  if (keys.is_array() && keys.size() == 1 && keys[0].is_string()) asset_key_ = keys[0];
}

void PipesSession::Write(std::string_view method, const nlohmann::json& params) {
  nlohmann::json m = {
      {"__dagster_pipes_version", kVersion}, {"method", method}, {"params", params}};
  const std::string line = m.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
  if (!path_.empty()) {
    // The orchestrator only loses detail when a message cannot be written:
    // never a reason to fail the run.
    (void)env_->AppendFile(path_, line);
  } else {
    std::FILE* f = stdio_ == "stdout" ? stdout : stderr;
    std::fputs(line.c_str(), f);
    std::fflush(f);
  }
}

void PipesSession::Opened() {
  std::lock_guard<std::mutex> lock(mu_);
  Write("opened", {{"extras", nlohmann::json::object()}});
}

void PipesSession::Log(std::string_view level, std::string_view message) {
  std::lock_guard<std::mutex> lock(mu_);
  if (closed_) return;
  Write("log", {{"message", message}, {"level", level}});
}

void PipesSession::ReportMaterialization(const nlohmann::json& metadata,
                                         const std::optional<std::string>& data_version) {
  std::lock_guard<std::mutex> lock(mu_);
  if (closed_ || asset_key_.empty()) return;
  Write("report_asset_materialization",
        {{"asset_key", asset_key_},
         {"metadata", metadata},
         {"data_version", data_version ? nlohmann::json(*data_version) : nlohmann::json()}});
}

void PipesSession::Closed(const std::optional<std::string>& failure_name,
                          const std::optional<std::string>& failure_message) {
  std::lock_guard<std::mutex> lock(mu_);
  if (closed_) return;
  closed_ = true;
  nlohmann::json params = nlohmann::json::object();
  if (failure_message.has_value()) {
    params["exception"] = {{"name", failure_name.value_or("NightshiftError")},
                           {"message", *failure_message},
                           {"stack", nlohmann::json::array()},
                           {"cause", nullptr},
                           {"context", nullptr}};
  }
  Write("closed", params);
}

}  // namespace nightshift::obs
