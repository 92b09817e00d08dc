#pragma once

#include <CLI/CLI.hpp>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace octrain::deploy {
struct TrainedModel;
}

namespace octrain::app {

// Each subcommand registers itself on the app; its callback runs the command.
void add_train_command(CLI::App& app);
void add_compare_command(CLI::App& app);
void add_tune_command(CLI::App& app);
void add_eval_command(CLI::App& app);
void add_export_command(CLI::App& app);
void add_predict_command(CLI::App& app);
void add_datasets_command(CLI::App& app);
void add_info_commands(CLI::App& app);  // version, methods, model
void add_meanfield_command(CLI::App& app);
void add_plot_command(CLI::App& app);
void add_report_command(CLI::App& app);
void add_bench_command(CLI::App& app);

// "octrain 0.1.0 (git …) libtorch 1.13.0": `octrain version` and `octrain --version`.
std::string version_line();

// Refuses an unknown command word before CLI11 sees it (which would only say that a subcommand is
// required), naming the nearest command: UsageError "unknown command 'trian'; did you mean
// 'train'?".
void check_command_name(const CLI::App& app, int argc, const char* const* argv);

// Draws the report of compare grids or runs into `out` and prints where it is; shared by `report`
// and the end of `compare`.
// Single-run directories (or all, with `overlay`) are drawn together in one set of figures.
void write_report_for(const std::vector<std::string>& dirs, const std::string& out,
                      const std::string& title, bool overlay = false);

// --progress-every SECONDS (train, compare): plain progress lines when stdout is no terminal.
void add_progress_every_flag(CLI::App& command, double& seconds);
void check_progress_every(double seconds);  // UsageError unless ≥ 0

// deploy::check_data_unchanged for eval, predict and export: refuses a run whose data changed
// since training (exit 3) or, with `allow_changed` (--allow-changed-data), warns on stderr.
void check_run_data(const deploy::TrainedModel& model, bool allow_changed);

// Markdown table of a run's epoch records: the "result table" the CLI prints.
std::string epoch_table(const std::vector<nlohmann::json>& epochs);

}  // namespace octrain::app
