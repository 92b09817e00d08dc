#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "octrain/train/run_exports.h"

namespace octrain::train {

// AlgoPerf's eval_measurements.csv: one row per evaluation (epoch 0 on), its columns in
// AlgoPerf's (alphabetical) order: accumulated_eval_time, accumulated_logging_time,
// accumulated_submission_time, global_step, preemption_count, score (= the submission time),
// test/accuracy, test/loss, test/num_examples, total_duration, train/accuracy, train/loss,
// validation/accuracy, validation/loss, validation/num_examples. Accuracy columns only for
// classification, validation columns only with a validation split; an empty cell is a
// non-finite value. Times in seconds: submission = training steps, eval = evaluations, logging
// = the rest of the wall time (checkpoints, logs, start-up); preemption_count = resumes so far.
std::string algoperf_eval_measurements(const std::vector<nlohmann::json>& records,
                                       const EvaluatedSplits& splits);

}  // namespace octrain::train
