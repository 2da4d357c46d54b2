// ParseByteSize and ParseDuration: the quantities a job file may spell with units.
#include <fmt/format.h>

#include <cctype>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <string>
#include <string_view>

#include "nightshift/job_spec.h"

namespace nightshift {
namespace {

std::string_view Trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// A non-negative decimal number at the start of `text` ("12", "0.5", "1.25"),
// split from its unit suffix (surrounding spaces removed).
struct Quantity {
  std::string_view number;
  std::string unit;  // lower-case
  bool integral = true;
};

bool SplitQuantity(std::string_view text, Quantity* q) {
  text = Trim(text);
  size_t i = 0;
  size_t digits = 0;
  while (i < text.size() && std::isdigit(static_cast<unsigned char>(text[i]))) ++i, ++digits;
  if (i < text.size() && text[i] == '.') {
    q->integral = false;
    ++i;
    size_t fraction = 0;
    while (i < text.size() && std::isdigit(static_cast<unsigned char>(text[i]))) ++i, ++fraction;
    if (fraction == 0) return false;  // "1." is a typo more often than a number
    digits += fraction;
  }
  if (digits == 0) return false;
  q->number = text.substr(0, i);
  q->unit = Lower(Trim(text.substr(i)));
  return true;
}

}  // namespace

Result<int64_t> ParseByteSize(std::string_view text) {
  auto bad = [&] {
    return Error(Code::kInvalidJob,
                 fmt::format("invalid byte size '{}' (expected a number of bytes or a size "
                             "like 512MiB, 1GiB, 100MB)",
                             text));
  };
  Quantity q;
  if (!SplitQuantity(text, &q)) return bad();
  int64_t multiplier = 0;
  const std::string& u = q.unit;
  if (u.empty() || u == "b")
    multiplier = 1;
  else if (u == "kb")
    multiplier = 1000;
  else if (u == "mb")
    multiplier = 1000 * 1000;
  else if (u == "gb")
    multiplier = int64_t{1000} * 1000 * 1000;
  else if (u == "tb")
    multiplier = int64_t{1000} * 1000 * 1000 * 1000;
  else if (u == "kib")
    multiplier = int64_t{1} << 10;
  else if (u == "mib")
    multiplier = int64_t{1} << 20;
  else if (u == "gib")
    multiplier = int64_t{1} << 30;
  else if (u == "tib")
    multiplier = int64_t{1} << 40;
  else
    return bad();

  auto too_large = [&] {
    return Error(Code::kInvalidJob, fmt::format("byte size '{}' is too large", text));
  };
  if (q.integral) {
    int64_t n = 0;
    auto [ptr, ec] = std::from_chars(q.number.data(), q.number.data() + q.number.size(), n);
    if (ec == std::errc::result_out_of_range) return too_large();
    if (ec != std::errc() || ptr != q.number.data() + q.number.size()) return bad();
    int64_t bytes = 0;
    if (__builtin_mul_overflow(n, multiplier, &bytes)) return too_large();
    return bytes;
  }
  double n = 0;
  auto [ptr, ec] = std::from_chars(q.number.data(), q.number.data() + q.number.size(), n);
  if (ec != std::errc() || ptr != q.number.data() + q.number.size()) return bad();
  const long double bytes = static_cast<long double>(n) * static_cast<long double>(multiplier);
  if (bytes >= 9.2e18L) return too_large();
  return static_cast<int64_t>(std::llround(bytes));
}

Result<double> ParseDuration(std::string_view text) {
  Quantity q;
  double scale = 0;
  if (SplitQuantity(text, &q)) {
    const std::string& u = q.unit;
    if (u.empty() || u == "s")
      scale = 1;
    else if (u == "ms")
      scale = 1e-3;
    else if (u == "m")
      scale = 60;
    else if (u == "h")
      scale = 3600;
  }
  double n = 0;
  if (scale > 0) {
    auto [ptr, ec] = std::from_chars(q.number.data(), q.number.data() + q.number.size(), n);
    if (ec != std::errc() || ptr != q.number.data() + q.number.size()) scale = 0;
  }
  if (scale == 0 || !std::isfinite(n * scale)) {
    return Error(Code::kInvalidJob,
                 fmt::format("invalid duration '{}' (expected e.g. 30s, 500ms, 2m, 1h or a "
                             "number of seconds)",
                             text));
  }
  return n * scale;
}

}  // namespace nightshift
