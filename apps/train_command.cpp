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
  const bool validated = std::any_of(epochs.begin(), epochs.end(), [](const nlohmann::json& r) {
    return r.contains("validation_loss");
  });
  std::string table = "| epoch | train loss | train acc (%) |";
  if (validated) table += " val loss | val acc (%) |";
  table += " test loss | test acc (%) | ms/step |\n";
  table += validated ? "|---:|---:|---:|---:|---:|---:|---:|---:|\n"
                     : "|---:|---:|---:|---:|---:|---:|\n";
  for (const auto& r : epochs) {
    table += fmt::format("| {} | {} | {} |", r.value("epoch", 0), real(r, "train_loss"),
                         percent(r, "train_accuracy"));
    if (validated)
      table +=
          fmt::format(" {} | {} |", real(r, "validation_loss"), percent(r, "validation_accuracy"));
    table += fmt::format(" {} | {} | {:.3f} |\n", real(r, "test_loss"), percent(r, "test_accuracy"),
                         r.value("mean_step_ms", 0.0));
  }
  return table;
}

void add_train_command(CLI::App& app) {
  auto* command = app.add_subcommand("train", "Train one model with one method");
  command->footer(
      "Examples:\n"
      "  octrain train -d fashion-mnist -m mlp:784-256-256-10:relu --method adam:lr=0.001 -e 3\n"
      "  octrain train -d wine -m mlp:13-32-32-32-32-3:tanh --method adam -e 100 -b 16\n"
      "  octrain train --config configs/fashion-mnist-adam.toml --seed 3\n"
      "  octrain train --resume runs/wine-adam-s0-... --epochs 200");
  auto flags = std::make_shared<RunFlags>();
  flags->add_to(*command, true);
  auto resume = std::make_shared<std::string>();
  auto quiet = std::make_shared<bool>(false);
  auto workers = std::make_shared<WorkerFlags>();
  workers->add_to(*command);
  command->add_option("--resume", *resume, "continue the run in this directory from its checkpoint")
      ->type_name("DIR");
  command->add_flag("--quiet,-q", *quiet, "no progress output; only the final result");
  auto table = std::make_shared<bool>(false);
  command->add_flag("--table", *table,
                    "print the epochs as a Markdown table at the end (epochs.csv holds them too)");
  auto progress_every = std::make_shared<double>(5.0);
  add_progress_every_flag(*command, *progress_every);
  auto skip_damaged = std::make_shared<bool>(false);
  command->add_flag("--skip-damaged-metrics", *skip_damaged,
                    "with --resume: drop unreadable metrics.jsonl lines (with a notice) instead "
                    "of refusing the run");
  command->callback([flags, resume, quiet, table, progress_every, workers, skip_damaged] {
    if (workers->run_as_workers()) return;
    check_progress_every(*progress_every);
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
      const auto& resumable = train::RunConfig::resumable_keys();
      for (const auto& key : flags->given()) {
        if (std::find(resumable.begin(), resumable.end(), key) != resumable.end()) continue;
        std::string flag = key;
        std::replace(flag.begin(), flag.end(), '_', '-');
        throw UsageError(fmt::format(
            "--resume {}: --{} would change the run it continues; only --epochs, --threads, "
            "--device, --eval-every, --log-every, --diagnostics, --checkpoint-every, "
            "--early-stop and the divergence policy may be given",
            *resume, flag));
      }
    } else if (!flags->config_file().empty()) {
      config.merge_toml_file(flags->config_file(), flags->profile());
    }
    flags->apply(config);
    if (options.resume) config.out = *resume;
    options.quiet = *quiet;
    options.progress.plain_every = *progress_every;
    options.skip_damaged_metrics = *skip_damaged;
    const auto result = train::run_training(config, options);
    if (!prints_results()) return;
    if (*table) fmt::print("\n{}\n", epoch_table(result.epochs));
    auto figures = [](const char* split, const train::Evaluation& e) {
      return std::isnan(e.accuracy) ? fmt::format("{} loss {:.6f}", split, e.loss)
                                    : fmt::format("{0} accuracy {1:.2f}%  {0} loss {2:.4f}", split,
                                                  100 * e.accuracy, e.loss);
    };
    if (result.validation.samples > 0)
      fmt::print("{}  ({} validation samples)\n", figures("validation", result.validation),
                 result.validation.samples);
    fmt::print("{}  ({} test samples)\n", figures("test", result.test), result.test.samples);
    if (result.best_epoch > 0)
      fmt::print("best validation at epoch {}: {}{}\n", result.best_epoch,
                 figures("test", result.best_test),
                 std::filesystem::exists(result.run_dir + "/best.pt") ? "  (best.pt)" : "");
    fmt::print("run directory: {}\n", result.run_dir);
  });
}

}  // namespace octrain::app
