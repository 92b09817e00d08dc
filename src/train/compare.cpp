#include "octrain/train/compare.h"

#include <fmt/format.h>
#include <toml++/toml.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <set>

#include "octrain/dist/communicator.h"
#include "octrain/dist/world.h"
#include "octrain/methods/registry.h"
#include "octrain/train/reference_table.h"
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

}  // namespace

void CompareConfig::add_method_spec(const std::string& spec) {
  const auto named = parse_named_spec(spec);
  entries.push_back({spec, named.name, named.options});
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
        auto options = toml_table_options(*table, fmt::format("{}: run {}", path, i));
        if (!options.count("method"))
          throw UsageError(fmt::format("{}: run {} has no 'method'", path, i));
        CompareEntry entry{"", options["method"], {}};
        options.erase("method");
        if (options.count("label")) entry.label = options["label"], options.erase("label");
        entry.options = options;
        if (entry.label.empty()) entry.label = NamedSpec{entry.method, entry.options}.to_string();
        entries.push_back(entry);
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
    entries.push_back(
        {{"label", entry.label}, {"method", entry.method}, {"dir", safe_file_name(entry.label)}});
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

std::vector<CompareRow> run_compare(const CompareConfig& config, bool quiet, std::FILE* out) {
  if (config.entries.empty())
    throw UsageError("compare: no methods given (--methods or [[run]] tables)");
  if (config.base.out.empty()) throw UsageError("compare: needs an output directory (--out)");
  config.base.validate();
  // Every entry is checked before the first run, so a typo in the last one costs nothing.
  std::set<std::string> directories;
  for (const auto& entry : config.entries) {
    const auto& catalogue = methods::method_catalogue();
    auto info = std::find_if(catalogue.begin(), catalogue.end(),
                             [&](const auto& i) { return i.name == entry.method; });
    if (info == catalogue.end())
      throw UsageError(fmt::format("compare: unknown method '{}' in '{}' (see 'octrain methods')",
                                   entry.method, entry.label));
    info->schema.parse(entry.options);
    if (!directories.insert(safe_file_name(entry.label)).second)
      throw UsageError(fmt::format(
          "compare: two methods are labelled '{}'; give them distinct labels", entry.label));
  }
  const auto manifest = experiment_manifest(config);  // resolves the reference before any run
  const bool writer = dist::world().rank() == 0;      // data-parallel: rank 0 writes
  if (writer) {
    std::filesystem::create_directories(config.base.out);
    write_text_atomically(config.base.out + "/experiment.json", manifest.dump(2) + "\n");
  }
  std::map<uint64_t, data::Dataset> datasets;  // one load per split seed
  std::vector<CompareRow> rows;
  for (const auto& entry : config.entries) {
    CompareRow row;
    row.label = entry.label;
    std::vector<double> accuracies, train_losses, test_losses, step_ms;
    for (uint64_t seed : config.seeds) {
      RunConfig run = config.base;
      run.seed = seed;
      run.method = entry.method;
      run.method_options = entry.options;
      run.out = fmt::format("{}/{}/seed-{}", config.base.out, safe_file_name(entry.label), seed);
      if (writer) std::filesystem::remove_all(run.out);  // a grid re-run replaces its old runs
      auto it = datasets.find(run.split_seed());
      if (it == datasets.end())
        it = datasets
                 .emplace(run.split_seed(), data::load_dataset(run.dataset, load_options_for(run)))
                 .first;
      RunOptions options;
      options.quiet = true;
      options.dataset = &it->second;
      ++row.runs;
      try {
        const auto result = run_training(run, options);
        accuracies.push_back(result.test.accuracy);
        train_losses.push_back(result.final_train_loss);
        test_losses.push_back(result.test.loss);
        step_ms.push_back(result.mean_step_ms);
        if (!quiet)
          fmt::print(out, "{:<36} seed {:<3} {}  train loss {:.4f}  {:.3f} ms/step\n", entry.label,
                     seed,
                     std::isnan(result.test.accuracy)
                         ? fmt::format("test loss {:.4f}", result.test.loss)
                         : fmt::format("test acc {:6.2f}%", 100 * result.test.accuracy),
                     result.final_train_loss, result.mean_step_ms);
      } catch (const DivergenceError& e) {
        ++row.diverged;
        if (!quiet)
          fmt::print(out, "{:<36} seed {:<3} diverged: {}\n", entry.label, seed, e.what());
      }
      std::fflush(out);
    }
    std::tie(row.accuracy_mean, row.accuracy_std) = mean_std(accuracies);
    std::tie(row.train_loss_mean, row.train_loss_std) = mean_std(train_losses);
    row.test_loss_mean = mean_std(test_losses).first;
    row.step_ms_mean = mean_std(step_ms).first;
    rows.push_back(row);
  }
  std::string csv =
      "method,runs,diverged,test_accuracy_mean,test_accuracy_std,train_loss_mean,train_loss_std,"
      "test_loss_mean,step_ms_mean\n";
  for (const auto& r : rows)
    csv += fmt::format("\"{}\",{},{},{:.6f},{:.6f},{:.6f},{:.6f},{:.6f},{:.4f}\n", r.label, r.runs,
                       r.diverged, r.accuracy_mean, r.accuracy_std, r.train_loss_mean,
                       r.train_loss_std, r.test_loss_mean, r.step_ms_mean);
  if (writer) {
    write_text_atomically(config.base.out + "/summary.csv", csv);
    write_text_atomically(config.base.out + "/summary.md", summary_markdown(rows, config));
  }
  return rows;
}

std::string summary_markdown(const std::vector<CompareRow>& rows, const CompareConfig& config) {
  std::vector<std::string> seeds;
  for (auto s : config.seeds) seeds.push_back(std::to_string(s));
  std::string md = fmt::format("# {} · {} · {} epochs · batch {} · seeds {}\n\n",
                               config.base.dataset, config.base.model, config.base.epochs,
                               config.base.batch_size, fmt::join(seeds, ","));
  md += "| method | test accuracy (%) | final train loss | test loss | step (ms) | runs |\n";
  md += "|---|---|---|---|---|---|\n";
  for (const auto& r : rows) {
    const std::string runs =
        r.diverged ? fmt::format("{} ({} diverged)", r.runs, r.diverged) : std::to_string(r.runs);
    const std::string accuracy =
        std::isnan(r.accuracy_mean)
            ? "–"
            : fmt::format("{:.2f} ± {:.2f}", 100 * r.accuracy_mean, 100 * r.accuracy_std);
    md += fmt::format("| {} | {} | {:.4f} ± {:.4f} | {:.4f} | {:.3f} | {} |\n", r.label, accuracy,
                      r.train_loss_mean, r.train_loss_std, r.test_loss_mean, r.step_ms_mean, runs);
  }
  return md;
}

}  // namespace octrain::train
