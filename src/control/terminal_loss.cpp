#include "octrain/control/terminal_loss.h"

#include <fmt/format.h>

#include <cmath>

#include "octrain/util/error.h"
#include "octrain/util/options.h"

namespace octrain::control {
namespace {

torch::Tensor one_hot(const torch::Tensor& y, int64_t classes, const torch::Tensor& like) {
  return torch::one_hot(y, classes).to(like.scalar_type());
}

}  // namespace

void TerminalLoss::check_output(int64_t output_dim, int64_t num_classes) const {
  if (num_classes <= 0)
    throw UsageError(fmt::format("loss {}: needs a classification dataset", name()));
  if (output_dim != num_classes)
    throw UsageError(
        fmt::format("loss {}: the network outputs {} values but the dataset has {} classes", name(),
                    output_dim, num_classes));
}

TerminalLoss::Evaluation CrossEntropyLoss::evaluate(const torch::Tensor& z, const torch::Tensor& y,
                                                    bool need_costate) const {
  const auto log_p = torch::log_softmax(z, 1);
  Evaluation out;
  out.value = -log_p.gather(1, y.unsqueeze(1)).mean();
  if (need_costate) out.costate = (one_hot(y, z.size(1), z) - log_p.exp()) / double(z.size(0));
  return out;
}

torch::Tensor CrossEntropyLoss::sample_hessian_factor(const torch::Tensor& z) const {
  const auto p = torch::softmax(z, 1);
  const auto drawn = torch::multinomial(p, 1).squeeze(1);
  return p - one_hot(drawn, z.size(1), z);
}

TerminalLoss::Evaluation MeanSquaredErrorLoss::evaluate(const torch::Tensor& z,
                                                        const torch::Tensor& y,
                                                        bool need_costate) const {
  const auto residual = z - y.view(z.sizes());
  Evaluation out;
  out.value = residual.pow(2).mean();
  if (need_costate) out.costate = residual * (-2.0 / double(z.numel()));
  return out;
}

void MeanSquaredErrorLoss::check_output(int64_t output_dim, int64_t num_classes) const {
  if (num_classes > 0)
    throw UsageError(
        "loss mse: needs a regression dataset (real targets); use cross-entropy for classes");
}

TerminalLoss::Evaluation SquaredHingeLoss::evaluate(const torch::Tensor& z, const torch::Tensor& y,
                                                    bool need_costate) const {
  const auto signed_target = 2 * one_hot(y, z.size(1), z) - 1;
  const auto margin = torch::clamp_min(1 - signed_target * z, 0);
  Evaluation out;
  out.value = margin.pow(2).mean();
  if (need_costate) out.costate = signed_target * margin * (2.0 / double(z.numel()));
  return out;
}

MaxMahalanobisLoss::MaxMahalanobisLoss(int64_t classes, int64_t dim, double scale) {
  if (classes < 2 || dim < classes)
    throw UsageError(
        fmt::format("loss mmc: needs output dimension ≥ classes ≥ 2, got {} outputs for {} classes",
                    dim, classes));
  // Pang et al.'s construction: unit vectors with pairwise inner products −1/(K−1), built one
  // coordinate at a time in double precision.
  auto mu = torch::zeros({classes, dim}, torch::kFloat64);
  auto m = mu.accessor<double, 2>();
  m[0][0] = 1.0;
  for (int64_t i = 1; i < classes; ++i) {
    double norm2 = 0.0;
    for (int64_t j = 0; j < i; ++j) {
      double dot = 0.0;
      for (int64_t k = 0; k < j; ++k) dot += m[i][k] * m[j][k];
      m[i][j] = (-1.0 / double(classes - 1) - dot) / m[j][j];
      norm2 += m[i][j] * m[i][j];
    }
    m[i][i] = std::sqrt(std::max(0.0, 1.0 - norm2));
  }
  centres_ = (mu * scale).to(torch::kFloat32);
}

TerminalLoss::Evaluation MaxMahalanobisLoss::evaluate(const torch::Tensor& z,
                                                      const torch::Tensor& y,
                                                      bool need_costate) const {
  const auto diff = z - centres_.to(z.options()).index_select(0, y);
  Evaluation out;
  out.value = 0.5 * diff.pow(2).sum(1).mean();
  if (need_costate) out.costate = diff / -double(z.size(0));
  return out;
}

torch::Tensor MaxMahalanobisLoss::predict_class(const torch::Tensor& z) const {
  return torch::cdist(z, centres_.to(z.options())).argmin(1);
}

void MaxMahalanobisLoss::check_output(int64_t output_dim, int64_t num_classes) const {
  if (num_classes != centres_.size(0) || output_dim != centres_.size(1))
    throw UsageError(fmt::format("loss mmc: built for {} classes in {} dimensions, got {} and {}",
                                 centres_.size(0), centres_.size(1), num_classes, output_dim));
}

std::unique_ptr<TerminalLoss> make_terminal_loss(const std::string& text, int64_t num_classes,
                                                 int64_t output_dim) {
  const auto spec = parse_named_spec(text);
  if (spec.name == "cross-entropy" || spec.name == "ce" || spec.name == "mse" ||
      spec.name == "squared-hinge" || spec.name == "hinge") {
    if (!spec.options.empty())
      throw UsageError(fmt::format("loss {}: takes no options", spec.name));
    if (spec.name == "mse") return std::make_unique<MeanSquaredErrorLoss>();
    if (spec.name == "squared-hinge" || spec.name == "hinge")
      return std::make_unique<SquaredHingeLoss>();
    return std::make_unique<CrossEntropyLoss>();
  }
  if (spec.name == "mmc") {
    const auto values = OptionSchema("loss mmc")
                            .real("scale", 10.0, "norm of each class centre", 0, 1e6, true)
                            .parse(spec.options);
    return std::make_unique<MaxMahalanobisLoss>(num_classes, output_dim, values.real("scale"));
  }
  throw UsageError(
      fmt::format("unknown loss '{}' (known: cross-entropy, mse, squared-hinge, mmc)", spec.name));
}

}  // namespace octrain::control
