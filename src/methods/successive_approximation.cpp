#include "octrain/methods/successive_approximation.h"

#include <fmt/format.h>
#include <torch/utils.h>

#include <chrono>
#include <cstring>
#include <limits>
#include <sstream>

#include "octrain/control/network.h"
#include "octrain/dist/communicator.h"
#include "octrain/methods/augmented_hamiltonian.h"
#include "octrain/methods/dense_augmented_hamiltonian.h"
#include "octrain/methods/lbfgs.h"
#include "octrain/methods/state_keys.h"
#include "octrain/methods/work_count.h"
#include "octrain/util/error.h"
#include "octrain/util/parallel_for.h"

namespace octrain::methods {
namespace {

std::vector<double> parse_rho_list(const std::string& text, const std::string& owner) {
  std::vector<double> values;
  std::stringstream stream(text);
  std::string item;
  while (std::getline(stream, item, '/')) {
    char* end = nullptr;
    const double v = std::strtod(item.c_str(), &end);
    if (item.empty() || *end != '\0' || !(v >= 0.0) || !std::isfinite(v))
      throw UsageError(fmt::format(
          "{}: option 'rho_stages' must be non-negative numbers separated by '/', got '{}'", owner,
          text));
    values.push_back(v);
  }
  return values;
}

std::vector<double> flatten(const std::vector<torch::Tensor>& tensors) {
  std::vector<double> out;
  for (const auto& t : tensors) {
    const auto d = t.detach().to(torch::kCPU, torch::kDouble).contiguous();
    out.insert(out.end(), d.data_ptr<double>(), d.data_ptr<double>() + d.numel());
  }
  return out;
}

// Writes the flat vector θ into the stage's controls (in place, so the stage sees it).
void assign(const std::vector<torch::Tensor>& controls, const std::vector<double>& theta) {
  torch::NoGradGuard no_grad;
  size_t offset = 0;
  for (const auto& c : controls) {
    auto source =
        torch::from_blob(const_cast<double*>(theta.data() + offset), c.sizes(), torch::kDouble);
    c.copy_(source);
    offset += size_t(c.numel());
  }
}

using Clock = std::chrono::steady_clock;

double milliseconds_since(Clock::time_point start) {
  return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

struct StageSolution {
  LbfgsResult lbfgs;
  FeasibilityResiduals residuals;
  double milliseconds = 0.0;  // wall time of the stage's solve
  double flops = 0.0;         // of its evaluations' layer products (work_count.h)
};

// Layer products of one evaluation of F_t with its gradient, in forwards of the stage's layer:
// the closed form says its own (DenseAugmentedHamiltonian::products_per_evaluation); autograd
// the forward and ∂/∂θ (2, with or without the state penalty), and with a co-state penalty
// also the co-state VJP ∂H/∂x and, differentiating through it, W e_p and its ∂/∂θ term (5). The
// residuals' final evaluation is a forward and a VJP (2).
constexpr double kPenalisedProducts = 5, kPlainProducts = 2, kResidualProducts = 2;

}  // namespace

OptionSchema SuccessiveApproximation::schema_for(const std::string& name) {
  OptionSchema schema(name);
  if (name == "emsa") {
    schema.real("rho", 1.0, "feasibility penalty ρ (all stages)", 0, OptionSchema::kUnbounded)
        .text("rho_stages", "",
              "per-stage ρ, one per trainable stage separated by '/' (overrides rho)")
        .flag("first_costate_penalty", true,
              "penalise the co-state gap at the first trainable stage too (off: only its state "
              "gap, as its input is data, δx = 0)");
  } else if (name != "msa") {
    throw std::logic_error("SuccessiveApproximation: no schema for " + name);
  }
  return schema.integer("iterations", 10, "L-BFGS iterations per stage per step", 1, 10000)
      .integer("history", 10, "L-BFGS history size", 1, 1000)
      .choice("line_search", "armijo", {"armijo", "none"}, "L-BFGS line search (none: unit steps)")
      .real("gradient_tolerance", 1e-5, "L-BFGS stops when max |∂F_t/∂θ| is below this", 0,
            OptionSchema::kUnbounded)
      .real("value_tolerance", 2.2e-9, "L-BFGS stops when a step reduces F_t by less (relative)", 0,
            OptionSchema::kUnbounded)
      .real("perturbation", 0.0, "warm start θ + ε·U(−1,1) (ε = 0.005 on the toy)", 0,
            OptionSchema::kUnbounded)
      .integer("threads", 0, "stages solved concurrently (0: the run's --threads)", 0, 1024);
}

SuccessiveApproximation::SuccessiveApproximation(const std::string& name, OptionValues options,
                                                 control::Network& network)
    : Method(std::move(options)), name_(name) {
  for (size_t t = 0; t < network.size(); ++t) {
    auto& stage = network.stage(t);
    if (!stage.trainable()) continue;
    if (stage.control_set() != control::ControlSet::kReal)
      throw UsageError(fmt::format(
          "{}: stage {} ({}) has {} controls; L-BFGS needs real ones (use msa-discrete)", name_, t,
          stage.describe(), control::to_string(stage.control_set())));
    trainable_.push_back(t);
  }
  if (trainable_.empty()) throw UsageError(name_ + ": the model has no trainable stage");
  rho_.assign(trainable_.size(), name_ == "emsa" ? options_.real("rho") : 0.0);
  if (name_ == "emsa" && !options_.text("rho_stages").empty()) {
    rho_ = parse_rho_list(options_.text("rho_stages"), name_);
    if (rho_.size() != trainable_.size())
      throw UsageError(
          fmt::format("{}: 'rho_stages' has {} values but the model has {} "
                      "trainable stages",
                      name_, rho_.size(), trainable_.size()));
  }
  first_costate_penalty_ = name_ != "emsa" || options_.flag("first_costate_penalty");
  lbfgs_.max_iterations = options_.integer("iterations");
  lbfgs_.history = options_.integer("history");
  lbfgs_.line_search = options_.text("line_search") == "armijo";
  lbfgs_.gradient_tolerance = options_.real("gradient_tolerance");
  lbfgs_.value_tolerance = options_.real("value_tolerance");
  perturbation_ = options_.real("perturbation");
  const int64_t threads = options_.integer("threads");
  if (threads > 0) threads_ = int(threads);
}

void SuccessiveApproximation::set_compute_threads(int threads) {
  if (options_.integer("threads") == 0) threads_ = std::max(threads, 1);
}

StepStats SuccessiveApproximation::step(control::Network& network,
                                        const control::TerminalLoss& loss, const torch::Tensor& x,
                                        const torch::Tensor& y) {
  control::Trajectory trajectory;
  StepStats stats = sweep_batch(network, loss, x, y, trajectory, /*need_initial_costate=*/true);
  {
    torch::NoGradGuard no_grad;
    double hamiltonian = -trajectory.running_cost;  // Σ_t (Σ_s p_{t+1}·x_{t+1} − L_t)
    for (size_t t = 0; t < network.size(); ++t)
      hamiltonian += (trajectory.costates[t + 1] * trajectory.states[t + 1]).sum().item<double>();
    stats.extras["hamiltonian"] = hamiltonian;
  }

  // Warm starts are drawn here, in stage order, so results do not depend on the thread count.
  const double epsilon = perturbation_;
  std::vector<std::vector<double>> starts(trainable_.size());
  for (size_t k = 0; k < trainable_.size(); ++k) {
    auto controls = network.stage(trainable_[k]).controls();
    if (epsilon > 0.0) {
      torch::NoGradGuard no_grad;
      for (auto& c : controls) c = c + epsilon * (2.0 * torch::rand_like(c) - 1.0);
    }
    starts[k] = flatten(controls);
  }

  std::vector<StageSolution> solutions(trainable_.size());
  const auto solve_start = Clock::now();
  // Data-parallel: F_t is a sum over the global batch, so every L-BFGS evaluation sums each
  // rank's share — its samples' terms with the co-states rescaled to the global 1/B, and 1/N of the
  // running cost — and every rank takes the same steps. Collectives must be issued in the same
  // order on every rank, so the stages are then solved one after another.
  const auto& shards = batch();
  const bool distributed = shards.distributed();
  const double world = double(shards.communicator().world_size());
  parallel_for(trainable_.size(), distributed ? 1 : threads_, [&](size_t k) {
    const auto stage_start = Clock::now();
    const size_t t = trainable_[k];
    control::Stage& stage = network.stage(t);
    const auto controls = stage.controls();
    std::vector<torch::Tensor> buffers;  // batch-norm running statistics: F_t must not move them
    for (const auto& b : stage.buffers()) buffers.push_back(b.clone());
    const std::vector<double> theta_old = flatten(controls);

    const auto& x_t = trajectory.states[t];
    const auto& x_next = trajectory.states[t + 1];
    const auto p_t =
        distributed ? trajectory.costates[t] * shards.weight() : trajectory.costates[t];
    const auto p_next =
        distributed ? trajectory.costates[t + 1] * shards.weight() : trajectory.costates[t + 1];
    const auto running_cost = stage.running_cost_weights();
    if (distributed) stage.set_running_cost({running_cost.l2 / world, running_cost.l1 / world});
    const FeasibilityPenalty penalty{rho_[k], k == 0 && !first_costate_penalty_ ? 0.0 : rho_[k]};
    const AugmentedHamiltonian objective(stage, x_t, x_next, p_t, p_next, penalty);
    const auto closed_form =
        DenseAugmentedHamiltonian::make(stage, x_t, x_next, p_t, p_next, penalty);
    const auto reduce = [&](double value, std::vector<double>& gradient) {
      if (!distributed) return value;
      gradient.push_back(value);
      shards.sum(gradient);
      value = gradient.back();
      gradient.pop_back();
      return value;
    };
    std::vector<torch::Tensor> gradients;
    std::vector<double> theta = starts[k];
    solutions[k].lbfgs = minimise_lbfgs(
        [&](const std::vector<double>& point, std::vector<double>& gradient) {
          if (closed_form) return reduce(closed_form->evaluate(point, &gradient), gradient);
          assign(controls, point);
          const double value = objective.evaluate(&gradients);
          gradient = flatten(gradients);
          return reduce(value, gradient);
        },
        theta, lbfgs_);
    const double per_evaluation = closed_form             ? closed_form->products_per_evaluation()
                                  : penalty.costate > 0.0 ? kPenalisedProducts
                                                          : kPlainProducts;
    solutions[k].flops =
        layer_product_flops(stage, x_t) *
        (per_evaluation * double(solutions[k].lbfgs.evaluations) + kResidualProducts);
    for (size_t i = 0; i < theta.size(); ++i)
      theta[i] = theta_old[i] + step_scale_ * (theta[i] - theta_old[i]);
    assign(controls, theta);
    if (closed_form)
      closed_form->evaluate(theta, nullptr, &solutions[k].residuals);
    else
      objective.evaluate(nullptr, &solutions[k].residuals);
    if (distributed) {
      stage.set_running_cost(running_cost);
      std::vector<double> residuals{solutions[k].residuals.state, solutions[k].residuals.costate};
      shards.sum(residuals);  // the feasibility residuals are sums over the global batch
      solutions[k].residuals = {residuals[0], residuals[1]};
    }

    torch::NoGradGuard no_grad;
    const auto live = stage.buffers();
    for (size_t i = 0; i < live.size(); ++i) live[i].copy_(buffers[i]);
    solutions[k].milliseconds = milliseconds_since(stage_start);
  });
  stats.extras["solve_ms"] = milliseconds_since(solve_start);

  double state_residual = 0.0, costate_residual = 0.0, iterations = 0.0, evaluations = 0.0;
  for (size_t k = 0; k < trainable_.size(); ++k) {
    const auto& s = solutions[k];
    const std::string stage = stage_key(trainable_[k], "");
    stats.extras[stage + "state_residual"] = s.residuals.state;
    stats.extras[stage + "costate_residual"] = s.residuals.costate;
    stats.extras[stage + "lbfgs_iterations"] = double(s.lbfgs.iterations);
    stats.extras[stage + "solve_ms"] = s.milliseconds;
    state_residual += s.residuals.state;
    costate_residual += s.residuals.costate;
    iterations += double(s.lbfgs.iterations);
    evaluations += double(s.lbfgs.evaluations);
    count_flops(s.flops);  // here: the solves ran on pool threads
  }
  stats.extras["state_residual"] = state_residual;
  stats.extras["costate_residual"] = costate_residual;
  stats.extras["lbfgs_iterations"] = iterations / double(trainable_.size());
  stats.extras["lbfgs_evaluations"] = evaluations;
  return stats;
}

}  // namespace octrain::methods
