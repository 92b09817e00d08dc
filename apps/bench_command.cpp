#include <fmt/format.h>

#include "commands.h"
#include "octrain/perf/performance_suite.h"
#include "octrain/util/atomic_file.h"
#include "octrain/util/error.h"

namespace octrain::app {

void add_bench_command(CLI::App& app) {
  auto* command = app.add_subcommand(
      "bench", "Performance suite: step time of every method against Adam, GFLOP/s, scaling");
  command->footer(
      "Example:\n"
      "  octrain bench --quick --out bench.md          (a few minutes on 2 cores)\n"
      "  octrain bench --filter 'cnn4/' --threads 2    (one net, every method)\n"
      "  octrain bench --device cuda --nets gpu --batches 128,1024 --no-scaling");
  auto options = std::make_shared<perf::SuiteOptions>();
  auto out = std::make_shared<std::string>();
  command->add_flag("--quick", options->quick, "fewer, shorter repetitions and scaling points");
  command
      ->add_option("--filter", options->filter,
                   "regex searched in NET/METHOD, e.g. 'mlp784/' or '/(adam|emsa)$'")
      ->type_name("REGEX");
  command->add_option("--threads,-j", options->threads, "compute threads (default 1)")
      ->check(CLI::Range(1, 1024));
  command
      ->add_option("--repetitions", options->repetitions,
                   "interleaved repetitions (default 3 with --quick, else 7)")
      ->check(CLI::Range(1, 1000));
  command
      ->add_option("--min-time", options->min_seconds,
                   "seconds per workload per repetition (default 0.05 with --quick, else 0.3)")
      ->check(CLI::Range(0.0, 60.0));
  command->add_flag(
      "--no-scaling", [options](int64_t) { options->scaling = false; },
      "skip the batch-size and depth scaling of Adam");
  command->add_option("--device", options->device, "cpu | cuda | cuda:N (default cpu)")
      ->type_name("DEVICE");
  command
      ->add_option("--nets", options->nets,
                   "standard (the papers' small nets) | gpu (mlp784, cnn4, bmlp:784-2048x3-10, "
                   "a CIFAR-size CNN)")
      ->type_name("SET")
      ->check(CLI::IsMember({"standard", "gpu"}));
  command
      ->add_option("--batches", options->batches,
                   "every net at these batch sizes, e.g. --batches 128,1024")
      ->delimiter(',')
      ->check(CLI::Range(int64_t(1), int64_t(1) << 20));
  command->add_option("--out,-o", *out, "also write the Markdown tables to this file")
      ->type_name("FILE");
  command->callback([options, out] {
    const std::string md = perf::run_performance_suite(*options, stderr);
    fmt::print("{}", md);
    if (!out->empty()) write_text_atomically(*out, md);
  });
}

}  // namespace octrain::app
