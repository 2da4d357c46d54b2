#include "io/multi_file.h"

#include <fmt/format.h>

namespace nightshift::io {

Result<std::string> CommonSqlType(DuckConnection* conn, const std::string& a,
                                  const std::string& b) {
  if (a == b) return a;
  const Status none(Code::kSchemaMismatch, fmt::format("{} and {} have no common type", a, b));
  // UNION's type is DuckDB's choice of a common type, but a lenient one
  // (INTEGER and INTEGER[] give INTEGER[]): it is taken only when both types
  // convert to it implicitly, or when it is text, which any value can be
  // written as.
  auto u = conn->Query(fmt::format("DESCRIBE SELECT NULL::{} AS c UNION ALL SELECT NULL::{}", a, b),
                       "common type");
  if (!u.has_value() || u->row_count() != 1) return Error(none);
  const std::string t = u->Text(1, 0);
  if (t == "VARCHAR") return t;
  auto ok = conn->Query(fmt::format("SELECT (can_cast_implicitly(NULL::{0}, NULL::{2}) AND "
                                    "can_cast_implicitly(NULL::{1}, NULL::{2}))::INTEGER",
                                    a, b, t),
                        "common type");
  if (!ok.has_value() || ok->row_count() != 1 || ok->Int(0, 0) != 1) return Error(none);
  return t;
}

std::string AllFilesRelation(const std::vector<InputFile>& files) {
  std::string paths;
  for (const InputFile& f : files) paths += (paths.empty() ? "" : ", ") + QuoteString(f.path);
  switch (files[0].format) {
    case InputFormat::kCsv: return "read_csv([" + paths + "], header = true, union_by_name = true)";
    case InputFormat::kJsonl:
      return "read_json([" + paths + "], format = 'newline_delimited', union_by_name = true)";
    default: return "read_parquet([" + paths + "], union_by_name = true)";
  }
}

std::vector<ShardTask> FilePieces(std::span<const ShardTask> shards) {
  std::vector<ShardTask> pieces;
  for (const ShardTask& s : shards) {
    if (s.packed.empty()) {
      pieces.push_back(s);
      continue;
    }
    const size_t first = pieces.size();
    for (const FilePart& part : s.packed) {
      if (part.rows == 0 && part.rows_selected.empty()) continue;
      ShardTask p = s;
      p.packed.clear();
      p.file_index = part.file_index;
      p.rows = part.rows_selected;
      p.row_begin = p.rows.empty() ? 0 : p.rows.front();
      p.row_end = p.rows.empty() ? part.rows : p.rows.back() + 1;
      p.file_end = p.rows.empty();  // a whole file: check that it ends there
      p.shard_ends = false;
      pieces.push_back(std::move(p));
    }
    if (pieces.size() > first) pieces.back().shard_ends = true;
  }
  return pieces;
}

}  // namespace nightshift::io
