#include <fmt/format.h>
#include <torch/version.h>

#include <algorithm>
#include <vector>

#include "commands.h"
#include "octrain/control/model_builder.h"
#include "octrain/control/network.h"
#include "octrain/data/dataset.h"
#include "octrain/methods/registry.h"
#include "octrain/train/memory_estimate.h"
#include "octrain/util/build_info.h"
#include "octrain/util/error.h"
#include "octrain/util/options.h"

namespace octrain::app {

std::string version_line() {
  return fmt::format("octrain {} (git {}) libtorch {}", version(), git_revision(), TORCH_VERSION);
}

namespace {

size_t edit_distance(const std::string& a, const std::string& b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diagonal = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      const size_t above = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] != b[j - 1] ? 1 : 0)});
      diagonal = above;
    }
  }
  return row[b.size()];
}

}  // namespace

void check_command_name(const CLI::App& app, int argc, const char* const* argv) {
  if (argc < 2) return;
  const std::string word = argv[1];
  if (word.empty() || word[0] == '-') return;
  std::vector<std::string> names;
  for (const auto* command : app.get_subcommands([](const CLI::App*) { return true; }))
    names.push_back(command->get_name());
  if (std::find(names.begin(), names.end(), word) != names.end()) return;
  std::string nearest;
  size_t best = word.size();
  for (const auto& name : names) {
    const size_t d = edit_distance(word, name);
    if (d < best) best = d, nearest = name;
  }
  if (!nearest.empty() && best <= std::max<size_t>(2, word.size() / 3))
    throw UsageError(
        fmt::format("unknown command '{}'; did you mean '{}'? (octrain --help lists "
                    "the commands)",
                    word, nearest));
  throw UsageError(
      fmt::format("unknown command '{}' (commands: {})", word, fmt::join(names, ", ")));
}

void add_info_commands(CLI::App& app) {
  app.add_subcommand("version", "Print the version, git revision and libtorch version")
      ->callback([] { fmt::print("{}\n", version_line()); });

  app.add_subcommand("methods", "List the training methods and their options")->callback([] {
    for (const auto& info : methods::method_catalogue())
      fmt::print("{} — {}\n{}\n", info.name, info.summary, info.schema.help());
  });

  auto* model = app.add_subcommand("model", "Print a model's stages, shapes and control counts");
  auto spec = std::make_shared<std::string>();
  auto input = std::make_shared<std::vector<int64_t>>();
  auto dataset = std::make_shared<std::string>();
  model->add_option("SPEC", *spec, "model spec or FILE.toml")->type_name("SPEC|FILE")->required();
  model->add_option("--input", *input, "per-sample input shape, e.g. 1,28,28")->delimiter(',');
  model->add_option("--dataset,-d", *dataset, "take the input shape from this dataset")
      ->type_name("NAME");
  auto method = std::make_shared<std::string>("adam");
  auto batch = std::make_shared<int64_t>(128);
  model->add_option("--method", *method, "the method of the memory estimate (default adam)")
      ->type_name("SPEC");
  model->add_option("--batch-size,-b", *batch, "the batch of the memory estimate (default 128)")
      ->check(CLI::PositiveNumber);
  model->callback([spec, input, dataset, method, batch] {
    std::vector<int64_t> shape = *input;
    if (!dataset->empty()) shape = data::load_dataset(*dataset).input_shape;
    if (shape.empty()) throw UsageError("model: give --input SHAPE or --dataset NAME");
    // Planned on the meta device: a model too large to build still gets its table and estimate.
    const auto network = control::plan_network(*spec, shape);
    const auto named = parse_named_spec(*method);
    const auto estimate = train::estimate_memory(*network, named.name, named.options, *batch);
    fmt::print("{}parameters: {}\nmemory estimate ({}, batch {}): {}\n", network->summary(),
               train::format_bytes(estimate.parameters), *method, *batch, estimate.describe());
  });
}

}  // namespace octrain::app
