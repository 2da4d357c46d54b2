#include "transform/json_score.h"

#include <charconv>
#include <cstdint>
#include <string>

namespace nightshift::transform {
namespace {

// 10^exponent, correctly rounded (serde_json's POW10 table holds the same).
double PowerOfTen(int exponent) {
  const std::string text = "1e" + std::to_string(exponent);
  double value = 0;
  std::from_chars(text.data(), text.data() + text.size(), value);
  return value;
}

}  // namespace

double JsonScore(double score) {
  char text[64];
  const char* end = std::to_chars(text, text + sizeof text, score).ptr;
  const char* p = text;
  const bool negative = *p == '-';
  if (negative) ++p;
  // A shortest float64 decimal has at most 17 digits: the integer fits.
  uint64_t significand = 0;
  int exponent = 0;
  bool fraction = false;
  for (; p < end && *p != 'e'; ++p) {
    if (*p == '.') {
      fraction = true;
      continue;
    }
    significand = significand * 10 + static_cast<uint64_t>(*p - '0');
    if (fraction) --exponent;
  }
  if (p < end) {
    int written = 0;
    std::from_chars(p + 1 + (p[1] == '+'), end, written);
    exponent += written;
  }
  double value = static_cast<double>(significand);  // first rounding
  if (value != 0) {
    // The second rounding; below 1e-308 serde_json divides in two steps.
    if (exponent < -308) {
      value /= PowerOfTen(308);
      exponent += 308;
    }
    value = exponent >= 0 ? value * PowerOfTen(exponent) : value / PowerOfTen(-exponent);
  }
  return negative ? -value : value;
}

}  // namespace nightshift::transform
