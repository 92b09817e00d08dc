#include <fmt/format.h>

#include "commands.h"
#include "octrain/control/stage.h"
#include "octrain/data/dataset.h"

namespace octrain::app {

void add_datasets_command(CLI::App& app) {
  auto* command =
      app.add_subcommand("datasets", "List the built-in datasets and whether each is installed");
  command->callback([] {
    fmt::print("{:<14} {:<10} {:>7} {:>7} {:<12} {:>7}  {}\n", "name", "installed", "train", "test",
               "input", "classes", "location / description");
    for (const auto& d : data::builtin_datasets()) {
      fmt::print("{:<14} {:<10} {:>7} {:>7} {:<12} {:>7}  {}\n", d.name, d.installed ? "yes" : "NO",
                 d.train_size, d.test_size, control::to_string(d.input_shape),
                 d.num_classes > 0 ? std::to_string(d.num_classes) : "–",
                 d.installed ? d.location : d.description + " — run scripts/setup.sh");
    }
    fmt::print(
        "\nGeneric sources: idx:DIR, csv:PATH[?label=last|first|N|target=I,J], cifar10:DIR\n");
  });
}

}  // namespace octrain::app
