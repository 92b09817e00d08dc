// One training step of msa-discrete against the quantised baselines on the same discrete FC
// nets (docs/methods/discrete-msa.md; acceptance: msa-discrete step / BinaryConnect step ≤ 1.2).
#include <benchmark/benchmark.h>
#include <fmt/format.h>

#include "octrain/control/model_builder.h"
#include "octrain/control/network.h"
#include "octrain/control/terminal_loss.h"
#include "octrain/methods/method.h"
#include "octrain/methods/registry.h"
#include "workloads.h"

namespace octrain::bench {
namespace {

void bm_discrete_step(benchmark::State& state, const NetCase& c, const std::string& method_spec) {
  seed_everything();
  auto net = control::build_network(c.spec, c.input_shape);
  const auto x = torch::randn({c.batch, c.input_shape[0]});
  const auto y = torch::randint(0, c.classes, {c.batch}, torch::kLong);
  control::SquaredHingeLoss loss;
  auto method = methods::make_method(method_spec, *net);
  for (auto _ : state) {
    auto stats = method->step(*net, loss, x, y);
    benchmark::DoNotOptimize(stats.loss);
  }
  state.SetItemsProcessed(state.iterations() * c.batch);
}

}  // namespace

const std::vector<NetCase>& discrete_net_cases() {
  static const std::vector<NetCase> cases = {
      {"bmlp_2048x3", "bmlp:784-2048x3-10", {784}, 100, 10},
      {"tmlp_2048x3", "tmlp:784-2048x3-10", {784}, 100, 10},
      {"tmlp_1024x3", "tmlp:784-1024x3-10", {784}, 100, 10},
  };
  return cases;
}

std::vector<std::pair<std::string, std::string>> discrete_kinds(const NetCase& c) {
  if (c.spec[0] == 'b')
    return {{kMsaDiscreteStep, "msa-discrete"}, {kBaselineStep, "binaryconnect"}};
  return {{kMsaDiscreteStep, "msa-discrete"}, {kBaselineStep, "twn"}};
}

void register_discrete_benchmarks() {
  for (const auto& c : discrete_net_cases())
    for (const auto& [kind, method] : discrete_kinds(c))
      benchmark::RegisterBenchmark(fmt::format("{}/{}", kind, c.id).c_str(), bm_discrete_step, c,
                                   method)
          ->Unit(benchmark::kMillisecond)
          ->UseRealTime();
}

}  // namespace octrain::bench
