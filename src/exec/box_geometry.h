// box_geometry: the plane geometry of text detection (PaddleOCR's DB
// post-processing): convex hull, minimum-area rotated rectangle, PaddleOCR's
// corner order, and the "unclip" offset of a rectangle. Coordinates are
// pixels with y pointing down.
#pragma once

#include <array>
#include <vector>

namespace nightshift::exec {

struct Point {
  double x = 0;
  double y = 0;
};

// Four corners.
using Quad = std::array<Point, 4>;

// Counter-clockwise (in y-up terms) hull without collinear points; fewer than
// three points when all are collinear.
std::vector<Point> ConvexHull(std::vector<Point> points);

struct RotatedRect {
  Quad corners;  // in order around the rectangle
  double width = 0;
  double height = 0;
  double ShortSide() const { return width < height ? width : height; }
};

// The smallest-area rectangle holding `hull` (rotating calipers: one side of
// it lies on a hull edge). A hull of one or two points gives a rectangle of
// zero height.
RotatedRect MinAreaRect(const std::vector<Point>& hull);

// PaddleOCR's get_mini_boxes order: top-left, top-right, bottom-right,
// bottom-left (clockwise on screen).
Quad OrderCorners(const Quad& corners);

// The rectangle grown by `distance` on every side. PaddleOCR offsets the box
// polygon with round joins (pyclipper) and takes the minimum-area rectangle
// of the result; for a rectangle that rectangle is exactly this one, so no
// polygon clipping library is needed.
RotatedRect GrowRect(const RotatedRect& rect, double distance);

// True when (x, y) lies inside the convex quad or within `tolerance` pixels
// outside one of its edges.
bool InsideConvexQuad(const Quad& q, double x, double y, double tolerance);

}  // namespace nightshift::exec
