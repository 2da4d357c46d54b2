// Where a PostgreSQL database is, as the job names it (run.ledger, output.url,
// input.url): a URL (postgresql://user:pw@host/db?sslmode=require) or libpq's
// key=value form (host=db dbname=crm user=scorer password=...). Both may hold
// a password, which must never be shown.
#pragma once

#include <string>
#include <string_view>

namespace nightshift {

// True for a postgresql:// or postgres:// URL, or a key=value string whose
// first key is one of libpq's connection keywords (so that a file path with
// an '=' in it is never taken for one).
bool IsPostgresLocation(std::string_view location);

// `location` without its password: a URL's user:password@ becomes user@, a
// password= parameter (of a URL's query or a key=value string, quoted or
// not) is left out. Anything else is returned as it is.
std::string RedactPostgresLocation(std::string_view location);

}  // namespace nightshift
