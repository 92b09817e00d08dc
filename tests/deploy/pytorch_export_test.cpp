// The TorchScript and state-dict exports (docs/EXPORT.md) against octrain's own outputs: in
// LibTorch (torch::jit::load) always, in PyTorch when /usr/bin/python3 has torch.
#include "octrain/deploy/pytorch_export.h"

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <torch/csrc/jit/serialization/import.h>
#include <torch/csrc/jit/serialization/pickle.h>
#include <torch/utils.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <iterator>

#include "octrain/control/dense.h"
#include "octrain/control/model_builder.h"
#include "octrain/control/terminal_loss.h"
#include "octrain/util/error.h"
#include "train/run_helpers.h"

namespace octrain::deploy {
namespace {

namespace testing = train::testing;  // the run helpers (train/run_helpers.h)

using testing::fresh_dir;

constexpr const char* kPython = "/usr/bin/python3";

bool python_has_torch() {
  static const bool ok =
      std::system((std::string(kPython) + " -c 'import torch' >/dev/null 2>&1").c_str()) == 0;
  return ok;
}

struct Case {
  std::string name;
  std::string spec;
  control::Shape input;
  bool tabular = false;  // raw inputs standardised with fitted statistics
  bool regression = false;
  bool mmc = false;  // prediction by the nearest Max-Mahalanobis centre
};

// How gtest (and so ctest's test list) prints a case: its name, not its bytes.
void PrintTo(const Case& c, std::ostream* os) {
  *os << c.name;
}

const std::vector<Case>& cases() {
  static const std::vector<Case> all = {
      {"mlp", "mlp:13-32-16-3:tanh", {13}, true},
      {"cnn4",
       "cnn:conv6x3-conv6x3-maxpool2-conv6x3-conv6x3-maxpool2-flatten-fc16-10",
       {1, 12, 12}},
      {"residual_cnn",
       "cnn:conv5x3-avgpool2-conv5x3-avgpool2-res5x3-res5x3-chmean-10:tanh:delta=0.5",
       {1, 12, 12}},
      {"residual_mlp", "resmlp:13-8x3-3:softplus:delta=0.3", {13}, true},
      {"erf_mlp", "mlp:13-16-3:erf", {13}},
      {"toy", "resmlp:1-5x4-1:tanh:delta=0.25:io=fixed", {1}, true, true},
      {"batchnorm_mlp", "mlp:20-16-16-4:relu:bn=true", {20}, true},
      {"batchnorm_cnn", "cnn:conv4x3s2-bn-maxpool2-flatten-fc8-5:sigmoid", {3, 9, 9}},
      {"ternary_mlp", "tmlp:20-16x2-4", {20}, true},
      {"binary_cnn", "bcnn:conv4x3-maxpool2-flatten-5", {1, 8, 8}},
      {"mmc", "mlp:13-16-10:tanh", {13}, true, false, true},
  };
  return all;
}

torch::Tensor random_input(const control::Shape& shape, int64_t n) {
  std::vector<int64_t> sizes{n};
  sizes.insert(sizes.end(), shape.begin(), shape.end());
  return torch::rand(sizes);
}

// A network in evaluation mode with state away from its initial values: batch-norm running
// statistics from a few training-mode passes, discrete scales α ≠ 1.
std::shared_ptr<control::Network> prepared_network(const Case& c) {
  torch::manual_seed(7);
  auto network = control::build_network(c.spec, c.input);
  network->train();
  for (int i = 0; i < 3; ++i) network->predict(random_input(c.input, 16) * 2 + 0.5);
  network->eval();
  for (size_t t = 0; t < network->size(); ++t)
    if (auto* alpha = network->stage(t).discrete_scale()) alpha->uniform_(0.5, 1.5);
  return network;
}

struct Prepared {
  std::shared_ptr<control::Network> network;
  ExportSpec spec;
  std::unique_ptr<control::TerminalLoss> loss;
  torch::Tensor x;               // raw inputs
  torch::Tensor x_standardised;  // what the network sees
  torch::Tensor expected;        // octrain's outputs
  torch::Tensor expected_class;
};

Prepared prepare(const Case& c) {
  Prepared p;
  p.network = prepared_network(c);
  const int64_t outputs = p.network->output_shape()[0];
  torch::manual_seed(11);
  p.x = random_input(c.input, 17);
  p.x_standardised = p.x;
  if (c.tabular) {
    p.x = p.x * 4 - 1;
    p.spec.standardiser = data::Standardiser::fit(random_input(c.input, 50) * 3 + 0.5);
    p.x_standardised = p.spec.standardiser->apply(p.x);
  }
  const int64_t classes = c.mmc ? 3 : outputs;
  p.loss = control::make_terminal_loss(c.regression ? "mse"
                                       : c.mmc      ? "mmc"
                                                    : "cross-entropy",
                                       classes, outputs);
  p.spec.classification = !c.regression;
  p.spec.num_classes = c.regression ? 0 : classes;
  if (c.mmc)
    p.spec.class_centres = dynamic_cast<const control::MaxMahalanobisLoss&>(*p.loss).centres();
  p.spec.metadata = {{"model", c.spec}};
  p.expected = p.network->predict(p.x_standardised);
  if (!c.regression) p.expected_class = p.loss->predict_class(p.expected);
  return p;
}

// Largest difference relative to the outputs' scale (at least 1).
double relative_difference(const torch::Tensor& got, const torch::Tensor& expected) {
  const double scale = std::max(1.0, expected.abs().max().item<double>());
  return (got.detach().to(torch::kDouble) - expected.to(torch::kDouble))
             .abs()
             .max()
             .item<double>() /
         scale;
}

// Binary/ternary stages export α ⊙ W as one weight, so α multiplies before the sum instead of
// after it: float rounding, nothing more. Real-valued nets use octrain's own ops.
constexpr double kTolerance = 1e-6;

class PytorchExport : public ::testing::TestWithParam<Case> {};

TEST_P(PytorchExport, LibtorchRoundTripGivesOctrainOutputs) {
  const Case& c = GetParam();
  auto p = prepare(c);
  const auto path = (fresh_dir() / "model.pt").string();
  write_torchscript(path, *p.network, p.spec);

  torch::jit::ExtraFilesMap extra = {{"octrain.json", ""}};
  auto module = torch::jit::load(path, torch::kCPU, extra);
  EXPECT_EQ(nlohmann::json::parse(extra["octrain.json"]).value("model", ""), c.spec);
  torch::NoGradGuard no_grad;
  const auto got = module.forward({p.x}).toTensor();
  ASSERT_EQ(got.sizes(), p.expected.sizes());
  const double difference = relative_difference(got, p.expected);
  RecordProperty("relative_difference", fmt::format("{:.3g}", difference));
  EXPECT_LE(difference, kTolerance) << c.spec;
  const auto network = module.get_method("network")({p.x_standardised}).toTensor();
  EXPECT_LE(relative_difference(network, p.expected), kTolerance);
  EXPECT_EQ(module.attr("input_standardised").toBool(), c.tabular);
  EXPECT_EQ(module.attr("num_classes").toInt(), p.spec.num_classes);
  EXPECT_EQ(module.attr("task").toStringRef(), c.regression ? "regression" : "classification");
  if (!c.regression)
    EXPECT_TRUE(module.get_method("predict_class")({p.x}).toTensor().equal(p.expected_class));
}

TEST_P(PytorchExport, PytorchGivesOctrainOutputsAndTheStateDict) {
  if (!python_has_torch()) GTEST_SKIP() << kPython << " has no torch";
  const Case& c = GetParam();
  auto p = prepare(c);
  const auto dir = fresh_dir();
  const auto model = (dir / "model.pt").string(), state = (dir / "state.pt").string(),
             inputs = (dir / "inputs.pt").string(), outputs = (dir / "outputs.pt").string();
  write_torchscript(model, *p.network, p.spec);
  write_state_dict(state, *p.network, p.spec);
  c10::Dict<std::string, torch::Tensor> in;
  in.insert("x", p.x);
  in.insert("x_standardised", p.x_standardised);
  {
    const auto bytes = torch::jit::pickle_save(c10::IValue(in));
    std::ofstream(inputs, std::ios::binary).write(bytes.data(), std::streamsize(bytes.size()));
  }
  const std::string command = fmt::format(
      "{} '{}/tests/deploy/python/run_exported_model.py' '{}' "
      "'{}' '{}' '{}'",
      kPython, OCTRAIN_SOURCE_DIR, model, inputs, outputs, state);
  ASSERT_EQ(std::system(command.c_str()), 0) << command;

  std::ifstream file(outputs, std::ios::binary);
  const std::vector<char> bytes((std::istreambuf_iterator<char>(file)),
                                std::istreambuf_iterator<char>());
  const auto out = torch::jit::pickle_load(bytes).toGenericDict();
  const auto get = [&](const char* key) { return out.at(key).toTensor(); };
  EXPECT_LE(relative_difference(get("forward"), p.expected), kTolerance) << c.spec;
  EXPECT_LE(relative_difference(get("network"), p.expected), kTolerance) << c.spec;
  if (!c.regression) EXPECT_TRUE(get("predict_class").equal(p.expected_class));
  EXPECT_EQ(get("input_standardised").item<int64_t>(), int64_t(c.tabular));
  EXPECT_EQ(get("num_classes").item<int64_t>(), p.spec.num_classes);
  EXPECT_EQ(get("metadata_keys").item<int64_t>(), 1);
  EXPECT_EQ(get("state_dict_difference").item<double>(), 0.0)
      << "the state dict differs from the module's (-1: other keys)";
}

INSTANTIATE_TEST_SUITE_P(Nets, PytorchExport, ::testing::ValuesIn(cases()),
                         [](const auto& info) { return info.param.name; });

TEST(PytorchExportTensors, NamesFollowTheStagesAndDiscreteWeightsAreEffective) {
  torch::manual_seed(3);
  auto network = control::build_network("tmlp:6-5-3", {6});
  network->stage(0).discrete_scale()->fill_(0.25);
  ExportSpec spec;
  spec.standardiser = data::Standardiser::fit(torch::rand({10, 6}));
  const auto tensors = exported_tensors(*network, spec);
  std::vector<std::string> names;
  for (const auto& [name, tensor] : tensors) names.push_back(name);
  EXPECT_EQ(names.front(), "stage0.weight");
  EXPECT_EQ(names.at(1), "stage1.weight");  // the batch norm after it: γ
  EXPECT_EQ(names.back(), "input_std");
  auto& dense = dynamic_cast<control::DenseStage&>(network->stage(0));
  EXPECT_TRUE(tensors.front().second.equal(dense.weight * 0.25));
}

TEST(PytorchExportTensors, ExportSpecReadsTheRunsStandardisationAndLoss) {
  data::Dataset d;
  d.name = "csv:x.csv";
  d.num_classes = 3;
  d.metadata["standardisation"] = data::Standardiser::fit(torch::rand({10, 2})).to_json();
  const auto loss = control::make_terminal_loss("mmc", 3, 4);
  const auto spec = export_spec(*loss, d, {{"a", 1}});
  ASSERT_TRUE(spec.standardiser.has_value());
  EXPECT_EQ(spec.standardiser->mean().numel(), 2);
  EXPECT_TRUE(spec.classification);
  EXPECT_EQ(spec.class_centres.sizes(), (std::vector<int64_t>{3, 4}));
  d.metadata["standardisation"] = {{"applied", false}};
  EXPECT_FALSE(export_spec(*loss, d, {}).standardiser.has_value());
  d.metadata["standardisation"] = {{"applied", true}, {"mean", {1.0}}};
  EXPECT_THROW(export_spec(*loss, d, {}), DataError);
}

}  // namespace
}  // namespace octrain::deploy
