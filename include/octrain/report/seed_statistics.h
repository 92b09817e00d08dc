#pragma once

#include <cstddef>
#include <vector>

#include "octrain/report/experiment.h"

namespace octrain::report {

struct MeanStd {
  double mean = 0, std = 0;  // NaN mean when no finite value; std uses n − 1 (0 for n = 1)
  size_t n = 0;
};

// Mean and sample standard deviation of the finite values.
MeanStd mean_std(const std::vector<double>& values);

// One point of a band: where it sits (mean iteration, mean elapsed seconds over the seeds) and
// the mean ± std over seeds of the value there.
struct BandPoint {
  double step = 0, seconds = 0, mean = 0, std = 0;
  size_t seeds = 0;
};

// Mean ± std over seeds of curves logged at the same iterations. Iterations are grouped into at
// most `max_points` equal-width bins; each seed's values are averaged within a bin first (which
// also smooths per-batch losses), then the seeds' bin means are combined. Non-finite values are
// skipped, so a seed that diverged drops out of the bins after it stopped.
std::vector<BandPoint> seed_band(const std::vector<const SeedCurve*>& curves, size_t max_points);

}  // namespace octrain::report
