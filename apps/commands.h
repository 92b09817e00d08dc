#pragma once

#include <CLI/CLI.hpp>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace octrain::app {

// Each subcommand registers itself on the app; its callback runs the command.
void add_train_command(CLI::App& app);
void add_compare_command(CLI::App& app);
void add_eval_command(CLI::App& app);
void add_export_command(CLI::App& app);
void add_predict_command(CLI::App& app);
void add_datasets_command(CLI::App& app);
void add_info_commands(CLI::App& app);  // version, methods, model
void add_meanfield_command(CLI::App& app);
void add_plot_command(CLI::App& app);
void add_report_command(CLI::App& app);
void add_bench_command(CLI::App& app);

// Draws the report of compare grids or runs into `out` and prints where it is; shared by `report`
// and the end of `compare`.
void write_report_for(const std::vector<std::string>& dirs, const std::string& out,
                      const std::string& title);

// Markdown table of a run's epoch records: the "result table" the CLI prints.
std::string epoch_table(const std::vector<nlohmann::json>& epochs);

}  // namespace octrain::app
