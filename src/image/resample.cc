#include "image/resample.h"

#include <algorithm>
#include <cstring>
#include <vector>

#include "image/resample_kernels.h"

namespace nightshift::image {
namespace {

using kernels::Taps;

enum class Pass { kHorizontal, kVertical };

// The taps for in_size -> out_size, remembered per thread and pass: a
// worker resizing a folder of same-sized photos computes them once.
const Taps& TapsFor(int in_size, int out_size, Pass pass) {
  struct Entry {
    int in_size = -1, out_size = -1;
    Taps taps;
  };
  thread_local Entry cache[2];
  Entry& e = cache[pass == Pass::kHorizontal ? 0 : 1];
  if (e.in_size != in_size || e.out_size != out_size) {
    e.taps = kernels::ComputeTaps(in_size, out_size);
    e.in_size = in_size;
    e.out_size = out_size;
  }
  return e.taps;
}

// The rows of the (horizontally resampled) image that `window`'s rows
// read: [first, last).
struct RowSpan {
  int first = 0, last = 0;
};

RowSpan RowsRead(const Taps* vertical, const Window& window) {
  if (vertical == nullptr) return {window.y, window.y + window.height};
  RowSpan s{vertical->first[window.y], 0};
  for (int yy = window.y; yy < window.y + window.height; ++yy) {
    s.first = std::min(s.first, vertical->first[yy]);
    s.last = std::max(s.last, vertical->first[yy] + vertical->count[yy]);
  }
  return s;
}

// An image held somewhere else: the first row and the distance between rows.
struct Rows {
  const uint8_t* data = nullptr;
  size_t stride = 0;
  int first_row = 0;  // the source row `data` is
  const uint8_t* row(int y) const { return data + static_cast<size_t>(y - first_row) * stride; }
};

// The horizontal pass over source rows `span`, window columns only, into
// `buffer`; or, when the width does not change, the source itself.
Rows HorizontalPass(const Pixels& src, int width, const Window& window, RowSpan span,
                    std::vector<uint8_t>* buffer) {
  const int ch = src.channels;
  const size_t src_stride = static_cast<size_t>(src.width) * ch;
  if (width == src.width) {
    return {src.data.data() + static_cast<size_t>(window.x) * ch, src_stride, 0};
  }
  const Taps& taps = TapsFor(src.width, width, Pass::kHorizontal);
  const size_t stride = static_cast<size_t>(window.width) * ch;
  buffer->resize(stride * (span.last - span.first));
  for (int y = span.first; y < span.last; ++y) {
    const size_t offset = static_cast<size_t>(y) * src_stride;
    kernels::HorizontalRow(src.data.data() + offset, src.data.size() - offset, ch, taps, window.x,
                           window.width, buffer->data() + (y - span.first) * stride);
  }
  return {buffer->data(), stride, span.first};
}

}  // namespace

void ResampleWindow(const Pixels& src, int width, int height, const Window& window, Pixels* out) {
  out->width = window.width;
  out->height = window.height;
  out->channels = src.channels;
  const size_t len = static_cast<size_t>(window.width) * src.channels;
  out->data.resize(len * window.height);
  if (window.width <= 0 || window.height <= 0) return;
  const Taps* v = height != src.height ? &TapsFor(src.height, height, Pass::kVertical) : nullptr;
  // Per thread: the horizontal pass's rows, reused from image to image.
  thread_local std::vector<uint8_t> buffer;
  const Rows rows = HorizontalPass(src, width, window, RowsRead(v, window), &buffer);
  for (int yy = window.y; yy < window.y + window.height; ++yy) {
    uint8_t* o = out->row(yy - window.y);
    if (v == nullptr) {
      std::memcpy(o, rows.row(yy), len);
    } else {
      kernels::VerticalRow(rows.row(v->first[yy]), rows.stride,
                           &v->weights[static_cast<size_t>(yy) * v->ksize], v->count[yy], len, o);
    }
  }
}

Window SourceWindow(int src_width, int src_height, int width, int height, const Window& window) {
  Window s = window;
  if (window.width <= 0 || window.height <= 0) return {0, 0, 0, 0};
  if (width != src_width) {
    const Taps& h = TapsFor(src_width, width, Pass::kHorizontal);
    int first = src_width, last = 0;
    for (int xx = window.x; xx < window.x + window.width; ++xx) {
      first = std::min(first, h.first[xx]);
      last = std::max(last, h.first[xx] + h.count[xx]);
    }
    s.x = first;
    s.width = last - first;
  }
  if (height != src_height) {
    const RowSpan rows = RowsRead(&TapsFor(src_height, height, Pass::kVertical), window);
    s.y = rows.first;
    s.height = rows.last - rows.first;
  }
  return s;
}

Pixels Resample(const Pixels& src, int width, int height) {
  if (width == src.width && height == src.height) return src;
  Pixels out;
  ResampleWindow(src, width, height, {0, 0, width, height}, &out);
  return out;
}

}  // namespace nightshift::image
