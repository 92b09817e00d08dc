#include <fmt/format.h>

#include "commands.h"
#include "octrain/control/discrete_controls.h"
#include "octrain/deploy/packed_model.h"
#include "octrain/deploy/pytorch_export.h"
#include "octrain/deploy/trained_model.h"
#include "octrain/util/build_info.h"
#include "octrain/util/error.h"

namespace octrain::app {
namespace {

void export_packed(const std::string& target, deploy::TrainedModel& model, const std::string& out) {
  if (control::nonzero_fractions(*model.network).empty())
    throw UsageError(fmt::format("{}: model '{}' has no binary or ternary stages to pack", target,
                                 model.config.model));
  const auto sizes =
      deploy::write_packed_model(out, *model.network, deploy::packed_run_settings(model.config));
  fmt::print("wrote {} (packed): {} discrete weights, {:.2f}% non-zero\n", out,
             sizes.discrete_weights,
             100.0 * double(sizes.nonzero_weights) / double(sizes.discrete_weights));
  fmt::print(
      "| format | file bytes | × smaller than float32 | discrete weight bytes | × smaller |\n"
      "|---|---:|---:|---:|---:|\n");
  const std::vector<std::pair<std::string, deploy::PackedSize>> rows = {
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
}

// What travels with a TorchScript export (its octrain.json): enough to know where it came from.
nlohmann::json export_metadata(const deploy::TrainedModel& model) {
  const auto& c = model.config;
  return {{"octrain_version", version()},
          {"git_revision", git_revision()},
          {"dataset", c.dataset},
          {"dataset_checksum", model.data.checksum},
          {"model", c.model},
          {"loss", deploy::run_loss(model)->name()},
          {"method", c.method_spec()},
          {"seed", c.seed},
          {"input_shape", model.network->input_shape()},
          {"output_shape", model.network->output_shape()},
          {"standardisation", model.data.metadata.value("standardisation", nlohmann::json())}};
}

}  // namespace

void add_export_command(CLI::App& app) {
  auto* command = app.add_subcommand(
      "export", "Write a trained model as TorchScript, a PyTorch state dict, or packed bits");
  auto target = std::make_shared<std::string>();
  auto format = std::make_shared<std::string>("packed");
  auto out = std::make_shared<std::string>();
  auto allow_changed = std::make_shared<bool>(false);
  command->add_option("CHECKPOINT", *target, "a run directory or its checkpoint.pt")
      ->type_name("RUN|FILE")
      ->required();
  command
      ->add_option("--format", *format,
                   "torchscript (torch.jit.load-able module, inputs standardised inside) | "
                   "state-dict (torch.load-able dict of tensors) | packed (binary/ternary nets: "
                   "1 bit per binary weight, 2 bits or sparse indices per ternary weight)")
      ->type_name("FORMAT")
      ->check(CLI::IsMember({"packed", "torchscript", "state-dict"}))
      ->capture_default_str();
  command->add_option("-o,--out", *out, "output file")->type_name("FILE")->required();
  command->add_flag("--allow-changed-data", *allow_changed,
                    "warn instead of refusing (exit 3) when the run's data changed since training "
                    "(the export's input standardisation comes from it)");
  command->callback([target, format, out, allow_changed] {
    auto model = deploy::load_trained_model(*target);
    check_run_data(model, *allow_changed);
    if (*format == "packed") {
      if (model.packed) throw UsageError(*target + ": is already a packed model");
      export_packed(*target, model, *out);
      return;
    }
    const auto spec =
        deploy::export_spec(*deploy::run_loss(model), model.data, export_metadata(model));
    if (*format == "torchscript")
      deploy::write_torchscript(*out, *model.network, spec);
    else
      deploy::write_state_dict(*out, *model.network, spec);
    fmt::print("wrote {} ({}): {} stages, input {}, output {}{}\n", *out, *format,
               model.network->size(), control::to_string(model.network->input_shape()),
               control::to_string(model.network->output_shape()),
               spec.standardiser ? ", input standardisation included" : "");
  });
}

}  // namespace octrain::app
