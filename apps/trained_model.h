#pragma once

#include <memory>
#include <string>

#include "octrain/control/network.h"
#include "octrain/data/dataset.h"
#include "octrain/train/run_config.h"

namespace octrain::app {

// A trained network with the run settings and data it was trained on, loaded from a run
// directory, its checkpoint.pt, or a packed model file (`octrain export --format packed`).
struct TrainedModel {
  train::RunConfig config;
  data::Dataset data;
  std::shared_ptr<control::Network> network;
  bool packed = false;
  std::string source;             // the run directory or file it was loaded from
  std::string recorded_checksum;  // the dataset checksum in the run's metadata.json, if any
};
TrainedModel load_trained_model(const std::string& target);

// Refuses (DataError, exit 3) when the data re-read now differs from the data the run recorded
// in metadata.json; with `allow_changed` prints a warning to stderr instead.
void check_data_unchanged(const TrainedModel& model, bool allow_changed);

// The terminal loss the run trained with (its `loss`, or the task's default).
std::unique_ptr<control::TerminalLoss> run_loss(const TrainedModel& model);

}  // namespace octrain::app
