// cron_fires: prints fire times for the differential test against croner
// (croner_diff_test.cjs). One case per stdin line:
//   <cron>\t<zone>\t<start, unix seconds>\t<count>
// answered by one line:
//   OK\t<first zone transition after start, unix seconds, or 0>\t<fire>,<fire>,...
//   ERR\t<message>
#include <cstdio>
#include <iostream>
#include <string>
#include <vector>

#include "sched/schedule.h"

namespace {

std::vector<std::string> SplitTabs(const std::string& line) {
  std::vector<std::string> parts;
  size_t start = 0;
  for (size_t tab; (tab = line.find('\t', start)) != std::string::npos; start = tab + 1) {
    parts.push_back(line.substr(start, tab - start));
  }
  parts.push_back(line.substr(start));
  return parts;
}

std::string Answer(const std::vector<std::string>& f) {
  using nightshift::sched::SysSeconds;
  if (f.size() != 4) return "ERR\tbad input line";
  auto schedule = nightshift::sched::Schedule::Make(f[0], f[1]);
  if (!schedule) return "ERR\t" + schedule.error().message();
  const SysSeconds start{std::chrono::seconds(std::stoll(f[2]))};
  const date::time_zone* zone = *nightshift::sched::FindZone(f[1]);
  const SysSeconds transition = zone->get_info(start).end;
  std::string out = "OK\t" + std::to_string(transition.time_since_epoch().count()) + "\t";
  SysSeconds after = start;
  for (int i = 0, n = std::stoi(f[3]); i < n; ++i) {
    auto fire = schedule->NextAfter(after);
    if (!fire) return "ERR\t" + fire.error().message();
    if (i > 0) out += ",";
    out += std::to_string(fire->at.time_since_epoch().count());
    after = fire->at;
  }
  return out;
}

}  // namespace

int main() {
  std::ios::sync_with_stdio(false);
  std::string line;
  while (std::getline(std::cin, line)) std::cout << Answer(SplitTabs(line)) << "\n";
  return 0;
}
