#pragma once

#include <cstdint>
#include <functional>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include "octrain/train/loss_growth.h"

namespace octrain::control {
class Network;
}
namespace octrain::methods {
class Method;
}

namespace octrain::train {

// Where training stands; with the model, the method state and the RNG state it makes resuming
// exact.
struct TrainingPosition {
  int64_t epoch = 0;          // completed epochs
  int64_t step_in_epoch = 0;  // completed steps of the current epoch
  int64_t global_step = 0;
  double lr_scale = 1.0;  // product of rollback factors applied so far
  int64_t rollbacks = 0;
  // Running sums of the current epoch's step figures (so a mid-epoch resume reports the same
  // means).
  double epoch_loss_sum = 0.0, epoch_accuracy_sum = 0.0, epoch_step_seconds = 0.0;
  // The learning-rate schedule the run started with and its length in steps (fixed then, so
  // resuming with more --epochs continues the same schedule); empty / 0 before the first step.
  std::string lr_schedule;
  int64_t schedule_horizon = 0;
  // The best validation result so far (best_epoch 0: none yet) and the test figures of that
  // epoch, for --keep best and --early-stop.
  int64_t best_epoch = 0;
  double best_validation_loss = std::numeric_limits<double>::quiet_NaN();
  double best_validation_accuracy = std::numeric_limits<double>::quiet_NaN();
  double best_test_loss = std::numeric_limits<double>::quiet_NaN();
  double best_test_accuracy = std::numeric_limits<double>::quiet_NaN();
  // The smoothed training loss the divergence check watches (loss_growth.h).
  LossGrowth loss_growth;
};

// Writes model, method state, torch's global RNG state and position to `path` atomically.
void save_checkpoint(const std::string& path, control::Network& network,
                     const methods::Method& method, const TrainingPosition& position);
// Same content into memory (the rollback snapshot).
std::string checkpoint_bytes(control::Network& network, const methods::Method& method,
                             const TrainingPosition& position);

// Restores all of it; throws DataError naming the file if it is missing or not a checkpoint of
// this network.
TrainingPosition load_checkpoint(const std::string& path, control::Network& network,
                                 methods::Method& method);
// The same from a checkpoint's bytes (a rollback snapshot, or the file rank 0 broadcast to the
// others on a data-parallel resume), checked as load_checkpoint checks a file; `where` names it
// in errors.
TrainingPosition restore_checkpoint_bytes(const std::string& bytes, control::Network& network,
                                          methods::Method& method,
                                          const std::string& where = "rollback snapshot");
// Only the network (for `octrain eval`).
void load_network_from_checkpoint(const std::string& path, control::Network& network);

// Rolls back to a snapshot of checkpoint_bytes: the network, and the method's whole state. The
// method is rebuilt by `fresh` before the snapshot is loaded into it, so no state of the
// abandoned steps survives (a method's load fills what the snapshot holds; an optimiser that had
// not stepped when the snapshot was taken has nothing to fill, and its NaN moments would stay).
TrainingPosition restore_snapshot(const std::string& bytes, control::Network& network,
                                  std::unique_ptr<methods::Method>& method,
                                  const std::function<std::unique_ptr<methods::Method>()>& fresh);

// The names ("state/3/exp_avg") of the method's saved state tensors that hold a NaN or an
// infinity; empty when all are finite.
std::vector<std::string> nonfinite_method_state(const methods::Method& method);

}  // namespace octrain::train
