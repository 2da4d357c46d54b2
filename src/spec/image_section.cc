#include "spec/image_section.h"

#include <fmt/format.h>

#include <charconv>
#include <cmath>

namespace nightshift::spec {
namespace {

// The largest side an image step makes: a model input row of 3 x 16384 x
// 16384 floats is already 3 GiB.
constexpr int64_t kMaxSide = 16384;

Status ReadSize(const NodeReader& r, const YAML::Node& map, const std::string& path,
                ImageSpec* out) {
  NS_ASSIGN_OR_RETURN(YAML::Node size, r.Require(map, path, "size"));
  const std::string key = JoinKey(path, "size");
  if (!size.IsSequence() || size.size() != 2) {
    return r.Fail(size, key,
                  fmt::format("expected [height, width], got {}", NodeReader::Describe(size)));
  }
  NS_ASSIGN_OR_RETURN(out->height, r.Int(size[0], JoinIndex(key, 0), 1, kMaxSide));
  NS_ASSIGN_OR_RETURN(out->width, r.Int(size[1], JoinIndex(key, 1), 1, kMaxSide));
  return Status::Ok();
}

// `mean` or `std`: absent, or exactly `n` finite numbers.
Status ReadNumbers(const NodeReader& r, const YAML::Node& map, const std::string& path,
                   std::string_view key, size_t n, std::vector<double>* out) {
  std::optional<YAML::Node> node = NodeReader::Find(map, key);
  if (!node) return Status::Ok();
  const std::string at = JoinKey(path, key);
  if (!node->IsSequence() || node->size() != n) {
    return r.Fail(*node, at,
                  fmt::format("expected a list of {} numbers (one per channel), got {}", n,
                              NodeReader::Describe(*node)));
  }
  for (size_t i = 0; i < n; ++i) {
    NS_ASSIGN_OR_RETURN(std::string text, r.String((*node)[i], JoinIndex(at, i)));
    double v = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
    if (ec != std::errc() || end != text.data() + text.size() || !std::isfinite(v)) {
      return r.Fail((*node)[i], JoinIndex(at, i), fmt::format("expected a number, got '{}'", text));
    }
    out->push_back(v);
  }
  return Status::Ok();
}

Status ReadChoice(const NodeReader& r, const YAML::Node& map, const std::string& path,
                  std::string_view key, std::span<const std::string_view> choices,
                  std::string* out) {
  std::optional<YAML::Node> node = NodeReader::Find(map, key);
  if (!node) return Status::Ok();
  NS_ASSIGN_OR_RETURN(*out, r.Choice(*node, JoinKey(path, key), choices));
  return Status::Ok();
}

}  // namespace

Result<ImageSpec> ReadImageStep(const NodeReader& r, const YAML::Node& map, const std::string& path,
                                const SchemaNode& schema) {
  NS_RETURN_IF_ERROR(r.CheckMap(map, path, schema));
  ImageSpec s;
  NS_ASSIGN_OR_RETURN(s.column, r.RequiredString(map, path, "column"));
  NS_ASSIGN_OR_RETURN(s.into, r.RequiredString(map, path, "into"));
  NS_RETURN_IF_ERROR(ReadSize(r, map, path, &s));
  static constexpr std::string_view kResize[] = {"stretch", "shorter_side", "letterbox"};
  static constexpr std::string_view kLayout[] = {"nchw", "nhwc"};
  static constexpr std::string_view kColor[] = {"rgb", "bgr", "gray"};
  NS_RETURN_IF_ERROR(ReadChoice(r, map, path, "resize", kResize, &s.resize));
  NS_RETURN_IF_ERROR(ReadChoice(r, map, path, "layout", kLayout, &s.layout));
  NS_RETURN_IF_ERROR(ReadChoice(r, map, path, "color", kColor, &s.color));
  const size_t channels = s.color == "gray" ? 1 : 3;
  NS_RETURN_IF_ERROR(ReadNumbers(r, map, path, "mean", channels, &s.mean));
  NS_RETURN_IF_ERROR(ReadNumbers(r, map, path, "std", channels, &s.std));
  for (size_t i = 0; i < s.std.size(); ++i) {
    if (s.std[i] == 0) {
      return Error(r.Fail(map["std"][i], JoinIndex(JoinKey(path, "std"), i), "must not be 0"));
    }
  }
  NS_RETURN_IF_ERROR(r.ReadInt(map, path, "max_pixels", 1, &s.max_pixels));
  NS_RETURN_IF_ERROR(r.ReadInt(map, path, "reducing_gap", 0, &s.reducing_gap));
  return s;
}

}  // namespace nightshift::spec
