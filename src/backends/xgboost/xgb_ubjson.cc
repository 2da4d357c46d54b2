#include "xgb_ubjson.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <cstdint>
#include <string>

namespace nightshift::xgb {
namespace {

constexpr int kMaxDepth = 256;

class UbjChecker {
 public:
  explicit UbjChecker(std::string_view bytes) : bytes_(bytes) {}

  Status Check() {
    NS_RETURN_IF_ERROR(Value(0));
    return Status::Ok();
  }

 private:
  Status Fail(std::string_view what) const {
    return Status(Code::kModelError, fmt::format("not a valid UBJSON model: {} at byte {} of {}",
                                                 what, pos_, bytes_.size()));
  }
  Status Truncated() const { return Fail("the file ends early (truncated?)"); }

  size_t left() const { return bytes_.size() - pos_; }

  Status Next(char* c) {
    if (left() == 0) return Truncated();
    *c = bytes_[pos_++];
    return Status::Ok();
  }
  Status Peek(char* c) const {
    if (left() == 0) return Truncated();
    *c = bytes_[pos_];
    return Status::Ok();
  }
  Status Expect(char want) {
    char c = 0;
    NS_RETURN_IF_ERROR(Next(&c));
    if (c != want) {
      --pos_;
      return Fail(fmt::format("expected '{}'", want));
    }
    return Status::Ok();
  }
  Status Skip(uint64_t n) {
    if (n > left()) return Truncated();
    pos_ += static_cast<size_t>(n);
    return Status::Ok();
  }
  // A big-endian int64 (how XGBoost writes lengths and counts), which must
  // not be negative.
  Status Count(uint64_t* out) {
    if (left() < 8) return Truncated();
    uint64_t v = 0;
    for (int i = 0; i < 8; ++i) v = (v << 8) | static_cast<unsigned char>(bytes_[pos_ + i]);
    if (v > static_cast<uint64_t>(INT64_MAX)) return Fail("a negative length");
    pos_ += 8;
    *out = v;
    return Status::Ok();
  }
  // 'L' <int64 length> <bytes>: an object key or the body of a string.
  Status String() {
    NS_RETURN_IF_ERROR(Expect('L'));
    uint64_t n = 0;
    NS_RETURN_IF_ERROR(Count(&n));
    return Skip(n);
  }

  Status Value(int depth) {
    if (depth > kMaxDepth) return Fail("nesting deeper than 256 levels");
    char c = 0;
    NS_RETURN_IF_ERROR(Next(&c));
    switch (c) {
      case '{': return Object(depth);
      case '[': return Array(depth);
      case 'Z':
      case 'T':
      case 'F': return Status::Ok();
      case 'i':
      case 'U':
      case 'C': return Skip(1);
      case 'I': return Skip(2);
      case 'l':
      case 'd': return Skip(4);
      case 'L': return Skip(8);
      case 'S': return String();
      default: --pos_; return Fail("an unknown value type");
    }
  }

  Status Object(int depth) {
    while (true) {
      char c = 0;
      NS_RETURN_IF_ERROR(Peek(&c));
      if (c == '}') {
        ++pos_;
        return Status::Ok();
      }
      NS_RETURN_IF_ERROR(String());  // the key
      NS_RETURN_IF_ERROR(Value(depth + 1));
    }
  }

  Status Array(int depth) {
    char c = 0;
    NS_RETURN_IF_ERROR(Peek(&c));
    if (c == '$') {  // typed: $ <type> # L <count> <count values of type>
      ++pos_;
      char type = 0;
      NS_RETURN_IF_ERROR(Next(&type));
      uint64_t size = 0;
      switch (type) {
        case 'U': size = 1; break;
        case 'd':
        case 'l': size = 4; break;
        case 'L': size = 8; break;
        default: --pos_; return Fail("an unsupported typed-array type");
      }
      NS_RETURN_IF_ERROR(Expect('#'));
      NS_RETURN_IF_ERROR(Expect('L'));
      uint64_t n = 0;
      NS_RETURN_IF_ERROR(Count(&n));
      if (n > left() / size) return Truncated();
      return Skip(n * size);
    }
    if (c == '#') {  // counted: # L <count> <values>
      ++pos_;
      NS_RETURN_IF_ERROR(Expect('L'));
      uint64_t n = 0;
      NS_RETURN_IF_ERROR(Count(&n));
      if (n > left()) return Truncated();  // every value takes at least a byte
      for (uint64_t i = 0; i < n; ++i) NS_RETURN_IF_ERROR(Value(depth + 1));
      return Status::Ok();
    }
    while (true) {  // plain: values up to ']'
      NS_RETURN_IF_ERROR(Peek(&c));
      if (c == ']') {
        ++pos_;
        return Status::Ok();
      }
      NS_RETURN_IF_ERROR(Value(depth + 1));
    }
  }

  std::string_view bytes_;
  size_t pos_ = 0;
};

}  // namespace

Status CheckUbjson(std::string_view bytes) {
  return UbjChecker(bytes).Check();
}

bool MayLoadAsUbjson(std::string_view path, std::string_view head) {
  // XGBoost takes the extension as the text after the path's last '.'.
  std::string ext;
  if (size_t dot = path.rfind('.'); dot != std::string_view::npos) {
    ext = std::string(path.substr(dot + 1));
    std::transform(ext.begin(), ext.end(), ext.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  }
  if (ext == "ubj") return true;
  return head.size() >= 2 && head[0] == '{' &&
         std::isalpha(static_cast<unsigned char>(head[1])) != 0;
}

}  // namespace nightshift::xgb
