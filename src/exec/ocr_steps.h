// ocr_steps: the `postprocess: - ctc_decode` and `- text_boxes` steps (the
// OCR pair), run on each batch right after the model and top_k, on the
// worker's thread, like top_k (top_k.h).
//
// Tensor layout of a batch's outputs, after ModelOutputNames() and top_k's two
// tensors per step: per ctc_decode step three tensors (uint8 [rows, longest]
// UTF-8 text, int64 [rows] its byte lengths, float32 [rows, 1] score), then
// per text_boxes step four (float32 [rows, 8 * most boxes] corners, int64
// [rows] how many of them each row has, float32 [rows, most boxes] scores,
// int64 [rows] how many of those).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "exec/output_names.h"
#include "exec/text_boxes.h"
#include "nightshift/backend.h"
#include "nightshift/env.h"
#include "nightshift/job_spec.h"
#include "nightshift/row_batch.h"
#include "nightshift/sink.h"

namespace nightshift::exec {

struct CtcStep {
  size_t source = 0;  // index of the [rows, time, classes] model output
  size_t out = 0;     // index of its text tensor (lengths: out + 1, score: out + 2)
  int64_t blank = 0;
  int64_t classes = -1;               // from the model's signature; -1: unknown until run
  std::vector<std::string> alphabet;  // PrepareJob reads it
  std::string where;                  // "postprocess[1].ctc_decode", for messages
};

struct TextBoxesStep {
  size_t source = 0;  // index of the [rows, 1, h, w] (or [rows, h, w]) probability map
  size_t out = 0;     // index of its corners tensor (then counts, scores, counts)
  TextBoxParams params;
  std::string where;
};

struct OcrSteps {
  std::vector<CtcStep> ctc;
  std::vector<TextBoxesStep> boxes;
};

// Tensor names of the steps' outputs in tensor order (for messages), and how
// many tensors they add.
std::vector<std::string> OcrTensorNames(const JobSpec& job);

// Checks each step's model output against the model's signature and adds the
// steps and their columns (`<into>` and `<into>_score`); the first step
// tensor is `first_out`. SchemaMismatch naming the step otherwise.
Status BindOcrSteps(const JobSpec& job, const Model& model, size_t first_out, OcrSteps* steps,
                    SinkLayout* sink, std::vector<OutputName>* names);

// Reads each ctc_decode step's alphabet; when the model says its class count,
// an alphabet that does not fit it is an error before any row is read.
Status LoadAlphabets(const JobSpec& job, Env* env, OcrSteps* steps);

// Sets each step's tensors in batch->outputs. SchemaMismatch when a model
// output has the wrong type or shape for its step.
Status ApplyOcrSteps(const OcrSteps& steps, RowBatch* batch);

}  // namespace nightshift::exec
