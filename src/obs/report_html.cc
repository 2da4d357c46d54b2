#include "obs/report_html.h"

#include <fmt/format.h>

#include <algorithm>
#include <tuple>

#include "nightshift/utc_time.h"
#include "obs/progress.h"

namespace nightshift::obs {
namespace {

constexpr int kWidth = 720;
constexpr int kHeight = 220;
constexpr int kPad = 40;
constexpr size_t kMaxTimelineShards = 400;  // past this the timeline samples shards evenly

const char* kStyle = R"(
body{font-family:system-ui,sans-serif;margin:2em;color:#222;max-width:60em}
h1{font-size:1.4em}h2{font-size:1.1em;margin-top:2em;border-bottom:1px solid #ddd}
table{border-collapse:collapse}td,th{padding:.2em .8em;border-bottom:1px solid #eee;text-align:left}
td.n{text-align:right;font-variant-numeric:tabular-nums}
.state-completed{color:#1a7f37}.state-failed{color:#cf222e}.state-interrupted{color:#9a6700}
svg text{font-size:11px;fill:#555}pre{background:#f6f8fa;padding:1em;overflow:auto}
.muted{color:#777}
)";

// `height`: taller than kHeight when a chart needs it (many timeline lanes).
std::string Svg(const std::string& id, const std::string& title, const std::string& body,
                int height = kHeight) {
  return fmt::format(
      "<svg id=\"{}\" role=\"img\" width=\"{}\" height=\"{}\" viewBox=\"0 0 {} {}\">"
      "<title>{}</title>"
      "<line x1=\"{}\" y1=\"{}\" x2=\"{}\" y2=\"{}\" stroke=\"#999\"/>"
      "<line x1=\"{}\" y1=\"{}\" x2=\"{}\" y2=\"{}\" stroke=\"#999\"/>{}</svg>\n",
      id, kWidth, height, kWidth, height, HtmlEscape(title), kPad, height - kPad, kWidth - 10,
      height - kPad, kPad, 10, kPad, height - kPad, body);
}

std::string Counts(const ReportData& d) {
  const RunRecord& r = d.run;
  double secs = r.finished_at_ms > r.created_at_ms
                    ? static_cast<double>(r.finished_at_ms - r.created_at_ms) / 1000
                    : 0;
  std::string rows;
  auto row = [&rows](std::string_view k, const std::string& v, bool num) {
    rows += fmt::format("<tr><th>{}</th><td{}>{}</td></tr>", k, num ? " class=\"n\"" : "",
                        HtmlEscape(v));
  };
  row("state", std::string(RunStateName(r.state)), false);
  row("rows total", Progress::Thousands(d.counts.total_rows), true);
  row("succeeded", Progress::Thousands(d.counts.succeeded), true);
  row("failed", Progress::Thousands(d.counts.failed), true);
  row("shards committed", fmt::format("{} of {}", d.counts.shards_committed, d.counts.shards_total),
      true);
  row("started", r.created_at_ms > 0 ? UtcSeconds(r.created_at_ms) : "-", false);
  row("finished", r.finished_at_ms > 0 ? UtcSeconds(r.finished_at_ms) : "-", false);
  if (secs > 0) row("duration", Progress::Duration(secs), false);
  row("output", r.output_path, false);
  row("model", r.model_path, false);
  row("model sha256", r.model_sha256, false);
  if (!r.message.empty()) row("message", r.message, false);
  return "<h2>Counts</h2><table id=\"counts\">" + rows + "</table>\n";
}

// Rows committed over time: one point per shard commit.
std::string Throughput(const ReportData& d) {
  std::vector<std::pair<int64_t, int64_t>> pts;  // committed_at, rows
  for (const auto& s : d.shards)
    if (s.state == ShardState::kCommitted && s.committed_at_ms > 0)
      pts.emplace_back(s.committed_at_ms, s.rows_written + s.rows_failed);
  if (pts.empty()) return "<h2>Throughput</h2><p class=\"muted\">No shard committed yet.</p>\n";
  std::sort(pts.begin(), pts.end());
  int64_t t0 = std::min(pts.front().first,
                        d.run.created_at_ms > 0 ? d.run.created_at_ms : pts.front().first);
  for (const auto& s : d.shards)
    if (s.started_at_ms > 0) t0 = std::min(t0, s.started_at_ms);
  const double span = std::max<double>(1, static_cast<double>(pts.back().first - t0));
  int64_t total = 0;
  for (const auto& p : pts) total += p.second;
  std::string poly = fmt::format("{},{} ", kPad, kHeight - kPad);
  int64_t cum = 0;
  for (const auto& p : pts) {
    cum += p.second;
    double x = kPad + (kWidth - kPad - 10) * static_cast<double>(p.first - t0) / span;
    double y = (kHeight - kPad) - (kHeight - kPad - 10) * static_cast<double>(cum) /
                                      static_cast<double>(std::max<int64_t>(1, total));
    poly += fmt::format("{:.1f},{:.1f} ", x, y);
  }
  const double rate = static_cast<double>(total) / (span / 1000);
  std::string body = fmt::format(
      "<polyline fill=\"none\" stroke=\"#0969da\" stroke-width=\"2\" points=\"{}\"/>"
      "<text x=\"{}\" y=\"{}\">0 s</text><text x=\"{}\" y=\"{}\" text-anchor=\"end\">{:.1f} "
      "s</text>"
      "<text x=\"{}\" y=\"20\">{} rows</text>",
      poly, kPad, kHeight - kPad + 15, kWidth - 10, kHeight - kPad + 15, span / 1000, kPad + 5,
      Progress::Thousands(total));
  return fmt::format(
      "<h2>Throughput</h2><p>Rows committed over time: {} rows in {:.1f} s, {} rows/s on "
      "average.</p>\n{}",
      Progress::Thousands(total), span / 1000, Progress::Thousands(static_cast<int64_t>(rate)),
      Svg("throughput", "Rows committed over time", body));
}

std::string Latency(const ReportData& d) {
  const BatchLatencies& l = d.latencies;
  if (l.n == 0) return "<h2>Batch latency</h2><p class=\"muted\">No batch recorded.</p>\n";
  const auto& bounds = BatchLatencies::Bounds();
  int64_t peak = *std::max_element(l.counts.begin(), l.counts.end());
  const double bw = static_cast<double>(kWidth - kPad - 10) / static_cast<double>(l.counts.size());
  std::string body;
  for (size_t i = 0; i < l.counts.size(); ++i) {
    double h = (kHeight - kPad - 20) * static_cast<double>(l.counts[i]) /
               static_cast<double>(std::max<int64_t>(1, peak));
    double x = kPad + bw * static_cast<double>(i);
    std::string label = i < bounds.size() ? fmt::format("≤{:g}s", bounds[i]) : "more";
    body += fmt::format(
        "<rect class=\"bar\" x=\"{:.1f}\" y=\"{:.1f}\" width=\"{:.1f}\" height=\"{:.1f}\" "
        "fill=\"#8250df\"><title>{}: {} batch(es)</title></rect>"
        "<text x=\"{:.1f}\" y=\"{}\" text-anchor=\"middle\">{}</text>",
        x + 1, kHeight - kPad - h, bw - 2, h, label, l.counts[i], x + bw / 2,
        kHeight - kPad + (i % 2 == 0 ? 12 : 24), label);
  }
  auto secs = [](double s) {
    return s < 1 ? fmt::format("{:.2f} ms", s * 1000) : fmt::format("{:.2f} s", s);
  };
  return fmt::format("<h2>Batch latency</h2><p>{} batch(es), {} rows; mean {}, max {}.</p>\n{}",
                     Progress::Thousands(l.n), Progress::Thousands(l.rows),
                     secs(l.sum / static_cast<double>(l.n)), secs(l.max),
                     Svg("latency", "Batch latency distribution", body));
}

// One lane of the timeline: the shards one worker claimed last, in start
// order. `worker` is ShardRecord::worker, "host/pid/start_time" ("" when the
// ledger does not know).
struct Lane {
  std::string worker;
  std::vector<const ShardRecord*> shards;
};

// "host pid 1234" for "host/1234/start_time": the start time only tells a
// reused pid apart, which the lane's order already does.
std::string LaneLabel(const std::string& worker) {
  if (worker.empty()) return "worker unknown";
  const size_t a = worker.find('/');
  const size_t b = worker.find('/', a == std::string::npos ? a : a + 1);
  if (a == std::string::npos || b == std::string::npos) return worker;
  return fmt::format("{} pid {}", worker.substr(0, a), worker.substr(a + 1, b - a - 1));
}

// The started shards by worker, lanes in the order their first shard
// started; every `step`th shard of a lane when there are too many to draw.
std::vector<Lane> Lanes(const std::vector<ShardRecord>& all, size_t* drawn, size_t* started) {
  std::vector<Lane> lanes;
  *started = 0;
  for (const auto& s : all) {
    if (s.started_at_ms <= 0) continue;
    ++*started;
    auto it = std::find_if(lanes.begin(), lanes.end(),
                           [&](const Lane& l) { return l.worker == s.worker; });
    if (it == lanes.end()) it = lanes.insert(lanes.end(), Lane{s.worker, {}});
    it->shards.push_back(&s);
  }
  auto by_start = [](const ShardRecord* x, const ShardRecord* y) {
    return std::tie(x->started_at_ms, x->shard_id) < std::tie(y->started_at_ms, y->shard_id);
  };
  for (Lane& l : lanes) std::sort(l.shards.begin(), l.shards.end(), by_start);
  std::sort(lanes.begin(), lanes.end(), [&](const Lane& x, const Lane& y) {
    return by_start(x.shards.front(), y.shards.front());
  });
  const size_t step = (*started + kMaxTimelineShards - 1) / kMaxTimelineShards;
  *drawn = 0;
  for (Lane& l : lanes) {
    std::vector<const ShardRecord*> kept;
    for (size_t i = 0; i < l.shards.size(); i += step) kept.push_back(l.shards[i]);
    l.shards = std::move(kept);
    *drawn += l.shards.size();
  }
  return lanes;
}

// One bar per shard from its claim to its commit, in one lane per worker
// (its label above it), so that a worker that idled or a shard that hung
// stands out.
std::string Timeline(const ReportData& d) {
  size_t drawn = 0, started = 0;
  const std::vector<Lane> lanes = Lanes(d.shards, &drawn, &started);
  if (lanes.empty()) return "<h2>Shard timeline</h2><p class=\"muted\">No shard started.</p>\n";
  int64_t t0 = lanes.front().shards.front()->started_at_ms, t1 = t0;
  for (const Lane& l : lanes) {
    for (const auto* s : l.shards) {
      t0 = std::min(t0, s->started_at_ms);
      t1 = std::max({t1, s->started_at_ms, s->committed_at_ms});
    }
  }
  const double span = std::max<double>(1, static_cast<double>(t1 - t0));
  constexpr double kLabel = 16;  // room for a lane's label above its bars
  const double bars = kHeight - kPad - 10 - kLabel * static_cast<double>(lanes.size());
  const double bh = std::clamp(bars / static_cast<double>(drawn), 2.0, 14.0);
  std::string body;
  double y = 10;
  for (size_t w = 0; w < lanes.size(); ++w) {
    const Lane& l = lanes[w];
    body += fmt::format(
        "<g class=\"lane\" data-worker=\"{}\"><text class=\"lane-label\" x=\"{}\" "
        "y=\"{:.1f}\">{} ({} shard(s))</text>",
        HtmlEscape(l.worker), kPad + 2, y + 11, HtmlEscape(LaneLabel(l.worker)), l.shards.size());
    y += kLabel;
    for (const auto* s : l.shards) {
      const bool done =
          s->state == ShardState::kCommitted && s->committed_at_ms >= s->started_at_ms;
      const int64_t end = done ? s->committed_at_ms : t1;
      const double x =
          kPad + (kWidth - kPad - 10) * static_cast<double>(s->started_at_ms - t0) / span;
      const double bw =
          std::max(1.0, (kWidth - kPad - 10) * static_cast<double>(end - s->started_at_ms) / span);
      body += fmt::format(
          "<rect class=\"shard\" x=\"{:.1f}\" y=\"{:.1f}\" width=\"{:.1f}\" height=\"{:.1f}\" "
          "fill=\"{}\"><title>shard {}: {} ({} ms)</title></rect>",
          x, y, bw, std::max(1.0, bh - 1), done ? "#1a7f37" : "#cf222e", s->shard_id,
          ShardStateName(s->state), end - s->started_at_ms);
      y += bh;
    }
    body += "</g>";
  }
  const int height = std::max(kHeight, static_cast<int>(y) + kPad);
  return fmt::format(
      "<h2>Shard timeline</h2><p>Each bar is one shard, from its claim to its commit{} (red: not "
      "committed), in one lane per worker ({} worker(s)).</p>\n{}",
      drawn < started ? fmt::format(" ({} of {} drawn)", drawn, started) : "", lanes.size(),
      Svg("timeline", "Shard timeline per worker", body, height));
}

std::string Failures(const ReportData& d) {
  if (d.failures.empty()) return "<h2>Failures</h2><p>No failed rows.</p>\n";
  std::string rows;
  for (const auto& g : d.failures) {
    std::string keys;
    for (const auto& k : g.example_keys) keys += (keys.empty() ? "" : ", ") + HtmlEscape(k);
    rows += fmt::format("<tr><td>{}</td><td class=\"n\">{}</td><td><code>{}</code></td></tr>",
                        HtmlEscape(g.reason), g.count, keys);
  }
  return fmt::format(
      "<h2>Failures</h2><p>{} failed row(s) grouped by reason{}.</p>"
      "<table id=\"failures\"><tr><th>reason</th><th>rows</th><th>example keys</th></tr>{}"
      "</table>\n",
      Progress::Thousands(d.counts.failed),
      d.failures_listed < d.counts.failed
          ? fmt::format(" (the first {} read)", Progress::Thousands(d.failures_listed))
          : "",
      rows);
}

}  // namespace

std::string HtmlEscape(std::string_view text) {
  std::string out;
  for (char c : text) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&#39;"; break;
      default: out += c;
    }
  }
  return out;
}

std::string RenderReportHtml(const ReportData& d) {
  const std::string title = fmt::format("nightshift run {}", d.run.run_id);
  std::string html = fmt::format(
      "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
      "<title>{}</title><style>{}</style></head><body>\n"
      "<h1>{} <span class=\"state-{}\">{}</span></h1>"
      "<p class=\"muted\">job {} · file {} · report written {}</p>\n",
      HtmlEscape(title), kStyle, HtmlEscape(title), RunStateName(d.run.state),
      RunStateName(d.run.state), HtmlEscape(d.run.job_name), HtmlEscape(d.job_path),
      UtcSeconds(d.generated_at_ms));
  html += Counts(d);
  html += Throughput(d);
  html += Latency(d);
  html += Timeline(d);
  html += Failures(d);
  html += "<h2>Job file</h2><pre id=\"job\">" + HtmlEscape(d.job_text) + "</pre>\n";
  html += "</body></html>\n";
  return html;
}

}  // namespace nightshift::obs
