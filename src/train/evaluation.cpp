#include "octrain/train/evaluation.h"

#include <torch/utils.h>

#include <limits>

#include "octrain/control/network.h"
#include "octrain/dist/batch_reducer.h"
#include "octrain/dist/communicator.h"

namespace octrain::train {

Evaluation evaluate(control::Network& network, const control::TerminalLoss& loss,
                    const data::Split& split, int64_t chunk, int64_t num_classes) {
  Evaluation result;
  const int64_t n = split.size();
  if (n == 0) return result;
  const bool was_training = network.is_training();
  network.eval();
  torch::NoGradGuard no_grad;
  double loss_sum = 0.0;
  int64_t correct = 0;
  const bool confusion = loss.classification() && num_classes > 0;
  if (confusion) result.confusion = torch::zeros({num_classes * num_classes}, torch::kLong);
  for (int64_t begin = 0; begin < n; begin += chunk) {
    const int64_t end = std::min(n, begin + chunk);
    const auto x = split.x.slice(0, begin, end);
    const auto y = split.y.slice(0, begin, end);
    const auto output = network.predict(x);
    loss_sum += loss.evaluate(output, y, false).value.item<double>() * double(end - begin);
    if (!loss.classification()) continue;
    const auto predicted = loss.predict_class(output);
    correct += predicted.eq(y).sum().item<int64_t>();
    if (confusion)
      result.confusion +=
          torch::bincount((y * num_classes + predicted).cpu(), {}, num_classes * num_classes);
  }
  if (confusion) result.confusion = result.confusion.view({num_classes, num_classes});
  if (was_training) network.train();
  result.samples = n;
  result.loss = loss_sum / double(n);
  result.accuracy = loss.classification() ? double(correct) / double(n)
                                          : std::numeric_limits<double>::quiet_NaN();
  return result;
}

torch::Tensor per_class_accuracy(const torch::Tensor& confusion) {
  const auto counts = confusion.to(torch::kDouble);
  return counts.diagonal() / counts.sum(1);  // 0/0 = NaN for an absent class
}

Evaluation evaluate_sharded(control::Network& network, const control::TerminalLoss& loss,
                            const data::Split& split, dist::Communicator& communicator) {
  if (!communicator.distributed()) return evaluate(network, loss, split);
  const auto shard = dist::shard_of(split.size(), communicator.rank(), communicator.world_size());
  const data::Split mine{split.x.slice(0, shard.offset, shard.offset + shard.size),
                         split.y.slice(0, shard.offset, shard.offset + shard.size)};
  const auto local = evaluate(network, loss, mine);
  const double n = double(local.samples);
  std::vector<double> sums{local.loss * n,
                           loss.classification() && n > 0 ? local.accuracy * n : 0.0, n};
  communicator.all_reduce_sum(sums);
  Evaluation result;
  result.samples = int64_t(sums[2]);
  if (result.samples == 0) return result;
  result.loss = sums[0] / sums[2];
  if (loss.classification()) result.accuracy = sums[1] / sums[2];
  return result;
}

}  // namespace octrain::train
