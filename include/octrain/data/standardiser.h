#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "octrain/data/dataset.h"

namespace octrain::data {

// Per-feature standardisation x' = (x - mean) / std with the statistics of the training split
// only, so nothing about the validation or test samples leaks into the inputs.
class Standardiser {
 public:
  // x: float [N, F]. A feature with zero spread (e.g. a digits pixel that is always 0) keeps
  // std = 1, so it becomes 0 rather than NaN.
  static Standardiser fit(const torch::Tensor& x);

  torch::Tensor apply(const torch::Tensor& x) const;
  // mean and std per feature (population std), and how many features were constant.
  nlohmann::json to_json() const;
  // The statistics written by to_json() (a dataset's metadata["standardisation"]); nullopt when
  // that record says none were applied. Throws DataError naming `owner` for a malformed record.
  static std::optional<Standardiser> from_json(const nlohmann::json& record,
                                               const std::string& owner);

  const torch::Tensor& mean() const { return mean_; }  // float64 [F]
  const torch::Tensor& std() const { return std_; }    // float64 [F], constant features 1

 private:
  torch::Tensor mean_;  // float64 [F]
  torch::Tensor std_;   // float64 [F]
  int64_t constant_features_ = 0;
};

}  // namespace octrain::data
