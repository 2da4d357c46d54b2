// Input identity: the rules that pin a run to the input it was planned from.
//
// Within one process, a listed input file is the same file while its device,
// inode, size and mtime are: a file replaced under its path (mv, os.replace)
// or rewritten in place is a change, and the run fails rather than mix rows
// of two files (CheckUnchanged).
//
// Across processes resuming one run id, the input is the same while its
// listing (every file read: path, size, mtime) and its run-defining job keys
// (plan::JobDefinition) are; the inode is not compared there, so a file
// restored with the same size and mtime counts as the same input
// (ListingChanges, JobChanges).
#pragma once

#include <string>
#include <vector>

#include "nightshift/env.h"
#include "nightshift/job_spec.h"
#include "nightshift/ledger.h"
#include "nightshift/source.h"
#include "nightshift/status.h"

namespace nightshift::plan {

// OK while `listed` (a file with a path) is still the same file; InvalidData
// naming the file and what changed ("was removed", "was replaced (inode A ->
// B)", "size A -> B bytes", "was modified (mtime ...)") otherwise. A file
// without a path (a query's placeholder) is always OK.
Status CheckUnchanged(Env* env, const InputFile& listed);
// CheckUnchanged for each of `files`; the first change.
Status CheckAllUnchanged(Env* env, const std::vector<InputFile>& files);

// What a run records of `job` and the files its input reads.
RunInputs RecordedInputs(const JobSpec& job, const std::vector<InputFile>& read_files);

// The differences from `before` to `now`, one phrase each, sorted by path:
// "input file 'p' was added", "... was removed", "... size A -> B bytes",
// "... mtime changed (A -> B ns)". Empty when the listings match.
std::vector<std::string> ListingChanges(const std::vector<InputFileRecord>& before,
                                        const std::vector<InputFileRecord>& now);

// The run-defining job keys whose value differs, as "job key 'k' changed
// ('a' -> 'b')" (values cut to 80 characters); empty when none.
std::vector<std::string> JobChanges(const std::vector<std::pair<std::string, std::string>>& before,
                                    const std::vector<std::pair<std::string, std::string>>& now);

}  // namespace nightshift::plan
