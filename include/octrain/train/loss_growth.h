#pragma once

#include <cstdint>
#include <limits>
#include <string>

namespace octrain::train {

// Divergence by loss growth: a training loss that stays finite but blows up (sgd:lr=1e30 on a
// tanh net sits at 1e30). The step losses are smoothed by an exponential moving average started
// at the first loss, s_1 = loss_1, s_k = β s_{k−1} + (1 − β) loss_k, and the run counts as
// diverged at the first step where
//   s_k > factor × min_{j≤k} s_j   and   s_k > s_1,
// i.e. the smoothed loss has grown `factor`-fold from its running minimum and lies above where
// it started. One batch moves s by (1 − β) of its excess, so a single batch must be about
// 10·factor times the average to trip it (no bias correction: that would let the second batch
// weigh half); the second condition keeps a run near zero loss (0.001 → 0.02 on one noisy
// stretch) or an oscillating one below its start from tripping it. The state is part of the
// checkpoint, so a resumed run watches on.
struct LossGrowth {
  static constexpr double kBeta = 0.9;  // a window of about 1/(1 − β) = 10 steps

  double ema = 0.0;  // s_k
  int64_t steps = 0;
  double start = std::numeric_limits<double>::quiet_NaN();    // s_1
  double minimum = std::numeric_limits<double>::quiet_NaN();  // min_j s_j
  // For result.json: the largest s_k / min_{j≤k} s_j so far, the largest s_k / s_1, and the
  // largest s_k / min_{j≤k} s_j at a step where s_k > s_1 — the rule trips once that one passes
  // the factor.
  double max_ratio = 0.0;
  double max_ratio_to_start = 0.0;
  double max_ratio_above_start = 0.0;

  // Adds one step's (finite) loss and updates the running minimum and the maxima.
  void observe(double loss);
  double smoothed() const;
  // Whether the smoothed loss has grown past `factor` (0: never).
  bool grown_past(double factor) const;
  // "smoothed loss 1.2e+03 is 2300 × its running minimum 0.52 (start 2.3)".
  std::string describe() const;
};

}  // namespace octrain::train
