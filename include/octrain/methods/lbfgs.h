#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace octrain::methods {

// Limited-memory BFGS (Nocedal & Wright, Numerical Optimization, Alg. 7.4 and 7.5) on a flat
// vector of doubles. Used by MSA / E-MSA for the per-stage maximisation of the (augmented)
// Hamiltonian; small, deterministic and free of tensor-dispatch overhead.
struct LbfgsOptions {
  int64_t max_iterations = 10;  // quasi-Newton iterations (the reference uses 10)
  int64_t history = 10;         // (s, y) pairs kept
  bool line_search = true;      // backtracking (Armijo) line search; false: unit steps
  // Convergence tests, with SciPy's L-BFGS-B defaults (used by the [EMSA] reference code):
  // stop when max |∇F| ≤ gradient_tolerance, or when a step reduced F by no more than
  // value_tolerance · max(|F|, 1).
  double gradient_tolerance = 1e-5;
  double value_tolerance = 2.2e-9;
};

struct LbfgsResult {
  double value = 0.0;       // F at the returned point
  int64_t iterations = 0;   // accepted steps
  int64_t evaluations = 0;  // objective calls, including the one at the start
};

// F(θ) and its gradient, written into `gradient` (same size as θ).
using Objective =
    std::function<double(const std::vector<double>& theta, std::vector<double>& gradient)>;

// Minimises `objective` starting from `theta`, which holds the best point found on return.
// Non-finite trial values are treated as failed steps (the step is shortened, never taken).
LbfgsResult minimise_lbfgs(const Objective& objective, std::vector<double>& theta,
                           const LbfgsOptions& options);

}  // namespace octrain::methods
