#include "io/query_files.h"

#include <algorithm>
#include <set>

namespace nightshift::io {

std::vector<Literal> StringLiterals(const std::string& sql) {
  std::vector<Literal> out;
  size_t i = 0;
  const size_t n = sql.size();
  while (i < n) {
    const char c = sql[i];
    if (c == '-' && i + 1 < n && sql[i + 1] == '-') {
      i = sql.find('\n', i);
      if (i == std::string::npos) break;
    } else if (c == '/' && i + 1 < n && sql[i + 1] == '*') {
      i = sql.find("*/", i + 2);
      if (i == std::string::npos) break;
      i += 2;
    } else if (c == '"') {
      i = sql.find('"', i + 1);
      if (i == std::string::npos) break;
      ++i;
    } else if (c == '\'') {
      Literal lit;
      lit.begin = i++;
      while (i < n) {
        if (sql[i] == '\'' && i + 1 < n && sql[i + 1] == '\'') {
          lit.text += '\'';
          i += 2;
        } else if (sql[i] == '\'') {
          ++i;
          break;
        } else {
          lit.text += sql[i++];
        }
      }
      lit.end = i;
      out.push_back(std::move(lit));
    } else {
      ++i;
    }
  }
  return out;
}

Result<QueryInput> ResolveQuery(DuckConnection* conn, Env* env, const std::string& query,
                                const std::string& dir) {
  QueryInput out;
  std::set<std::string> paths;
  size_t copied = 0;  // query text up to here is in out.query
  for (const Literal& lit : StringLiterals(query)) {
    // Remote and empty literals are not files of this machine.
    if (lit.text.empty() || lit.text.find("://") != std::string::npos) continue;
    const bool relative = lit.text[0] != '/' && !dir.empty();
    const std::string pattern = relative ? JoinPath(dir, lit.text) : lit.text;
    // A literal glob() cannot take is no file name: it names nothing.
    auto r = conn->Query("SELECT file FROM glob(" + QuoteString(pattern) + ")");
    if (!r.has_value() || r->row_count() == 0) continue;
    for (idx_t row = 0; row < r->row_count(); ++row) paths.insert(r->Text(0, row));
    if (relative) {
      out.query += query.substr(copied, lit.begin - copied) + QuoteString(pattern);
      copied = lit.end;
    }
  }
  out.query += query.substr(copied);
  for (const std::string& p : paths) {
    NS_ASSIGN_OR_RETURN(FileInfo info, env->Stat(p));
    if (info.is_dir) continue;
    InputFile f;
    f.path = p;
    f.size = info.size;
    f.mtime_ns = info.mtime_ns;
    f.device = info.device;
    f.inode = info.inode;
    out.files.push_back(std::move(f));
  }
  return out;
}

}  // namespace nightshift::io
