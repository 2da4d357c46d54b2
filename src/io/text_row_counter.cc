#include "io/text_row_counter.h"

#include <fmt/format.h>

#include <vector>

namespace nightshift::io {

void TextRowCounter::Step(char c) {
  if (state_ == State::kQuoted) {
    if (c == d_.quote) state_ = State::kQuoteInQuoted;
    return;
  }
  if (pending_cr_ && c != '\n') {  // a lone '\r': DuckDB may end a record there
    unsure_ = true;
    return;
  }
  if (c == '\n') {
    // Blank lines are skipped by DuckDB in some dialects and read as a row
    // in others: let DuckDB count such a file.
    if (!record_open_ || blank_so_far_) unsure_ = true;
    ++records_;
    pending_cr_ = false;
    record_open_ = false;
    blank_so_far_ = true;
    state_ = State::kFieldStart;
    return;
  }
  if (c == '\r') {
    pending_cr_ = true;
    return;
  }
  if (d_.quote != 0 && c == d_.quote) {
    if (state_ == State::kFieldStart) {
      state_ = State::kQuoted;
    } else if (state_ == State::kQuoteInQuoted) {
      state_ = State::kQuoted;  // "" inside quotes: an escaped quote
    } else {
      unsure_ = true;  // a quote inside an unquoted value
    }
    record_open_ = true;
    blank_so_far_ = false;
    return;
  }
  if (state_ == State::kQuoteInQuoted && c != d_.delimiter) {
    unsure_ = true;  // bytes after a closing quote
    return;
  }
  record_open_ = true;
  if (!Blank(c)) blank_so_far_ = false;
  state_ = c == d_.delimiter ? State::kFieldStart : State::kUnquoted;
}

void TextRowCounter::Plain(const char* p, size_t n) {
  record_open_ = true;
  if (blank_so_far_) {
    for (size_t k = 0; k < n; ++k) {
      if (!Blank(p[k])) {
        blank_so_far_ = false;
        break;
      }
    }
  }
  state_ = p[n - 1] == d_.delimiter ? State::kFieldStart : State::kUnquoted;
}

void TextRowCounter::Feed(std::string_view block) {
  const char* p = block.data();
  const size_t n = block.size();
  size_t i = 0;
  while (i < n && !unsure_) {
    if (state_ == State::kQuoted) {
      const void* q = std::memchr(p + i, d_.quote, n - i);
      if (q == nullptr) return;  // newlines inside quotes end no record
      i = static_cast<size_t>(static_cast<const char*>(q) - p) + 1;
      state_ = State::kQuoteInQuoted;
      continue;
    }
    if ((state_ == State::kFieldStart || state_ == State::kUnquoted) && !pending_cr_) {
      // The fast path: memchr to the line's end, checking the stretch for
      // the bytes that need the state machine.
      const auto* nl = static_cast<const char*>(std::memchr(p + i, '\n', n - i));
      const size_t end = nl != nullptr ? static_cast<size_t>(nl - p) : n;
      size_t stop = end;
      if (d_.quote != 0) {
        const void* q = std::memchr(p + i, d_.quote, stop - i);
        if (q != nullptr) stop = static_cast<size_t>(static_cast<const char*>(q) - p);
      }
      const void* cr = std::memchr(p + i, '\r', stop - i);
      if (cr != nullptr) stop = static_cast<size_t>(static_cast<const char*>(cr) - p);
      if (stop > i) {
        Plain(p + i, stop - i);
        i = stop;
      }
      if (i < n) Step(p[i++]);  // the '\n', or a quote or '\r' before it
      continue;
    }
    Step(p[i++]);
  }
}

std::optional<int64_t> TextRowCounter::Finish() {
  if (state_ == State::kQuoted || pending_cr_) unsure_ = true;
  if (record_open_) {  // a last record without a line end
    if (blank_so_far_) unsure_ = true;
    ++records_;
    record_open_ = false;
  }
  if (unsure_) return std::nullopt;
  const int64_t header = d_.header && records_ > 0 ? 1 : 0;
  return records_ - header;
}

Result<std::optional<int64_t>> CountTextRows(Env* env, const std::string& path,
                                             TextDialect dialect) {
  TextRowCounter counter(dialect);
  Status s = env->ReadFileBlocks(path, size_t{1} << 20, [&counter](std::string_view block) {
    counter.Feed(block);
    return !counter.gave_up();
  });
  if (!s.ok()) return Error(Code::kIoError, fmt::format("input file: {}", s.message()));
  return counter.Finish();
}

}  // namespace nightshift::io
