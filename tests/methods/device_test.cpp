// Every method on the test device (OCTRAIN_TEST_DEVICE, tests/test_device.h): its steps keep the
// controls on that device and finite, and lower the loss where the method promises descent; on a
// GPU, the deterministic methods also match the same steps taken on the CPU.
#include <gtest/gtest.h>
#include <torch/types.h>

#include "octrain/control/model_builder.h"
#include "octrain/control/network.h"
#include "octrain/control/terminal_loss.h"
#include "octrain/methods/registry.h"
#include "test_device.h"

namespace octrain::methods {
namespace {

struct DeviceCase {
  std::string method, model;
  bool descends;  // the loss after the steps is below the first step's
};

const std::vector<DeviceCase>& cases() {
  static const std::vector<DeviceCase> all = {
      {"sgd:lr=0.1", "mlp:8-16-16-3:tanh", true},
      {"adagrad:lr=0.05", "mlp:8-16-16-3:tanh", true},
      {"rmsprop:lr=0.003", "mlp:8-16-16-3:tanh", true},
      {"adam:lr=0.01", "mlp:8-16-16-3:tanh", true},
      {"kfac:lr=0.05", "mlp:8-16-16-3:tanh", true},
      {"ekfac:lr=0.05", "mlp:8-16-16-3:tanh", true},
      {"kfac:lr=0.05", "cnn:conv4x3-maxpool2-res4x3-flatten-3:relu", true},
      {"ddpnopt:lr=0.01", "mlp:8-16-16-3:tanh", true},
      {"ddpnopt:lr=0.05,curvature=kfac", "resmlp:8-16x2-3:tanh", true},
      {"ddp", "mlp:8-16-16-3:tanh", true},
      {"emsa", "mlp:8-16-16-3:tanh", true},
      {"msa", "mlp:8-16-16-3:tanh", false},
      {"msa-discrete", "tmlp:8-16-3", false},
      {"binaryconnect", "bmlp:8-16-3", false},
      {"bwn", "bmlp:8-16-3", false},
      {"twn", "tmlp:8-16-3", false},
  };
  return all;
}

bool is_image_model(const std::string& model) {
  return model.rfind("cnn:", 0) == 0;
}

struct Run {
  std::shared_ptr<control::Network> network;
  std::vector<double> losses;
};

Run run_steps(const DeviceCase& c, const torch::Device& device, int steps) {
  torch::manual_seed(3);
  const control::Shape input =
      is_image_model(c.model) ? control::Shape{1, 8, 8} : control::Shape{8};
  auto x = torch::randn({48, 8});
  const auto y = (x.select(1, 0) > 0).to(torch::kLong) + (x.select(1, 1) > 0.5).to(torch::kLong);
  if (is_image_model(c.model)) x = torch::randn({48, 1, 8, 8}) + x.select(1, 0).view({48, 1, 1, 1});
  Run run;
  run.network = control::build_network(c.model, input);
  run.network->to(device);
  auto method = make_method(c.method, *run.network);
  const control::CrossEntropyLoss loss;
  const auto xd = x.to(device), yd = y.to(device);
  for (int s = 0; s < steps; ++s)
    run.losses.push_back(method->step(*run.network, loss, xd, yd).loss);
  return run;
}

TEST(Device, EveryMethodStepsOnTheTestDevice) {
  const auto device = test_env::test_device();
  for (const auto& c : cases()) {
    SCOPED_TRACE(c.method + " on " + c.model + " on " + device.str());
    const auto run = run_steps(c, device, 12);
    for (double l : run.losses) ASSERT_TRUE(std::isfinite(l));
    if (c.descends) EXPECT_LT(run.losses.back(), run.losses.front());
    for (const auto& theta : run.network->controls()) {
      EXPECT_EQ(theta.device(), device);
      EXPECT_TRUE(theta.isfinite().all().item<bool>());
    }
  }
}

TEST(Device, DeterministicMethodsMatchTheCpu) {
  if (!test_env::test_device_is_cuda())
    GTEST_SKIP() << "compares the test device with the CPU: set OCTRAIN_TEST_DEVICE=cuda";
  const auto device = test_env::test_device();
  for (const auto& c : cases()) {
    // Methods that sample (K-FAC's and DDPNOpt's sampled factors, discrete draws) use the
    // device's generator, which differs from the CPU's.
    const auto name = c.method.substr(0, c.method.find(':'));
    if (name != "sgd" && name != "adagrad" && name != "rmsprop" && name != "adam" &&
        name != "emsa" && name != "ddp")
      continue;
    SCOPED_TRACE(c.method + " on " + c.model);
    const auto cpu = run_steps(c, torch::kCPU, 3);
    const auto gpu = run_steps(c, device, 3);
    for (size_t s = 0; s < cpu.losses.size(); ++s)
      EXPECT_NEAR(gpu.losses[s], cpu.losses[s], 1e-4 * (1 + std::abs(cpu.losses[s])));
    const auto a = cpu.network->controls(), b = gpu.network->controls();
    for (size_t i = 0; i < a.size(); ++i)
      EXPECT_TRUE(torch::allclose(b[i].cpu(), a[i], 1e-3, 1e-4)) << "control " << i;
  }
}

}  // namespace
}  // namespace octrain::methods
