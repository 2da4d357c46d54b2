// Readers for the `schedule:` and `trigger:` sections of a job file.
#pragma once

#include <yaml-cpp/yaml.h>

#include <optional>

#include "nightshift/job_spec.h"
#include "spec/node_reader.h"

namespace nightshift::spec {

// REQUIRES: `root` passed r.CheckMap against JobSchema(). Leave the optional
// empty when the section is absent; a bad cron or an unknown zone is an error
// naming the key and the reason.
Status ReadSchedule(const NodeReader& r, const YAML::Node& root,
                    std::optional<ScheduleSpec>* schedule);
// `trigger.watch` is stored as written; the parser resolves it.
Status ReadTrigger(const NodeReader& r, const YAML::Node& root,
                   std::optional<TriggerSpec>* trigger);

}  // namespace nightshift::spec
