#include <fmt/format.h>

#include "commands.h"
#include "octrain/control/discrete_controls.h"
#include "octrain/train/packed_model.h"
#include "octrain/util/error.h"
#include "octrain/util/options.h"
#include "trained_model.h"

namespace octrain::app {

void add_export_command(CLI::App& app) {
  auto* command = app.add_subcommand(
      "export", "Write a trained binary/ternary model in a compact deployable format");
  auto target = std::make_shared<std::string>();
  auto format = std::make_shared<std::string>("packed");
  auto out = std::make_shared<std::string>();
  command->add_option("CHECKPOINT", *target, "a run directory or its checkpoint.pt")->required();
  command
      ->add_option("--format", *format,
                   "packed (1 bit per binary weight; 2 bits or sparse indices per ternary weight)")
      ->check(CLI::IsMember({"packed"}));
  command->add_option("-o,--out", *out, "output file")->required();
  command->callback([target, format, out] {
    auto model = load_trained_model(*target);
    if (model.packed) throw UsageError(*target + ": is already a packed model");
    if (control::nonzero_fractions(*model.network).empty())
      throw UsageError(fmt::format("{}: model '{}' has no binary or ternary stages to pack",
                                   *target, model.config.model));
    const auto& c = model.config;
    const train::RunSettings settings = {
        {"dataset", c.dataset},
        {"model", c.model},
        {"loss", c.loss},
        {"seed", std::to_string(c.seed)},
        {"data_seed", std::to_string(c.data_seed)},
        {"test_fraction", format_real(c.test_fraction)},
        {"validation_fraction", format_real(c.validation_fraction)},
        {"train_limit", std::to_string(c.train_limit)},
        {"test_limit", std::to_string(c.test_limit)}};
    const auto sizes = train::write_packed_model(*out, *model.network, settings);
    fmt::print("wrote {} ({}): {} discrete weights, {:.2f}% non-zero\n", *out, *format,
               sizes.discrete_weights,
               100.0 * double(sizes.nonzero_weights) / double(sizes.discrete_weights));
    fmt::print(
        "| format | file bytes | × smaller than float32 | discrete weight bytes | × smaller |\n"
        "|---|---:|---:|---:|---:|\n");
    const std::vector<std::pair<std::string, train::PackedSize>> rows = {
        {"float32", sizes.float32},
        {"2 bits/weight", sizes.two_bit},
        {"1 bit/binary weight, 2 bits/ternary", sizes.one_bit},
        {"1 bit binary, 2 bits or sparse ternary (written)", sizes.written}};
    const auto ratio = [](int64_t float32, int64_t bytes) {
      return bytes > 0 ? double(float32) / double(bytes) : 0.0;
    };
    for (const auto& [name, size] : rows)
      fmt::print("| {} | {} | {:.1f} | {} | {:.1f} |\n", name, size.file,
                 ratio(sizes.float32.file, size.file), size.weights,
                 ratio(sizes.float32.weights, size.weights));
  });
}

}  // namespace octrain::app
