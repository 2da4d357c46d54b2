// Level (a) of the row_packer fuzzer: the real read path (see
// row_packer_fuzzer.cc for the input format).
#include "row_packer_check.h"

namespace ns_fuzz {

// ---------------------------------------------------------------- level (a)

uint64_t Next(uint64_t& x) {  // xorshift64
  x ^= x << 13;
  x ^= x >> 7;
  x ^= x << 17;
  return x;
}

void LevelA(const uint8_t* data, size_t size) {
  if (size < 6) return;
  const uint8_t flags = data[0], b_rows = data[1], b_type = data[2], b_list = data[3],
                b_pad = data[4], b_sel = data[5];
  const bool jsonl = flags & 1;
  const std::string path = g_dir + (jsonl ? "/in.jsonl" : "/in.csv");
  {
    std::ofstream f(path, std::ios::binary | std::ios::trunc);
    f.write(reinterpret_cast<const char*>(data + 6), static_cast<std::streamsize>(size - 6));
  }
  nightshift::InputSpec spec;
  spec.path = path;
  spec.key = {"k"};
  auto source = nightshift::OpenSource(spec, 1);
  if (!source.has_value()) return;
  nightshift::Source& src = **source;
  CHECK(src.files().size() == 1);
  CHECK(!src.seekable());
  auto cols = src.Describe(0);
  if (!cols.has_value()) return;
  auto rows = src.CountRows(0);
  if (!rows.has_value()) return;
  CHECK(*rows >= 0);
  if (*rows == 0) return;  // the planner makes no shards for an empty file

  // The layout, as the binder builds it.
  const DType dtype = kDTypes[(b_type & 0x07) % std::size(kDTypes)];
  const bool allow_nan = b_type & 0x08;
  const int list_mode =
      (b_type >> 4) & 3;  // 0 fixed, same input; 1 fixed, alone; 2 variable; 3 variable + mask
  const DType list_dtype =
      list_mode == 0 ? dtype : kDTypes[(b_type >> 6) % 4];        // float/double/int64/int32
  const DType mask_dtype = kDTypes[2 + ((b_type >> 6) & 1) * 4];  // int64 or bool
  std::vector<std::string> scalars;
  const nightshift::InputColumn* list = nullptr;
  for (const auto& c : *cols) {
    if (c.numeric && scalars.size() < 3) scalars.push_back(c.name);
    if (c.numeric_list && list == nullptr) list = &c;
  }
  if (scalars.empty() && list == nullptr) return;
  int64_t list_width = 0;
  if (list != nullptr) {
    // An ARRAY type gives its length ("DOUBLE[3]"); otherwise the model's.
    const std::string& t = list->sql_type;
    size_t open = t.rfind('[');
    if (open != std::string::npos && t.size() > open + 2) {
      list_width = std::atoll(t.substr(open + 1, t.size() - open - 2).c_str());
    }
    if (list_width <= 0 || list_width > 64) list_width = 1 + (b_list & 0x07);
  }
  nightshift::ReadLayout layout;
  layout.batch_rows = 1 + b_rows % 64;
  auto add_input = [&](DType t) -> InputPacking& {
    InputPacking& in = layout.inputs.emplace_back();
    in.dtype = t;
    in.allow_nan = allow_nan;
    in.pad_value = Pad(t, b_pad & 0x0f);
    // The binder rejects a pad_value the dtype cannot hold (exit 2), so the
    // packer never sees one.
    if (!PadInRange(t, in.pad_value)) in.pad_value = 0;
    return in;
  };
  auto add_column = [](InputPacking& in, const std::string& name, bool is_list, int64_t width) {
    in.columns.push_back(name);
    in.column_is_list.push_back(is_list);
    in.column_widths.push_back(width);
  };
  if (!scalars.empty()) {
    InputPacking& in = add_input(dtype);
    for (const auto& s : scalars) add_column(in, s, false, 1);
    if (list != nullptr && list_mode == 0) add_column(in, list->name, true, list_width);
  }
  if (list != nullptr && (list_mode != 0 || scalars.empty())) {
    InputPacking& in = add_input(list_dtype);
    add_column(in, list->name, true, list_mode >= 2 ? -1 : list_width);
    if (list_mode == 3) {
      InputPacking& mask = add_input(mask_dtype);
      add_column(mask, list->name, true, -1);
      mask.is_mask = true;
    }
  }
  for (auto& in : layout.inputs) {
    if (Variable(in)) {
      in.row_shape = {-1};
      continue;
    }
    int64_t w = 0;
    for (int64_t x : in.column_widths) w += x;
    in.row_shape = {w};
  }
  if (flags & 2) layout.carried.push_back((*cols)[0].name);
  const bool bucketing = (flags & 0x40) && list != nullptr;
  if (bucketing) {
    layout.sort_by_length = list->name;
    layout.max_tokens = 3 * (b_pad >> 4);
  }
  // The select-list index of each input's first column, and the sort column.
  std::vector<idx_t> first_column;
  idx_t ncol = 0, sort_column = 0;
  for (const auto& in : layout.inputs) {
    first_column.push_back(ncol);
    for (const auto& c : in.columns) {
      if (bucketing && c == layout.sort_by_length && !in.is_mask) sort_column = ncol;
      ++ncol;
    }
  }
  if (bucketing) {  // the reader takes the last input column with that name
    idx_t k = 0;
    for (const auto& in : layout.inputs) {
      for (const auto& c : in.columns) {
        if (c == layout.sort_by_length) sort_column = k;
        ++k;
      }
    }
  }

  // Shards: the whole file, or cut in up to 3 with one skipped; with bit 5
  // each selects some of its rows, as a retry does.
  std::vector<nightshift::ShardTask> shards;
  auto add_shard = [&](int64_t id, int64_t begin, int64_t end) {
    nightshift::ShardTask s;
    s.shard_id = id;
    s.shard_index = static_cast<int64_t>(shards.size());
    s.row_begin = begin;
    s.row_end = end;
    s.epoch = 1;
    if (flags & 0x20) {
      uint64_t x = 0x9e3779b97f4a7c15ull ^ (uint64_t{b_sel} << 8 | static_cast<uint64_t>(id));
      for (int64_t r = begin; r < end; ++r) {
        if (Next(x) & 1) s.rows.push_back(r);
      }
      if (s.rows.empty())
        s.rows.push_back(begin +
                         static_cast<int64_t>(Next(x) % static_cast<uint64_t>(end - begin)));
      if (g_skip_known) {
        s.row_begin = s.rows.front();
        s.row_end = s.rows.back() + 1;
      }
      s.retry_seq = 1;
    }
    shards.push_back(std::move(s));
  };
  if (!(flags & 4) || *rows < 3) {
    add_shard(0, 0, *rows);
  } else {
    int64_t a = 1 + (b_list >> 3) % (*rows - 1);
    int64_t b = a + (b_rows >> 6) % (*rows - a);
    std::vector<std::pair<int64_t, int64_t>> cuts = {{0, a}, {a, b}, {b, *rows}};
    int skip = (flags >> 3) & 3;  // 3: skip none
    for (int i = 0; i < 3; ++i) {
      if (i == skip || cuts[i].first == cuts[i].second) continue;
      add_shard(i, cuts[i].first, cuts[i].second);
    }
  }
  if (shards.empty()) return;
  if (g_verbose) {
    std::fprintf(stderr, "rows=%lld batch_rows=%lld sort_by_length='%s' max_tokens=%lld\n",
                 static_cast<long long>(*rows), static_cast<long long>(layout.batch_rows),
                 layout.sort_by_length.c_str(), static_cast<long long>(layout.max_tokens));
    for (const auto& in : layout.inputs) {
      std::string c;
      for (size_t k = 0; k < in.columns.size(); ++k) {
        c += " " + in.columns[k] +
             (in.column_is_list[k] ? "[" + std::to_string(in.column_widths[k]) + "]" : "");
      }
      std::fprintf(stderr, "input %s%s pad=%g:%s\n",
                   std::string(nightshift::DTypeName(in.dtype)).c_str(), in.is_mask ? " mask" : "",
                   in.pad_value, c.c_str());
    }
    for (const auto& s : shards) {
      std::string r;
      for (int64_t x : s.rows) r += " " + std::to_string(x);
      std::fprintf(stderr, "shard %lld [%lld, %lld) rows:%s\n", static_cast<long long>(s.shard_id),
                   static_cast<long long>(s.row_begin), static_cast<long long>(s.row_end),
                   r.c_str());
    }
  }

  std::vector<std::unique_ptr<RowBatch>> pool;
  size_t si = 0;
  int64_t next_seq = 0, delivered = 0, expected_total = 0;
  std::vector<int64_t> got_rows;  // row numbers delivered for shard si
  int64_t last_len = -1;          // bucketing: length of the previous row
  for (const auto& s : shards)
    expected_total +=
        s.rows.empty() ? s.row_end - s.row_begin : static_cast<int64_t>(s.rows.size());
  auto next_batch = [&]() -> std::unique_ptr<RowBatch> {
    if (pool.empty()) return std::make_unique<RowBatch>();
    auto b = std::move(pool.back());
    pool.pop_back();
    return b;
  };
  auto emit = [&](std::unique_ptr<RowBatch> b) -> bool {
    if (g_verbose) {
      std::string r;
      for (int64_t i = 0; i < b->num_rows; ++i) r += " " + std::to_string(b->RowNumber(i));
      std::fprintf(stderr, "batch shard=%lld seq=%lld last=%d rows:%s\n",
                   static_cast<long long>(b->shard_id), static_cast<long long>(b->seq),
                   b->last_in_shard ? 1 : 0, r.c_str());
    }
    CHECK(si < shards.size(), "batch after the last shard");
    const auto& s = shards[si];
    CHECK(b->shard_id == s.shard_id && b->shard_index == s.shard_index && b->epoch == s.epoch,
          "batch of shard " + std::to_string(b->shard_id) + " while shard " +
              std::to_string(s.shard_id) + " is open");
    CHECK(b->seq == next_seq, std::to_string(b->seq) + " vs " + std::to_string(next_seq));
    CHECK((b->num_rows > 0 || b->last_in_shard) && b->num_rows <= layout.batch_rows,
          std::to_string(b->num_rows));
    CHECK(b->outputs.empty());
    CHECK(b->row_numbers.empty() || static_cast<int64_t>(b->row_numbers.size()) == b->num_rows);
    CHECK(b->row_numbers.empty() || b->first_row == b->row_numbers[0]);
    auto* carried = dynamic_cast<DuckCarriedRows*>(b->carried.get());
    CHECK(carried != nullptr);
    CHECK(carried->column_count() == layout.carried.size());
    for (size_t c = 0; c < layout.carried.size(); ++c) CHECK(carried->column(c) == ncol + c);
    CheckPacked(layout.inputs, first_column, carried->slices(), *b);
    // Row numbers, lengths and the token cap.
    int64_t longest = 1, r = 0;
    for (const auto& sl : carried->slices()) {
      for (idx_t i = 0; i < sl.count; ++i, ++r) {
        const int64_t row = b->RowNumber(r);
        CHECK(row >= s.row_begin && row < s.row_end,
              "row " + std::to_string(row) + " outside its shard");
        got_rows.push_back(row);
        if (bucketing) {
          const int64_t len = ListLen(sl.chunk->get(), sort_column, sl.row(i));
          CHECK(len >= last_len,
                "bucketing order: " + std::to_string(len) + " after " + std::to_string(last_len));
          last_len = len;
          longest = std::max(longest, len);
        }
      }
    }
    if (bucketing && layout.max_tokens > 0 && b->num_rows > 1) {
      CHECK(b->num_rows * longest <= layout.max_tokens,
            std::to_string(b->num_rows) + " rows x " + std::to_string(longest) + " > max_tokens");
    }
    delivered += b->num_rows;
    ++next_seq;
    if (b->last_in_shard) {
      std::vector<int64_t> want;
      if (s.rows.empty()) {
        for (int64_t x = s.row_begin; x < s.row_end; ++x) want.push_back(x);
      } else {
        want = s.rows;
      }
      std::vector<int64_t> got = got_rows;
      if (bucketing) std::sort(got.begin(), got.end());
      CHECK(got == want, "shard " + std::to_string(s.shard_id) + ": delivered " +
                             std::to_string(got.size()) + " rows (" +
                             (bucketing ? "sorted" : "in order") + "), expected " +
                             std::to_string(want.size()));
      ++si;
      next_seq = 0;
      got_rows.clear();
      last_len = -1;
    }
    b->carried.reset();
    pool.push_back(std::move(b));
    return true;
  };
  nightshift::Status st = src.Read(layout, shards, next_batch, emit);
  if (st.ok()) {
    CHECK(si == shards.size() && got_rows.empty(),
          "Read succeeded but " + std::to_string(shards.size() - si) +
              " shard(s) got no last_in_shard batch (" + std::to_string(got_rows.size()) +
              " rows pending; delivered " + std::to_string(delivered) + " of " +
              std::to_string(expected_total) + ")");
    CHECK(delivered == expected_total);
  } else {
    // One kind per DuckDB error class ("Binder Error: COLUMN_TYPES", ...).
    const std::string& m = st.message();
    std::string kind = "rowcount";
    if (m.find("the input changed since the run was planned") == std::string::npos) {
      size_t at = m.find("': ");
      std::string head = m.substr(at == std::string::npos ? 0 : at + 3, 40);
      kind.clear();
      for (char ch : head) {
        if (std::isalnum(static_cast<unsigned char>(ch))) {
          kind += ch;
        } else if (!kind.empty() && kind.back() != '_') {
          kind += '_';
        }
      }
    }
    Finding(kind, st.ToString());
  }
}

}  // namespace ns_fuzz
