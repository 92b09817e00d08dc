#pragma once

#include <memory>
#include <string>

#include "octrain/control/network.h"
#include "octrain/control/terminal_loss.h"
#include "octrain/data/dataset.h"
#include "octrain/deploy/packed_model.h"
#include "octrain/train/run_config.h"

namespace octrain::deploy {

// A trained network with the run settings and data it was trained on: what `octrain eval`,
// `predict` and `export` start from (docs/EXPORT.md).
struct TrainedModel {
  train::RunConfig config;
  data::Dataset data;  // re-read with the run's settings: the same splits and standardisation
  std::shared_ptr<control::Network> network;
  bool packed = false;            // loaded from a packed model file
  std::string source;             // the run directory or file it was loaded from
  std::string recorded_checksum;  // the dataset checksum in the run's metadata.json, if any
};

// Loads `target`: a run directory (its config.toml and checkpoint.pt), a checkpoint with its
// run's config.toml beside it (checkpoint.pt, best.pt), or a packed model file
// (write_packed_model with packed_run_settings). The network is rebuilt from the run's model
// spec on the re-read data's input shape, then given the saved tensors.
// UsageError when `target` does not exist or a checkpoint has no config.toml beside it;
// DataError (one line naming the file) when the checkpoint or packed file is damaged or of
// another model, a packed file's run settings are bad, or the data cannot be read.
TrainedModel load_trained_model(const std::string& target);

// Compares the data re-read now with the checksum the run recorded in metadata.json (packed
// files record none). Unchanged, or nothing recorded: returns "". Changed: throws DataError
// unless `allow_changed`, and then returns the message for the caller to show as a warning.
std::string check_data_unchanged(const TrainedModel& model, bool allow_changed);

// The terminal loss the run trained with (its `loss`, or the task's default).
std::unique_ptr<control::TerminalLoss> run_loss(const TrainedModel& model);

// The run settings a packed file carries so that load_trained_model can rebuild the model and
// its data: dataset, model, loss, seeds, split fractions and limits.
RunSettings packed_run_settings(const train::RunConfig& config);

}  // namespace octrain::deploy
