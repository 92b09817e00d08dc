// octrain_method_bench: the time of one training step of each method on the standard nets, as a
// ratio to Adam's step on the same net measured in the same process (interleaved repetitions).
//
//   build/bench/octrain_method_bench [--benchmark_filter=REGEX] [google-benchmark flags]
//
// Environment: OCTRAIN_BENCH_THREADS  compute threads (as `octrain train --threads`), default 1

#include <benchmark/benchmark.h>
#include <fmt/format.h>
#include <torch/types.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <map>
#include <string>
#include <vector>

#include "octrain/control/model_builder.h"
#include "octrain/control/network.h"
#include "octrain/control/terminal_loss.h"
#include "octrain/methods/registry.h"
#include "octrain/train/compute_threads.h"
#include "octrain/util/allocator.h"

namespace {

struct MethodCase {
  std::string net;   // short id
  std::string spec;  // model spec
  std::vector<int64_t> input_shape;
  int64_t batch;
  std::string loss;                  // terminal loss spec ("mse" for the regression toy)
  std::vector<std::string> methods;  // method specs; the baseline "adam:..." comes first
};

const std::vector<MethodCase>& cases() {
  static const std::vector<MethodCase> all = {
      {"emsa_toy",
       "resmlp:1-5x20-1:tanh:delta=0.25:io=fixed:init=zeros",
       {1},
       100,
       "mse",
       {"adam:lr=0.005", "sgd:lr=0.1", "emsa:rho=1,perturbation=0.005,threads=1",
        "emsa:rho=1,perturbation=0.005,threads=2"}},
      {"emsa_tiny_cnn",
       "cnn:conv5x3-avgpool2-conv5x3-avgpool2-res5x3-res5x3-chmean-flatten-10:tanh:delta=0.5",
       {1, 28, 28},
       128,
       "cross-entropy",
       {"adam:lr=0.001", "sgd:lr=0.01", "emsa:rho=0.03,threads=1", "emsa:rho=0.03,threads=2"}},
      {"fc5",
       "mlp:64-32-32-32-32-10:tanh",
       {64},
       32,
       "cross-entropy",
       {"adam:lr=0.001", "rmsprop:lr=0.001", "ekfac", "ddpnopt:lr=0.001",
        "ddpnopt:lr=0.001,feedback=false", "ddpnopt:lr=0.001,value_hessian=full", "ddp"}},
      {"mlp784",
       "mlp:784-256-256-10",
       {784},
       128,
       "cross-entropy",
       {"adam:lr=0.001", "rmsprop:lr=0.001", "kfac", "ekfac", "kfac:stats_every=1",
        "ekfac:stats_every=1", "ddpnopt:lr=0.001", "ddpnopt:lr=0.001,feedback=false"}},
      {"cnn4",
       "cnn:conv32x3-conv32x3-maxpool2-conv32x3-conv32x3-maxpool2-flatten-fc128-10",
       {1, 28, 28},
       128,
       "cross-entropy",
       {"adam:lr=0.001", "kfac", "ekfac", "kfac:stats_every=1", "ekfac:stats_every=1",
        "ddpnopt:curvature=kfac", "ddpnopt:curvature=kfac,feedback=false"}},
  };
  return all;
}

void bm_method_step(benchmark::State& state, const MethodCase& c, const std::string& method) {
  torch::manual_seed(1234);
  auto net = octrain::control::build_network(c.spec, c.input_shape);
  net->set_running_cost({1e-3, 0.0});
  std::vector<int64_t> shape = c.input_shape;
  shape.insert(shape.begin(), c.batch);
  const bool regression = c.loss == "mse";
  const auto x = regression ? torch::rand(shape) * 6 - 3 : torch::randn(shape);
  const auto y = regression ? torch::sin(x) : torch::randint(10, {c.batch}, torch::kLong);
  const auto loss =
      octrain::control::make_terminal_loss(c.loss, regression ? 0 : 10, net->output_shape()[0]);
  auto step = octrain::methods::make_method(method, *net);
  for (auto _ : state) benchmark::DoNotOptimize(step->step(*net, *loss, x, y).loss);
}

std::string benchmark_name(const MethodCase& c, const std::string& method) {
  return fmt::format("step/{}/{}", c.net, method);
}

// Median real time per iteration (ms) of every repetition, by benchmark name.
class CollectingReporter : public benchmark::ConsoleReporter {
 public:
  void ReportRuns(const std::vector<Run>& runs) override {
    for (const auto& run : runs)
      if (!run.error_occurred && run.run_type == Run::RT_Iteration)
        times_[run.run_name.function_name].push_back(
            run.GetAdjustedRealTime() * (run.time_unit == benchmark::kMillisecond   ? 1.0
                                         : run.time_unit == benchmark::kMicrosecond ? 1e-3
                                                                                    : 1e-6));
    ConsoleReporter::ReportRuns(runs);
  }
  double median_ms(const std::string& name) const {
    auto it = times_.find(name);
    if (it == times_.end() || it->second.empty()) return std::nan("");
    auto v = it->second;
    std::sort(v.begin(), v.end());
    return v[v.size() / 2];
  }

 private:
  std::map<std::string, std::vector<double>> times_;
};

}  // namespace

int main(int argc, char** argv) {
  octrain::retain_freed_memory();
  const char* env = std::getenv("OCTRAIN_BENCH_THREADS");
  const int threads = env && std::atoi(env) > 0 ? std::atoi(env) : 1;
  const auto compute = octrain::train::set_compute_threads(threads);
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  fmt::print("octrain_method_bench: {}\n", compute.describe());
  for (const auto& c : cases())
    for (const auto& method : c.methods)
      benchmark::RegisterBenchmark(benchmark_name(c, method).c_str(), bm_method_step, c, method)
          ->Unit(benchmark::kMillisecond)
          ->UseRealTime();
  CollectingReporter reporter;
  benchmark::RunSpecifiedBenchmarks(&reporter);
  benchmark::Shutdown();

  fmt::print(
      "\nMedian step time (ms), {} compute thread(s); ratio to the first method of the "
      "same net, measured in this run:\n\n| net | method | step ms | ratio |\n"
      "|---|---|---:|---:|\n",
      threads);
  for (const auto& c : cases()) {
    const double baseline = reporter.median_ms(benchmark_name(c, c.methods.front()));
    for (const auto& method : c.methods) {
      const double ms = reporter.median_ms(benchmark_name(c, method));
      if (std::isnan(ms)) continue;
      fmt::print("| {} | {} | {:.3f} | {} |\n", c.net, method, ms,
                 std::isnan(baseline) ? "—" : fmt::format("{:.2f}", ms / baseline));
    }
  }
  return 0;
}
