#include "octrain/data/standardiser.h"

#include "octrain/util/error.h"

namespace octrain::data {

Standardiser Standardiser::fit(const torch::Tensor& x) {
  // Statistics in float64 so the result does not depend on float32 summation order.
  const torch::Tensor values = x.to(torch::kDouble);
  Standardiser s;
  s.mean_ = values.mean(0);
  s.std_ = values.std(0, /*unbiased=*/false);
  const torch::Tensor constant = s.std_ == 0;
  s.constant_features_ = constant.sum().item<int64_t>();
  s.std_ = torch::where(constant, torch::ones_like(s.std_), s.std_);
  return s;
}

torch::Tensor Standardiser::apply(const torch::Tensor& x) const {
  if (!x.defined() || x.size(0) == 0) return x;
  return ((x.to(torch::kDouble) - mean_) / std_).to(torch::kFloat);
}

nlohmann::json Standardiser::to_json() const {
  auto as_vector = [](const torch::Tensor& t) {
    const torch::Tensor c = t.contiguous();
    return std::vector<double>(c.data_ptr<double>(), c.data_ptr<double>() + c.numel());
  };
  return {{"applied", true},
          {"fitted_on", "train"},
          {"mean", as_vector(mean_)},
          {"std", as_vector(std_)},
          {"constant_features", constant_features_}};
}

std::optional<Standardiser> Standardiser::from_json(const nlohmann::json& record,
                                                    const std::string& owner) {
  if (!record.is_object() || !record.value("applied", false)) return std::nullopt;
  const auto vector = [&](const char* key) {
    const auto it = record.find(key);
    if (it == record.end() || !it->is_array() || it->empty())
      throw DataError(owner + ": standardisation record without a '" + key + "' list");
    std::vector<double> values;
    for (const auto& v : *it) {
      if (!v.is_number()) throw DataError(owner + ": non-numeric standardisation " + key);
      values.push_back(v.get<double>());
    }
    return torch::tensor(values, torch::kDouble);
  };
  Standardiser s;
  s.mean_ = vector("mean");
  s.std_ = vector("std");
  if (s.mean_.numel() != s.std_.numel() || !(s.std_ > 0).all().item<bool>())
    throw DataError(owner + ": standardisation record with mismatched or non-positive std");
  s.constant_features_ = record.value("constant_features", int64_t(0));
  return s;
}

}  // namespace octrain::data
