#pragma once

#include <torch/types.h>

#include <cstdint>
#include <string>
#include <vector>

#include "octrain/data/dataset.h"

namespace octrain::data {

// New inputs for a trained model (`octrain predict`): every sample of a source as its reader
// produces it (images in [0, 1], tabular features raw, not standardised), training files first.
struct InferenceInputs {
  torch::Tensor x;  // float32 [N, ...input_shape]
  torch::Tensor y;  // the source's labels or targets; undefined when it has none
  std::string checksum;
};

// Any dataset source (built-in, idx:DIR, csv:PATH[?…], cifar10:DIR). A csv source without
// label=/target= whose column count equals the model's feature count is read as features only.
// Throws DataError when a sample's shape differs from `input_shape`, naming both.
InferenceInputs load_inference_inputs(const std::string& source,
                                      const std::vector<int64_t>& input_shape,
                                      const LoadOptions& options = {});

}  // namespace octrain::data
