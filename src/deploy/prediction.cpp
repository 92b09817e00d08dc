#include "octrain/deploy/prediction.h"

#include <fmt/format.h>
#include <torch/csrc/jit/serialization/import.h>
#include <torch/utils.h>

#include <filesystem>

#include "octrain/util/error.h"

namespace octrain::deploy {

torch::jit::Module load_torchscript_model(const std::string& path) {
  if (!std::filesystem::is_regular_file(path)) throw DataError(path + ": no such model file");
  torch::jit::Module model;
  try {
    model = torch::jit::load(path, torch::kCPU);
  } catch (const c10::Error&) {
    throw DataError(path + ": not a TorchScript archive (octrain export --format torchscript)");
  }
  for (const char* attribute : {"input_shape", "task", "loss"})
    if (!model.hasattr(attribute))
      throw DataError(
          fmt::format("{}: a TorchScript module without the '{}' attribute of an "
                      "octrain export",
                      path, attribute));
  if (!model.find_method("predict_class"))
    throw DataError(path + ": a TorchScript module without predict_class(); not an octrain export");
  model.eval();
  return model;
}

std::vector<int64_t> model_input_shape(const torch::jit::Module& model) {
  return model.attr("input_shape").toIntVector();
}

Predictions predict(torch::jit::Module& model, const torch::Tensor& x, int64_t batch_size) {
  torch::NoGradGuard no_grad;
  Predictions p;
  p.classification = model.attr("task").toStringRef() == "classification";
  auto predict_class = model.get_method("predict_class");
  std::vector<torch::Tensor> outputs, classes;
  for (int64_t start = 0; start < x.size(0); start += batch_size) {
    const auto batch = x.narrow(0, start, std::min(batch_size, x.size(0) - start));
    outputs.push_back(model.forward({batch}).toTensor());
    if (p.classification) classes.push_back(predict_class({batch}).toTensor());
  }
  p.outputs = torch::cat(outputs);
  if (p.classification) {
    p.classes = torch::cat(classes);
    if (model.attr("loss").toStringRef() == "cross-entropy") p.probabilities = p.outputs.softmax(1);
  }
  return p;
}

void write_predictions_csv(std::ostream& out, const Predictions& p, const torch::Tensor& y) {
  const auto outputs = p.outputs.to(torch::kDouble).contiguous();
  const int64_t n = outputs.size(0), k = outputs.size(1);
  const auto targets = y.defined() ? y.to(torch::kDouble).reshape({n, -1}).contiguous() : y;
  std::vector<std::string> header = {"index"};
  if (targets.defined()) {
    if (p.classification)
      header.push_back("label");
    else
      for (int64_t j = 0; j < targets.size(1); ++j) header.push_back(fmt::format("target_{}", j));
  }
  if (p.classification) header.push_back("class");
  const char* column = !p.classification           ? "value"
                       : p.probabilities.defined() ? "probability"
                                                   : "output";
  for (int64_t j = 0; j < k; ++j) header.push_back(fmt::format("{}_{}", column, j));
  out << fmt::format("{}\n", fmt::join(header, ","));
  const auto values =
      p.probabilities.defined() ? p.probabilities.to(torch::kDouble).contiguous() : outputs;
  const double* v = values.data_ptr<double>();
  const double* t = targets.defined() ? targets.data_ptr<double>() : nullptr;
  const int64_t width = targets.defined() ? targets.size(1) : 0;
  for (int64_t i = 0; i < n; ++i) {
    std::string row = std::to_string(i);
    for (int64_t j = 0; j < width; ++j)
      row += p.classification ? fmt::format(",{}", int64_t(t[i * width + j]))
                              : fmt::format(",{:.9g}", t[i * width + j]);
    if (p.classification) row += fmt::format(",{}", p.classes[i].item<int64_t>());
    for (int64_t j = 0; j < k; ++j) row += fmt::format(",{:.9g}", v[i * k + j]);
    out << row << '\n';
  }
}

}  // namespace octrain::deploy
