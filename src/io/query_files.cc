#include "io/query_files.h"

#include <algorithm>
#include <set>

namespace nightshift::io {

std::vector<std::string> StringLiterals(const std::string& sql) {
  std::vector<std::string> out;
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
      std::string lit;
      ++i;
      while (i < n) {
        if (sql[i] == '\'' && i + 1 < n && sql[i + 1] == '\'') {
          lit += '\'';
          i += 2;
        } else if (sql[i] == '\'') {
          ++i;
          break;
        } else {
          lit += sql[i++];
        }
      }
      out.push_back(std::move(lit));
    } else {
      ++i;
    }
  }
  return out;
}

Result<std::vector<InputFile>> ListQueryFiles(DuckConnection* conn, Env* env,
                                              const std::string& query, const std::string& dir) {
  std::set<std::string> paths;
  for (const std::string& lit : StringLiterals(query)) {
    // Remote and empty literals are not files of this machine.
    if (lit.empty() || lit.find("://") != std::string::npos || lit.find('\n') != std::string::npos)
      continue;
    const std::string pattern = lit[0] == '/' || dir.empty() ? lit : JoinPath(dir, lit);
    // A literal glob() cannot take is no file name: it names nothing.
    auto r = conn->Query("SELECT file FROM glob(" + QuoteString(pattern) + ")");
    if (!r.has_value()) continue;
    for (idx_t row = 0; row < r->row_count(); ++row) paths.insert(r->Text(0, row));
  }
  std::vector<InputFile> files;
  for (const std::string& p : paths) {
    NS_ASSIGN_OR_RETURN(FileInfo info, env->Stat(p));
    if (info.is_dir) continue;
    InputFile f;
    f.path = p;
    f.size = info.size;
    f.mtime_ns = info.mtime_ns;
    f.device = info.device;
    f.inode = info.inode;
    files.push_back(std::move(f));
  }
  return files;
}

}  // namespace nightshift::io
