// JobContext: what RunJob and ValidateJob both set up before reading rows:
// the input, the model and the binding between them.
#pragma once

#include <memory>
#include <string>

#include "exec/binder.h"
#include "nightshift/backend.h"
#include "nightshift/job_spec.h"
#include "nightshift/source.h"

namespace nightshift::exec {

struct JobContext {
  std::unique_ptr<Source> source;
  std::unique_ptr<Backend> backend;
  std::unique_ptr<Model> model;
  std::vector<InputColumn> columns;  // of the first input file (or the query)
  Binding binding;
  // The carried columns' common types across all input files, as
  // CheckAllFiles() found them; empty until it ran (then the Source works
  // them out: Source::CarriedTypes).
  std::vector<std::string> carried_types;
};

// Opens the input, loads the model (checking model.sha256 when pinned) and
// binds them. Every error here means exit code 2.
Result<JobContext> PrepareJob(const JobSpec& job);

// Checks that every input file has the columns the binding reads, with
// compatible types (schema drift across the files of a glob).
Status CheckAllFiles(const JobSpec& job, JobContext& ctx);

// Marks text columns fed to the model as numeric when most of their sampled
// values convert (their bad values then become dead letters).
Status AcceptMostlyNumericText(const JobSpec& job, Source* source, int32_t file_index,
                               std::vector<InputColumn>* columns);

// Where the input is, for messages.
std::string DescribeInput(const JobSpec& job, const Source& source, int32_t file_index);

}  // namespace nightshift::exec
