#include "octrain/train/run_config.h"

#include <fmt/format.h>
#include <toml++/toml.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <sstream>

#include "octrain/train/export_formats.h"
#include "octrain/train/lr_schedule.h"
#include "octrain/util/config_profile.h"
#include "octrain/util/error.h"
#include "octrain/util/options.h"
#include "octrain/util/toml_options.h"

namespace octrain::train {
namespace {

int64_t parse_int(const std::string& key, const std::string& text, int64_t min) {
  char* end = nullptr;
  errno = 0;
  const long long v = std::strtoll(text.c_str(), &end, 10);
  if (text.empty() || *end != '\0' || errno == ERANGE || v < min)
    throw UsageError(
        fmt::format("config '{}' = '{}' is invalid: expected an integer ≥ {}", key, text, min));
  return v;
}

double parse_real(const std::string& key, const std::string& text, double min, double max) {
  char* end = nullptr;
  errno = 0;
  const double v = std::strtod(text.c_str(), &end);
  if (text.empty() || *end != '\0' || errno == ERANGE || !std::isfinite(v) || v < min || v > max)
    throw UsageError(fmt::format("config '{}' = '{}' is invalid: expected a number in [{}, {}]",
                                 key, text, min, max));
  return v;
}

// A TOML basic string: quotation marks, backslashes and the control characters TOML forbids
// unescaped (all but tab, DEL included) are escaped, so every value reads back as written.
std::string quoted(const std::string& s) {
  std::string out = "\"";
  for (const char c : s) {
    const auto u = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\')
      out += {'\\', c};
    else if (c == '\n')
      out += "\\n";
    else if ((u < 0x20 && c != '\t') || u == 0x7f)
      out += fmt::format("\\u{:04X}", unsigned{u});
    else
      out += c;
  }
  return out + "\"";
}

}  // namespace

const std::vector<std::string>& RunConfig::keys() {
  static const std::vector<std::string> k = {"dataset",
                                             "model",
                                             "loss",
                                             "method",
                                             "epochs",
                                             "batch_size",
                                             "seed",
                                             "data_seed",
                                             "threads",
                                             "device",
                                             "weight_decay",
                                             "test_fraction",
                                             "validation_fraction",
                                             "train_limit",
                                             "test_limit",
                                             "eval_every",
                                             "log_every",
                                             "diagnostics_every",
                                             "checkpoint_every",
                                             "on_divergence",
                                             "rollback_factor",
                                             "max_rollbacks",
                                             "divergence_factor",
                                             "lr_schedule",
                                             "keep",
                                             "early_stop",
                                             "best_metric",
                                             "sync_bn",
                                             "problem",
                                             "export_format",
                                             "out"};
  return k;
}

const std::vector<std::string>& RunConfig::resumable_keys() {
  static const std::vector<std::string> k = {"epochs",
                                             "threads",
                                             "device",
                                             "eval_every",
                                             "log_every",
                                             "checkpoint_every",
                                             "on_divergence",
                                             "rollback_factor",
                                             "max_rollbacks",
                                             "divergence_factor",
                                             "diagnostics_every",
                                             "early_stop"};
  return k;
}

std::string RunConfig::first_difference(const RunConfig& other) const {
  // Compared through to_toml(), one "key = value" line per setting.
  auto lines = [](const RunConfig& c) {
    std::vector<std::string> out;
    std::string section;
    std::istringstream text(c.to_toml());
    for (std::string line; std::getline(text, line);) {
      if (line.empty()) continue;
      if (line.front() == '[') {
        section = line.substr(1, line.size() - 2) + ".";
        continue;
      }
      out.push_back(section + line);
    }
    return out;
  };
  auto key_of = [](const std::string& line) { return line.substr(0, line.find(" = ")); };
  auto skipped = [&](const std::string& line) {
    const std::string key = key_of(line);
    const auto& r = resumable_keys();
    return key == "out" || std::find(r.begin(), r.end(), key) != r.end();
  };
  std::map<std::string, std::string> theirs;
  for (const auto& line : lines(other)) theirs[key_of(line)] = line;
  for (const auto& line : lines(*this)) {
    if (skipped(line)) continue;
    auto it = theirs.find(key_of(line));
    if (it == theirs.end() || it->second != line) return line;
    theirs.erase(it);
  }
  for (const auto& [key, line] : theirs)
    if (!skipped(line)) return key + " (not set)";
  return "";
}

void RunConfig::set(const std::string& key, const std::string& v) {
  if (key == "dataset")
    dataset = v;
  else if (key == "model")
    model = v;
  else if (key == "loss")
    loss = v;
  else if (key == "method") {
    const auto spec = parse_named_spec(v);
    method = spec.name;
    for (const auto& [k, value] : spec.options) method_options[k] = value;
  } else if (key == "epochs")
    epochs = parse_int(key, v, 1);
  else if (key == "batch_size")
    batch_size = parse_int(key, v, 1);
  else if (key == "seed")
    seed = uint64_t(parse_int(key, v, 0));
  else if (key == "data_seed")
    data_seed = parse_int(key, v, -1);
  else if (key == "threads")
    threads = parse_int(key, v, 0);
  else if (key == "device")
    device = v;
  else if (key == "weight_decay")
    weight_decay = parse_real(key, v, 0, 1e3);
  else if (key == "test_fraction")
    test_fraction = parse_real(key, v, 0, 0.95);
  else if (key == "validation_fraction")
    validation_fraction = parse_real(key, v, 0, 0.95);
  else if (key == "train_limit")
    train_limit = parse_int(key, v, 0);
  else if (key == "test_limit")
    test_limit = parse_int(key, v, 0);
  else if (key == "eval_every")
    eval_every = parse_int(key, v, 1);
  else if (key == "log_every")
    log_every = parse_int(key, v, 1);
  else if (key == "diagnostics_every")
    diagnostics_every = parse_int(key, v, 0);
  else if (key == "checkpoint_every")
    checkpoint_every = parse_int(key, v, 0);
  else if (key == "on_divergence")
    on_divergence = v;
  else if (key == "rollback_factor")
    rollback_factor = parse_real(key, v, 1e-6, 1);
  else if (key == "max_rollbacks")
    max_rollbacks = parse_int(key, v, 0);
  else if (key == "divergence_factor")
    divergence_factor = parse_real(key, v, 0, 1e300);
  else if (key == "lr_schedule")
    lr_schedule = LrSchedule::parse(v, "config 'lr_schedule'").spec();
  else if (key == "keep")
    keep = v;
  else if (key == "early_stop")
    early_stop = parse_int(key, v, 0);
  else if (key == "best_metric")
    best_metric = v;
  else if (key == "sync_bn") {
    if (v != "true" && v != "false")
      throw UsageError(
          fmt::format("config 'sync_bn' = '{}' is invalid: expected true or false", v));
    sync_bn = v == "true";
  } else if (key == "problem")
    problem = v;
  else if (key == "export_format")
    export_format = ExportFormats::parse(v).to_string();
  else if (key == "out")
    out = v;
  else
    throw UsageError(
        fmt::format("unknown config key '{}' (known: {})", key, fmt::join(keys(), ", ")));
}

void RunConfig::merge_toml_file(const std::string& path, const std::string& profile) {
  const toml::table doc = read_config_profile(path, profile);
  for (const auto& [key, node] : doc) {
    const std::string name(key.str());
    if (name == "method" && node.is_table()) {
      auto options = toml_table_options(*node.as_table(), path + ": [method]");
      auto it = options.find("name");
      if (it != options.end()) {
        if (it->second != method) method_options.clear();
        method = it->second;
        options.erase(it);
      }
      for (const auto& [k, value] : options) method_options[k] = value;
      continue;
    }
    try {
      set(name, toml_scalar_text(node, path + ": '" + name + "'"));
    } catch (const UsageError& e) {
      throw UsageError(path + ": " + e.what());
    }
  }
}

void RunConfig::validate() const {
  if (on_divergence != "stop" && on_divergence != "rollback")
    throw UsageError(fmt::format(
        "config 'on_divergence' = '{}' is invalid: expected stop or rollback", on_divergence));
  if (device != "cpu" && device.rfind("cuda", 0) != 0)
    throw UsageError(
        fmt::format("config 'device' = '{}' is invalid: expected cpu or cuda[:N]", device));
  LrSchedule::parse(lr_schedule, "config 'lr_schedule'");
  if (divergence_factor > 0 && divergence_factor <= 1)
    throw UsageError(
        fmt::format("config 'divergence_factor' = {} is invalid: expected 0 (off) or a factor > 1",
                    format_real(divergence_factor)));
  if (keep != "last" && keep != "best")
    throw UsageError(fmt::format("config 'keep' = '{}' is invalid: expected last or best", keep));
  if (best_metric != "auto" && best_metric != "accuracy" && best_metric != "loss")
    throw UsageError(fmt::format(
        "config 'best_metric' = '{}' is invalid: expected auto, accuracy or loss", best_metric));
  if (early_stop > 0 && validation_fraction <= 0)
    throw UsageError(
        "--early-stop needs a validation split to watch: add --validation-fraction F (e.g. 0.1)");
  if (keep == "best" && validation_fraction <= 0)
    throw UsageError(
        "--keep best needs a validation split to choose by: add --validation-fraction F (e.g. "
        "0.1)");
  if (!export_format.empty() && eval_every != 1)
    throw UsageError(fmt::format(
        "--export-format {}: DeepOBS and AlgoPerf files record every epoch; --eval-every must be 1",
        export_format));
  if (test_fraction + validation_fraction >= 0.95)
    throw UsageError("config: test_fraction + validation_fraction must leave data to train on");
}

std::string RunConfig::method_spec() const {
  return NamedSpec{method, method_options}.to_string();
}

std::string RunConfig::to_toml() const {
  std::string s;
  s += fmt::format("dataset = {}\nmodel = {}\nloss = {}\n", quoted(dataset), quoted(model),
                   quoted(loss));
  s += fmt::format(
      "epochs = {}\nbatch_size = {}\nseed = {}\ndata_seed = {}\nthreads = {}\ndevice = {}\n",
      epochs, batch_size, seed, data_seed, threads, quoted(device));
  s += fmt::format("weight_decay = {}\ntest_fraction = {}\nvalidation_fraction = {}\n",
                   format_real(weight_decay), format_real(test_fraction),
                   format_real(validation_fraction));
  s += fmt::format(
      "train_limit = {}\ntest_limit = {}\neval_every = {}\nlog_every = {}\ndiagnostics_every = {}\n"
      "checkpoint_every = {}\n",
      train_limit, test_limit, eval_every, log_every, diagnostics_every, checkpoint_every);
  s += fmt::format(
      "on_divergence = {}\nrollback_factor = {}\nmax_rollbacks = {}\ndivergence_factor = {}\n",
      quoted(on_divergence), format_real(rollback_factor), max_rollbacks,
      format_real(divergence_factor));
  s += fmt::format("lr_schedule = {}\nkeep = {}\nearly_stop = {}\nbest_metric = {}\n",
                   quoted(lr_schedule), quoted(keep), early_stop, quoted(best_metric));
  s += fmt::format("sync_bn = {}\nproblem = {}\nexport_format = {}\nout = {}\n", sync_bn,
                   quoted(problem), quoted(export_format), quoted(out));
  s += fmt::format("\n[method]\nname = {}\n", quoted(method));
  for (const auto& [k, v] : method_options) s += fmt::format("{} = {}\n", k, quoted(v));
  return s;
}

}  // namespace octrain::train
