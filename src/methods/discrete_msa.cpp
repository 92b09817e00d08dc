// Q. Li, S. Hao, "An Optimal Control Approach to Deep Learning and Applications to
// Discrete-Weight Neural Networks", ICML 2018 — Algorithm 2 (stabilised discrete-weight MSA).
#include "octrain/methods/discrete_msa.h"

#include <fmt/format.h>
#include <torch/optim/adam.h>
#include <torch/serialize/archive.h>
#include <torch/utils.h>

#include "octrain/control/network.h"
#include "octrain/methods/discrete_msa_rule.h"
#include "octrain/methods/gradient_method.h"
#include "octrain/methods/state_keys.h"
#include "octrain/util/error.h"

namespace octrain::methods {

OptionSchema DiscreteMsa::schema() {
  return OptionSchema("msa-discrete")
      .real("rho_binary", 0.5, "relative threshold ρ of binary stages", 0, 1)
      .real("rho_ternary", 0.25, "relative threshold ρ of ternary stages", 0, 1)
      .real("lambda", 1e-7, "λ of the ternary running cost λ‖θ‖₁", 0, 1e3)
      .real("alpha", 0.999, "initial EMA rate α₀ of E", 0, 1)
      .real("decay", 0.95, "factor d of (1 − α) once per decay period (decay_every)", 0, 1)
      .text("decay_every", "550",
            "decay period: N steps (1 … 10⁹; 550 = the reference's epoch, 55k MNIST / batch 100, "
            "so the schedule does not depend on the dataset's size) or 'epoch'")
      .flag("alpha_float32", false,
            "keep α in float32 like the reference (stalls near 0.9999994 for d = 0.95)")
      .real("lr", 1e-3, "Adam learning rate of real stages (batch norm)", 0, 1e3, true)
      .real("e_init", 1e-6, "E starts U(−e_init, e_init)", 0, 1);
}

namespace {

// α after one epoch: (1 − α) ← d·(1 − α), optionally rounded like float32 arithmetic.
double decayed_alpha(double alpha, double d, bool float32) {
  if (!float32) return 1.0 - (1.0 - alpha) * d;
  const float one_minus = 1.0f - float(alpha);
  return double(1.0f - one_minus * float(d));
}

double as_alpha(double alpha, bool float32) {
  return float32 ? double(float(alpha)) : alpha;
}

// decay_every as a step count, 0 for "epoch".
int64_t parse_decay_every(const std::string& text) {
  if (text == "epoch") return 0;
  const auto bad = [&] {
    return UsageError(
        "msa-discrete: decay_every must be 'epoch' or a whole number of steps in "
        "[1, 1e9], got '" +
        text + "'");
  };
  if (text.empty() || text.size() > 10 || text.find_first_not_of("0123456789") != std::string::npos)
    throw bad();
  const int64_t n = std::stoll(text);
  if (n < 1 || n > 1000000000) throw bad();
  return n;
}

}  // namespace

DiscreteMsa::DiscreteMsa(OptionValues options, control::Network& network)
    : Method(std::move(options)),
      rho_binary_(options_.real("rho_binary")),
      rho_ternary_(options_.real("rho_ternary")),
      lambda_(options_.real("lambda")),
      decay_(options_.real("decay")),
      alpha_float32_(options_.flag("alpha_float32")),
      alpha_(as_alpha(options_.real("alpha"), alpha_float32_)),
      decay_every_(parse_decay_every(options_.text("decay_every"))) {
  const auto stages = stages_by_control_set(network);
  real_stages_ = stages.real;
  for (size_t t : stages.discrete) {
    auto& stage = network.stage(t);
    const bool ternary = stage.control_set() == control::ControlSet::kTernary;
    const double e0 = options_.real("e_init");
    discrete_.push_back(
        {t, ternary, torch::empty_like(stage.controls().front()).uniform_(-e0, e0)});
    if (ternary) stage.set_running_cost({stage.running_cost_weights().l2, options_.real("lambda")});
  }
  if (discrete_.empty())
    throw UsageError(
        "msa-discrete: the model has no binary or ternary stages (use e.g. bmlp:/tmlp: or "
        "weights=binary)");
  auto adam = GradientMethod::schema_for("adam").parse({{"lr", format_real(options_.real("lr"))}});
  real_optimizer_ = make_torch_optimizer("adam", adam, stages.real_controls);
}

StepStats DiscreteMsa::step(control::Network& network, const control::TerminalLoss& loss,
                            const torch::Tensor& x, const torch::Tensor& y) {
  control::Trajectory trajectory;
  StepStats stats = sweep_batch(network, loss, x, y, trajectory);
  reduce_hamiltonian_gradients(batch(), trajectory);  // M_t = Σ_s p xᵀ and the real gradients
  torch::NoGradGuard no_grad;
  store_loss_gradients(network, trajectory, real_stages_);
  real_optimizer_->step();

  double flips = 0;
  for (auto& d : discrete_) {
    auto& stage = network.stage(d.t);
    torch::Tensor theta = stage.controls().front();
    // The sweep gives ∂(Σ_s H_t)/∂θ = M_t − ∂L_t/∂θ; the rules take λ explicitly, so add it back.
    torch::Tensor& M = trajectory.hamiltonian_gradients[d.t].front();
    const auto cost_gradients = stage.running_cost_gradients();
    if (!cost_gradients.empty()) M.add_(cost_gradients.front());
    d.E.lerp_(M, 1.0 - alpha_);  // E ← αE + (1−α)M
    const double stage_flips =
        double(d.ternary ? ternary_msa_update_(theta, d.E, rho_ternary_, lambda_)
                         : binary_msa_update_(theta, d.E, rho_binary_));
    stats.extras[stage_key(d.t, "flips")] = stage_flips;
    flips += stage_flips;
  }
  stats.extras["flips"] = flips;
  stats.extras["alpha"] = alpha_;  // the rate this step used
  ++steps_;
  if (decay_every_ > 0 && steps_ % decay_every_ == 0)
    alpha_ = decayed_alpha(alpha_, decay_, alpha_float32_);
  return stats;
}

void DiscreteMsa::end_epoch(int64_t) {
  if (decay_every_ == 0) alpha_ = decayed_alpha(alpha_, decay_, alpha_float32_);
}

std::map<std::string, double> DiscreteMsa::epoch_extras() const {
  return {{"alpha", alpha_}};
}

void DiscreteMsa::set_learning_rate_scale(double scale) {
  set_learning_rate(*real_optimizer_, options_.real("lr") * scale);
}

void DiscreteMsa::save(torch::serialize::OutputArchive& archive) const {
  archive.write("alpha", torch::tensor(alpha_, torch::kFloat64));
  archive.write("steps", torch::tensor(steps_, torch::kInt64));
  for (const auto& d : discrete_) archive.write(stage_key(d.t, "E"), d.E);
  save_optimizer(archive, "real_optimizer", *real_optimizer_);
}

void DiscreteMsa::load(torch::serialize::InputArchive& archive) {
  torch::Tensor alpha;
  archive.read("alpha", alpha);
  alpha_ = alpha.cpu().item<double>();
  // Checkpoints from before the step schedule hold no step count; they decayed per epoch.
  torch::Tensor steps;
  if (archive.try_read("steps", steps))
    steps_ = steps.cpu().item<int64_t>();
  else if (decay_every_ > 0)
    throw DataError(
        "msa-discrete state: the checkpoint predates the step schedule (no step count); to resume "
        "it as it was trained, set decay_every = \"epoch\" under [method] in its config.toml");
  else
    steps_ = 0;
  for (auto& d : discrete_)
    load_state_tensor(archive, stored_stage_key(archive, d.t, "E", fmt::format("E_t{}", d.t)), d.E,
                      name());
  load_optimizer(archive, "real_optimizer", *real_optimizer_);
}

}  // namespace octrain::methods
