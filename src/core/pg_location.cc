#include "nightshift/pg_location.h"

#include <algorithm>
#include <array>
#include <cctype>

namespace nightshift {
namespace {

// libpq's connection keywords (PostgreSQL 15, "Parameter Key Words").
constexpr std::array<std::string_view, 42> kKeywords = {"host",
                                                        "hostaddr",
                                                        "port",
                                                        "dbname",
                                                        "user",
                                                        "password",
                                                        "passfile",
                                                        "channel_binding",
                                                        "connect_timeout",
                                                        "client_encoding",
                                                        "options",
                                                        "application_name",
                                                        "fallback_application_name",
                                                        "keepalives",
                                                        "keepalives_idle",
                                                        "keepalives_interval",
                                                        "keepalives_count",
                                                        "tcp_user_timeout",
                                                        "replication",
                                                        "gssencmode",
                                                        "sslmode",
                                                        "requiressl",
                                                        "sslcompression",
                                                        "sslcert",
                                                        "sslkey",
                                                        "sslpassword",
                                                        "sslrootcert",
                                                        "sslcrl",
                                                        "sslcrldir",
                                                        "sslsni",
                                                        "requirepeer",
                                                        "ssl_min_protocol_version",
                                                        "ssl_max_protocol_version",
                                                        "krbsrvname",
                                                        "gsslib",
                                                        "service",
                                                        "target_session_attrs",
                                                        "load_balance_hosts",
                                                        "sslcertmode",
                                                        "require_auth",
                                                        "gssdelegation",
                                                        "sslnegotiation"};

bool IsUrl(std::string_view s) {
  return s.starts_with("postgresql://") || s.starts_with("postgres://");
}

size_t SkipSpace(std::string_view s, size_t i) {
  while (i < s.size() && std::isspace(static_cast<unsigned char>(s[i]))) ++i;
  return i;
}

// The end of the value starting at `i` of a key=value string: a '...'
// quoted value (with \' and \\ escapes) or a run of non-space characters.
size_t ValueEnd(std::string_view s, size_t i) {
  if (i < s.size() && s[i] == '\'') {
    for (++i; i < s.size() && s[i] != '\''; ++i) {
      if (s[i] == '\\') ++i;
    }
    return std::min(s.size(), i + 1);
  }
  while (i < s.size() && !std::isspace(static_cast<unsigned char>(s[i]))) ++i;
  return i;
}

// A key=value string without its password entries.
std::string RedactKeyValues(std::string_view s) {
  std::string out;
  for (size_t i = SkipSpace(s, 0); i < s.size(); i = SkipSpace(s, i)) {
    const size_t eq = s.find('=', i);
    if (eq == std::string_view::npos) {
      out += (out.empty() ? "" : " ") + std::string(s.substr(i));
      break;
    }
    std::string_view key = s.substr(i, eq - i);
    while (!key.empty() && std::isspace(static_cast<unsigned char>(key.back())))
      key.remove_suffix(1);
    const size_t end = ValueEnd(s, SkipSpace(s, eq + 1));
    if (key != "password") out += (out.empty() ? "" : " ") + std::string(s.substr(i, end - i));
    i = end;
  }
  return out;
}

// A URL without the password of its user info and of its query.
std::string RedactUrl(std::string_view s) {
  const size_t start = s.find("://") + 3;
  std::string out(s.substr(0, start));
  const size_t auth_end = s.find_first_of("/?", start);
  std::string_view auth =
      s.substr(start, auth_end == std::string_view::npos ? s.npos : auth_end - start);
  if (const size_t at = auth.rfind('@'); at != std::string_view::npos) {
    const size_t colon = auth.find(':');
    out += std::string(colon < at ? auth.substr(0, colon) : auth.substr(0, at)) +
           std::string(auth.substr(at));
  } else {
    out += auth;
  }
  if (auth_end == std::string_view::npos) return out;
  const size_t q = s.find('?', auth_end);
  out += s.substr(auth_end, q == std::string_view::npos ? s.npos : q - auth_end);
  if (q == std::string_view::npos) return out;
  std::string query;
  for (size_t i = q + 1; i <= s.size();) {
    size_t amp = s.find('&', i);
    if (amp == std::string_view::npos) amp = s.size();
    std::string_view param = s.substr(i, amp - i);
    if (!param.starts_with("password=") && !param.empty()) {
      query += (query.empty() ? "" : "&") + std::string(param);
    }
    i = amp + 1;
  }
  return query.empty() ? out : out + "?" + query;
}

}  // namespace

bool IsPostgresLocation(std::string_view location) {
  if (IsUrl(location)) return true;
  const size_t i = SkipSpace(location, 0);
  const size_t eq = location.find('=', i);
  if (eq == std::string_view::npos) return false;
  std::string_view key = location.substr(i, eq - i);
  while (!key.empty() && std::isspace(static_cast<unsigned char>(key.back()))) key.remove_suffix(1);
  return std::find(kKeywords.begin(), kKeywords.end(), key) != kKeywords.end();
}

std::string RedactPostgresLocation(std::string_view location) {
  if (IsUrl(location)) return RedactUrl(location);
  if (IsPostgresLocation(location)) return RedactKeyValues(location);
  return std::string(location);
}

}  // namespace nightshift
