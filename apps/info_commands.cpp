#include <fmt/format.h>
#include <torch/version.h>

#include "commands.h"
#include "octrain/control/model_builder.h"
#include "octrain/control/network.h"
#include "octrain/data/dataset.h"
#include "octrain/methods/registry.h"
#include "octrain/util/build_info.h"
#include "octrain/util/error.h"

namespace octrain::app {

void add_info_commands(CLI::App& app) {
  app.add_subcommand("version", "Print the version, git revision and libtorch version")
      ->callback([] {
        fmt::print("octrain {} (git {}) libtorch {}\n", version(), git_revision(), TORCH_VERSION);
      });

  app.add_subcommand("methods", "List the training methods and their options")->callback([] {
    for (const auto& info : methods::method_catalogue())
      fmt::print("{} — {}\n{}\n", info.name, info.summary, info.schema.help());
  });

  auto* model = app.add_subcommand("model", "Print a model's stages, shapes and control counts");
  auto spec = std::make_shared<std::string>();
  auto input = std::make_shared<std::vector<int64_t>>();
  auto dataset = std::make_shared<std::string>();
  model->add_option("SPEC", *spec, "model spec or FILE.toml")->required();
  model->add_option("--input", *input, "per-sample input shape, e.g. 1,28,28")->delimiter(',');
  model->add_option("--dataset,-d", *dataset, "take the input shape from this dataset");
  model->callback([spec, input, dataset] {
    std::vector<int64_t> shape = *input;
    if (!dataset->empty()) shape = data::load_dataset(*dataset).input_shape;
    if (shape.empty()) throw UsageError("model: give --input SHAPE or --dataset NAME");
    fmt::print("{}", control::build_network(*spec, shape)->summary());
  });
}

}  // namespace octrain::app
