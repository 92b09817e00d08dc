// The up-front memory estimate, its check, and out-of-memory exits of the command line.
#include "octrain/train/memory_estimate.h"

#include <gtest/gtest.h>
#include <torch/types.h>

#include <fstream>

#include "cli_runner.h"
#include "octrain/control/model_builder.h"
#include "octrain/control/network.h"
#include "octrain/util/error.h"
#include "run_helpers.h"

namespace octrain::train {
namespace fs = std::filesystem;
namespace {

using testing::run_cli;

constexpr const char* kHuge = "mlp:784-100000000-10";  // 79.5e9 controls, 318 GB of float32
constexpr double kHugeControls = 784e8 + 1e8 + 1e9 + 10;

TEST(MemoryEstimate, PlansAModelTooLargeToBuildWithoutAllocating) {
  const auto network = control::plan_network(kHuge, {784});
  EXPECT_EQ(double(network->num_controls()), kHugeControls);
  for (const auto& theta : network->controls()) EXPECT_TRUE(theta.is_meta());
  const auto e = estimate_memory(*network, "adam", {}, 128);
  EXPECT_DOUBLE_EQ(e.parameters, 4 * kHugeControls);
  EXPECT_DOUBLE_EQ(e.gradients, 4 * kHugeControls);
  EXPECT_DOUBLE_EQ(e.method_state, 2 * 4 * kHugeControls);  // Adam's two moments
  EXPECT_EQ(format_bytes(e.parameters), "318 GB");
  // States and co-states of 128 samples: 2 × 128 × (784 + 2·10⁸ + 10) floats.
  EXPECT_DOUBLE_EQ(e.activations, 4 * 2 * 128 * (784 + 2e8 + 10));
  EXPECT_EQ(e.describe().rfind("about 1.48 TB (parameters 318 GB, gradients 318 GB, method state "
                               "636 GB, activations 205 GB",
                               0),
            0u)
      << e.describe();
}

TEST(MemoryEstimate, APlanIsTheBuiltNetworkWithoutStorageOrRandomNumbers) {
  for (const std::string spec : {"mlp:64-32-10:relu", "cnn:conv4x3-avgpool2-res4x3-chmean-10",
                                 "tmlp:64-32x2-10", "resmlp:64-16x3-10:tanh:bn=true"}) {
    SCOPED_TRACE(spec);
    const control::Shape input =
        spec.rfind("cnn", 0) == 0 ? control::Shape{1, 8, 8} : control::Shape{64};
    torch::manual_seed(5);
    const auto plan = control::plan_network(spec, input);
    const auto after_plan = torch::rand({4});
    torch::manual_seed(5);
    const auto built = control::build_network(spec, input);
    EXPECT_EQ(plan->summary(), built->summary());
    for (const char* method : {"sgd", "adam", "kfac", "emsa", "ddpnopt", "msa-discrete"}) {
      if (std::string(method) == "msa-discrete" && spec[0] != 't') continue;
      EXPECT_EQ(estimate_memory(*plan, method, {}, 32).describe(),
                estimate_memory(*built, method, {}, 32).describe())
          << method;
    }
    torch::manual_seed(5);
    EXPECT_TRUE(torch::equal(after_plan, torch::rand({4}))) << "planning drew random numbers";
  }
}

TEST(MemoryEstimate, MethodsKeepTheirOwnShares) {
  const auto network = control::plan_network("mlp:100-100-10", {100});
  const double p = 4.0 * double(network->num_controls());
  auto state = [&](const std::string& method, std::map<std::string, std::string> options = {}) {
    return estimate_memory(*network, method, options, 16).method_state;
  };
  EXPECT_EQ(state("sgd"), 0);
  EXPECT_EQ(state("sgd", {{"momentum", "0.9"}}), p);
  EXPECT_EQ(state("adagrad"), p);
  EXPECT_EQ(state("adam"), 2 * p);
  EXPECT_EQ(state("adam", {{"amsgrad", "true"}}), 3 * p);
  EXPECT_EQ(state("msa", {{"history", "5"}}), 13 * p);  // L-BFGS pairs, gradient, direction
  EXPECT_GT(state("kfac"), 0);
  // Activations grow with the batch; full per-sample V_xx costs more than the factored one.
  EXPECT_LT(estimate_memory(*network, "adam", {}, 16).activations,
            estimate_memory(*network, "adam", {}, 64).activations);
  EXPECT_LT(estimate_memory(*network, "ddpnopt", {}, 16).total(),
            estimate_memory(*network, "ddpnopt", {{"value_hessian", "full"}}, 16).total());
  EXPECT_THROW(estimate_memory(*network, "adam", {{"bogus", "1"}}, 16), UsageError);
}

TEST(MemoryEstimate, TheCheckRefusesBeyondWhatIsAvailable) {
  const auto e = estimate_memory(*control::plan_network(kHuge, {784}), "sgd", {}, 128);
  try {
    check_memory(e, 16e9, "model 'x'");
    FAIL() << "expected a refusal";
  } catch (const UsageError& error) {
    const std::string message = error.what();
    EXPECT_EQ(message.rfind("model 'x' needs about 841 GB of memory (parameters 318 GB", 0), 0u)
        << message;
    EXPECT_NE(message.find("but 16.0 GB are available"), std::string::npos) << message;
    EXPECT_EQ(message.find('\n'), std::string::npos);
  }
  EXPECT_NO_THROW(check_memory(e, 1e15, "model 'x'"));
  EXPECT_NO_THROW(check_memory(e, std::nullopt, "model 'x'"));  // MemAvailable unreadable
  if (fs::exists("/proc/meminfo")) {
    ASSERT_TRUE(available_memory().has_value());
    EXPECT_GT(*available_memory(), 1e6);
  }
  EXPECT_EQ(format_bytes(999), "999 B");
  EXPECT_EQ(format_bytes(1234), "1.23 kB");
  EXPECT_EQ(format_bytes(45.6e6), "45.6 MB");
}

TEST(MemoryCli, ModelPrintsTheEstimate) {
  const auto o = run_cli(std::string("model ") + kHuge + " --input 784");
  EXPECT_EQ(o.code, 0) << o.output;
  EXPECT_NE(o.output.find("total controls: 79500000010"), std::string::npos) << o.output;
  EXPECT_NE(o.output.find("parameters: 318 GB"), std::string::npos) << o.output;
  EXPECT_NE(o.output.find("memory estimate (adam, batch 128): about 1.48 TB"), std::string::npos)
      << o.output;
  const auto sgd = run_cli(std::string("model ") + kHuge + " --input 784 --method sgd -b 1");
  EXPECT_NE(sgd.output.find("memory estimate (sgd, batch 1): about 638 GB"), std::string::npos)
      << sgd.output;
}

// Far beyond any machine: 10^18 controls.
constexpr const char* kBeyond = "mlp:1-999999999-999999999-1";

TEST(MemoryCli, TrainAndCompareRefuseARunBeyondAvailableMemory) {
  const auto dir = testing::fresh_dir();
  const auto train =
      run_cli(std::string("train -q -d toy-sin -m ") + kBeyond + " -o " + (dir / "run").string());
  EXPECT_FAILS_WITH(train, 2,
                    "octrain: error: model 'mlp:1-999999999-999999999-1' with adam at "
                    "batch 100 needs about ");
  EXPECT_NE(train.output.find("are available (MemAvailable)"), std::string::npos) << train.output;
  EXPECT_FALSE(fs::exists(dir / "run" / "metrics.jsonl"));
  const auto compare = run_cli(std::string("compare -q --no-report -d toy-sin -m ") + kBeyond +
                               " --methods sgd adam -o " + (dir / "grid").string());
  EXPECT_FAILS_WITH(compare, 2, "compare: 'sgd' (model 'mlp:1-999999999-999999999-1' at batch");
}

TEST(MemoryCli, AFailedAllocationIsExitCodeSix) {
  // A run directory whose model cannot be allocated (eval builds it without an estimate), under
  // a 2 GB address-space limit so the attempt fails at once on any machine.
  const std::string limit = "ulimit -v 2000000 &&";
  if (run_cli("version", limit).code != 0) GTEST_SKIP() << "octrain does not start under ulimit -v";
  const auto dir = testing::fresh_dir();
  std::ofstream(dir / "config.toml") << "dataset = \"toy-sin\"\nmodel = \"" << kBeyond << "\"\n";
  const auto o = run_cli("eval " + dir.string(), limit);
  EXPECT_FAILS_WITH(o, 6, "octrain: error: out of memory (");
  EXPECT_NE(o.output.find("a smaller model or --batch-size needs less"), std::string::npos)
      << o.output;
}

}  // namespace
}  // namespace octrain::train
