// The gradient baselines take exactly torch::optim's steps on autograd's gradient of J.
#include <gtest/gtest.h>
#include <torch/optim.h>
#include <torch/serialize.h>
#include <torch/types.h>

#include <sstream>

#include "octrain/control/model_builder.h"
#include "octrain/control/network.h"
#include "octrain/methods/registry.h"
#include "octrain/util/error.h"
#include "test_device.h"

namespace octrain::methods {
namespace {

struct GradientProblem {
  std::shared_ptr<control::Network> net;
  torch::Tensor x, y;
  control::CrossEntropyLoss loss;
};

GradientProblem make_gradient_problem(uint64_t seed) {
  torch::manual_seed(seed);
  GradientProblem p;
  p.net = control::build_network("mlp:5-7-6-3:tanh", {5});
  const auto device = test_env::test_device();  // OCTRAIN_TEST_DEVICE
  p.net->to(device, torch::kFloat64);
  p.x = torch::randn({8, 5}, torch::kFloat64).to(device);
  p.y = torch::randint(3, {8}, torch::kLong).to(device);
  return p;
}

torch::Tensor forward_with_autograd(control::Network& net, torch::Tensor x) {
  for (size_t t = 0; t < net.size(); ++t) x = net.stage(t).forward(x);
  return x;
}

// Reference: autograd on a deep copy of the same weights, stepped by the given torch optimiser.
template <typename Optimizer, typename Options>
void expect_same_trajectory(const std::string& spec, Options options, double weight_decay) {
  auto ours = make_gradient_problem(11);
  auto ref = make_gradient_problem(11);
  ours.net->set_running_cost({weight_decay, 0});
  auto method = make_method(spec, *ours.net);
  auto params = ref.net->controls();
  Optimizer optimizer(params, options);
  for (int step = 0; step < 5; ++step) {
    const auto stats = method->step(*ours.net, ours.loss, ours.x, ours.y);
    optimizer.zero_grad();
    auto J = ref.loss.evaluate(forward_with_autograd(*ref.net, ref.x), ref.y, false).value;
    for (auto& theta : params) J = J + 0.5 * weight_decay * theta.pow(2).sum();
    EXPECT_NEAR(stats.objective, J.item<double>(), 1e-12) << spec << " step " << step;
    J.backward();
    optimizer.step();
    const auto a = ours.net->controls();
    for (size_t i = 0; i < a.size(); ++i)
      ASSERT_TRUE(torch::allclose(a[i], params[i], 1e-12, 1e-14))
          << spec << " step " << step << " control " << i;
  }
}

TEST(GradientMethod, SgdMomentumNesterovMatchesTorch) {
  expect_same_trajectory<torch::optim::SGD>(
      "sgd:lr=0.1,momentum=0.9,nesterov=true",
      torch::optim::SGDOptions(0.1).momentum(0.9).nesterov(true), 0.01);
}
TEST(GradientMethod, AdagradMatchesTorch) {
  expect_same_trajectory<torch::optim::Adagrad>("adagrad:lr=0.05",
                                                torch::optim::AdagradOptions(0.05), 0.0);
}
TEST(GradientMethod, RmspropMatchesTorch) {
  expect_same_trajectory<torch::optim::RMSprop>(
      "rmsprop:lr=0.01,alpha=0.9", torch::optim::RMSpropOptions(0.01).alpha(0.9), 0.001);
}
TEST(GradientMethod, AdamMatchesTorch) {
  expect_same_trajectory<torch::optim::Adam>(
      "adam:lr=0.01,beta2=0.99", torch::optim::AdamOptions(0.01).betas({0.9, 0.99}), 0.001);
}

TEST(GradientMethod, StateSavesAndLoadsExactly) {
  auto a = make_gradient_problem(2), b = make_gradient_problem(2);
  auto ma = make_method("adam:lr=0.01", *a.net);
  auto mb = make_method("adam:lr=0.01", *b.net);
  for (int i = 0; i < 3; ++i) ma->step(*a.net, a.loss, a.x, a.y);
  torch::serialize::OutputArchive model_out, state_out;
  a.net->save(model_out);
  ma->save(state_out);
  std::stringstream model_bytes, state_bytes;
  model_out.save_to(model_bytes);
  state_out.save_to(state_bytes);
  torch::serialize::InputArchive model_in, state_in;
  model_in.load_from(model_bytes);
  state_in.load_from(state_bytes);
  b.net->load(model_in);
  mb->load(state_in);
  ma->step(*a.net, a.loss, a.x, a.y);
  mb->step(*b.net, b.loss, b.x, b.y);
  const auto ca = a.net->controls(), cb = b.net->controls();
  for (size_t i = 0; i < ca.size(); ++i) EXPECT_TRUE(ca[i].equal(cb[i]));
}

TEST(GradientMethod, LearningRateScale) {
  auto p = make_gradient_problem(4);
  auto m = make_method("sgd:lr=0.5", *p.net);
  m->set_learning_rate_scale(0.5);
  m->set_learning_rate_scale(0.1);  // absolute, not cumulative
  const auto before = p.net->controls()[0].clone();
  auto trajectory = p.net->rollout(p.x);
  p.net->sweep(trajectory, p.loss, p.y);
  auto dH = trajectory.hamiltonian_gradients[0][0].clone();
  m->step(*p.net, p.loss, p.x, p.y);
  EXPECT_TRUE(torch::allclose(p.net->controls()[0], before + 0.05 * dH, 1e-12, 1e-14));
}

TEST(MethodRegistry, ErrorsNameTheField) {
  auto p = make_gradient_problem(1);
  auto message = [&](const std::string& spec) {
    try {
      make_method(spec, *p.net);
    } catch (const UsageError& e) {
      return std::string(e.what());
    }
    return std::string();
  };
  EXPECT_NE(message("adamw").find("unknown method 'adamw'"), std::string::npos);
  EXPECT_NE(message("adam:lr=-1").find("'lr'"), std::string::npos);
  EXPECT_NE(message("adam:learning_rate=0.1").find("unknown option 'learning_rate'"),
            std::string::npos);
  EXPECT_NE(message("sgd:nesterov=true").find("nesterov"), std::string::npos);
  EXPECT_NE(message("rmsprop:centered=maybe").find("true or false"), std::string::npos);
  EXPECT_EQ(make_method("sgd:lr=0.3", *p.net)->options().real("lr"), 0.3);
}

}  // namespace
}  // namespace octrain::methods
