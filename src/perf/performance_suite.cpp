#include "octrain/perf/performance_suite.h"

#include <fmt/format.h>
#include <torch/types.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <memory>
#include <regex>

#include "octrain/control/model_builder.h"
#include "octrain/control/network.h"
#include "octrain/control/terminal_loss.h"
#include "octrain/methods/registry.h"
#include "octrain/methods/work_count.h"
#include "octrain/perf/forward_flops.h"
#include "octrain/perf/interleaved_timer.h"
#include "octrain/train/compute_device.h"
#include "octrain/train/compute_threads.h"
#include "octrain/util/build_info.h"
#include "octrain/util/error.h"

namespace octrain::perf {
namespace {

struct NetCase {
  std::string id, spec;
  control::Shape input;
  int64_t batch;
};

const std::string kCnn4 =
    "cnn:conv32x3-conv32x3-maxpool2-conv32x3-conv32x3-maxpool2-flatten-fc128-10:relu";

// The standard nets of the papers (docs/methods/): the DDPNOpt 5-layer FC net on DIGITS-shaped
// input, the main job's MLP, the DDPNOpt 4-conv CNN, the E-MSA tiny residual CNN, and a binary MLP
// and binary/ternary CNNs for the discrete-weight methods. The gpu set: the main job's MLP, the
// 4-conv CNN, the discrete-weight papers' 3×2048 binary MLP and a CIFAR-size CNN (3×32×32 inputs).
const std::vector<NetCase>& net_cases(const std::string& set) {
  static const std::vector<NetCase> gpu = {
      {"mlp784", "mlp:784-256-256-10:relu", {1, 28, 28}, 128},
      {"cnn4", kCnn4, {1, 28, 28}, 128},
      {"bmlp2048", "bmlp:784-2048x3-10", {1, 28, 28}, 100},
      {"cifar_cnn",
       "cnn:conv64x3-conv64x3-maxpool2-conv128x3-conv128x3-maxpool2-flatten-fc256-10:relu",
       {3, 32, 32},
       128},
  };
  if (set == "gpu") return gpu;
  if (set != "standard")
    throw UsageError(fmt::format("bench: --nets '{}' is not a net set: standard or gpu", set));
  static const std::vector<NetCase> nets = {
      {"fc5", "mlp:64-32-32-32-32-10:tanh", {64}, 32},
      {"mlp784", "mlp:784-256-256-10:relu", {1, 28, 28}, 128},
      {"cnn4", kCnn4, {1, 28, 28}, 128},
      {"emsa_tiny_cnn",
       "cnn:conv5x3-avgpool2-conv5x3-avgpool2-res5x3-res5x3-chmean-flatten-10:tanh:delta=0.5",
       {1, 28, 28},
       128},
      {"bmlp784", "bmlp:784-256x2-10", {1, 28, 28}, 100},
      // The discrete-weight CNNs of configs/discrete-fmnist-cnn-*.toml.
      {"bcnn", "bcnn:conv16x3-maxpool2-conv32x3-maxpool2-fc128-10", {1, 28, 28}, 100},
      {"tcnn", "tcnn:conv16x3-maxpool2-conv32x3-maxpool2-fc128-10", {1, 28, 28}, 100},
  };
  return nets;
}

// One method stepping on its own copy of a net with fixed random data.
struct StepWorkload {
  std::shared_ptr<control::Network> network;
  std::unique_ptr<control::TerminalLoss> loss;
  std::unique_ptr<methods::Method> method;
  torch::Tensor x, y;
  torch::Device device = torch::kCPU;
  double flops = 0;       // forward FLOPs of one batch
  double step_flops = 0;  // of one gradient step (forward_flops.h)
  int64_t period = 1;     // steps per timed call: the method's work period
  double work = 0;        // FLOPs the method counted in its timed steps (work_count.h)
  int64_t steps = 0;      // timed steps

