// Which database a PostgreSQL location (run.ledger, output.url) names: the
// server (host, hostaddr, port), the database and the user, as libpq would
// connect, with its defaults applied (PGHOST, PGPORT, PGDATABASE, PGUSER, the
// login name; dbname defaults to the user).
#pragma once

#include <optional>
#include <string>

namespace nightshift::io::pg {

struct PgTarget {
  std::string host, hostaddr, port, dbname, user;
  bool operator==(const PgTarget&) const = default;
};

// nullopt when libpq cannot parse `location`.
std::optional<PgTarget> ResolveTarget(const std::string& location);

// True when `a` and `b` both parse and name the same database on the same
// server as the same user. Spellings of one server that differ (localhost
// and 127.0.0.1) compare unequal: the safe answer, as a caller treats
// "not the same" as two databases.
bool SameDatabase(const std::string& a, const std::string& b);

}  // namespace nightshift::io::pg
