#pragma once

#include <torch/csrc/jit/api/module.h>
#include <torch/types.h>

#include <cstdint>
#include <ostream>
#include <string>
#include <vector>

namespace octrain::deploy {

// Per-sample outputs of a model exported by to_torchscript() (pytorch_export.h) on new inputs.
struct Predictions {
  bool classification = true;
  torch::Tensor outputs;        // [N, K] the network's outputs (logits, scores or values)
  torch::Tensor classes;        // [N] int64; classification only
  torch::Tensor probabilities;  // [N, K] softmax of the outputs; cross-entropy models only
};

// Reads a file written by write_torchscript(); DataError (one line) for anything else.
torch::jit::Module load_torchscript_model(const std::string& path);

// The per-sample input shape the module was exported for (its input_shape attribute).
std::vector<int64_t> model_input_shape(const torch::jit::Module& model);

// Runs the module's forward and predict_class over x (raw inputs) in batches, without autograd.
Predictions predict(torch::jit::Module& model, const torch::Tensor& x, int64_t batch_size = 1024);

// One CSV row per sample: index, then the known label (or target_k columns) when `y` is defined,
// then class and probability_k (cross-entropy), class and output_k (other classification
// losses), or value_k (regression).
void write_predictions_csv(std::ostream& out, const Predictions& predictions,
                           const torch::Tensor& y);

}  // namespace octrain::deploy
