#pragma once

#include <torch/csrc/jit/api/module.h>
#include <torch/types.h>

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "octrain/control/network.h"
#include "octrain/control/terminal_loss.h"
#include "octrain/data/dataset.h"
#include "octrain/data/standardiser.h"

namespace octrain::deploy {

// A trained network as a standalone PyTorch artefact (docs/EXPORT.md): a TorchScript module
// whose forward gives octrain's outputs on the inputs octrain's readers produce, or a
// torch.load-able dict of the same tensors.

// What the exported model carries besides the stages.
struct ExportSpec {
  bool classification = true;
  int64_t num_classes = 0;             // 0 for regression
  std::string loss = "cross-entropy";  // the terminal loss's name (probabilities for cross-entropy)
  torch::Tensor class_centres;         // mmc loss: [classes, outputs], prediction = nearest centre
  std::optional<data::Standardiser> standardiser;      // the run's input standardisation, if any
  nlohmann::json metadata = nlohmann::json::object();  // stored as the extra file octrain.json
};

// The spec of a run: its loss (class rule), dataset (task, classes, standardisation) and
// `metadata` to store with the module.
ExportSpec export_spec(const control::TerminalLoss& loss, const data::Dataset& data,
                       nlohmann::json metadata);

// The tensors of the exported model by name, in stage order: "stage<T>.weight" and ".bias"
// (Dense, Conv2d, the inner layer of a Residual; binary/ternary stages as their effective
// weight α ⊙ W, without bias), "stage<T>.weight", ".bias", ".running_mean", ".running_var"
// (BatchNorm γ, β and running statistics), then "input_mean"/"input_std" (float64, when the run
// standardised its inputs) and "class_centres" (mmc). All on the CPU.
std::vector<std::pair<std::string, torch::Tensor>> exported_tensors(control::Network& network,
                                                                    const ExportSpec& spec);

// The TorchScript module: forward(x) standardises x when the run did (attribute
// input_standardised) and applies every stage in evaluation mode; network(x) skips the
// standardisation; predict_class(x) gives the class (argmax, or the nearest mmc centre).
// Throws UsageError naming a stage the exporter does not know.
torch::jit::Module to_torchscript(control::Network& network, const ExportSpec& spec);

// Writes to_torchscript() with the extra file "octrain.json" (spec.metadata), atomically.
void write_torchscript(const std::string& path, control::Network& network, const ExportSpec& spec);

// Writes exported_tensors() as a dict {name: tensor} that torch.load reads, atomically.
void write_state_dict(const std::string& path, control::Network& network, const ExportSpec& spec);

}  // namespace octrain::deploy
