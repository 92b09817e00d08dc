#include "octrain/methods/kl_clip.h"

#include <algorithm>
#include <cmath>

namespace octrain::methods {

void KlClip::add(const torch::Tensor& direction, const torch::Tensor& gradient) {
  if (!enabled()) return;
  auto change = (direction * gradient).sum().to(torch::kDouble);
  change_ = change_.defined() ? change_ + change : change;
}

double KlClip::factor(double lr) const {
  if (!enabled() || !change_.defined()) return 1.0;
  const double change = change_.item<double>();
  return change > 0 ? std::min(1.0, std::sqrt(kappa_ / (lr * lr * change))) : 1.0;
}

}  // namespace octrain::methods
