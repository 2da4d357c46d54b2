#include "spec/schedule_section.h"

#include <fmt/format.h>

#include <string>
#include <string_view>

#include "sched/schedule.h"
#include "spec/job_schema.h"

namespace nightshift::spec {
namespace {

Result<std::optional<YAML::Node>> Section(const NodeReader& r, const YAML::Node& root,
                                          std::string_view name) {
  std::optional<YAML::Node> node = NodeReader::Find(root, name);
  if (!node) return std::optional<YAML::Node>();
  NS_RETURN_IF_ERROR(r.CheckMap(*node, std::string(name), *FindChild(JobSchema(), name)));
  return node;
}

}  // namespace

Status ReadSchedule(const NodeReader& r, const YAML::Node& root,
                    std::optional<ScheduleSpec>* schedule) {
  NS_ASSIGN_OR_RETURN(std::optional<YAML::Node> map, Section(r, root, "schedule"));
  if (!map) return Status::Ok();
  ScheduleSpec spec;
  NS_ASSIGN_OR_RETURN(spec.cron, r.RequiredString(*map, "schedule", "cron"));
  if (Result<sched::CronExpr> cron = sched::CronExpr::Parse(spec.cron); !cron) {
    return r.Fail(*NodeReader::Find(*map, "cron"), "schedule.cron", cron.error().message());
  }
  NS_RETURN_IF_ERROR(r.ReadString(*map, "schedule", "timezone", &spec.timezone));
  if (Result<const date::time_zone*> zone = sched::FindZone(spec.timezone); !zone) {
    std::optional<YAML::Node> node = NodeReader::Find(*map, "timezone");
    return r.Fail(node ? *node : *map, "schedule.timezone", zone.error().message());
  }
  NS_RETURN_IF_ERROR(r.ReadBool(*map, "schedule", "catchup", &spec.catchup));
  NS_RETURN_IF_ERROR(r.ReadInt(*map, "schedule", "max_catchup", 0, &spec.max_catchup));
  if (std::optional<YAML::Node> overlap = NodeReader::Find(*map, "overlap")) {
    static constexpr std::string_view kChoices[] = {"skip", "queue"};
    NS_ASSIGN_OR_RETURN(std::string name, r.Choice(*overlap, "schedule.overlap", kChoices));
    spec.overlap = name == "queue" ? ScheduleSpec::Overlap::kQueue : ScheduleSpec::Overlap::kSkip;
  }
  *schedule = std::move(spec);
  return Status::Ok();
}

Status ReadTrigger(const NodeReader& r, const YAML::Node& root,
                   std::optional<TriggerSpec>* trigger) {
  NS_ASSIGN_OR_RETURN(std::optional<YAML::Node> map, Section(r, root, "trigger"));
  if (!map) return Status::Ok();
  TriggerSpec spec;
  NS_ASSIGN_OR_RETURN(spec.watch, r.RequiredString(*map, "trigger", "watch"));
  if (std::optional<YAML::Node> settle = NodeReader::Find(*map, "settle")) {
    if (!settle->IsScalar()) {
      return r.Fail(
          *settle, "trigger.settle",
          fmt::format("expected a duration like 30s, got {}", NodeReader::Describe(*settle)));
    }
    NS_ASSIGN_OR_RETURN(std::string text, r.String(*settle, "trigger.settle"));
    Result<double> seconds = ParseDuration(text);
    if (!seconds) return r.Fail(*settle, "trigger.settle", seconds.error().message());
    // At 0 a file still being written would be taken once per write, its
    // first rows scored again each time. 100 ms: above mtime's granularity on
    // the common file systems.
    if (*seconds < 0.1) {
      return r.Fail(*settle, "trigger.settle",
                    fmt::format("must be at least 100ms, got {}s: a file still being written "
                                "would be taken again after each write",
                                *seconds));
    }
    spec.settle_s = *seconds;
  }
  *trigger = std::move(spec);
  return Status::Ok();
}

}  // namespace nightshift::spec
