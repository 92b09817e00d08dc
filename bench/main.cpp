// octrain_bench: Google Benchmark runner that, after the runs, prints per-net ratio tables
// (octrain step / libtorch step, octrain sweep / autograd backward) from the median real time
// of each benchmark's repetitions in this same process.
//
// Environment:
//   OCTRAIN_BENCH_THREADS  compute threads (octrain::train::set_compute_threads), default 1
//   OCTRAIN_BENCH_SUMMARY  if set, a TSV file "net kind median_ms repetitions" is written there
//   OCTRAIN_BENCH_NO_CHECK if set, skip the sweep-vs-autograd gradient agreement check

#include <benchmark/benchmark.h>
#include <fmt/format.h>
#include <torch/types.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include "octrain/train/compute_threads.h"
#include "octrain/util/allocator.h"
#include "workloads.h"

namespace {

using octrain::bench::kAutogradBackward;
using octrain::bench::kAutogradForward;
using octrain::bench::kLibtorchStep;
using octrain::bench::kOctrainRollout;
using octrain::bench::kOctrainStep;
using octrain::bench::kOctrainSweep;

double median(std::vector<double> v) {
  if (v.empty()) return std::nan("");
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

double to_ms(double value, benchmark::TimeUnit unit) {
  switch (unit) {
    case benchmark::kNanosecond:
      return value * 1e-6;
    case benchmark::kMicrosecond:
      return value * 1e-3;
    case benchmark::kMillisecond:
      return value;
    case benchmark::kSecond:
      return value * 1e3;
  }
  return value;
}

// Console output as usual, plus every repetition's real time per iteration (ms) by name.
class CollectingReporter : public benchmark::ConsoleReporter {
 public:
  explicit CollectingReporter(OutputOptions options) : ConsoleReporter(options) {}

  void ReportRuns(const std::vector<Run>& runs) override {
    for (const auto& run : runs) {
      if (run.error_occurred) continue;
      const std::string name = run.run_name.function_name;
      if (run.run_type == Run::RT_Iteration) {
        iterations_[name].push_back(to_ms(run.GetAdjustedRealTime(), run.time_unit));
      } else if (run.aggregate_name == "median") {
        medians_[name] = to_ms(run.GetAdjustedRealTime(), run.time_unit);
      }
    }
    ConsoleReporter::ReportRuns(runs);
  }

  // Median over the repetitions seen (or the library's median aggregate when only aggregates
  // were reported); NaN when the benchmark did not run.
  double median_ms(const std::string& name, size_t* count = nullptr) const {
    if (auto it = iterations_.find(name); it != iterations_.end() && !it->second.empty()) {
      if (count) *count = it->second.size();
      return median(it->second);
    }
    if (auto it = medians_.find(name); it != medians_.end()) {
      if (count) *count = 0;
      return it->second;
    }
    if (count) *count = 0;
    return std::nan("");
  }

 private:
  std::map<std::string, std::vector<double>> iterations_;
  std::map<std::string, double> medians_;
};

int threads_from_env() {
  const char* env = std::getenv("OCTRAIN_BENCH_THREADS");
  if (!env || !*env) return 1;
  const int n = std::atoi(env);
  return n > 0 ? n : 1;
}

std::string fmt_ratio(double num, double den) {
  if (std::isnan(num) || std::isnan(den) || den <= 0) return "—";
  return fmt::format("{:.2f}", num / den);
}

std::string fmt_ms(double ms) {
  return std::isnan(ms) ? "—" : fmt::format("{:.3f}", ms);
}

}  // namespace

int main(int argc, char** argv) {
  octrain::retain_freed_memory();
  const int threads = threads_from_env();
  const auto compute =
      octrain::train::set_compute_threads(threads);  // as `octrain train --threads`
  octrain::bench::seed_everything();

  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;

  fmt::print("octrain_bench: {}\n", compute.describe());
  if (!std::getenv("OCTRAIN_BENCH_NO_CHECK") && !octrain::bench::check_gradients_agree()) {
    fmt::print(stderr,
               "octrain_bench: the sweep and autograd disagree; ratios would be meaningless\n");
    return 2;
  }

  octrain::bench::register_benchmarks();
  octrain::bench::register_discrete_benchmarks();
  // A custom display reporter does not see --benchmark_color: colour only on a terminal.
  CollectingReporter reporter(isatty(fileno(stdout)) ? benchmark::ConsoleReporter::OO_Defaults
                                                     : benchmark::ConsoleReporter::OO_Tabular);
  benchmark::RunSpecifiedBenchmarks(&reporter);
  benchmark::Shutdown();

  std::FILE* summary = nullptr;
  if (const char* path = std::getenv("OCTRAIN_BENCH_SUMMARY"); path && *path) {
    summary = std::fopen(path, "w");
    if (!summary) fmt::print(stderr, "octrain_bench: cannot write {}\n", path);
  }
  if (summary) fmt::print(summary, "net\tkind\tmedian_ms\trepetitions\n");

  fmt::print("\nMedian real time per iteration (ms), {} thread(s); ratios from this run:\n\n",
             threads);
  fmt::print(
      "| net | octrain step | libtorch step | octrain/libtorch | octrain sweep | autograd fwd+bwd "
      "| "
      "sweep/autograd |\n");
  fmt::print("|---|---:|---:|---:|---:|---:|---:|\n");
  std::vector<std::string> breakdown;
  for (const auto& c : octrain::bench::net_cases()) {
    std::map<std::string, double> ms;
    for (const char* kind : {kOctrainStep, kLibtorchStep, kOctrainSweep, kAutogradBackward,
                             kOctrainRollout, kAutogradForward}) {
      size_t reps = 0;
      ms[kind] = reporter.median_ms(fmt::format("{}/{}", kind, c.id), &reps);
      if (summary && !std::isnan(ms[kind]))
        fmt::print(summary, "{}\t{}\t{:.6f}\t{}\n", c.id, kind, ms[kind], reps);
    }
    if (std::isnan(ms[kOctrainStep]) && std::isnan(ms[kOctrainSweep])) continue;  // filtered out
    fmt::print("| {} | {} | {} | {} | {} | {} | {} |\n", c.id, fmt_ms(ms[kOctrainStep]),
               fmt_ms(ms[kLibtorchStep]), fmt_ratio(ms[kOctrainStep], ms[kLibtorchStep]),
               fmt_ms(ms[kOctrainSweep]), fmt_ms(ms[kAutogradBackward]),
               fmt_ratio(ms[kOctrainSweep], ms[kAutogradBackward]));
    breakdown.push_back(
        fmt::format("| {} | {} | {} | {} | {} | {} | {} |\n", c.id, fmt_ms(ms[kOctrainRollout]),
                    fmt_ms(ms[kOctrainSweep] - ms[kOctrainRollout]), fmt_ms(ms[kAutogradForward]),
                    fmt_ms(ms[kAutogradBackward] - ms[kAutogradForward]),
                    fmt_ratio(ms[kOctrainRollout], ms[kAutogradForward]),
                    fmt_ratio(ms[kOctrainSweep] - ms[kOctrainRollout],
                              ms[kAutogradBackward] - ms[kAutogradForward])));
  }
  fmt::print("\nBreakdown (backward = (forward + backward) − forward, so noisier):\n\n");
  fmt::print(
      "| net | octrain rollout | octrain sweep only | autograd forward+loss | autograd backward "
      "only | "
      "rollout/forward | sweep/backward |\n");
  fmt::print("|---|---:|---:|---:|---:|---:|---:|\n");
  for (const auto& line : breakdown) fmt::print("{}", line);

  fmt::print("\nDiscrete-weight nets, batch 100, squared hinge:\n\n");
  fmt::print("| net | msa-discrete step | baseline | baseline step | msa-discrete/baseline |\n");
  fmt::print("|---|---:|---|---:|---:|\n");
  for (const auto& c : octrain::bench::discrete_net_cases()) {
    const auto kinds = octrain::bench::discrete_kinds(c);
    const double msa = reporter.median_ms(fmt::format("{}/{}", kinds[0].first, c.id));
    const double base = reporter.median_ms(fmt::format("{}/{}", kinds[1].first, c.id));
    if (std::isnan(msa) && std::isnan(base)) continue;  // filtered out
    fmt::print("| {} | {} | {} | {} | {} |\n", c.id, fmt_ms(msa), kinds[1].second, fmt_ms(base),
               fmt_ratio(msa, base));
  }
  if (summary) std::fclose(summary);
  return 0;
}
