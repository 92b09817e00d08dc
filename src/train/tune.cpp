#include "octrain/train/tune.h"

#include <fmt/format.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <set>
#include <sstream>

#include "octrain/dist/communicator.h"
#include "octrain/dist/world.h"
#include "octrain/methods/registry.h"
#include "octrain/util/atomic_file.h"
#include "octrain/util/error.h"
#include "octrain/util/options.h"

namespace octrain::train {
namespace {

double parse_positive(const std::string& text, bool& ok) {
  char* end = nullptr;
  errno = 0;
  const double v = std::strtod(text.c_str(), &end);
  ok = ok && !text.empty() && *end == '\0' && errno == 0 && std::isfinite(v) && v > 0;
  return v;
}

double six_digits(double v) {
  return std::strtod(fmt::format("{:.6g}", v).c_str(), nullptr);
}

CompareEntry with_learning_rate(const TuneConfig& config, double lr) {
  CompareEntry entry = config.method;
  entry.options[config.lr_option] = fmt::format("{}", lr);  // shortest text that reads back
  entry.label = fmt::format("{} {}={}", config.method.label, config.lr_option, lr);
  return entry;
}

// What the selection maximises: validation accuracy, or minus the loss; NaN for a run without
// a validation result (diverged).
double figure(const CompareRow& row, bool by_accuracy) {
  return by_accuracy ? row.validation_accuracy_mean : -row.validation_loss_mean;
}

}  // namespace

std::vector<double> parse_lr_grid(const std::string& text, const std::string& where) {
  const std::string usage = fmt::format(
      "{} '{}': expected log:LO:HI:N (N ≥ 2 values from LO to HI, 0 < LO < HI) or a comma list "
      "of positive values",
      where, text);
  std::vector<double> values;
  if (text.rfind("log:", 0) == 0) {
    std::vector<std::string> parts;
    std::stringstream fields(text.substr(4));
    for (std::string part; std::getline(fields, part, ':');) parts.push_back(part);
    bool ok = parts.size() == 3;
    if (!ok) throw UsageError(usage);
    const double lo = parse_positive(parts[0], ok), hi = parse_positive(parts[1], ok);
    char* end = nullptr;
    const long n = std::strtol(parts[2].c_str(), &end, 10);
    if (!ok || parts[2].empty() || *end != '\0' || n < 2 || n > 10000 || !(lo < hi))
      throw UsageError(usage);
    for (long i = 0; i < n; ++i)
      values.push_back(six_digits(lo * std::pow(hi / lo, double(i) / double(n - 1))));
  } else {
    std::stringstream fields(text);
    bool ok = !text.empty();
    for (std::string part; std::getline(fields, part, ',');)
      values.push_back(parse_positive(part, ok));
    if (!ok) throw UsageError(usage);
  }
  std::set<double> seen;
  for (double v : values)
    if (!seen.insert(v).second)
      throw UsageError(fmt::format("{} '{}': {} appears twice", where, text, v));
  return values;
}

TuneResult run_tune(const TuneConfig& config, const CompareOptions& options) {
  const std::string& out = config.problem.base.out;
  if (out.empty()) throw UsageError("tune: needs an output directory (--out)");
  if (config.learning_rates.empty()) throw UsageError("tune: the learning-rate grid is empty");
  if (config.seeds < 1)
    throw UsageError(fmt::format("tune --seeds {}: expected ≥ 1", config.seeds));
  if (config.select != "auto" && config.select != "accuracy" && config.select != "loss")
    throw UsageError(
        fmt::format("tune --select '{}': expected auto, accuracy or loss", config.select));
  if (config.problem.base.validation_fraction <= 0)
    throw UsageError(
        "tune: settings are selected on a validation split, never on test; add "
        "--validation-fraction F (DeepOBS holds out 10 000 of 60 000 training images: 1/6)");
  const auto& catalogue = methods::method_catalogue();
  auto info = std::find_if(catalogue.begin(), catalogue.end(),
                           [&](const auto& i) { return i.name == config.method.method; });
  if (info == catalogue.end())
    throw UsageError(
        fmt::format("tune: unknown method '{}' (see 'octrain methods')", config.method.method));
  if (!info->schema.parse({}).to_map().count(config.lr_option))
    throw UsageError(fmt::format(
        "tune: method '{}' has no option '{}' to put on the grid (--lr-option names it; see "
        "'octrain methods')",
        config.method.method, config.lr_option));

  TuneResult result;
  CompareConfig grid = config.problem;
  grid.base.out = out + "/grid";
  grid.seeds = {0};
  grid.entries.clear();
  for (double lr : config.learning_rates) grid.entries.push_back(with_learning_rate(config, lr));
  const bool talk = !options.quiet && dist::world().rank() == 0;
  if (talk)
    fmt::print(options.out, "tune: {} values of {} with seed 0 → {}\n", grid.entries.size(),
               config.lr_option, grid.base.out);
  result.grid = run_compare(grid, options);

  const bool by_accuracy =
      config.select == "accuracy" ||
      (config.select == "auto" &&
       std::any_of(result.grid.begin(), result.grid.end(),
                   [](const CompareRow& r) { return std::isfinite(r.validation_accuracy_mean); }));
  result.selected_by = by_accuracy ? "validation accuracy" : "validation loss";
  // The first of equal figures wins: the smaller learning rate of a sorted grid.
  double best = std::nan("");
  for (size_t i = 0; i < result.grid.size(); ++i) {
    const double f = figure(result.grid[i], by_accuracy);
    if (std::isfinite(f) && !(f <= best)) best = f, result.best = i;
  }
  if (!std::isfinite(best))
    throw DivergenceError(fmt::format(
        "tune: no learning rate of the grid gave a {} (every run diverged); see {}/summary.md",
        result.selected_by, grid.base.out));
  result.best_lr = config.learning_rates[result.best];

  CompareConfig rerun = config.problem;
  rerun.base.out = out + "/best";
  rerun.seeds.clear();
  for (int64_t s = 0; s < config.seeds; ++s) rerun.seeds.push_back(uint64_t(s));
  rerun.entries = {with_learning_rate(config, result.best_lr)};
  if (talk)
    fmt::print(options.out, "tune: {}={} has the best final {}; seeds 0–{} → {}\n",
               config.lr_option, result.best_lr, result.selected_by, config.seeds - 1,
               rerun.base.out);
  result.rerun = run_compare(rerun, options).front();

  nlohmann::json grid_json = summary_json(result.grid, grid);
  for (size_t i = 0; i < config.learning_rates.size(); ++i)
    grid_json["methods"][i][config.lr_option] = config.learning_rates[i];
  const nlohmann::json summary = {{"method", config.method.label},
                                  {"lr_option", config.lr_option},
                                  {"selected_by", result.selected_by},
                                  {"best_lr", result.best_lr},
                                  {"seeds", config.seeds},
                                  {"grid", grid_json},
                                  {"best", summary_json({result.rerun}, rerun)}};
  if (dist::world().rank() == 0) {  // data-parallel: rank 0 writes, as compare does
    write_text_atomically(out + "/tune.json", summary.dump(2) + "\n");
    write_text_atomically(out + "/tune.md", tune_markdown(result, config));
  }
  return result;
}

std::string tune_markdown(const TuneResult& result, const TuneConfig& config) {
  const auto& base = config.problem.base;
  std::string md = fmt::format(
      "# tune {} on {} · {} · {} epochs · batch {}\n\n", config.method.label,
      base.problem.empty() ? base.dataset : base.problem, base.model, base.epochs, base.batch_size);
  md += fmt::format(
      "Protocol (DeepOBS): {} values of {} with seed 0, selected by the final {} (the test split "
      "takes no part); the selected value rerun with seeds 0–{}.\n\n",
      config.learning_rates.size(), config.lr_option, result.selected_by, config.seeds - 1);
  md += fmt::format("| {} | validation accuracy (%) | validation loss | |\n|---|---|---|---|\n",
                    config.lr_option);
  for (size_t i = 0; i < result.grid.size(); ++i) {
    const auto& r = result.grid[i];
    const std::string accuracy = std::isfinite(r.validation_accuracy_mean)
                                     ? fmt::format("{:.2f}", 100 * r.validation_accuracy_mean)
                                     : "–";
    const std::string loss =
        std::isfinite(r.validation_loss_mean) ? fmt::format("{:.4f}", r.validation_loss_mean) : "–";
    md += fmt::format("| {} | {} | {} | {} |\n", config.learning_rates[i], accuracy, loss,
                      i == result.best ? "**selected**"
                      : r.diverged     ? "diverged"
                                       : "");
  }
  const auto& b = result.rerun;
  md += fmt::format("\nSelected {}={}; over {} seeds: test accuracy ", config.lr_option,
                    result.best_lr, b.runs);
  md += std::isfinite(b.accuracy_mean)
            ? fmt::format("{:.2f} ± {:.2f} %", 100 * b.accuracy_mean, 100 * b.accuracy_std)
            : fmt::format("– (test loss {:.4f})", b.test_loss_mean);
  if (b.diverged) md += fmt::format(" ({} diverged)", b.diverged);
  if (!config.problem.target.empty()) {
    const auto& t = b.target;
    md += fmt::format("; time to {}: ", config.problem.target.describe());
    md += std::isfinite(t.median_seconds)
              ? fmt::format("{:.3g} s, {:.0f} steps (median over the seeds", t.median_seconds,
                            t.median_steps)
              : std::string("miss (the median over the seeds");
    md += fmt::format("; {}/{} reached it)", t.reached, t.runs);
  }
  md += ".\n";
  return md;
}

}  // namespace octrain::train
