#pragma once

#include <torch/types.h>

namespace octrain::methods {

// KL clipping (Ba, Grosse & Martens 2017), shared by kfac/ekfac and DDPNOpt's Kronecker
// curvatures: the step −η·c·M⁻¹g is shrunk by c = min(1, √(κ / (η² Σ_t⟨M_t⁻¹g_t, g_t⟩))) so that
// its predicted change stays ≤ κ.
class KlClip {
 public:
  explicit KlClip(double kappa) : kappa_(kappa) {}
  bool enabled() const { return kappa_ > 0; }
  // Adds ⟨M⁻¹g, g⟩ of one stage (kept on the device until factor() reads it once).
  void add(const torch::Tensor& direction, const torch::Tensor& gradient);
  // c for step size `lr`: 1 when off or when the predicted change is not positive.
  double factor(double lr) const;

 private:
  double kappa_;
  torch::Tensor change_;
};

}  // namespace octrain::methods
