#pragma once

#include <nlohmann/json.hpp>
#include <vector>

#include "octrain/train/run_config.h"

namespace octrain::train {

// DeepOBS's run file (the JSON its runners write and its analyser reads): the settings
// (testproblem, batch_size, num_epochs, random_seed, weight_decay, optimizer_name,
// optimizer_hyperparams, training_params) and, per evaluation from epoch 0 (before training)
// on, train_losses / valid_losses / test_losses and, for classification, the *_accuracies;
// minibatch_train_losses holds every logged step's loss. train_* are the train_eval subset's
// figures. valid_* are left out without a validation split; null stands for a non-finite value.
// docs/STANDARD_PROBLEMS.md describes the file.
nlohmann::json deepobs_run_file(const RunConfig& config,
                                const std::vector<nlohmann::json>& records);

}  // namespace octrain::train
