#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <set>

#include "commands.h"
#include "local_workers.h"
#include "octrain/train/trainer.h"
#include "octrain/util/error.h"
#include "run_flags.h"

namespace octrain::app {

std::string epoch_table(const std::vector<nlohmann::json>& epochs) {
  auto percent = [](const nlohmann::json& r, const char* key) {
    return r.contains(key) && r[key].is_number() ? fmt::format("{:.2f}", 100 * r[key].get<double>())
                                                 : "–";
  };
  auto real = [](const nlohmann::json& r, const char* key) {
    return r.contains(key) && r[key].is_number() ? fmt::format("{:.4f}", r[key].get<double>())
                                                 : "–";
  };
  std::string table =
      "| epoch | train loss | train acc (%) | test loss | test acc (%) | ms/step |\n";
  table += "|---:|---:|---:|---:|---:|---:|\n";
  for (const auto& r : epochs) {
    table += fmt::format("| {} | {} | {} | {} | {} | {:.3f} |\n", r.value("epoch", 0),
                         real(r, "train_loss"), percent(r, "train_accuracy"), real(r, "test_loss"),
                         percent(r, "test_accuracy"), r.value("mean_step_ms", 0.0));
  }
  return table;
}

void add_train_command(CLI::App& app) {
  auto* command = app.add_subcommand("train", "Train one model with one method");
  command->footer(
      "Examples:\n"
      "  octrain train -d fashion-mnist -m mlp:784-256-256-10:relu --method adam:lr=0.001 -e 3\n"
      "  octrain train -d wine -m mlp:13-32-32-32-32-3:tanh --method adam -e 100 -b 16\n"
      "  octrain train --config configs/wine-adam.toml --seed 3\n"
      "  octrain train --resume runs/wine-adam-s0-... --epochs 200");
  auto flags = std::make_shared<RunFlags>();
  flags->add_to(*command, true);
  auto resume = std::make_shared<std::string>();
  auto quiet = std::make_shared<bool>(false);
  auto workers = std::make_shared<WorkerFlags>();
  workers->add_to(*command);
  command->add_option("--resume", *resume,
                      "continue the run in this directory from its checkpoint");
  command->add_flag("--quiet,-q", *quiet, "no progress output; only the result table");
  auto skip_damaged = std::make_shared<bool>(false);
  command->add_flag("--skip-damaged-metrics", *skip_damaged,
                    "with --resume: drop unreadable metrics.jsonl lines (with a notice) instead "
                    "of refusing the run");
  command->callback([flags, resume, quiet, workers, skip_damaged] {
    if (workers->run_as_workers()) return;
    train::RunConfig config;
    train::RunOptions options;
    if (!resume->empty()) {
      if (!flags->config_file().empty())
        throw UsageError("--resume and --config cannot be combined");
      const std::string config_file = *resume + "/config.toml";
      if (!std::filesystem::exists(config_file))
        throw UsageError(
            fmt::format("--resume {}: no config.toml there; is it a run directory?", *resume));
      config.merge_toml_file(config_file);
      options.resume = true;
      // Only settings that leave the numbers of the resumed run unchanged may differ.
      static const std::set<std::string> resumable = {
          "epochs",        "threads",          "device",        "eval_every",
          "log_every",     "checkpoint_every", "on_divergence", "rollback_factor",
          "max_rollbacks", "diagnostics_every"};
      for (const auto& key : flags->given()) {
        if (resumable.count(key)) continue;
        std::string flag = key;
        std::replace(flag.begin(), flag.end(), '_', '-');
        throw UsageError(fmt::format(
            "--resume {}: --{} would change the run it continues; only --epochs, --threads, "
            "--device, --eval-every, --log-every, --diagnostics, --checkpoint-every and the "
            "divergence "
            "policy "
            "may be given",
            *resume, flag));
      }
    } else if (!flags->config_file().empty()) {
      config.merge_toml_file(flags->config_file(), flags->profile());
    }
    flags->apply(config);
    if (options.resume) config.out = *resume;
    options.quiet = *quiet;
    options.skip_damaged_metrics = *skip_damaged;
    const auto result = train::run_training(config, options);
    if (!prints_results()) return;
    fmt::print("\n{}\n", epoch_table(result.epochs));
    if (!std::isnan(result.test.accuracy))
      fmt::print("test accuracy {:.2f}%  test loss {:.4f}  ({} test samples)\n",
                 100 * result.test.accuracy, result.test.loss, result.test.samples);
    else
      fmt::print("test loss {:.6f}  ({} test samples)\n", result.test.loss, result.test.samples);
    fmt::print("run directory: {}\n", result.run_dir);
  });
}

}  // namespace octrain::app
