#pragma once

#include <cstdint>
#include <limits>

#include "octrain/data/dataset.h"

namespace octrain::control {
class Network;
class TerminalLoss;
}  // namespace octrain::control

namespace octrain::dist {
class Communicator;
}

namespace octrain::train {

struct Evaluation {
  double loss = 0.0;                                           // mean terminal loss over the split
  double accuracy = std::numeric_limits<double>::quiet_NaN();  // NaN for regression
  int64_t samples = 0;
  // Classification with num_classes > 0: int64 [classes, classes], rows the true class,
  // columns the predicted one; undefined otherwise.
  torch::Tensor confusion;
};

// Evaluates in eval mode (batch norm uses running statistics), in chunks; restores train mode.
// `num_classes` > 0 also counts the confusion matrix.
Evaluation evaluate(control::Network& network, const control::TerminalLoss& loss,
                    const data::Split& split, int64_t chunk = 1000, int64_t num_classes = 0);

// Per-class accuracy (recall) from a confusion matrix: [classes] float64, NaN for a class
// without samples.
torch::Tensor per_class_accuracy(const torch::Tensor& confusion);
// Data-parallel: every rank evaluates its slice of the split (dist::shard_of) and all get the
// figures of the whole split. With one process the same as evaluate().
Evaluation evaluate_sharded(control::Network& network, const control::TerminalLoss& loss,
                            const data::Split& split, dist::Communicator& communicator);

}  // namespace octrain::train
