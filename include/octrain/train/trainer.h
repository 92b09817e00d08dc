#pragma once

#include <cstdio>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "octrain/data/dataset.h"
#include "octrain/train/evaluation.h"
#include "octrain/train/progress.h"
#include "octrain/train/run_config.h"

namespace octrain::train {

struct RunOptions {
  bool resume = false;       // continue config.out from its checkpoint
  bool quiet = false;        // no progress output
  ProgressOptions progress;  // what to show while training (progress.h)
  std::string resume_hint;   // how to resume after an interrupt; empty: octrain train --resume DIR
  bool skip_damaged_metrics = false;       // resume past damaged metrics.jsonl lines
  std::FILE* out = stdout;                 // progress and epoch lines
  const data::Dataset* dataset = nullptr;  // already loaded (octrain compare shares one per split)
};

struct RunResult {
  std::string run_dir;
  std::vector<nlohmann::json> epochs;  // the epoch records of metrics.jsonl
  Evaluation test;                     // at the end of training
  Evaluation validation;               // likewise (samples 0 without a validation split)
  int64_t best_epoch = 0;              // --keep best / --early-stop: the best validation epoch
  Evaluation best_test;                // the test figures of that epoch
  bool stopped_early = false;
  double final_train_loss = 0.0;  // mean step loss of the last epoch
  double mean_step_ms = 0.0;      // mean wall time of method.step over this run's steps
  int64_t steps = 0;
};

// Trains one run end to end: data, model, method, the loop with evaluation, metrics, checkpoints,
// divergence policy and progress. Writes config.toml, metadata.json, metrics.jsonl, steps.csv,
// epochs.csv, checkpoint.pt and result.json into the run directory.
RunResult run_training(RunConfig config, const RunOptions& options = {});

data::LoadOptions load_options_for(const RunConfig& config);

// Asks a running training loop to stop after its current step, write a resumable checkpoint and
// throw Error(kInterrupted). Safe to call from a signal handler.
void request_stop();

}  // namespace octrain::train
