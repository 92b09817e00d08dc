#pragma once

#include <functional>
#include <string>
#include <vector>

#include "octrain/analysis/gauss_hermite.h"
#include "octrain/analysis/phase_diagram.h"
#include "octrain/analysis/signal_study.h"

namespace octrain::report {

// The figures and the trainability experiment of `octrain meanfield` (docs/methods/meanfield.md),
// as functions: each figure is written as an SVG into `out` and its path returned.

// ξ_c over the σ_w² × σ_b² grid `points` (analysis::phase_diagram, σ_b² the inner axis) with
// the critical line χ₁ = 1.
std::string phase_diagram_figure(const std::string& activation,
                                 const std::vector<analysis::PhasePoint>& points,
                                 const std::vector<double>& sigma_w2,
                                 const std::vector<double>& sigma_b2,
                                 const analysis::GaussHermite& rule, const std::string& out);

// Measured (points) against mean-field (lines) q^l and c^l.
std::string signal_propagation_figure(const analysis::SignalStudy& study,
                                      const std::string& activation, int width, double sigma_w2,
                                      double sigma_b2, const std::string& out);

// The Jacobian singular values of every spectrum, against their quantile.
std::string jacobian_spectrum_figure(const std::vector<analysis::JacobianSpectrum>& spectra,
                                     const std::string& activation, int depth, double sigma_w2,
                                     double sigma_b2, const std::string& out);

// Brief training of `width`-wide MLPs over depth × σ_w² (N(0, σ_w²/N) weights, σ_b²), each run in
// out/runs/depth<D>-sw2_<W> (metrics only: the checkpoint is removed). A diverged run has NaN
// accuracy. `on_cell` is called after each run (progress).
struct TrainabilityOptions {
  std::string dataset = "digits", method = "sgd:lr=0.01,momentum=0.9", activation = "tanh";
  int width = 1000;
  double sigma_b2 = 0.05;
  int64_t epochs = 3, seed = 0;
  std::vector<double> depths, sigma_w2;
};
struct TrainabilityCell {
  double depth, sigma_w2, test_accuracy;
};
std::vector<TrainabilityCell> trainability_grid(
    const TrainabilityOptions& options, const std::string& out,
    const std::function<void(const TrainabilityCell&)>& on_cell = {});
// Test accuracy over the grid with the mean field's trainable depth 6ξ_c.
std::string trainability_figure(const TrainabilityOptions& options,
                                const std::vector<TrainabilityCell>& cells,
                                const analysis::GaussHermite& rule, const std::string& out);

}  // namespace octrain::report
