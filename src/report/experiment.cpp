#include "octrain/report/experiment.h"

#include <fmt/format.h>
#include <toml++/toml.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>

#include "octrain/methods/registry.h"
#include "octrain/train/metrics_reader.h"
#include "octrain/util/error.h"
#include "octrain/util/options.h"

namespace octrain::report {
namespace fs = std::filesystem;
namespace {

double number_or_nan(const nlohmann::json& record, const char* key) {
  auto it = record.find(key);
  return it != record.end() && it->is_number() ? it->get<double>() : std::nan("");
}

// The run's method name and seed from its resolved config.toml.
std::pair<std::string, uint64_t> method_and_seed(const std::string& dir) {
  const std::string path = dir + "/config.toml";
  if (!fs::exists(path)) return {"", 0};
  try {
    const auto doc = toml::parse_file(path);
    return {doc["method"]["name"].value_or(std::string()),
            uint64_t(doc["seed"].value_or(int64_t(0)))};
  } catch (const toml::parse_error& e) {
    throw DataError(fmt::format("report: {}:{}: {}", path, e.source().begin.line, e.description()));
  }
}

// "adam:lr=0.01": the method and the options that differ from its defaults, as config.toml
// records them (every option resolved).
std::string run_label(const std::string& dir, const std::string& fallback) {
  const std::string path = dir + "/config.toml";
  if (!fs::exists(path)) return fallback;
  toml::table doc;
  try {
    doc = toml::parse_file(path);
  } catch (const toml::parse_error& e) {
    throw DataError(fmt::format("report: {}:{}: {}", path, e.source().begin.line, e.description()));
  }
  const auto* table = doc["method"].as_table();
  if (!table) return fallback;
  NamedSpec spec{(*table)["name"].value_or(fallback), {}};
  std::map<std::string, std::string> defaults;
  for (const auto& info : methods::method_catalogue())
    if (info.name == spec.name) defaults = info.schema.parse({}).to_map();
  for (const auto& [key, node] : *table) {
    const std::string name(key.str());
    auto value = node.value<std::string>();
    if (name == "name" || !value) continue;
    auto it = defaults.find(name);
    if (it == defaults.end() || it->second != *value) spec.options[name] = *value;
  }
  return spec.to_string();
}

bool is_run_dir(const fs::path& dir) {
  return fs::exists(dir / "metrics.jsonl");
}

// seed-<s> folders with a run in them, by seed.
std::vector<SeedRun> seed_runs(const fs::path& method_dir) {
  std::vector<SeedRun> runs;
  for (const auto& entry : fs::directory_iterator(method_dir)) {
    const std::string name = entry.path().filename().string();
    if (!entry.is_directory() || name.rfind("seed-", 0) != 0 || !is_run_dir(entry.path())) continue;
    runs.push_back(load_seed_run(entry.path().string()));
    // The folder name is authoritative: compare writes seed-<s> for the run's seed.
    const auto digits = name.substr(5);
    if (!digits.empty() && std::all_of(digits.begin(), digits.end(), ::isdigit))
      runs.back().seed = std::stoull(digits);
  }
  std::sort(runs.begin(), runs.end(), [](const auto& a, const auto& b) { return a.seed < b.seed; });
  return runs;
}

nlohmann::json facts_from_run(const std::string& dir) {
  const std::string path = dir + "/config.toml";
  nlohmann::json facts = nlohmann::json::object();
  if (!fs::exists(path)) return facts;
  try {
    const auto doc = toml::parse_file(path);
    for (const char* key : {"dataset", "model", "loss"})
      if (auto v = doc[key].value<std::string>()) facts[key] = *v;
    for (const char* key : {"epochs", "batch_size", "train_limit"})
      if (auto v = doc[key].value<int64_t>()) facts[key] = *v;
  } catch (const toml::parse_error& e) {
    throw DataError(fmt::format("report: {}:{}: {}", path, e.source().begin.line, e.description()));
  }
  return facts;
}

}  // namespace

SeedRun load_seed_run(const std::string& dir) {
  SeedRun run;
  run.dir = dir;
  std::string method;
  std::tie(method, run.seed) = method_and_seed(dir);
  double seconds = 0, previous_step = 0, step_ms_sum = 0;
  size_t steps = 0;
  // Elapsed training time at each logged step: a record stands for the steps since the previous
  // one (log_every > 1 logs every N-th step), so evaluation time is not counted.
  std::vector<std::pair<double, double>> clock;  // (step, seconds)
  for (const auto& r : train::read_metrics(dir + "/metrics.jsonl")) {
    const std::string kind = r.value("kind", "");
    const double step = number_or_nan(r, "step");
    if (kind == "step") {
      const double ms = number_or_nan(r, "step_time_ms");
      seconds += 1e-3 * ms * std::max(1.0, step - previous_step);
      previous_step = step;
      clock.emplace_back(step, seconds);
      step_ms_sum += ms, ++steps;
      run.train_loss.step.push_back(step);
      run.train_loss.seconds.push_back(seconds);
      run.train_loss.value.push_back(number_or_nan(r, "loss"));
    } else if (kind == "epoch") {
      // The clock at the last logged step at or before this epoch's end.
      double at = 0;
      for (auto it = clock.rbegin(); it != clock.rend(); ++it)
        if (it->first <= step) {
          at = it->second;
          break;
        }
      run.final_metrics["train_loss"] = number_or_nan(r, "train_loss");
      if (r.contains("nonzero")) run.final_metrics["nonzero"] = number_or_nan(r, "nonzero");
      for (const char* key : {"validation_loss", "validation_accuracy"})
        if (r.contains(key) && std::isfinite(number_or_nan(r, key)))
          run.final_metrics[key] = number_or_nan(r, key);
      if (r.contains("test_loss")) {
        for (auto [key, curve] : {std::pair{"test_loss", &run.test_loss},
                                  std::pair{"test_accuracy", &run.test_accuracy}}) {
          const double value = number_or_nan(r, key);
          curve->step.push_back(step);
          curve->seconds.push_back(at);
          curve->value.push_back(value);
          if (std::isfinite(value))
            run.final_metrics[key] = value;
          else
            run.final_metrics.erase(key);
        }
      }
    } else if (kind == "divergence") {
      run.diverged = true;
    }
  }
  run.mean_step_ms = steps ? step_ms_sum / double(steps) : std::nan("");
  return run;
}

Experiment load_experiment(const std::string& dir) {
  const fs::path root(dir);
  if (!fs::is_directory(root)) throw UsageError(fmt::format("report: {} is not a directory", dir));
  Experiment experiment;
  experiment.dir = dir;
  experiment.name = fs::absolute(root).lexically_normal().filename().string();
  if (experiment.name.empty())
    experiment.name = fs::absolute(root).lexically_normal().parent_path().filename().string();
  if (is_run_dir(root)) {
    auto run = load_seed_run(dir);
    const auto method = method_and_seed(dir).first;
    experiment.facts = facts_from_run(dir);
    experiment.methods.push_back(
        {run_label(dir, method.empty() ? experiment.name : method), method, {run}});
    return experiment;
  }
  const fs::path manifest_path = root / "experiment.json";
  if (fs::exists(manifest_path)) {
    nlohmann::json manifest;
    try {
      std::ifstream in(manifest_path);
      manifest = nlohmann::json::parse(in);
      for (const auto& entry : manifest.at("entries")) {
        MethodRuns m{
            entry.at("label").get<std::string>(), entry.at("method").get<std::string>(), {}};
        const fs::path method_dir = root / entry.at("dir").get<std::string>();
        if (fs::is_directory(method_dir)) m.seeds = seed_runs(method_dir);
        experiment.methods.push_back(std::move(m));
      }
      if (manifest.contains("reference"))
        experiment.reference = train::Reference::from_json(manifest["reference"]);
    } catch (const nlohmann::json::exception& e) {
      throw DataError(fmt::format("report: {}: not a valid experiment manifest ({})",
                                  manifest_path.string(), e.what()));
    }
    manifest.erase("entries");
    manifest.erase("reference");
    experiment.facts = manifest;
  } else {
    // A grid from before experiment.json: labels are the folder names.
    std::vector<fs::path> method_dirs;
    for (const auto& entry : fs::directory_iterator(root))
      if (entry.is_directory()) method_dirs.push_back(entry.path());
    std::sort(method_dirs.begin(), method_dirs.end());
    for (const auto& method_dir : method_dirs) {
      auto runs = seed_runs(method_dir);
      if (runs.empty()) continue;
      const auto method = method_and_seed(runs.front().dir).first;
      if (experiment.facts.empty()) experiment.facts = facts_from_run(runs.front().dir);
      experiment.methods.push_back({method_dir.filename().string(), method, std::move(runs)});
    }
  }
  size_t runs = 0;
  for (const auto& m : experiment.methods) runs += m.seeds.size();
  if (runs == 0)
    throw UsageError(fmt::format(
        "report: {} holds no runs (expected metrics.jsonl in it or in <label>/seed-<s>/)", dir));
  return experiment;
}

Experiment overlay_experiments(const std::vector<Experiment>& experiments) {
  Experiment merged;
  merged.name = "runs";
  merged.facts = experiments.empty() ? nlohmann::json::object() : experiments.front().facts;
  std::map<std::string, int> seen;
  for (const auto& e : experiments)
    for (const auto& m : e.methods) ++seen[m.label];
  for (const auto& e : experiments) {
    if (merged.dir.empty()) merged.dir = e.dir;
    // Only the settings every experiment shares describe the overlay.
    for (auto it = merged.facts.begin(); it != merged.facts.end();)
      it = e.facts.contains(it.key()) && e.facts[it.key()] == it.value() ? std::next(it)
                                                                         : merged.facts.erase(it);
    for (auto m : e.methods) {
      if (seen[m.label] > 1) m.label = fmt::format("{} ({})", m.label, e.name);
      merged.methods.push_back(std::move(m));
    }
  }
  return merged;
}

}  // namespace octrain::report
