#include <fmt/format.h>

#include <filesystem>
#include <sstream>

#include "commands.h"
#include "octrain/data/inference_inputs.h"
#include "octrain/deploy/packed_model.h"
#include "octrain/deploy/prediction.h"
#include "octrain/deploy/pytorch_export.h"
#include "octrain/deploy/trained_model.h"
#include "octrain/util/atomic_file.h"
#include "octrain/util/error.h"

namespace octrain::app {
namespace {

// A run directory, its checkpoint or a packed model become the same TorchScript module that
// `export --format torchscript` writes; a file that is such an export is loaded as it is.
torch::jit::Module model_for(const std::string& target, bool allow_changed) {
  namespace fs = std::filesystem;
  const fs::path path(target);
  if (fs::is_regular_file(path)) {
    try {
      return deploy::load_torchscript_model(target);
    } catch (const DataError&) {
      const bool checkpoint = fs::exists(fs::absolute(path).parent_path() / "config.toml");
      if (!checkpoint && !deploy::is_packed_model(target)) throw;
    }
  }
  const auto model = deploy::load_trained_model(target);
  check_run_data(model, allow_changed);
  return deploy::to_torchscript(*model.network,
                                deploy::export_spec(*deploy::run_loss(model), model.data, {}));
}

}  // namespace

void add_predict_command(CLI::App& app) {
  auto* command = app.add_subcommand(
      "predict", "Write a trained model's per-sample outputs on new inputs as CSV");
  auto target = std::make_shared<std::string>();
  auto input = std::make_shared<std::string>();
  auto out = std::make_shared<std::string>();
  auto allow_changed = std::make_shared<bool>(false);
  command
      ->add_option("MODEL", *target,
                   "a run directory, its checkpoint.pt, a packed model, or a TorchScript export")
      ->type_name("RUN|FILE")
      ->required();
  command
      ->add_option("-i,--input", *input,
                   "the inputs: csv:PATH (features only, or features and a last label column; "
                   "label=/target= as for training), idx:DIR, cifar10:DIR or a built-in name")
      ->type_name("SOURCE")
      ->required();
  command->add_option("-o,--out", *out, "CSV file to write (default: standard output)")
      ->type_name("FILE");
  command->add_flag("--allow-changed-data", *allow_changed,
                    "a run whose training data changed since: warn instead of refusing");
  command->callback([target, input, out, allow_changed] {
    auto model = model_for(*target, *allow_changed);
    const auto inputs = data::load_inference_inputs(*input, deploy::model_input_shape(model));
    const auto predictions = deploy::predict(model, inputs.x);
    std::ostringstream csv;
    deploy::write_predictions_csv(csv, predictions, inputs.y);
    if (out->empty())
      fmt::print("{}", csv.str());
    else
      write_text_atomically(*out, csv.str());
    std::string summary = fmt::format("predicted {} samples of {}", inputs.x.size(0), *input);
    if (predictions.classification && inputs.y.defined() && inputs.y.dim() == 1)
      summary += fmt::format(
          "; accuracy {:.2f}% against its labels",
          100.0 * predictions.classes.eq(inputs.y).to(torch::kDouble).mean().item<double>());
    fmt::print(stderr, "{}{}\n", summary, out->empty() ? "" : " → " + *out);
  });
}

}  // namespace octrain::app
