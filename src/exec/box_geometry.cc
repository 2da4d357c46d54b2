#include "exec/box_geometry.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace nightshift::exec {
namespace {

double Cross(const Point& o, const Point& a, const Point& b) {
  return (a.x - o.x) * (b.y - o.y) - (a.y - o.y) * (b.x - o.x);
}

}  // namespace

std::vector<Point> ConvexHull(std::vector<Point> p) {
  std::sort(p.begin(), p.end(),
            [](const Point& a, const Point& b) { return a.x < b.x || (a.x == b.x && a.y < b.y); });
  p.erase(std::unique(p.begin(), p.end(),
                      [](const Point& a, const Point& b) { return a.x == b.x && a.y == b.y; }),
          p.end());
  if (p.size() < 3) return p;
  // Andrew's monotone chain: lower hull then upper hull.
  std::vector<Point> h(2 * p.size());
  size_t k = 0;
  for (const Point& q : p) {
    while (k >= 2 && Cross(h[k - 2], h[k - 1], q) <= 0) --k;
    h[k++] = q;
  }
  for (size_t i = p.size() - 1, lower = k + 1; i-- > 0;) {
    while (k >= lower && Cross(h[k - 2], h[k - 1], p[i]) <= 0) --k;
    h[k++] = p[i];
  }
  h.resize(k - 1);
  return h;
}

RotatedRect MinAreaRect(const std::vector<Point>& hull) {
  RotatedRect best;
  if (hull.empty()) return best;
  double best_area = std::numeric_limits<double>::infinity();
  const size_t n = hull.size();
  for (size_t i = 0; i < n; ++i) {
    const Point& a = hull[i];
    const Point& b = hull[(i + 1) % n];
    double ux = b.x - a.x, uy = b.y - a.y;
    const double len = std::hypot(ux, uy);
    if (len == 0) {
      ux = 1;
      uy = 0;
    } else {
      ux /= len;
      uy /= len;
    }
    // Extents of the hull along the edge (u) and across it (v = u rotated).
    double umin = 0, umax = 0, vmin = 0, vmax = 0;
    for (size_t j = 0; j < n; ++j) {
      const double dx = hull[j].x - a.x, dy = hull[j].y - a.y;
      const double u = dx * ux + dy * uy, v = -dx * uy + dy * ux;
      umin = std::min(umin, u);
      umax = std::max(umax, u);
      vmin = std::min(vmin, v);
      vmax = std::max(vmax, v);
    }
    const double area = (umax - umin) * (vmax - vmin);
    if (area >= best_area) continue;
    best_area = area;
    auto at = [&](double u, double v) {
      return Point{a.x + u * ux - v * uy, a.y + u * uy + v * ux};
    };
    best.corners = {at(umin, vmin), at(umax, vmin), at(umax, vmax), at(umin, vmax)};
    best.width = umax - umin;
    best.height = vmax - vmin;
  }
  return best;
}

Quad OrderCorners(const Quad& corners) {
  Quad p = corners;
  std::sort(p.begin(), p.end(), [](const Point& a, const Point& b) { return a.x < b.x; });
  // The two leftmost are the left side: the upper is top-left; likewise right.
  const Point& tl = p[1].y > p[0].y ? p[0] : p[1];
  const Point& bl = p[1].y > p[0].y ? p[1] : p[0];
  const Point& tr = p[3].y > p[2].y ? p[2] : p[3];
  const Point& br = p[3].y > p[2].y ? p[3] : p[2];
  return {tl, tr, br, bl};
}

RotatedRect GrowRect(const RotatedRect& rect, double distance) {
  Point c{0, 0};
  for (const Point& p : rect.corners) {
    c.x += p.x / 4;
    c.y += p.y / 4;
  }
  // Unit vectors along the two sides (corners 0->1 is `width`, 1->2 `height`).
  auto unit = [](const Point& from, const Point& to, double len) {
    return len > 0 ? Point{(to.x - from.x) / len, (to.y - from.y) / len} : Point{0, 0};
  };
  Point u = unit(rect.corners[0], rect.corners[1], rect.width);
  Point v = unit(rect.corners[1], rect.corners[2], rect.height);
  if (rect.width == 0) u = {-v.y, v.x};
  if (rect.height == 0) v = {-u.y, u.x};
  if (rect.width == 0 && rect.height == 0) u = {1, 0}, v = {0, 1};
  RotatedRect out;
  out.width = rect.width + 2 * distance;
  out.height = rect.height + 2 * distance;
  const double hw = out.width / 2, hh = out.height / 2;
  const double su[4] = {-1, 1, 1, -1}, sv[4] = {-1, -1, 1, 1};
  for (int i = 0; i < 4; ++i) {
    out.corners[i] = {c.x + su[i] * hw * u.x + sv[i] * hh * v.x,
                      c.y + su[i] * hw * u.y + sv[i] * hh * v.y};
  }
  return out;
}

bool InsideConvexQuad(const Quad& q, double x, double y, double tolerance) {
  // Inside when on the same side of every edge (either winding).
  bool pos = true, neg = true;
  for (int i = 0; i < 4; ++i) {
    const Point& a = q[i];
    const Point& b = q[(i + 1) % 4];
    const double len = std::hypot(b.x - a.x, b.y - a.y);
    if (len == 0) continue;
    const double d = Cross(a, b, Point{x, y}) / len;  // signed distance
    pos = pos && d >= -tolerance;
    neg = neg && d <= tolerance;
  }
  return pos || neg;
}

}  // namespace nightshift::exec
