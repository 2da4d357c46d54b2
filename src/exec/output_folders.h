// Output folders: where a run may write and which run a folder belongs to.
//
// An output folder (and a dead-letter folder outside it) belongs to one run,
// recorded by the marker file _nightshift_owner.json that the run writes
// there before its first part. Another run is refused unless the job says
// `output.overwrite: true`, which empties the folder before the first commit.
// A folder the input's listing would read is refused outright, or a resumed
// run would read its own parts as input.
#pragma once

#include <cstdint>
#include <string>

#include "nightshift/job_spec.h"
#include "nightshift/ledger.h"
#include "nightshift/sink.h"
#include "nightshift/status.h"

namespace nightshift::exec {

// The marker's name; it starts with '_' so that folder walks skip it.
inline constexpr char kOwnerMarker[] = "_nightshift_owner.json";

// The dead-letter folder of `job` for run `run_id` writing to `output_dir`:
// errors.dead_letter with {output} replaced, then {run_id}, {name} and {date}
// as in output.path.
std::string DeadLetterDir(const JobSpec& job, const std::string& output_dir,
                          const std::string& run_id, const std::string& date);

// InvalidJob, naming both paths, when a part file in the output folder of
// `job` or a dead-letter file would be listed as input (a folder walk or a
// glob reaching it). {run_id} in output.path stands for `run_id`, {date} for
// today. A trigger job's input is what trigger.watch matches. OK for
// input.query, which cannot be decided here.
Status CheckOutputOutsideInput(const JobSpec& job, const std::string& run_id, Env* env);

// Makes `layout.output_dir` and `layout.dead_letter_dir` the folders of
// `run`, before any part is written:
//  - a folder holding another run's marker, or part files and no marker, is
//    refused (InvalidJob naming the owner and the folder) unless
//    job.output.overwrite, in which case its parts, _SUCCESS and dead letters
//    are removed; a folder that already belongs to `run` is left as it is;
//  - a folder with parts and no marker is adopted when `run` has committed
//    shards already (a run started before markers existed);
//  - both folders are created, the marker is written atomically (Env's
//    publish path), and the dead-letter folder is proven writable (IoError
//    naming errors.dead_letter otherwise).
// Nothing in either folder is touched when the run is refused.
Status ClaimOutputFolders(const JobSpec& job, const RunRecord& run, const SinkLayout& layout,
                          Ledger* ledger);

// Before `_SUCCESS` of run `run_id` is written into its output folder `dir`:
// OK when the folder still belongs to the run and holds every part in
// `committed` (file names); a part-* file no committed shard wrote (left by
// an attempt that published it and was killed before its commit) is removed,
// so that the folder holds exactly the parts _SUCCESS lists. Failed naming
// the folder and what is wrong when another run took the folder over
// (output.overwrite) or a committed part is gone: the run is not complete.
Status CheckCommittedParts(Env* env, const std::string& dir, const std::string& run_id,
                           const std::vector<std::string>& committed);

}  // namespace nightshift::exec
