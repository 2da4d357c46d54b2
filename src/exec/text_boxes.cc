#include "exec/text_boxes.h"

#include <algorithm>
#include <cmath>

#include "exec/box_geometry.h"

namespace nightshift::exec {
namespace {

constexpr double kMinSize = 3;  // PaddleOCR's min_size: short side in map pixels

// One connected region: per row it touches, its leftmost and rightmost pixel
// (their centres span the same convex hull as all its pixels).
struct Region {
  std::vector<Point> extremes;
};

// Labels the 8-connected regions of map > threshold, in raster order.
std::vector<Region> FindRegions(const float* map, int64_t h, int64_t w, float threshold) {
  std::vector<uint8_t> seen(static_cast<size_t>(h * w), 0);
  auto on = [&](int64_t y, int64_t x) { return map[y * w + x] > threshold; };
  std::vector<Region> regions;
  std::vector<int64_t> stack;
  for (int64_t start = 0; start < h * w; ++start) {
    if (seen[static_cast<size_t>(start)] || !(map[start] > threshold)) continue;
    if (regions.size() >= static_cast<size_t>(kMaxCandidates)) break;
    // rows -> [min x, max x] of the region, filled by a flood fill.
    std::vector<std::pair<int64_t, int64_t>> span(static_cast<size_t>(h), {w, -1});
    seen[static_cast<size_t>(start)] = 1;
    stack.assign(1, start);
    while (!stack.empty()) {
      const int64_t p = stack.back();
      stack.pop_back();
      const int64_t y = p / w, x = p % w;
      auto& s = span[static_cast<size_t>(y)];
      s = {std::min(s.first, x), std::max(s.second, x)};
      for (int64_t dy = -1; dy <= 1; ++dy) {
        for (int64_t dx = -1; dx <= 1; ++dx) {
          const int64_t ny = y + dy, nx = x + dx;
          if (ny < 0 || ny >= h || nx < 0 || nx >= w) continue;
          const auto q = static_cast<size_t>(ny * w + nx);
          if (seen[q] || !on(ny, nx)) continue;
          seen[q] = 1;
          stack.push_back(ny * w + nx);
        }
      }
    }
    Region r;
    for (int64_t y = 0; y < h; ++y) {
      const auto& s = span[static_cast<size_t>(y)];
      if (s.second < 0) continue;
      r.extremes.push_back({static_cast<double>(s.first), static_cast<double>(y)});
      r.extremes.push_back({static_cast<double>(s.second), static_cast<double>(y)});
    }
    regions.push_back(std::move(r));
  }
  return regions;
}

// True when pixel (x, y) is one OpenCV's fillPoly draws for an edge of `q`
// (integer corners): the edge's pixel in each column of a shallow edge, in
// each row of a steep one, i.e. within half a pixel along the minor axis.
bool OnOutline(const Quad& q, double x, double y) {
  for (int i = 0; i < 4; ++i) {
    const Point& a = q[i];
    const Point& b = q[(i + 1) % 4];
    const double dx = b.x - a.x, dy = b.y - a.y;
    if (std::fabs(dx) >= std::fabs(dy)) {
      if (dx == 0) return x == a.x && y == a.y;
      if (x < std::min(a.x, b.x) || x > std::max(a.x, b.x)) continue;
      if (std::fabs(y - (a.y + (x - a.x) * dy / dx)) <= 0.5) return true;
    } else {
      if (y < std::min(a.y, b.y) || y > std::max(a.y, b.y)) continue;
      if (std::fabs(x - (a.x + (y - a.y) * dx / dy)) <= 0.5) return true;
    }
  }
  return false;
}

// Mean of the map over the pixels of the quad and of its outline, with its
// corners moved to whole pixels as PaddleOCR's box_score_fast does (it casts
// them to int relative to the clipped bounding box's corner). On a thin text
// line that shift changes the score by several hundredths, enough to flip
// box_threshold, so it is kept.
float BoxScore(const float* map, int64_t h, int64_t w, const Quad& corners) {
  double lo_x = corners[0].x, hi_x = lo_x, lo_y = corners[0].y, hi_y = lo_y;
  for (const Point& p : corners) {
    lo_x = std::min(lo_x, p.x), hi_x = std::max(hi_x, p.x);
    lo_y = std::min(lo_y, p.y), hi_y = std::max(hi_y, p.y);
  }
  const auto clampi = [](double v, int64_t hi) {
    return std::clamp<int64_t>(static_cast<int64_t>(v), 0, hi - 1);
  };
  const int64_t x0 = clampi(std::floor(lo_x), w), x1 = clampi(std::ceil(hi_x), w);
  const int64_t y0 = clampi(std::floor(lo_y), h), y1 = clampi(std::ceil(hi_y), h);
  Quad q;
  for (int i = 0; i < 4; ++i) {
    q[i] = {std::trunc(corners[i].x - static_cast<double>(x0)) + static_cast<double>(x0),
            std::trunc(corners[i].y - static_cast<double>(y0)) + static_cast<double>(y0)};
  }
  double sum = 0;
  int64_t n = 0;
  for (int64_t y = y0; y <= y1; ++y) {
    for (int64_t x = x0; x <= x1; ++x) {
      const auto px = static_cast<double>(x), py = static_cast<double>(y);
      if (!InsideConvexQuad(q, px, py, 0.01) && !OnOutline(q, px, py)) continue;
      sum += map[y * w + x];
      ++n;
    }
  }
  return n > 0 ? static_cast<float>(sum / static_cast<double>(n)) : 0.0f;
}

// Corner (x, y) from map pixels to the destination, rounded and clipped
// (PaddleOCR: np.clip(np.round(x / width * dest_width), 0, dest_width)).
float Scale(double v, int64_t from, int64_t to) {
  const double s = std::round(v / static_cast<double>(from) * static_cast<double>(to));
  return static_cast<float>(std::clamp(s, 0.0, static_cast<double>(to)));
}

// Corner (x, y) from map pixels to the pixels of the image `f` describes:
// to the model input's pixels, then the resize and offset undone.
float Unframe(double v, int64_t map_size, int32_t input_size, int32_t offset, int32_t resized,
              int32_t size) {
  if (map_size != input_size) v = v / static_cast<double>(map_size) * input_size;
  return Scale(v - offset, resized, size);
}

}  // namespace

std::vector<TextBox> FindTextBoxes(const float* map, int64_t height, int64_t width,
                                   const TextBoxParams& params, int64_t dest_height,
                                   int64_t dest_width, const ImageFrame* frame) {
  std::vector<TextBox> boxes;
  if (height <= 0 || width <= 0) return boxes;
  for (const Region& region : FindRegions(map, height, width, params.threshold)) {
    const RotatedRect rect = MinAreaRect(ConvexHull(region.extremes));
    if (rect.ShortSide() < kMinSize) continue;
    const float score = BoxScore(map, height, width, OrderCorners(rect.corners));
    if (!(score >= params.box_threshold)) continue;  // a NaN in the map drops the box
    const double perimeter = 2 * (rect.width + rect.height);
    const double distance = rect.width * rect.height * params.unclip / perimeter;
    const RotatedRect grown = GrowRect(rect, distance);
    if (grown.ShortSide() < kMinSize + 2) continue;
    const Quad q = OrderCorners(grown.corners);
    TextBox box;
    box.score = score;
    for (int i = 0; i < 4; ++i) {
      if (frame != nullptr) {
        const ImageFrame& f = *frame;
        box.points[2 * i] = Unframe(q[i].x, width, f.input_w, f.offset_x, f.resize_w, f.width);
        box.points[2 * i + 1] =
            Unframe(q[i].y, height, f.input_h, f.offset_y, f.resize_h, f.height);
        continue;
      }
      box.points[2 * i] = Scale(q[i].x, width, dest_width);
      box.points[2 * i + 1] = Scale(q[i].y, height, dest_height);
    }
    boxes.push_back(box);
  }
  return boxes;
}

}  // namespace nightshift::exec
