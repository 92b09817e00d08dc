#include "workloads.h"

#include <benchmark/benchmark.h>
#include <fmt/format.h>
#include <torch/nn/functional.h>

#include <memory>

#include "octrain/control/model_builder.h"
#include "octrain/control/network.h"
#include "octrain/control/terminal_loss.h"
#include "octrain/methods/method.h"
#include "octrain/methods/registry.h"

namespace octrain::bench {
namespace {

using control::Network;

// Random data of the right shape; labels in [0, classes).
struct Batch {
  torch::Tensor x, y;
};

Batch make_batch(const NetCase& c) {
  std::vector<int64_t> shape{c.batch};
  shape.insert(shape.end(), c.input_shape.begin(), c.input_shape.end());
  return {torch::randn(shape), torch::randint(0, c.classes, {c.batch}, torch::kLong)};
}

std::shared_ptr<Network> make_net(const NetCase& c) {
  return control::build_network(c.spec, c.input_shape);
}

// Plain libtorch forward with autograd: the stages chained as ordinary modules.
torch::Tensor autograd_forward(Network& net, const torch::Tensor& x) {
  torch::Tensor h = x;
  for (size_t t = 0; t < net.size(); ++t) h = net.stage(t).forward(h);
  return h;
}

// set_to_none: the cheapest zeroing for autograd (backward steals the fresh gradient buffer).
void clear_grads(Network& net) {
  for (auto& p : net.parameters()) p.mutable_grad().reset();
}

// What StepStats reports (loss and accuracy), so the libtorch step does the same bookkeeping.
double accuracy(const torch::Tensor& logits, const torch::Tensor& y) {
  return logits.argmax(1).eq(y).to(torch::kFloat64).mean().item<double>();
}

void bm_octrain_step(benchmark::State& state, const NetCase& c) {
  seed_everything();
  auto net = make_net(c);
  auto batch = make_batch(c);
  control::CrossEntropyLoss loss;
  auto method = methods::make_method("adam:lr=0.001", *net);
  for (auto _ : state) {
    auto stats = method->step(*net, loss, batch.x, batch.y);
    benchmark::DoNotOptimize(stats.loss);
  }
  state.SetItemsProcessed(state.iterations() * c.batch);
}

void bm_libtorch_step(benchmark::State& state, const NetCase& c) {
  seed_everything();
  auto net = make_net(c);
  auto batch = make_batch(c);
  torch::optim::Adam optimizer(net->parameters(), torch::optim::AdamOptions(1e-3));
  for (auto _ : state) {
    clear_grads(*net);
    auto logits = autograd_forward(*net, batch.x);
    auto loss = torch::nn::functional::cross_entropy(logits, batch.y);
    loss.backward();
    optimizer.step();
    double l = loss.item<double>();
    double a = accuracy(logits.detach(), batch.y);
    benchmark::DoNotOptimize(l);
    benchmark::DoNotOptimize(a);
  }
  state.SetItemsProcessed(state.iterations() * c.batch);
}

void bm_octrain_sweep(benchmark::State& state, const NetCase& c) {
  seed_everything();
  auto net = make_net(c);
  auto batch = make_batch(c);
  control::CrossEntropyLoss loss;
  for (auto _ : state) {
    auto trajectory = net->rollout(batch.x);
    net->sweep(trajectory, loss, batch.y);
    benchmark::DoNotOptimize(trajectory.hamiltonian_gradients.data());
  }
  state.SetItemsProcessed(state.iterations() * c.batch);
}

void bm_autograd_grad(benchmark::State& state, const NetCase& c) {
  seed_everything();
  auto net = make_net(c);
  auto batch = make_batch(c);
  for (auto _ : state) {
    clear_grads(*net);
    auto logits = autograd_forward(*net, batch.x);
    auto loss = torch::nn::functional::cross_entropy(logits, batch.y);
    loss.backward();
    benchmark::DoNotOptimize(loss.data_ptr());
  }
  state.SetItemsProcessed(state.iterations() * c.batch);
}

void bm_octrain_rollout(benchmark::State& state, const NetCase& c) {
  seed_everything();
  auto net = make_net(c);
  auto batch = make_batch(c);
  for (auto _ : state) {
    auto trajectory = net->rollout(batch.x);
    benchmark::DoNotOptimize(trajectory.states.back().data_ptr());
  }
  state.SetItemsProcessed(state.iterations() * c.batch);
}

void bm_autograd_forward(benchmark::State& state, const NetCase& c) {
  seed_everything();
  auto net = make_net(c);
  auto batch = make_batch(c);
  for (auto _ : state) {
    auto loss = torch::nn::functional::cross_entropy(autograd_forward(*net, batch.x), batch.y);
    benchmark::DoNotOptimize(loss.data_ptr());
  }
  state.SetItemsProcessed(state.iterations() * c.batch);
}

}  // namespace

void seed_everything(uint64_t seed) {
  torch::manual_seed(seed);
}

const std::vector<NetCase>& net_cases() {
  static const std::vector<NetCase> cases = {
      {"mnist_mlp", "mlp:784-256-256-10:relu", {1, 28, 28}, 128, 10},
      {"wine_mlp", "mlp:13-32-32-32-32-3:tanh", {13}, 16, 3},
  };
  return cases;
}

void register_benchmarks() {
  using Fn = void (*)(benchmark::State&, const NetCase&);
  const std::pair<const char*, Fn> kinds[] = {
      {kOctrainStep, bm_octrain_step},       {kLibtorchStep, bm_libtorch_step},
      {kOctrainSweep, bm_octrain_sweep},     {kAutogradBackward, bm_autograd_grad},
      {kOctrainRollout, bm_octrain_rollout}, {kAutogradForward, bm_autograd_forward},
  };
  for (const auto& c : net_cases()) {
    for (const auto& [kind, fn] : kinds) {
      benchmark::RegisterBenchmark(fmt::format("{}/{}", kind, c.id).c_str(), fn, c)
          ->Unit(benchmark::kMillisecond)
          ->UseRealTime();
    }
  }
}

bool check_gradients_agree() {
  bool ok = true;
  for (const auto& c : net_cases()) {
    seed_everything();
    auto net = make_net(c);
    auto batch = make_batch(c);
    control::CrossEntropyLoss loss;
    auto trajectory = net->rollout(batch.x);
    net->sweep(trajectory, loss, batch.y);

    clear_grads(*net);
    auto reference = torch::nn::functional::cross_entropy(autograd_forward(*net, batch.x), batch.y);
    reference.backward();

    double max_diff = 0.0;
    for (size_t t = 0; t < net->size(); ++t) {
      auto controls = net->stage(t).controls();
      for (size_t i = 0; i < controls.size(); ++i) {
        auto d = (trajectory.hamiltonian_gradients[t][i].neg() - controls[i].grad()).abs().max();
        max_diff = std::max(max_diff, d.item<double>());
      }
    }
    const double loss_diff =
        std::abs(trajectory.terminal_loss.item<double>() - reference.item<double>());
    const bool agree = max_diff < 1e-5 && loss_diff < 1e-5;
    fmt::print("gradient check {:<10} max|sweep − autograd| = {:.2e}, |Δloss| = {:.2e}  {}\n", c.id,
               max_diff, loss_diff, agree ? "ok" : "MISMATCH");
    ok = ok && agree;
  }
  return ok;
}

}  // namespace octrain::bench