  // A step ends when the device has finished it, not when its last kernel is queued.
  void step() {
    method->step(*network, *loss, x, y);
    train::synchronize(device);
  }
  // One timed call: a whole work period, so periodic work (K-FAC's refreshes) is charged in full.
  void run_period() {
    const double before = methods::counted_flops();
    for (int64_t i = 0; i < period; ++i) step();
    work += methods::counted_flops() - before;
    steps += period;
  }
  // The method's own FLOPs per step; NaN where it counts none.
  double work_per_step() const {
    return steps > 0 && work > 0 ? work / double(steps) : std::nan("");
  }
};

StepWorkload make_workload(const std::string& spec, const control::Shape& input, int64_t batch,
                           const std::string& method, const torch::Device& device) {
  torch::manual_seed(1234);
  StepWorkload w;
  w.device = device;
  w.network = control::build_network(spec, input);
  w.network->to(device);
  control::Shape shape = input;
  shape.insert(shape.begin(), batch);
  w.x = torch::randn(shape).to(device);
  w.y = torch::randint(10, {batch}, torch::kLong).to(device);
  w.loss = control::make_terminal_loss("cross-entropy", 10, w.network->output_shape()[0]);
  w.flops = forward_flops(*w.network, batch);
  w.step_flops = gradient_step_flops(*w.network, batch);
  w.method = methods::make_method(method, {}, *w.network);
  w.period = w.method->work_period();
  return w;
}

std::string first_line(const std::string& text) {
  return text.substr(0, text.find('\n'));
}

double gflops(double flops, double ms) {
  return flops / (ms * 1e6);
}

// The best of the repetitions: a peak is what the machine can do, and on a shared machine the
// median would charge other jobs' load to it.
double sgemm_peak_gflops(int n, const InterleavedTimer& timer, const torch::Device& device) {
  torch::manual_seed(1);
  const auto a = torch::randn({n, n}).to(device), b = torch::randn({n, n}).to(device);
  torch::Tensor c;
  const auto ms = timer
                      .repetition_ms({[&] {
                        c = torch::mm(a, b);
                        train::synchronize(device);
                      }})
                      .front();
  return gflops(2.0 * double(n) * n * n, *std::min_element(ms.begin(), ms.end()));
}

std::string mlp_of_depth(int hidden) {
  std::string spec = "mlp:784";
  for (int i = 0; i < hidden; ++i) spec += "-256";
  return spec + "-10:relu";
}

}  // namespace

std::string run_performance_suite(const SuiteOptions& options, std::FILE* progress) {
  const auto compute = train::set_compute_threads(options.threads);
  const int repetitions = options.repetitions > 0 ? options.repetitions : options.quick ? 3 : 7;
  const double min_seconds = options.min_seconds > 0 ? options.min_seconds
                             : options.quick         ? 0.05
                                                     : 0.3;
  const InterleavedTimer timer(repetitions, min_seconds);
  std::regex filter;
  try {
    filter = std::regex(options.filter.empty() ? "." : options.filter);
  } catch (const std::regex_error& e) {
    throw UsageError(fmt::format("bench: --filter '{}' is not a regular expression ({})",
                                 options.filter, e.what()));
  }
  const torch::Device device = train::parse_compute_device(options.device);
  const auto& nets = net_cases(options.nets);
  // Large enough for OpenBLAS, and for a GPU's tensor cores, to reach their peak.
  const int gemm_n = device.is_cuda() ? 8192 : 2048;
  double peak = sgemm_peak_gflops(gemm_n, timer, device);
  const std::string where = device.is_cuda()
                                ? fmt::format("{}, {}", device.str(), compute.describe())
                                : compute.describe();
  fmt::print(progress, "bench: {}; sgemm {}×{}: {:.1f} GFLOP/s\n", where, gemm_n, gemm_n, peak);
  // Each net at its own batch, or at every batch asked for.
  std::vector<NetCase> cases;
  for (const auto& net : nets) {
    if (options.batches.empty()) cases.push_back(net);
    for (auto b : options.batches) {
      cases.push_back(net);
      cases.back().batch = b;
    }
  }

  // Text pieces; a piece with a finite `achieved` is a table row still missing its last cell,
  // the fraction of the sgemm peak, known only once the peak's last re-measurement is in.
  std::vector<std::pair<std::string, double>> pieces;
  auto text = [&pieces](const std::string& t) { pieces.emplace_back(t, std::nan("")); };
  auto row = [&pieces](const std::string& t, double achieved) {
    if (std::isnan(achieved))  // no work counted: nothing to compare with the peak
      pieces.emplace_back(t + " — |\n", achieved);
    else
      pieces.emplace_back(t, achieved);
  };
  text(
      "Each method's work is what its steps count (docs/BENCHMARKS.md, \"Work accounting\"): the "
      "FLOPs of its layer products — the rollout and sweep of a gradient step (3·F less the "
      "first layer's input co-state), each L-BFGS evaluation of MSA/E-MSA, DDPNOpt's value pass "
      "and feedback forward, the curvature factors' statistics, inverses, eigenbases and solves "
      "— averaged over the timed steps, which run in whole work periods (K-FAC's refresh "
      "period). GFLOP/s is that work over the measured time; *work / Adam's* is the floor of "
      "*/ Adam*, the ratio the step would have at Adam's speed per FLOP.\n\n"
      "### Step time per method, as a ratio to Adam in the same run\n\n"
      "| net | batch | forward MFLOP | method | step (ms) | / Adam | work MFLOP | work / Adam's "
      "| GFLOP/s | % of sgemm peak |\n"
      "|---|---:|---:|---|---:|---:|---:|---:|---:|---:|\n");
  std::vector<std::string> not_applicable;
  for (const auto& net : cases) {
    std::vector<std::string> wanted;
    for (const auto& info : methods::method_catalogue())
      if (std::regex_search(net.id + "/" + info.name, filter)) wanted.push_back(info.name);
    if (wanted.empty()) continue;
    if (std::find(wanted.begin(), wanted.end(), "adam") == wanted.end())
      wanted.insert(wanted.begin(), "adam");  // the baseline of the ratios
    std::vector<std::string> names;
    std::vector<StepWorkload> workloads;
    // method, reason: refused = the method does not apply to this net (a UsageError, e.g. a
    // discrete-weight method on a real net); failed = it applies but its step threw.
    std::vector<std::pair<std::string, std::string>> refused, failed;
    for (const auto& name : wanted) {
      try {
        auto w = make_workload(net.spec, net.input, net.batch, name, device);
        w.step();  // a method that fails on this net fails here, not inside the timing
        names.push_back(name);
        workloads.push_back(std::move(w));
      } catch (const UsageError& e) {
        refused.emplace_back(name, first_line(e.what()));
      } catch (const std::exception& e) {
        failed.emplace_back(name, first_line(e.what()));
      }
    }
    fmt::print(progress, "bench: {} at batch {} ({} methods)\n", net.id, net.batch, names.size());
    std::vector<std::function<void()>> calls;
    for (auto& w : workloads) calls.push_back([&w] { w.run_period(); });
    auto ms = timer.median_ms(calls);
    double adam_ms = std::nan(""), adam_work = std::nan("");
    for (size_t i = 0; i < names.size(); ++i) {
      ms[i] /= double(workloads[i].period);
      if (names[i] == "adam") adam_ms = ms[i], adam_work = workloads[i].work_per_step();
    }
    const double flops = workloads.empty() ? 0 : workloads.front().flops;
    peak = std::max(peak, sgemm_peak_gflops(gemm_n, timer, device));  // re-measured per net
    const auto ratio = [](double a, double b) {
      return std::isnan(a) || std::isnan(b) ? std::string("—") : fmt::format("{:.2f}", a / b);
    };
    for (size_t i = 0; i < names.size(); ++i) {
      const double work = workloads[i].work_per_step();
      const double achieved = gflops(work, ms[i]);
      row(fmt::format("| {} | {} | {:.2f} | {} | {:.3f} | {} | {} | {} | {:.2f} |", net.id,
                      net.batch, flops / 1e6, names[i], ms[i], ratio(ms[i], adam_ms),
                      std::isnan(work) ? "—" : fmt::format("{:.2f}", work / 1e6),
                      ratio(work, adam_work), achieved),
          achieved);
    }
    for (const auto& [name, reason] : failed)
      text(fmt::format("| {} | {} | {:.2f} | {} | n/a ({}) | | | | | |\n", net.id, net.batch,
                       flops / 1e6, name, reason));
    for (const auto& [name, reason] : refused)
      not_applicable.push_back(fmt::format("`{}/{}` ({})", net.id, name, reason));
  }
  if (!not_applicable.empty())
    text(fmt::format("\nNot applicable (the method refuses the net): {}.\n",
                     fmt::join(not_applicable, "; ")));
  text("\nNets: ");
  for (const auto& net : nets)
    text(fmt::format("`{}` = `{}` on [{}, {}]; ", net.id, net.spec, net.batch,
                     fmt::join(net.input, ", ")));
  text("random inputs and labels, cross-entropy, default method options.\n");

  if (options.scaling) {
    const std::vector<int64_t> batches = options.quick
                                             ? std::vector<int64_t>{32, 128, 512}
                                             : std::vector<int64_t>{16, 32, 64, 128, 256, 512};
    const std::vector<int> depths =
        options.quick ? std::vector<int>{1, 2, 4} : std::vector<int>{1, 2, 4, 8};
    text(
        "\n### Adam's step time against batch size (`mlp:784-256-256-10:relu`)\n\n"
        "| batch | step (ms) | µs per sample | GFLOP/s | % of sgemm peak |\n"
        "|---:|---:|---:|---:|---:|\n");
    fmt::print(progress, "bench: scaling with batch size\n");
    std::vector<StepWorkload> by_batch;
    for (auto b : batches)
      by_batch.push_back(make_workload(mlp_of_depth(2), {1, 28, 28}, b, "adam", device));
    std::vector<std::function<void()>> calls;
    for (auto& w : by_batch) calls.push_back([&w] { w.step(); });
    auto ms = timer.median_ms(calls);
    for (size_t i = 0; i < batches.size(); ++i) {
      const double achieved = gflops(by_batch[i].step_flops, ms[i]);
      row(fmt::format("| {} | {:.3f} | {:.2f} | {:.2f} |", batches[i], ms[i],
                      1e3 * ms[i] / double(batches[i]), achieved),
          achieved);
    }
    text(
        "\n### Adam's step time against depth (hidden layers of width 256, batch 128)\n\n"
        "| hidden layers | step (ms) | ms per hidden layer | GFLOP/s | % of sgemm peak |\n"
        "|---:|---:|---:|---:|---:|\n");
    fmt::print(progress, "bench: scaling with depth\n");
    std::vector<StepWorkload> by_depth;
    for (int d : depths)
      by_depth.push_back(make_workload(mlp_of_depth(d), {1, 28, 28}, 128, "adam", device));
    calls.clear();
    for (auto& w : by_depth) calls.push_back([&w] { w.step(); });
    ms = timer.median_ms(calls);
    for (size_t i = 0; i < depths.size(); ++i) {
      const double achieved = gflops(by_depth[i].step_flops, ms[i]);
      row(fmt::format("| {} | {:.3f} | {:.3f} | {:.2f} |", depths[i], ms[i], ms[i] / depths[i],
                      achieved),
          achieved);
    }
  }
  peak = std::max(peak, sgemm_peak_gflops(gemm_n, timer, device));
  std::string md = fmt::format(
      "## Performance suite\n\n"
      "octrain {} (revision {}), {}; median of {} interleaved repetitions of ≥ {} s per step "
      "workload. Measured sgemm peak: **{:.1f} GFLOP/s** (`torch::mm` {}×{} float, best "
      "repetition of measurements at the start, beside each net and at the end of this run).\n\n",
      version(), git_revision(), where, repetitions, min_seconds, peak, gemm_n, gemm_n);
  for (const auto& [piece, achieved] : pieces)
    md +=
        std::isnan(achieved) ? piece : fmt::format("{} {:.1f} % |\n", piece, 100 * achieved / peak);
  return md;
}

}  // namespace octrain::perf
