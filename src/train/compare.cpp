#include "octrain/train/compare.h"

#include <fmt/format.h>
#include <toml++/toml.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <set>

#include "octrain/control/model_builder.h"
#include "octrain/dist/communicator.h"
#include "octrain/dist/world.h"
#include "octrain/methods/registry.h"
#include "octrain/train/memory_estimate.h"
#include "octrain/train/metrics_reader.h"
#include "octrain/train/progress.h"
#include "octrain/train/reference_table.h"
#include "octrain/train/run_exports.h"
#include "octrain/train/trainer.h"
#include "octrain/util/atomic_file.h"
#include "octrain/util/config_profile.h"
#include "octrain/util/error.h"
#include "octrain/util/file_name.h"
#include "octrain/util/options.h"
#include "octrain/util/toml_options.h"

namespace octrain::train {
namespace {

std::pair<double, double> mean_std(const std::vector<double>& v) {
  if (v.empty()) return {std::nan(""), std::nan("")};
  double mean = 0;
  for (double x : v) mean += x;
  mean /= double(v.size());
  double var = 0;
  for (double x : v) var += (x - mean) * (x - mean);
  return {mean, v.size() > 1 ? std::sqrt(var / double(v.size() - 1)) : 0.0};
}

// A key of a [[run]] table: a run setting (RunConfig key) or a method option. Keys that change
// the data (or name the grid's own folders and seeds) are refused: the grid loads its data once
// and compares every entry on the same samples.
void place_run_key(CompareEntry& entry, const std::string& name, const std::string& value,
                   const std::string& where) {
  static const std::set<std::string> grid_wide = {
      "dataset", "data_seed", "test_fraction", "validation_fraction", "train_limit", "test_limit",
      "seed",    "out",       "method"};
  const auto& keys = RunConfig::keys();
  if (std::find(keys.begin(), keys.end(), name) == keys.end()) {
    entry.options[name] = value;
    return;
  }
  if (grid_wide.count(name))
    throw UsageError(fmt::format("{}: '{}' is set for the whole grid (at the top level{})", where,
                                 name, name == "seed" ? ", as 'seeds'" : ""));
  RunConfig probe;
  try {
    probe.set(name, value);
  } catch (const UsageError& e) {
    throw UsageError(where + ": " + e.what());
  }
  entry.settings[name] = value;
}

}  // namespace

void CompareConfig::add_method_spec(const std::string& spec) {
  const auto named = parse_named_spec(spec);
  entries.push_back({spec, named.name, named.options, {}});
}

void CompareConfig::merge_toml_file(const std::string& path, const std::string& profile_name) {
  const toml::table doc = read_config_profile(path, profile_name);
  source = path;
  profile = profile_name;
  for (const auto& [key, node] : doc) {
    const std::string name(key.str());
    if (name == "seeds") {
      auto* list = node.as_array();
      if (!list || list->empty())
        throw UsageError(path + ": 'seeds' must be a non-empty array of integers");
      seeds.clear();
      for (const auto& s : *list) {
        auto v = s.value_exact<int64_t>();
        if (!v || *v < 0) throw UsageError(path + ": 'seeds' must hold non-negative integers");
        seeds.push_back(uint64_t(*v));
      }
    } else if (name == "target") {
      auto value = node.value_exact<std::string>();
      if (!value)
        throw UsageError(path + ": 'target' must be a string \"accuracy=V\" or \"loss=V\"");
      target = Target::parse(*value, path + ": 'target'");
    } else if (name == "reference") {
      auto value = node.value_exact<std::string>();
      if (!value) throw UsageError(path + ": 'reference' must be a string \"TABLE:ROW\"");
      reference = *value;
    } else if (name == "run") {
      auto* runs = node.as_array();
      if (!runs) throw UsageError(path + ": 'run' must be an array of tables ([[run]])");
      for (size_t i = 0; i < runs->size(); ++i) {
        auto* table = runs->get(i)->as_table();
        if (!table) throw UsageError(fmt::format("{}: run {} is not a table", path, i));
        const std::string where = fmt::format("{}: run {}", path, i);
        // Scalars as they are; an array of scalars is a sweep: one run per value (several
        // arrays: every combination, in key order).
        std::map<std::string, std::string> options;
        std::vector<std::pair<std::string, std::vector<std::string>>> sweeps;
        for (const auto& [key, value] : *table) {
          const std::string name(key.str());
          if (auto* list = value.as_array()) {
            if (list->empty() || name == "method" || name == "label")
              throw UsageError(
                  fmt::format("{}: '{}' must be {}", where, name,
                              list->empty() ? "a non-empty array of values" : "a single value"));
            std::vector<std::string> values;
            for (const auto& v : *list)
              values.push_back(toml_scalar_text(v, fmt::format("{}: '{}'", where, name)));
            sweeps.emplace_back(name, values);
          } else {
            options[name] = toml_scalar_text(value, fmt::format("{}: '{}'", where, name));
          }
        }
        if (!options.count("method")) throw UsageError(where + " has no 'method'");
        const std::string method = options["method"];
        options.erase("method");
        std::string label;
        if (options.count("label")) label = options["label"], options.erase("label");
        std::vector<size_t> at(sweeps.size(), 0);
        while (true) {
          CompareEntry entry{"", method, {}, {}};
          std::vector<std::string> swept;
          for (const auto& [name, value] : options) place_run_key(entry, name, value, where);
          for (size_t k = 0; k < sweeps.size(); ++k) {
            place_run_key(entry, sweeps[k].first, sweeps[k].second[at[k]], where);
            swept.push_back(sweeps[k].first + "=" + sweeps[k].second[at[k]]);
          }
          std::vector<std::string> settings;
          for (const auto& [name, value] : entry.settings) settings.push_back(name + "=" + value);
          entry.label =
              !label.empty()
                  ? (swept.empty() ? label : label + " " + fmt::format("{}", fmt::join(swept, ",")))
              : settings.empty()
                  ? NamedSpec{entry.method, entry.options}.to_string()
                  : fmt::format("{} {}", NamedSpec{entry.method, entry.options}.to_string(),
                                fmt::join(settings, ","));
          entries.push_back(entry);
          size_t k = sweeps.size();
          while (k > 0 && ++at[k - 1] == sweeps[k - 1].second.size()) at[--k] = 0;
          if (k == 0) break;
        }
      }
    } else {
      try {
        base.set(name, toml_scalar_text(node, path + ": '" + name + "'"));
      } catch (const UsageError& e) {
        throw UsageError(path + ": " + e.what());
      }
    }
  }
}

std::string CompareConfig::reference_directory() const {
  if (!references_dir.empty()) return references_dir;
  if (!source.empty()) {
    const auto beside = std::filesystem::path(source).parent_path() / "references";
    if (std::filesystem::is_directory(beside)) return beside.string();
  }
  return "configs/references";
}

namespace {

// The grid's description for `octrain report`: labels map to directories losslessly here,
// whereas safe_file_name() is not invertible.
nlohmann::json experiment_manifest(const CompareConfig& config) {
  nlohmann::json entries = nlohmann::json::array();
  for (const auto& entry : config.entries)
    entries.push_back({{"label", entry.label},
                       {"method", entry.method},
                       {"settings", entry.settings},
                       {"dir", safe_file_name(entry.label)}});
  nlohmann::json manifest = {{"config", config.source},
                             {"profile", config.profile},
                             {"dataset", config.base.dataset},
                             {"model", config.base.model},
                             {"epochs", config.base.epochs},
                             {"batch_size", config.base.batch_size},
                             {"train_limit", config.base.train_limit},
                             {"seeds", config.seeds},
                             {"entries", entries}};
  if (!config.reference.empty())
    manifest["reference"] =
        find_reference(config.reference_directory(), config.reference).to_json();
  return manifest;
}

}  // namespace

namespace {

// What --resume finds in a run's directory.
enum class RunState { kMissing, kInterrupted, kFinished, kDiverged };

bool run_finished(const nlohmann::json& result, int64_t epochs) {
  return result.value("epochs", int64_t(-1)) == epochs || result.value("stopped_early", false);
}

nlohmann::json read_json(const std::string& path) {
  std::ifstream in(path);
  try {
    return nlohmann::json::parse(in);
  } catch (const nlohmann::json::exception& e) {
    throw DataError(fmt::format("{}: not valid JSON ({})", path, e.what()));
  }
}

RunState run_state(const RunConfig& run) {
  namespace fs = std::filesystem;
  if (!fs::exists(run.out + "/config.toml")) return RunState::kMissing;
  RunConfig saved;
  saved.merge_toml_file(run.out + "/config.toml");
  const std::string difference = saved.first_difference(run);
  if (!difference.empty())
    throw UsageError(fmt::format(
        "compare --resume: {} was run with {}, which this grid changes; choose another --out",
        run.out, difference));
  if (fs::exists(run.out + "/result.json") &&
      run_finished(read_json(run.out + "/result.json"), run.epochs))
    return RunState::kFinished;
  if (fs::exists(run.out + "/metrics.jsonl")) {
    const auto records = read_metrics(run.out + "/metrics.jsonl");
    if (!records.empty() && records.back().value("kind", "") == "divergence")
      return RunState::kDiverged;
  }
  return fs::exists(run.out + "/checkpoint.pt") ? RunState::kInterrupted : RunState::kMissing;
}

// Rank 0's value on every rank (it alone may see the output directory).
int from_rank0(int value) {
  auto& world = dist::world();
  if (!world.distributed()) return value;
  std::vector<double> v{world.rank() == 0 ? double(value) : 0.0};
  world.all_reduce_sum(v);
  return int(v[0]);
}

bool non_empty_directory(const std::string& dir) {
  std::error_code ec;
  return std::filesystem::is_directory(dir, ec) &&
         std::filesystem::directory_iterator(dir, ec) != std::filesystem::directory_iterator();
}

}  // namespace

std::vector<CompareRow> run_compare(const CompareConfig& config, const CompareOptions& options) {
  std::FILE* out = options.out;
  const bool quiet = options.quiet;
  if (config.entries.empty())
    throw UsageError("compare: no methods given (--methods or [[run]] tables)");
  if (config.base.out.empty()) throw UsageError("compare: needs an output directory (--out)");
  config.base.validate();
  if (!config.target.empty() && config.base.validation_fraction <= 0)
    throw UsageError(fmt::format(
        "compare --target {}: the target is a validation figure; add --validation-fraction F",
        config.target.to_string()));
  // Every entry is checked before the first run, so a typo in the last one costs nothing.
  std::set<std::string> directories;
  std::vector<std::map<std::string, std::string>> resolved;  // every option, as the run records it
  for (const auto& entry : config.entries) {
    const auto& catalogue = methods::method_catalogue();
    auto info = std::find_if(catalogue.begin(), catalogue.end(),
                             [&](const auto& i) { return i.name == entry.method; });
    if (info == catalogue.end())
      throw UsageError(fmt::format("compare: unknown method '{}' in '{}' (see 'octrain methods')",
                                   entry.method, entry.label));
    resolved.push_back(info->schema.parse(entry.options).to_map());
    if (!directories.insert(safe_file_name(entry.label)).second)
      throw UsageError(fmt::format(
          "compare: two methods are labelled '{}'; give them distinct labels", entry.label));
  }
  const auto manifest = experiment_manifest(config);  // resolves the reference before any run
  std::map<uint64_t, data::Dataset> datasets;         // one load per split seed
  {
    // Every run's memory estimate is checked before the first run, on the first seed's data.
    RunConfig first = config.base;
    first.seed = config.seeds.empty() ? 0 : config.seeds.front();
    const auto& data =
        datasets
            .emplace(first.split_seed(), data::load_dataset(first.dataset, load_options_for(first)))
            .first->second;
    const auto plan = control::plan_network(config.base.model, data.input_shape);
    const int64_t batch = std::min(config.base.batch_size, data.train.size());
    const auto available = available_memory();
    for (const auto& entry : config.entries)
      check_memory(estimate_memory(*plan, entry.method, entry.options, batch), available,
                   fmt::format("compare: '{}' (model '{}' at batch {})", entry.label,
                               config.base.model, batch));
  }
  const bool writer = dist::world().rank() == 0;  // data-parallel: rank 0 writes
  if (!options.resume && from_rank0(writer && non_empty_directory(config.base.out)))
    throw UsageError(fmt::format(
        "compare: {} is not empty; pass --resume to skip its finished runs and finish the "
        "interrupted ones, or choose another --out",
        config.base.out));
  if (writer) {
    std::filesystem::create_directories(config.base.out);
    write_text_atomically(config.base.out + "/experiment.json", manifest.dump(2) + "\n");
  }
  std::vector<CompareRow> rows;
  const int64_t total = int64_t(config.entries.size() * config.seeds.size());
  int64_t index = 0, trained = 0;
  double trained_seconds = 0;
  for (size_t e = 0; e < config.entries.size(); ++e) {
    const auto& entry = config.entries[e];
    CompareRow row;
    row.label = entry.label;
    std::vector<double> accuracies, train_losses, test_losses, step_ms, val_acc, val_loss;
    std::vector<TargetHit> hits;
    for (uint64_t seed : config.seeds) {
      ++index;
      RunConfig run = config.base;
      run.seed = seed;
      run.method = entry.method;
      run.method_options = entry.options;
      for (const auto& [name, value] : entry.settings) run.set(name, value);
      run.out = fmt::format("{}/{}/seed-{}", config.base.out, safe_file_name(entry.label), seed);
      const std::string where = fmt::format("[{}/{}] {} seed {}", index, total, entry.label, seed);
      RunState state = RunState::kMissing;
      if (options.resume) {
        RunConfig as_recorded = run;
        as_recorded.method_options = resolved[e];
        state = RunState(from_rank0(writer ? int(run_state(as_recorded)) : 0));
      }
      ++row.runs;
      auto record = [&](double acc, double train_loss, double test_loss, double ms, double va,
                        double vl) {
        accuracies.push_back(acc);
        train_losses.push_back(train_loss);
        test_losses.push_back(test_loss);
        step_ms.push_back(ms);
        if (std::isfinite(vl)) val_acc.push_back(va), val_loss.push_back(vl);
      };
      // Every run counts towards the target, a diverged one with the epochs it finished; its
      // DeepOBS file also goes into OUT/deepobs/, the tree DeepOBS's analyser reads.
      auto note_run = [&] {
        if (writer && !config.target.empty())
          hits.push_back(time_to_target(read_metrics(run.out + "/metrics.jsonl"), config.target));
        const std::string run_file = run.out + "/deepobs_run.json";
        if (writer && ExportFormats::parse(run.export_format).deepobs &&
            std::filesystem::exists(run_file)) {
          const std::string copy =
              config.base.out + "/deepobs/" + deepobs_results_path(run, entry.label);
          std::filesystem::create_directories(std::filesystem::path(copy).parent_path());
          std::ifstream in(run_file);
          write_text_atomically(copy, std::string(std::istreambuf_iterator<char>(in), {}));
        }
      };
      auto number = [](const nlohmann::json& j, const char* key) {
        return j.contains(key) && j[key].is_number() ? j[key].get<double>() : std::nan("");
      };
      if (state == RunState::kDiverged) {
        ++row.diverged;
        if (!quiet) fmt::print(out, "{}: diverged before (kept)\n", where);
        note_run();
        continue;
      }
      if (state == RunState::kFinished) {
        if (writer) {
          const auto r = read_json(run.out + "/result.json");
          record(number(r, "test_accuracy"), number(r, "final_train_loss"), number(r, "test_loss"),
                 number(r, "mean_step_ms"), number(r, "validation_accuracy"),
                 number(r, "validation_loss"));
        }
        if (!quiet) fmt::print(out, "{}: finished before (kept)\n", where);
        note_run();
        continue;
      }
      if (writer && state == RunState::kMissing)
        std::filesystem::remove_all(run.out);  // the remains of a run that never checkpointed
      auto it = datasets.find(run.split_seed());
      if (it == datasets.end())
        it = datasets
                 .emplace(run.split_seed(), data::load_dataset(run.dataset, load_options_for(run)))
                 .first;
      RunOptions run_options;
      run_options.resume = state == RunState::kInterrupted;
      run_options.dataset = &it->second;
      run_options.out = out;
      run_options.progress.quiet = quiet;
      run_options.progress.run_lines = false;
      run_options.progress.plain_every = options.progress_every;
      run_options.progress.terminal = options.terminal;
      run_options.progress.prefix = where;
      run_options.progress.runs_after = total - index;
      run_options.progress.seconds_per_run = trained ? trained_seconds / double(trained) : -1;
      run_options.resume_hint = "the same octrain compare command with --resume";
      const auto started = std::chrono::steady_clock::now();
      try {
        const auto result = run_training(run, run_options);
        record(result.test.accuracy, result.final_train_loss, result.test.loss, result.mean_step_ms,
               result.validation.accuracy,
               result.validation.samples > 0 ? result.validation.loss : std::nan(""));
        const double seconds =
            std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
        ++trained, trained_seconds += seconds;
        if (!quiet) {
          std::string text =
              fmt::format("{}  {}  train loss {:.4f}", where,
                          std::isnan(result.test.accuracy)
                              ? fmt::format("test loss {:.4f}", result.test.loss)
                              : fmt::format("test acc {:6.2f}%", 100 * result.test.accuracy),
                          result.final_train_loss);
          if (result.validation.samples > 0)
            text += std::isnan(result.validation.accuracy)
                        ? fmt::format("  val loss {:.4f}", result.validation.loss)
                        : fmt::format("  val acc {:6.2f}%", 100 * result.validation.accuracy);
          text +=
              fmt::format("  {:.3f} ms/step  {}", result.mean_step_ms, format_duration(seconds));
          fmt::print(out, "{}\n", text);
        }
      } catch (const DivergenceError& e) {
        ++row.diverged;
        if (!quiet) fmt::print(out, "{}  diverged: {}\n", where, e.what());
      }
      note_run();
      std::fflush(out);
    }
    row.finished = int64_t(accuracies.size());
    std::tie(row.accuracy_mean, row.accuracy_std) = mean_std(accuracies);
    std::tie(row.train_loss_mean, row.train_loss_std) = mean_std(train_losses);
    row.test_loss_mean = mean_std(test_losses).first;
    row.step_ms_mean = mean_std(step_ms).first;
    std::tie(row.validation_accuracy_mean, row.validation_accuracy_std) = mean_std(val_acc);
    std::tie(row.validation_loss_mean, row.validation_loss_std) = mean_std(val_loss);
    row.validated = int64_t(val_loss.size());
    row.target = summarise_hits(hits);
    rows.push_back(row);
  }
  const bool targeted = !config.target.empty();
  std::string csv =
      "method,runs,diverged,test_accuracy_mean,test_accuracy_std,train_loss_mean,train_loss_std,"
      "test_loss_mean,step_ms_mean,validation_accuracy_mean,validation_loss_mean";
  csv += targeted ? ",target_reached,target_seconds_median,target_steps_median\n" : "\n";
  for (const auto& r : rows) {
    csv += fmt::format("\"{}\",{},{},{:.6f},{:.6f},{:.6f},{:.6f},{:.6f},{:.4f},{:.6f},{:.6f}",
                       r.label, r.runs, r.diverged, r.accuracy_mean, r.accuracy_std,
                       r.train_loss_mean, r.train_loss_std, r.test_loss_mean, r.step_ms_mean,
                       r.validation_accuracy_mean, r.validation_loss_mean);
    csv += targeted ? fmt::format(",{},{:.6f},{}\n", r.target.reached, r.target.median_seconds,
                                  r.target.median_steps)
                    : "\n";
  }
  if (writer) {
    write_text_atomically(config.base.out + "/summary.json",
                          summary_json(rows, config).dump(2) + "\n");
    write_text_atomically(config.base.out + "/summary.csv", csv);
    write_text_atomically(config.base.out + "/summary.md", summary_markdown(rows, config));
  }
  return rows;
}

namespace {

// "85.20 ± 1.03", or "85.20 (n=1)" where one value leaves no spread to show.
std::string mean_spread(double mean, double std, int64_t n, double scale, int digits) {
  if (std::isnan(mean)) return "–";
  if (n < 2) return fmt::format("{:.{}f} (n={})", scale * mean, digits, n);
  return fmt::format("{:.{}f} ± {:.{}f}", scale * mean, digits, scale * std, digits);
}

// Medians over seeds, or "miss" (time_to_target.h): seconds to 3 significant digits (a quick
// run's are fractions of a second), steps whole.
std::string format_median_seconds(double seconds) {
  if (!std::isfinite(seconds)) return "miss";
  return seconds < 1000 ? fmt::format("{:.3g}", seconds) : fmt::format("{:.0f}", seconds);
}

std::string format_median_steps(double steps) {
  return std::isfinite(steps) ? fmt::format("{:.0f}", steps) : "miss";
}

}  // namespace

std::string summary_markdown(const std::vector<CompareRow>& rows, const CompareConfig& config) {
  std::vector<std::string> seeds;
  for (auto s : config.seeds) seeds.push_back(std::to_string(s));
  std::string md = fmt::format("# {} · {} · {} epochs · batch {} · seeds {}\n\n",
                               config.base.dataset, config.base.model, config.base.epochs,
                               config.base.batch_size, fmt::join(seeds, ","));
  const bool validated =
      std::any_of(rows.begin(), rows.end(), [](const CompareRow& r) { return r.validated > 0; });
  const bool classes = std::any_of(
      rows.begin(), rows.end(), [](const CompareRow& r) { return !std::isnan(r.accuracy_mean); });
  const bool targeted = !config.target.empty();
  if (targeted)
    md += fmt::format(
        "Target: {}. Time to target: training time (steps only, no evaluation) to the first "
        "evaluation that reaches it; steps likewise; median over the seeds with a miss counted "
        "as infinite (\"miss\": half the runs or more never reached it).\n\n",
        config.target.describe());
  md += "| method |";
  if (validated) md += classes ? " validation accuracy (%) |" : " validation loss |";
  md += " test accuracy (%) | final train loss | test loss | step (ms) |";
  if (targeted) md += " time to target (s) | steps to target | reached |";
  md += " runs |\n|---|---|---|---|---|---|";
  if (validated) md += "---|";
  if (targeted) md += "---|---|---|";
  md += "\n";
  for (const auto& r : rows) {
    const std::string runs =
        r.diverged ? fmt::format("{} ({} diverged)", r.runs, r.diverged) : std::to_string(r.runs);
    md += fmt::format("| {} |", r.label);
    if (validated)
      md += " " +
            (classes
                 ? mean_spread(r.validation_accuracy_mean, r.validation_accuracy_std, r.validated,
                               100, 2)
                 : mean_spread(r.validation_loss_mean, r.validation_loss_std, r.validated, 1, 4)) +
            " |";
    md += fmt::format(" {} | {} | {:.4f} | {:.3f} |",
                      mean_spread(r.accuracy_mean, r.accuracy_std, r.finished, 100, 2),
                      mean_spread(r.train_loss_mean, r.train_loss_std, r.finished, 1, 4),
                      r.test_loss_mean, r.step_ms_mean);
    if (targeted)
      md +=
          fmt::format(" {} | {} | {}/{} |", format_median_seconds(r.target.median_seconds),
                      format_median_steps(r.target.median_steps), r.target.reached, r.target.runs);
    md += fmt::format(" {} |\n", runs);
  }
  return md;
}

nlohmann::json summary_json(const std::vector<CompareRow>& rows, const CompareConfig& config) {
  auto finite = [](double v) { return std::isfinite(v) ? nlohmann::json(v) : nlohmann::json(); };
  nlohmann::json methods = nlohmann::json::array();
  for (const auto& r : rows) {
    nlohmann::json row = {{"label", r.label},
                          {"runs", r.runs},
                          {"diverged", r.diverged},
                          {"finished", r.finished},
                          {"test_accuracy_mean", finite(r.accuracy_mean)},
                          {"test_accuracy_std", finite(r.accuracy_std)},
                          {"test_loss_mean", finite(r.test_loss_mean)},
                          {"final_train_loss_mean", finite(r.train_loss_mean)},
                          {"validation_accuracy_mean", finite(r.validation_accuracy_mean)},
                          {"validation_loss_mean", finite(r.validation_loss_mean)},
                          {"step_ms_mean", finite(r.step_ms_mean)}};
    if (!config.target.empty()) row["time_to_target"] = r.target.to_json();
    methods.push_back(row);
  }
  nlohmann::json summary = {
      {"dataset", config.base.dataset}, {"model", config.base.model},
      {"epochs", config.base.epochs},   {"batch_size", config.base.batch_size},
      {"seeds", config.seeds},          {"methods", methods}};
  if (!config.target.empty()) summary["target"] = config.target.to_string();
  return summary;
}

}  // namespace octrain::train
