#include "io/postgres/pg_target.h"

#include <libpq-fe.h>

#include <cstring>
#include <memory>

namespace nightshift::io::pg {
namespace {

using Options = std::unique_ptr<PQconninfoOption, decltype(&PQconninfoFree)>;

std::string Get(const PQconninfoOption* opts, const char* key) {
  for (const PQconninfoOption* o = opts; o != nullptr && o->keyword != nullptr; ++o) {
    if (std::strcmp(o->keyword, key) == 0 && o->val != nullptr) return o->val;
  }
  return "";
}

// The value `location` gives `key`, else libpq's default (its environment
// variable, or its compiled-in default).
std::string Value(const PQconninfoOption* given, const PQconninfoOption* defaults,
                  const char* key) {
  std::string v = Get(given, key);
  return v.empty() ? Get(defaults, key) : v;
}

}  // namespace

std::optional<PgTarget> ResolveTarget(const std::string& location) {
  char* err = nullptr;
  Options given(PQconninfoParse(location.c_str(), &err), &PQconninfoFree);
  PQfreemem(err);
  if (given == nullptr) return std::nullopt;
  Options defaults(PQconndefaults(), &PQconninfoFree);
  const PQconninfoOption* d = defaults.get();
  PgTarget t{.host = Value(given.get(), d, "host"),
             .hostaddr = Value(given.get(), d, "hostaddr"),
             .port = Value(given.get(), d, "port"),
             .dbname = Value(given.get(), d, "dbname"),
             .user = Value(given.get(), d, "user")};
  if (t.port.empty()) t.port = "5432";
  if (t.dbname.empty()) t.dbname = t.user;
  return t;
}

bool SameDatabase(const std::string& a, const std::string& b) {
  const std::optional<PgTarget> ta = ResolveTarget(a);
  const std::optional<PgTarget> tb = ResolveTarget(b);
  return ta.has_value() && tb.has_value() && *ta == *tb;
}

}  // namespace nightshift::io::pg
