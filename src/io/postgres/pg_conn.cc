#include "io/postgres/pg_conn.h"

#include <fmt/format.h>

#include <algorithm>

namespace nightshift::io::pg {
namespace {

// Options libpq parsed out of `conninfo`; nullptr when it cannot.
struct Options {
  PQconninfoOption* opts = nullptr;
  ~Options() { PQconninfoFree(opts); }
  std::string Get(std::string_view key) const {
    for (auto* o = opts; o != nullptr && o->keyword != nullptr; ++o) {
      if (key == o->keyword && o->val != nullptr) return o->val;
    }
    return "";
  }
};

std::string Trimmed(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

// Whether an error with SQLSTATE `state` says the connection is gone (or
// about to go): none at all is libpq's own error, the server never answered
// (after a crash restart libpq reports "server closed the connection" while
// its status still says OK); 08: connection exceptions; 57P01-57P03: the
// server is shutting down, crashed, or not yet accepting connections.
bool ConnectionGone(const std::string& state) {
  return state.empty() || state.starts_with("08") || state == "57P01" || state == "57P02" ||
         state == "57P03";
}

}  // namespace

int64_t ReconnectPauseMicros(int attempt) {
  return std::min<int64_t>(2000, int64_t{100} << std::min(attempt, 5)) * 1000;
}

std::string Describe(const std::string& conninfo) {
  Options o;
  char* err = nullptr;
  o.opts = PQconninfoParse(conninfo.c_str(), &err);
  PQfreemem(err);
  if (o.opts == nullptr) return "";
  std::string host = o.Get("host");
  std::string port = o.Get("port");
  std::string user = o.Get("user");
  return fmt::format("postgresql://{}{}{}{}/{}", user, user.empty() ? "" : "@", host,
                     port.empty() ? "" : ":" + port, o.Get("dbname"));
}

std::string QuoteIdent(std::string_view name) {
  std::string q = "\"";
  for (char c : name) {
    q += c;
    if (c == '"') q += '"';
  }
  return q + "\"";
}

std::string QuoteQualified(std::string_view schema, std::string_view table) {
  return schema.empty() ? QuoteIdent(table) : QuoteIdent(schema) + "." + QuoteIdent(table);
}

std::string QuoteLiteral(std::string_view text) {
  std::string q = "'";
  for (char c : text) {
    q += c;
    if (c == '\'') q += '\'';
  }
  return q + "'";
}

PgResult& PgResult::operator=(PgResult&& o) noexcept {
  if (this != &o) {
    PQclear(r_);
    r_ = o.r_;
    o.r_ = nullptr;
  }
  return *this;
}

Result<std::unique_ptr<PgConn>> PgConn::Connect(const std::string& conninfo, std::string what) {
  std::unique_ptr<PgConn> c(new PgConn());
  c->conninfo_ = conninfo;
  c->what_ = std::move(what);
  Options o;
  char* err = nullptr;
  o.opts = PQconninfoParse(conninfo.c_str(), &err);
  if (o.opts == nullptr) {
    // libpq's parse error quotes the offending part, which may hold the password.
    PQfreemem(err);
    return Error(Code::kInvalidJob,
                 fmt::format("{}: not a PostgreSQL URL or key=value connection string", c->what_));
  }
  PQfreemem(err);
  c->password_ = o.Get("password");
  c->described_ = Describe(conninfo);
  c->conn_ = PQconnectdb(conninfo.c_str());
  if (PQstatus(c->conn_) != CONNECTION_OK) {
    Status s = c->ErrorOf("cannot connect", PQerrorMessage(c->conn_));
    return Error(Code::kInvalidJob, s.message());
  }
  // The server's notices (e.g. "relation ... already exists, skipping" for
  // CREATE TABLE IF NOT EXISTS) are not the user's business: libpq would
  // print them to stderr.
  PQsetNoticeProcessor(
      c->conn_, [](void*, const char*) {}, nullptr);
  return c;
}

PgConn::~PgConn() {
  PQfinish(conn_);
}

std::string PgConn::Scrub(std::string m) const {
  if (password_.size() >= 1) {
    for (auto pos = m.find(password_); pos != std::string::npos; pos = m.find(password_))
      m.replace(pos, password_.size(), "***");
  }
  return m;
}

Status PgConn::ResultError(std::string_view context, const PGresult* r) {
  if (r == nullptr) return ErrorOf(context, PQerrorMessage(conn_));
  auto field = [&](int code) {
    const char* v = PQresultErrorField(r, code);
    return std::string(v != nullptr ? v : "");
  };
  sqlstate_ = field(PG_DIAG_SQLSTATE);
  error_context_ = Scrub(field(PG_DIAG_CONTEXT));
  std::string column = field(PG_DIAG_COLUMN_NAME);
  reason_ = Scrub(fmt::format("SQLSTATE {}: {}{}", sqlstate_, field(PG_DIAG_MESSAGE_PRIMARY),
                              column.empty() ? "" : fmt::format(" (column {})", column)));
  return ErrorOf(context, PQresultErrorMessage(r));
}

Status PgConn::ErrorOf(std::string_view context, const char* message) const {
  std::string m = Scrub(Trimmed(message != nullptr ? message : ""));
  bool lost = conn_ == nullptr || PQstatus(conn_) != CONNECTION_OK || ConnectionGone(sqlstate_);
  return Status(lost ? Code::kTransient : Code::kIoError,
                fmt::format("{} ({}): {}: {}", what_, described_, context, m));
}

Status PgConn::EnsureConnected() {
  if (PQstatus(conn_) == CONNECTION_OK) return Status::Ok();
  PQreset(conn_);
  if (PQstatus(conn_) == CONNECTION_OK) return Status::Ok();
  return ErrorOf("connection lost", PQerrorMessage(conn_));
}

void PgConn::Cancel() {
  PGcancel* c = PQgetCancel(conn_);
  if (c == nullptr) return;
  char err[256];
  (void)PQcancel(c, err, sizeof err);
  PQfreeCancel(c);
}

Result<PgResult> PgConn::Exec(const std::string& sql, std::string_view context,
                              const std::vector<std::string>& params, bool binary) {
  sqlstate_.clear();
  reason_.clear();
  error_context_.clear();
  std::vector<const char*> values;
  for (const auto& p : params) values.push_back(p.c_str());
  PgResult r(PQexecParams(conn_, sql.c_str(), static_cast<int>(values.size()), nullptr,
                          values.data(), nullptr, nullptr, binary ? 1 : 0));
  ExecStatusType st = PQresultStatus(r.get());
  if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK) return r;
  return Error(ResultError(context, r.get()));
}

Status PgConn::RunScript(const std::string& script, std::string_view context) {
  sqlstate_.clear();
  PgResult r(PQexec(conn_, script.c_str()));
  ExecStatusType st = PQresultStatus(r.get());
  if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK) return Status::Ok();
  return ErrorOf(context,
                 r.get() != nullptr ? PQresultErrorMessage(r.get()) : PQerrorMessage(conn_));
}

