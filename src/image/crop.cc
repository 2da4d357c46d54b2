#include "image/crop.h"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <cmath>

namespace nightshift::image {
namespace {

double Distance(const std::array<double, 8>& c, int a, int b) {
  return std::hypot(c[2 * a] - c[2 * b], c[2 * a + 1] - c[2 * b + 1]);
}

// The projective map of the unit square onto the quad (0,0) -> corner 0,
// (1,0) -> 1, (1,1) -> 2, (0,1) -> 3 (Heckbert's square-to-quad): what
// OpenCV's getPerspectiveTransform gives for the crop's rectangle, inverted.
struct SquareToQuad {
  double a, b, c, d, e, f, g, h;

  explicit SquareToQuad(const std::array<double, 8>& q) {
    const double x0 = q[0], y0 = q[1], x1 = q[2], y1 = q[3];
    const double x2 = q[4], y2 = q[5], x3 = q[6], y3 = q[7];
    const double dx1 = x1 - x2, dx2 = x3 - x2, dx3 = x0 - x1 + x2 - x3;
    const double dy1 = y1 - y2, dy2 = y3 - y2, dy3 = y0 - y1 + y2 - y3;
    const double den = dx1 * dy2 - dx2 * dy1;
    g = den != 0 ? (dx3 * dy2 - dx2 * dy3) / den : 0;
    h = den != 0 ? (dx1 * dy3 - dx3 * dy1) / den : 0;
    a = x1 - x0 + g * x1;
    b = x3 - x0 + h * x3;
    c = x0;
    d = y1 - y0 + g * y1;
    e = y3 - y0 + h * y3;
    f = y0;
  }
  void Map(double u, double v, double* x, double* y) const {
    const double w = g * u + h * v + 1;
    *x = (a * u + b * v + c) / w;
    *y = (d * u + e * v + f) / w;
  }
};

// Bilinear sample of channel `ch` at (x, y) (pixel centres at integers),
// edges replicated (OpenCV's BORDER_REPLICATE, as PaddleOCR warps).
float Sample(const Pixels& page, double x, double y, int ch) {
  x = std::clamp(x, 0.0, static_cast<double>(page.width - 1));
  y = std::clamp(y, 0.0, static_cast<double>(page.height - 1));
  const int x0 = static_cast<int>(x), y0 = static_cast<int>(y);
  const int x1 = std::min(x0 + 1, page.width - 1), y1 = std::min(y0 + 1, page.height - 1);
  const double fx = x - x0, fy = y - y0;
  const int c = page.channels == 1 ? 0 : ch;
  auto at = [&](int px, int py) {
    return static_cast<double>(page.row(py)[px * page.channels + c]);
  };
  const double top = at(x0, y0) + (at(x1, y0) - at(x0, y0)) * fx;
  const double bottom = at(x0, y1) + (at(x1, y1) - at(x0, y1)) * fx;
  return static_cast<float>(top + (bottom - top) * fy);
}

}  // namespace

Result<CropBox> PlanCrop(const std::array<double, 8>& corners) {
  for (double v : corners) {
    if (!std::isfinite(v)) return Error(Code::kInvalidData, "box has a corner that is not finite");
  }
  CropBox box;
  box.corners = corners;
  const double w = std::max(Distance(corners, 0, 1), Distance(corners, 2, 3));
  const double h = std::max(Distance(corners, 0, 3), Distance(corners, 1, 2));
  box.crop_w = static_cast<int>(std::min(w, 1e6));  // PaddleOCR: int(max(norm, norm))
  box.crop_h = static_cast<int>(std::min(h, 1e6));
  if (box.crop_w < 1 || box.crop_h < 1) {
    return Error(Code::kInvalidData,
                 fmt::format("box is degenerate ({:.1f} x {:.1f} pixels)", w, h));
  }
  if (box.crop_h >= 1.5 * box.crop_w) {
    // Turned a quarter counter-clockwise (np.rot90): the top right corner
    // becomes the top left.
    box.turned = true;
    std::rotate(box.corners.begin(), box.corners.begin() + 2, box.corners.end());
    std::swap(box.crop_w, box.crop_h);
  }
  return box;
}

Status CheckInside(const CropBox& box, int image_w, int image_h) {
  for (int i = 0; i < 4; ++i) {
    const double x = box.corners[2 * i], y = box.corners[2 * i + 1];
    if (x < -1 || y < -1 || x > image_w + 1 || y > image_h + 1) {
      return Status(
          Code::kInvalidData,
          fmt::format("box corner ({}, {}) is outside the {} x {} image", x, y, image_w, image_h));
    }
  }
  return Status::Ok();
}

int64_t ScaledWidth(const CropBox& box, int64_t height) {
  const double ratio = static_cast<double>(box.crop_w) / box.crop_h;
  const auto most = static_cast<int64_t>(kMaxCropRatio * static_cast<double>(height));
  return std::clamp(static_cast<int64_t>(std::ceil(static_cast<double>(height) * ratio)),
                    int64_t{1}, most);
}

void CutOut(const Pixels& page, const CropBox& box, int height, int64_t row_width, float* out) {
  const int64_t width = std::min(ScaledWidth(box, height), row_width);
  const int64_t plane = height * row_width;
  std::fill(out, out + 3 * plane, 0.0f);
  const SquareToQuad warp(box.corners);
  // Output pixel -> crop pixel as cv2.resize (half-pixel centres), crop
  // pixel -> page through the warp; s x s samples per output pixel.
  const double sx = static_cast<double>(box.crop_w) / static_cast<double>(width);
  const double sy = static_cast<double>(box.crop_h) / height;
  const int s = std::clamp(static_cast<int>(std::ceil(std::max(sx, sy))), 1, 8);
  const float norm = 1.0f / (127.5f * static_cast<float>(s * s));
  for (int y = 0; y < height; ++y) {
    for (int64_t x = 0; x < width; ++x) {
      float sum[3] = {0, 0, 0};
      for (int j = 0; j < s; ++j) {
        const double cy = (y + (j + 0.5) / s) * sy - 0.5;
        for (int i = 0; i < s; ++i) {
          const double cx = (static_cast<double>(x) + (i + 0.5) / s) * sx - 0.5;
          double px = 0, py = 0;
          warp.Map(cx / box.crop_w, cy / box.crop_h, &px, &py);
          for (int ch = 0; ch < 3; ++ch) sum[ch] += Sample(page, px, py, ch);
        }
      }
      // BGR, as PaddleOCR's recognisers read images (cv2).
      for (int ch = 0; ch < 3; ++ch) out[(2 - ch) * plane + y * row_width + x] = sum[ch] * norm - 1;
    }
  }
}

Result<std::array<double, 8>> ParseBox(std::string_view text) {
  std::array<double, 8> box{};
  size_t n = 0;
  const char* p = text.data();
  const char* end = p + text.size();
  while (p < end) {
    if (*p == '[' || *p == ']' || *p == ',' || *p == ' ') {
      ++p;
      continue;
    }
    double v = 0;
    auto [next, ec] = std::from_chars(p, end, v);
    if (ec != std::errc()) {
      return Error(Code::kInvalidData,
                   fmt::format("box is not a list of numbers: '{}'", text.substr(0, 200)));
    }
    if (n < box.size()) box[n] = v;
    ++n;
    p = next;
  }
  if (n != box.size()) {
    return Error(Code::kInvalidData,
                 fmt::format("box has {} numbers; a box is 8 numbers (4 corners x, y): '{}'", n,
                             text.substr(0, 200)));
  }
  return box;
}

namespace {

bool IsNumberStart(char c) {
  return c != '[' && c != ']' && c != ',' && c != ' ';
}

// A flat list's boxes: every 8 numbers (the last may have fewer).
std::vector<std::string_view> SplitFlat(std::string_view text) {
  std::vector<std::string_view> boxes;
  size_t numbers = 0, start = 0;
  for (size_t i = 0; i < text.size(); ++i) {
    if (!IsNumberStart(text[i]) || (i > 0 && IsNumberStart(text[i - 1]))) continue;
    if (numbers % 8 == 0) {
      if (numbers > 0) boxes.push_back(text.substr(start, i - start));
      start = i;
    }
    ++numbers;
  }
  if (numbers > 0) boxes.push_back(text.substr(start, text.find_last_not_of("] ") + 1 - start));
  return boxes;
}

}  // namespace

std::vector<std::string_view> SplitBoxes(std::string_view text) {
  const size_t first = text.find_first_not_of(" [");
  const bool nested = first != std::string_view::npos && first > 0 &&
                      text.substr(0, first).find('[') != text.substr(0, first).rfind('[');
  if (!nested) return SplitFlat(text);
  // The elements of the outer list: each from a '[' at depth 1 to its ']'.
  std::vector<std::string_view> boxes;
  int depth = 0;
  size_t start = 0;
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '[' && ++depth == 2) start = i;
    if (text[i] == ']' && depth-- == 2) boxes.push_back(text.substr(start, i + 1 - start));
    // A bare number or NULL as an element of the outer list: a box of its own.
    if (depth == 1 && IsNumberStart(text[i]) && !IsNumberStart(text[i - 1])) {
      const size_t end = text.find_first_of(",]", i);
      boxes.push_back(text.substr(i, end - i));
      i = end - 1;
    }
  }
  return boxes;
}

}  // namespace nightshift::image
