#include "octrain/control/model_builder.h"

#include <gtest/gtest.h>
#include <torch/types.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "octrain/control/dense.h"
#include "octrain/control/discrete_controls.h"
#include "octrain/util/error.h"

namespace octrain::control {
namespace {

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const UsageError& e) {
    return e.what();
  }
  return "";
}

TEST(ModelBuilder, MlpOnImagesInsertsFlattenAndCountsControls) {
  auto net = build_network("mlp:784-256-256-10:relu", {1, 28, 28});
  EXPECT_EQ(net->size(), 6u);  // flatten, dense, relu, dense, relu, dense
  EXPECT_EQ(net->num_controls(), 784 * 256 + 256 + 256 * 256 + 256 + 256 * 10 + 10);
  EXPECT_EQ(net->output_shape(), (Shape{10}));
  EXPECT_NE(net->summary().find("Dense 784→256"), std::string::npos);
}

TEST(ModelBuilder, CnnTokens) {
  auto net = build_network("cnn:conv5x3-avgpool2-conv5x3-avgpool2-res5x3-res5x3-chmean-10:tanh",
                           {1, 28, 28});
  EXPECT_EQ(net->output_shape(), (Shape{10}));
  EXPECT_EQ(net->stage_input_shape(net->size() - 2), (Shape{1, 7, 7}));
}

TEST(ModelBuilder, EmsaToyHasFixedLiftAndReadout) {
  auto net = build_network("resmlp:1-5x20-1:tanh:delta=0.25:io=fixed:init=zeros", {1});
  EXPECT_EQ(net->size(), 22u);
  EXPECT_EQ(net->num_controls(), 20 * (5 * 5 + 5));
  // Zero controls: every residual stage is the identity, so the output is 5·x.
  const auto x = torch::tensor({{0.5f}, {-2.0f}});
  EXPECT_TRUE(torch::allclose(net->predict(x), 5 * x));
  EXPECT_THROW(build_network("resmlp:2-5x2-1:io=fixed", {2}), UsageError);
}

TEST(ModelBuilder, InitialisersSetTheWeights) {
  torch::manual_seed(0);
  auto zeros = build_network("resmlp:1-5x3-1:init=zeros", {1});
  for (auto& theta : zeros->controls()) EXPECT_EQ(theta.abs().sum().item<double>(), 0.0);
  auto normal = build_network("mlp:400-400-1:init=normal,sw2=2,sb2=0.5", {400});
  auto& dense = dynamic_cast<DenseStage&>(normal->stage(0));
  EXPECT_NEAR(dense.weight.var().item<double>() * 400, 2.0, 0.05);
  auto ortho = build_network("mlp:50-50-1:init=orthogonal,sw2=4", {50});
  auto& square = dynamic_cast<DenseStage&>(ortho->stage(0));
  EXPECT_TRUE(torch::allclose(square.weight.mm(square.weight.t()), 4 * torch::eye(50), 1e-4, 1e-4));
}

// TensorFlow's truncated normal (DeepOBS's initialiser): no weight beyond 2σ, the standard
// deviation of N(0, σ²) cut at ±2σ (0.8796σ), every bias the constant; its options belong to it.
TEST(ModelBuilder, TruncatedNormalInitialiser) {
  torch::manual_seed(0);
  auto net = build_network("mlp:400-300-1:init=truncated-normal:std=0.05:bias_value=0.05", {400});
  auto& dense = dynamic_cast<DenseStage&>(net->stage(0));
  EXPECT_LE(dense.weight.abs().max().item<double>(), 0.1);
  EXPECT_NEAR(dense.weight.std().item<double>(), 0.8796 * 0.05, 0.002);
  EXPECT_NEAR(dense.weight.mean().item<double>(), 0.0, 0.001);
  EXPECT_TRUE(torch::all(dense.bias == 0.05).item<bool>());
  EXPECT_THROW(build_network("mlp:4-3-1:init=normal:std=0.1", {4}), UsageError);
  EXPECT_THROW(build_network("mlp:4-3-1:init=truncated-normal:std=-1", {4}), UsageError);
  // A model file's [init] table takes the same options, and refuses others (a typo is an error).
  const auto path = std::filesystem::temp_directory_path() /
                    ("octrain-init-" + std::to_string(::getpid()) + ".toml");
  std::ofstream(path) << "[init]\ninit = \"truncated-normal\"\nstd = 0.02\nbias_value = 0.1\n"
                         "[[stage]]\ntype = \"dense\"\nout = 3\n";
  auto from_file = build_network(path.string(), {4});
  EXPECT_TRUE(torch::all(dynamic_cast<DenseStage&>(from_file->stage(0)).bias == 0.1).item<bool>());
  std::ofstream(path) << "[init]\ninit = \"normal\"\nsigma = 0.02\n[[stage]]\ntype = \"dense\"\n"
                         "out = 3\n";
  EXPECT_NE(error_of([&] { build_network(path.string(), {4}); }).find("no option 'sigma'"),
            std::string::npos);
  std::filesystem::remove(path);
}

TEST(ModelBuilder, ErrorsNameTheProblem) {
  EXPECT_NE(error_of([] { build_network("mlp:10-5-2", {13}); }).find("does not match"),
            std::string::npos);
  EXPECT_NE(error_of([] {
              build_network("cnn:conv5x3-blob-10", {1, 8, 8});
            }).find("'blob'"),
            std::string::npos);
  EXPECT_NE(error_of([] { build_network("mlp:13-5-2:tanh:colour=red", {13}); }).find("colour"),
            std::string::npos);
  EXPECT_NE(error_of([] { build_network("mlp:13-5-2:wiggle", {13}); }).find("wiggle"),
            std::string::npos);
  EXPECT_NE(error_of([] { build_network("transformer:12", {13}); }).find("unknown kind"),
            std::string::npos);
  EXPECT_NE(error_of([] { build_network("cnn:conv5x3-10", {13}); }).find("image input"),
            std::string::npos);
}