Status PgConn::CopyIn(const std::string& copy_sql,
                      const std::function<Status(const CopyPut&)>& produce,
                      std::string_view context) {
  sqlstate_.clear();
  reason_.clear();
  error_context_.clear();
  PgResult start(PQexec(conn_, copy_sql.c_str()));
  if (PQresultStatus(start.get()) != PGRES_COPY_IN) return ResultError(context, start.get());
  // Blocking mode: each piece is queued (and sent as libpq's buffer fills).
  bool refused = false;  // libpq refused a piece: the server ended the COPY
  Status sent = produce([&](std::string_view piece) -> Status {
    if (PQputCopyData(conn_, piece.data(), static_cast<int>(piece.size())) != 1) {
      refused = true;
      return ErrorOf(context, PQerrorMessage(conn_));
    }
    return Status::Ok();
  });
  if (!sent.ok()) {
    (void)PQputCopyEnd(conn_, "nightshift: the rows could not be sent");
    Status server;  // why the server ended the COPY (e.g. a row it rejected)
    while (PGresult* raw = PQgetResult(conn_)) {
      PgResult r(raw);
      if (PQresultStatus(raw) == PGRES_FATAL_ERROR && server.ok())
        server = ResultError(context, raw);
    }
    return refused && !server.ok() ? server : sent;
  }
  if (PQputCopyEnd(conn_, nullptr) != 1) return ErrorOf(context, PQerrorMessage(conn_));
  Status s;
  while (PGresult* raw = PQgetResult(conn_)) {
    PgResult r(raw);
    if (PQresultStatus(raw) != PGRES_COMMAND_OK && s.ok()) s = ResultError(context, raw);
  }
  return s;
}

}  // namespace nightshift::io::pg
