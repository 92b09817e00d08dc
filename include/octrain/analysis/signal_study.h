#pragma once

#include <string>
#include <vector>

#include "octrain/analysis/gauss_hermite.h"

namespace octrain::analysis {

// The MLP spec input → `hidden` Dense+φ layers of `width` → output (hidden + 1 Dense stages),
// `tail` the spec's activation and options, e.g. "tanh:init=normal,sw2=1.5,sb2=0.05".
std::string mean_field_mlp_spec(int64_t input, int width, int hidden, int64_t output,
                                const std::string& tail);

// A random `depth`-layer MLP of `width` with N(0, σ_w²/N) weights and N(0, σ_b²) biases against
// the mean field: q^l and c^l of two inputs (lengths q⁰ = 2 and 0.5, correlation 0.5, 32 pairs
// averaged), measured and predicted, per layer. Draws from torch's generator.
struct SignalStudyRow {
  int layer;
  double q_a, q_a_theory, q_b, q_b_theory, c, c_theory;
};
struct SignalStudy {
  std::vector<SignalStudyRow> rows;
  double worst_length_error = 0;  // max |q^l/q^l_theory − 1| over the first 20 layers
};
SignalStudy signal_propagation_study(const std::string& activation, int width, int depth,
                                     double sigma_w2, double sigma_b2, const GaussHermite& rule);

// Singular values of the input–output Jacobian through the hidden layers, input at the fixed
// point q*, for Gaussian and orthogonal weights, beside the mean-field moments of JJᵀ's spectrum
// (in double precision: float32 floors the small singular values at ~1e-7 · s_max).
struct JacobianSpectrum {
  std::string weights;                  // "normal" or "orthogonal"
  std::vector<double> singular_values;  // ascending
  double mean = 0, mean_theory = 0;     // of λ = s²
  double variance = 0, variance_theory = 0;
  double condition = 0;  // s_max / s_min
};
std::vector<JacobianSpectrum> jacobian_spectra(const std::string& activation, int width, int depth,
                                               double sigma_w2, double sigma_b2,
                                               const GaussHermite& rule);

}  // namespace octrain::analysis
