#include "octrain/train/loss_growth.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

namespace octrain::train {

void LossGrowth::observe(double loss) {
  ema = steps == 0 ? loss : kBeta * ema + (1 - kBeta) * loss;
  ++steps;
  const double s = smoothed();
  if (steps == 1) start = minimum = s;
  minimum = std::min(minimum, s);
  if (minimum > 0) max_ratio = std::max(max_ratio, s / minimum);
  if (start > 0) max_ratio_to_start = std::max(max_ratio_to_start, s / start);
  if (minimum > 0 && s > start)
    max_ratio_above_start = std::max(max_ratio_above_start, s / minimum);
}

double LossGrowth::smoothed() const {
  return steps == 0 ? std::nan("") : ema;
}

bool LossGrowth::grown_past(double factor) const {
  if (factor <= 0 || steps == 0 || !(minimum > 0)) return false;
  const double s = smoothed();
  return s > factor * minimum && s > start;
}

std::string LossGrowth::describe() const {
  return fmt::format(
      "smoothed loss {:.4g} grew to {:.3g} × its running minimum {:.4g} (start {:.4g})", smoothed(),
      smoothed() / minimum, minimum, start);
}

}  // namespace octrain::train