// The shape rules agree with the stages' real forward passes at the edges (a window or kernel
// as large as the input, one pixel larger, strides that do not divide): a net is refused with a
// UsageError when it is built, or its forward gives the shape the builder printed.
TEST(ModelBuilder, ShapeRulesAgreeWithForwardAtTheEdges) {
  const std::vector<std::string> specs = {"cnn:maxpool28-10",
                                          "cnn:maxpool29-10",
                                          "cnn:avgpool29-10",
                                          "cnn:maxpool27-10",
                                          "cnn:conv4x29-10",
                                          "cnn:conv4x31-10",
                                          "cnn:conv4x3s5-10",
                                          "cnn:conv4x3s2-maxpool8-10",
                                          "cnn:conv4x3s2-maxpool15-10",
                                          "cnn:conv4x57-10",
                                          "cnn:conv4x3-res4x3-maxpool14-10"};
  int refused = 0;
  for (const auto& spec : specs) {
    SCOPED_TRACE(spec);
    std::shared_ptr<Network> net;
    try {
      net = build_network(spec, {1, 28, 28});
    } catch (const UsageError&) {
      ++refused;
      continue;
    }
    auto shape = net->output_shape();
    shape.insert(shape.begin(), 2);
    EXPECT_EQ(net->predict(torch::randn({2, 1, 28, 28})).sizes().vec(), shape);
  }
  EXPECT_EQ(refused,
            3);  // maxpool29, avgpool29, maxpool15 on 14×14; "same" padding fits any kernel
}

TEST(ModelBuilder, TomlStageList) {
  const auto dir = std::filesystem::temp_directory_path() / "octrain_model_builder_test";
  std::filesystem::create_directories(dir);
  const auto path = (dir / "net.toml").string();
  std::ofstream(path) << R"(
[init]
init = "normal"
sw2 = 1.5
[[stage]]
type = "conv2d"
out = 4
kernel = 3
[[stage]]
type = "relu"
[[stage]]
type = "maxpool"
window = 2
[[stage]]
type = "flatten"
[[stage]]
type = "dense"
out = 3
)";
  auto net = build_network(path, {1, 6, 6});
  EXPECT_EQ(net->size(), 5u);
  EXPECT_EQ(net->output_shape(), (Shape{3}));
  std::ofstream(path) << "[[stage]]\ntype = \"dense\"\nout = 3\nwidth = 4\n";
  EXPECT_NE(error_of([&] { build_network(path, {5}); }).find("stage 0"), std::string::npos);
  std::ofstream(path) << "[[stage]]\ntype = \"dropout\"\n";
  const auto unknown = error_of([&] { build_network(path, {5}); });
  EXPECT_NE(unknown.find("unknown stage type 'dropout' (known: dense, conv2d"), std::string::npos)
      << unknown;
  std::filesystem::remove_all(dir);
}

TEST(ModelBuilder, DiscreteNetworksFollowSection3) {
  torch::manual_seed(0);
  // Dense(no bias) → BN → ReLU per hidden layer, then Dense → BN.
  auto net = build_network("tmlp:20-16x2-3", {20});
  ASSERT_EQ(net->size(), 8u);
  for (size_t t : {0u, 3u, 6u}) {
    auto& dense = dynamic_cast<DenseStage&>(net->stage(t));
    EXPECT_EQ(dense.control_set(), ControlSet::kTernary);
    EXPECT_FALSE(dense.bias.defined());
    EXPECT_TRUE(in_control_set(dense.weight, ControlSet::kTernary));
    EXPECT_TRUE(dense.weight.eq(0).any().item<bool>());  // uniform over {−1, 0, +1}
    EXPECT_EQ(net->stage(t + 1).kind(), StageKind::kBatchNorm);
  }
  EXPECT_NE(net->stage(1).describe().find("eps 0.0001"), std::string::npos);
  auto binary = build_network("bcnn:conv4x3-maxpool2-fc8-10", {1, 8, 8});
  EXPECT_EQ(binary->stage(0).control_set(), ControlSet::kBinary);
  EXPECT_TRUE(in_control_set(binary->stage(0).controls().front(), ControlSet::kBinary));
  EXPECT_EQ(binary->output_shape(), (Shape{10}));
  EXPECT_EQ(build_network("mlp:20-16-3:relu:weights=binary", {20})->summary(),
            build_network("bmlp:20-16-3", {20})->summary());
  EXPECT_NE(error_of([] { build_network("mlp:4-4-2:weights=quaternary", {4}); }).find("weights"),
            std::string::npos);
  EXPECT_NE(error_of([] { build_network("resmlp:4-4x2-2:weights=binary", {4}); }).find("real"),
            std::string::npos);

  const auto dir = std::filesystem::temp_directory_path() / "octrain_model_builder_discrete";
  std::filesystem::create_directories(dir);
  const auto path = (dir / "net.toml").string();
  std::ofstream(path) << "[[stage]]\ntype = \"dense\"\nout = 3\ncontrol_set = \"ternary\"\n";
  EXPECT_EQ(build_network(path, {5})->stage(0).control_set(), ControlSet::kTernary);
  std::ofstream(path) << "[[stage]]\ntype = \"dense\"\nout = 3\ncontrol_set = \"binary\"\n"
                         "bias = true\n";
  EXPECT_NE(error_of([&] { build_network(path, {5}); }).find("no bias"), std::string::npos);
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace octrain::control
