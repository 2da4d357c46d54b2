#include "io/csv_dialects.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <string_view>

namespace nightshift::io {

bool CompressedPath(const std::string& path) {
  std::string lower = path;
  std::transform(lower.begin(), lower.end(), lower.begin(),
                 [](unsigned char c) { return std::tolower(c); });
  for (std::string_view ext : {".gz", ".zst", ".bz2", ".xz", ".lz4", ".zip"}) {
    if (lower.ends_with(ext)) return true;
  }
  return false;
}

std::optional<std::string> CsvDialects::HeaderLine(const std::string& path) {
  if (CompressedPath(path)) return std::nullopt;
  std::string head;
  bool ended = false;
  // A read error is not reported here: the file is then sniffed on its own,
  // and DuckDB's read of it reports the error naming the file.
  Status s = env_->ReadFileBlocks(path, 4096, [&](std::string_view block) {
    const size_t nl = block.find('\n');
    head.append(block.substr(0, nl == std::string_view::npos ? block.size() : nl + 1));
    ended = nl != std::string_view::npos;
    return !ended && head.size() <= kMaxHeaderBytes;
  });
  if (!s.ok() || head.size() > kMaxHeaderBytes) return std::nullopt;
  return head;  // without a line end when the file is its header alone
}

Result<std::optional<CsvDialects::Dialect>> CsvDialects::Sniff(const std::string& path,
                                                               const std::string& header,
                                                               const std::string& where) {
  ++sniffs_;
  NS_ASSIGN_OR_RETURN(DuckResult r, conn_->Query("SELECT Delimiter, Quote, Escape, Comment, "
                                                 "SkipRows, NewLineDelimiter FROM sniff_csv(" +
                                                     QuoteString(path) + ", header = true)",
                                                 where));
  if (r.row_count() != 1) return std::nullopt;
  // sniff_csv spells an option that is not set "(empty)".
  auto unset = [](const std::string& v) { return v.empty() || v == "(empty)"; };
  const std::string delim = r.Text(0, 0), quote = r.Text(1, 0), escape = r.Text(2, 0);
  if (delim.size() != 1 || delim[0] == '\n' || delim[0] == '\r' || delim[0] == '"') {
    return std::nullopt;
  }
  if (!unset(quote) && quote != "\"") return std::nullopt;
  if (!unset(escape) && escape != quote) return std::nullopt;
  if (!unset(r.Text(3, 0)) || r.Int(4, 0) != 0) return std::nullopt;
  // The line end is spelled out only where the header line shows it, so that
  // it holds for every file sharing the header.
  const std::string new_line = r.Text(5, 0);
  const bool crlf = header.ends_with("\r\n");
  const bool shown =
      (new_line == "\\n" && header.ends_with('\n') && !crlf) || (new_line == "\\r\\n" && crlf);
  // No quoting reads the same as '"' quoting on a file without quotes, and
  // '"' holds for the files after it that quote a value.
  return Dialect{TextDialect{delim[0], '"', true}, shown ? new_line : std::string()};
}

Result<std::optional<TextDialect>> CsvDialects::Of(int32_t file, const std::string& path,
                                                   const std::string& where) {
  if (auto known = by_file_.find(file); known != by_file_.end()) return known->second.text;
  if (forgotten_.contains(file)) return std::nullopt;
  std::optional<std::string> header = HeaderLine(path);
  if (!header.has_value()) return std::nullopt;
  auto it = by_header_.find(*header);
  if (it == by_header_.end()) {
    NS_ASSIGN_OR_RETURN(std::optional<Dialect> sniffed, Sniff(path, *header, where));
    it = by_header_.emplace(*header, std::move(sniffed)).first;
  }
  if (!it->second.has_value()) return std::nullopt;
  by_file_.emplace(file, *it->second);
  return it->second->text;
}

std::string CsvDialects::ReadOptions(int32_t file) const {
  auto it = by_file_.find(file);
  if (it == by_file_.end()) return "";
  const Dialect& d = it->second;
  std::string options = ", delim = " + QuoteString(std::string(1, d.text.delimiter)) +
                        ", quote = '\"', escape = '\"'";
  if (!d.new_line.empty()) options += ", new_line = " + QuoteString(d.new_line);
  return options;
}

void CsvDialects::Forget(int32_t file) {
  by_file_.erase(file);
  forgotten_.insert(file);
}

}  // namespace nightshift::io
