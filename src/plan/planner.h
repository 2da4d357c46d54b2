// Planner: turns a job and its listed input into a deterministic run plan:
// a fingerprint, a run id, and shards (file + row range).
//
// The same job and input (paths, sizes, modification times; or the query
// text) always give the same run id and the same shards, so a re-run of the
// same command attaches to the same run and resumes it.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "nightshift/job_spec.h"
#include "nightshift/ledger.h"
#include "nightshift/source.h"
#include "nightshift/status.h"

namespace nightshift::plan {

struct Plan {
  std::vector<InputFileRecord> files;
  std::vector<ShardRecord> shards;
  int64_t total_rows = 0;
};

// The job keys that define a run, as (key, canonical value) pairs sorted by
// key: name, input, model signature mapping, output and shard size. Batch
// size, threads, error policy and run.allow_input_change are left out, so
// tuning them neither starts a new run nor counts as a changed job.
std::vector<std::pair<std::string, std::string>> JobDefinition(const JobSpec& job);

// A hex digest of what identifies a run: JobDefinition(job) and every input
// file's path, size and mtime (`files`: Source::read_files()).
std::string Fingerprint(const JobSpec& job, const std::vector<InputFile>& files);

// "<name>-<first 12 hex digits of the fingerprint>".
std::string DeriveRunId(const JobSpec& job, const std::string& fingerprint);

// Cuts one file into shards of about `shard_rows` rows. `row_groups` are the
// file's row-group sizes (one entry covering the whole file for formats
// without row groups); shards follow row-group boundaries where the groups
// are smaller than a shard, so no shard reads a row group twice.
std::vector<std::pair<int64_t, int64_t>> CutFile(const std::vector<int64_t>& row_groups,
                                                 int64_t shard_rows);

// Counts rows and cuts shards for every file of `source`; shard ids run 0..N-1
// over files in order. Consecutive files with fewer rows than a shard are
// packed, whole, into one shard of up to run.shard_rows rows
// (ShardRecord::file_last).
Result<Plan> MakePlan(const JobSpec& job, Source* source);

}  // namespace nightshift::plan
