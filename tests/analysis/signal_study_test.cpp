// The mean-field studies behind `octrain meanfield --empirical`, as library functions.
#include "octrain/analysis/signal_study.h"

#include <gtest/gtest.h>
#include <torch/types.h>

namespace octrain::analysis {
namespace {

TEST(SignalStudy, MlpSpecHasTheRequestedDepth) {
  EXPECT_EQ(mean_field_mlp_spec(64, 32, 3, 10, "tanh"), "mlp:64-32-32-32-10:tanh");
  EXPECT_EQ(mean_field_mlp_spec(5, 8, 0, 2, "relu"), "mlp:5-2:relu");
}

// A wide tanh net follows the mean-field length map within a few percent, and the linear net's
// orthogonal Jacobian is an exact isometry (every singular value σ_w).
TEST(SignalStudy, StudiesReportMeasuredAgainstTheory) {
  torch::manual_seed(3);
  const GaussHermite rule(100);
  const auto study = signal_propagation_study("tanh", 400, 8, 1.5, 0.05, rule);
  ASSERT_EQ(study.rows.size(), 9u);  // eight hidden layers and the output layer
  EXPECT_LT(study.worst_length_error, 0.1);
  for (const auto& row : study.rows) EXPECT_NEAR(row.c, row.c_theory, 0.1) << row.layer;

  const auto spectra = jacobian_spectra("linear", 64, 4, 1.0, 0.0, rule);
  ASSERT_EQ(spectra.size(), 2u);
  EXPECT_EQ(spectra[1].weights, "orthogonal");
  EXPECT_NEAR(spectra[1].condition, 1.0, 1e-5);  // weights drawn in float32
  EXPECT_NEAR(spectra[1].mean, spectra[1].mean_theory, 1e-5);
  EXPECT_GT(spectra[0].condition, 2.0);  // Gaussian weights spread the spectrum
  EXPECT_EQ(spectra[0].singular_values.size(), 64u);
}

}  // namespace
}  // namespace octrain::analysis
