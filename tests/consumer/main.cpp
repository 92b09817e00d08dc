// Trains a small MLP for a few Adam steps through octrain's public headers alone and fails
// unless the loss falls and its TorchScript export gives the same outputs: the check that the
// installed package is usable, not just linkable.
#include <octrain/control/model_builder.h>
#include <octrain/control/terminal_loss.h>
#include <octrain/deploy/pytorch_export.h>
#include <octrain/methods/registry.h>
#include <octrain/util/build_info.h>
#include <torch/utils.h>

#include <cstdio>

int main() {
  torch::manual_seed(0);
  const auto x = torch::randn({64, 4});
  const auto y = (x.select(1, 0) > 0).to(torch::kLong) + (x.select(1, 1) > 0).to(torch::kLong);
  auto network = octrain::control::build_network("mlp:4-16-3", {4});
  auto method = octrain::methods::make_method("adam:lr=0.05", *network);
  const octrain::control::CrossEntropyLoss loss;
  const double first = method->step(*network, loss, x, y).loss;
  double last = first;
  for (int step = 0; step < 30; ++step) last = method->step(*network, loss, x, y).loss;
  std::printf("octrain %s: %s, loss %.4f -> %.4f\n", octrain::version(), method->describe().c_str(),
              first, last);
  torch::NoGradGuard no_grad;
  auto module = octrain::deploy::to_torchscript(*network, octrain::deploy::ExportSpec{});
  const bool exported = torch::equal(module.forward({x}).toTensor(), network->predict(x));
  std::printf("TorchScript export: %s\n", exported ? "same outputs" : "OUTPUTS DIFFER");
  return last < 0.8 * first && exported ? 0 : 1;
}
