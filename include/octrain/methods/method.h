#pragma once

#include <torch/types.h>

#include <cmath>
#include <limits>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "octrain/dist/batch_reducer.h"
#include "octrain/util/options.h"

namespace torch::serialize {
class InputArchive;
class OutputArchive;
}  // namespace torch::serialize

namespace octrain::control {
class Network;
class TerminalLoss;
struct Trajectory;
}  // namespace octrain::control

namespace octrain::methods {

// What one training step reports (docs/ARCHITECTURE.md, "Method").
struct StepStats {
  double loss = 0.0;       // batch-mean terminal loss before the update
  double objective = 0.0;  // loss + Σ_t L_t(θ_t)
  double accuracy = std::numeric_limits<double>::quiet_NaN();  // NaN for regression
  std::map<std::string, double> extras;                        // method-specific figures

  // Figures still on the compute device, moved into `extras` by resolve() in one transfer, so
  // a GPU step waits for the host once instead of once per figure.
  std::vector<std::pair<std::string, torch::Tensor>> pending;
  void defer(std::string name, torch::Tensor value) {
    pending.emplace_back(std::move(name), std::move(value));
  }
  void resolve();
};

// A training algorithm: improves the controls θ_0 … θ_{T−1} from one batch's trajectory.
class Method {
 public:
  virtual ~Method() = default;
  // The registered name and the resolved options ("adam: lr=0.001, beta1=0.9, ...").
  virtual std::string name() const = 0;
  const OptionValues& options() const { return options_; }
  std::string describe() const { return name() + ": " + options_.to_string(); }

  virtual StepStats step(control::Network& network, const control::TerminalLoss& loss,
                         const torch::Tensor& x, const torch::Tensor& y) = 0;

  // Called after each completed epoch (0-based), e.g. for per-epoch schedules.
  virtual void end_epoch(int64_t epoch) {}
  // Figures for the epoch record, read after end_epoch (e.g. a schedule's current value).
  virtual std::map<std::string, double> epoch_extras() const { return {}; }
  // Sets every step size to `scale` × its configured value (the divergence rollback policy).
  // Absolute, because optimiser state loaded from a checkpoint need not carry step sizes.
  virtual void set_learning_rate_scale(double scale) = 0;
  // The run's --threads, for methods with work of their own to spread (per-stage solves).
  virtual void set_compute_threads(int threads) {}
  // Steps after which the method's work repeats (K-FAC: its statistics and refresh periods), so
  // that timing whole periods charges each step its share of the periodic work.
  virtual int64_t work_period() const { return 1; }

  // Data-parallel training (docs/DISTRIBUTED.md): the batch given to step() is this rank's shard
  // of the global batch, and the method reduces through `reducer` what it averages over the
  // batch. The trainer sets it once and updates its shard each step; single process by default.
  void set_batch_reducer(const dist::BatchReducer& reducer) { reducer_ = &reducer; }

  // Method state (moments, curvature, EMAs) for checkpoints; resuming must be exact.
  virtual void save(torch::serialize::OutputArchive& archive) const = 0;
  virtual void load(torch::serialize::InputArchive& archive) = 0;

 protected:
  explicit Method(OptionValues options) : options_(std::move(options)) {}
  const dist::BatchReducer& batch() const { return *reducer_; }
  OptionValues options_;

 private:
  const dist::BatchReducer* reducer_ = &dist::BatchReducer::single_process();
};

// The start every method's step shares: the rollout and sweep of one batch into `trajectory`,
// and the loss, objective and accuracy computed from it.
StepStats sweep_batch(control::Network& network, const control::TerminalLoss& loss,
                      const torch::Tensor& x, const torch::Tensor& y,
                      control::Trajectory& trajectory, bool need_initial_costate = false);

// The batch-mean ∂(Σ_s H_t)/∂θ_t of a swept shard → that of the global batch, in one bucketed
// all-reduce (a no-op in one process).
void reduce_hamiltonian_gradients(const dist::BatchReducer& batch, control::Trajectory& trajectory);

// The trainable stages split by control set, for methods that treat discrete stages apart.
struct StagesByControlSet {
  std::vector<size_t> real, discrete;
  std::vector<torch::Tensor> real_controls;  // the controls of the real stages, in order
};
StagesByControlSet stages_by_control_set(control::Network& network);

// Writes ∂J/∂θ = −∂(Σ_s H_t)/∂θ_t from a swept trajectory into the .grad of the controls of
// `stages` (consuming the trajectory's gradients), for a torch::optim step.
void store_loss_gradients(control::Network& network, control::Trajectory& trajectory,
                          const std::vector<size_t>& stages);

// Fraction of correct class predictions (NaN for regression losses).
double batch_accuracy(const control::TerminalLoss& loss, const torch::Tensor& x_T,
                      const torch::Tensor& y);

}  // namespace octrain::methods
