#include "octrain/deploy/trained_model.h"

#include <fmt/format.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "octrain/control/model_builder.h"
#include "octrain/deploy/packed_model.h"
#include "octrain/train/checkpoint.h"
#include "octrain/train/trainer.h"
#include "octrain/util/error.h"
#include "octrain/util/options.h"

namespace octrain::deploy {
namespace {

void load_data_and_network(TrainedModel& model) {
  model.data = data::load_dataset(model.config.dataset, train::load_options_for(model.config));
  model.network = control::build_network(model.config.model, model.data.input_shape);
}

}  // namespace

TrainedModel load_trained_model(const std::string& target) {
  namespace fs = std::filesystem;
  const fs::path path(target);
  if (!fs::exists(path)) throw UsageError(target + ": no such run directory, checkpoint or file");
  TrainedModel model;
  model.source = target;
  if (fs::is_regular_file(path) && is_packed_model(target)) {
    const auto packed = read_packed_model(target);
    for (const auto& [key, value] : packed.settings) {
      try {
        model.config.set(key, value);
      } catch (const UsageError& e) {
        throw DataError(fmt::format("{}: bad run setting ({})", target, e.what()));
      }
    }
    load_data_and_network(model);
    load_packed_model(packed, *model.network, target);
    model.packed = true;
    return model;
  }
  const fs::path dir = fs::is_directory(path) ? path : path.parent_path();
  const std::string checkpoint =
      fs::is_directory(path) ? (path / "checkpoint.pt").string() : path.string();
  const std::string config_file = (dir / "config.toml").string();
  if (!fs::exists(config_file))
    throw UsageError(fmt::format("{}: no config.toml beside the checkpoint; is it a run directory?",
                                 dir.string()));
  model.config.merge_toml_file(config_file);
  if (std::ifstream metadata(dir / "metadata.json"); metadata) {
    const auto json = nlohmann::json::parse(metadata, nullptr, /*allow_exceptions=*/false);
    if (json.is_object()) model.recorded_checksum = json.value("dataset_checksum", "");
  }
  load_data_and_network(model);
  train::load_network_from_checkpoint(checkpoint, *model.network);
  return model;
}

std::string check_data_unchanged(const TrainedModel& model, bool allow_changed) {
  if (model.recorded_checksum.empty() || model.recorded_checksum == model.data.checksum) return {};
  const std::string message = fmt::format(
      "{}: the data of '{}' changed since training (checksum {} in metadata.json, {} now)",
      model.source, model.config.dataset, model.recorded_checksum, model.data.checksum);
  if (!allow_changed) throw DataError(message + "; --allow-changed-data goes on anyway");
  return message;
}

std::unique_ptr<control::TerminalLoss> run_loss(const TrainedModel& model) {
  const std::string spec = !model.config.loss.empty()                   ? model.config.loss
                           : model.data.task == data::Task::kRegression ? "mse"
                                                                        : "cross-entropy";
  return control::make_terminal_loss(spec, model.data.num_classes,
                                     model.network->output_shape()[0]);
}

RunSettings packed_run_settings(const train::RunConfig& c) {
  return {{"dataset", c.dataset},
          {"model", c.model},
          {"loss", c.loss},
          {"seed", std::to_string(c.seed)},
          {"data_seed", std::to_string(c.data_seed)},
          {"test_fraction", format_real(c.test_fraction)},
          {"validation_fraction", format_real(c.validation_fraction)},
          {"train_limit", std::to_string(c.train_limit)},
          {"test_limit", std::to_string(c.test_limit)}};
}

}  // namespace octrain::deploy
