#include <gtest/gtest.h>

#include "octrain/control/model_builder.h"
#include "octrain/control/network.h"
#include "octrain/perf/forward_flops.h"
#include "octrain/perf/performance_suite.h"
#include "octrain/util/error.h"

namespace octrain::perf {
namespace {

TEST(Perf, ForwardFlopsOfDenseAndConvStages) {
  auto mlp = control::build_network("mlp:64-32-10:tanh", {64});
  EXPECT_DOUBLE_EQ(forward_flops(*mlp, 2), 2.0 * (64 * 32 + 32 * 10) * 2);
  // Three passes, less the first layer's input co-state.
  EXPECT_DOUBLE_EQ(gradient_step_flops(*mlp, 2), 2.0 * (3 * (64 * 32 + 32 * 10) - 64 * 32) * 2);
  // conv 1→4, 3×3, same padding on 8×8: 2·1·9·4·64; then dense 256→10.
  auto cnn = control::build_network("cnn:conv4x3-flatten-10", {1, 8, 8});
  EXPECT_DOUBLE_EQ(forward_flops(*cnn, 1), 2.0 * 9 * 4 * 64 + 2.0 * 256 * 10);
}

TEST(Perf, SuiteTimesMethodsAgainstAdamAndListsRefusals) {
  SuiteOptions options;
  options.filter = "^(fc5/sgd|bmlp784/twn)$";
  options.repetitions = 1;
  options.min_seconds = 1e-3;
  options.scaling = false;
  std::FILE* sink = std::tmpfile();
  const auto md = run_performance_suite(options, sink);
  std::fclose(sink);
  EXPECT_NE(md.find("| fc5 | 32 | 0.35 | adam | "), std::string::npos) << md;
  EXPECT_NE(md.find(" | 1.00 | "), std::string::npos) << md;  // Adam against itself
  EXPECT_NE(md.find("| fc5 | 32 | 0.35 | sgd | "), std::string::npos) << md;
  EXPECT_NE(md.find("| bmlp784 | 100 | "), std::string::npos) << md;
  EXPECT_NE(md.find("Not applicable (the method refuses the net): `bmlp784/twn` (twn trains "
                    "ternary stages"),
            std::string::npos)
      << md;
  EXPECT_EQ(md.find("| cnn4 |"), std::string::npos) << "a filtered-out net was timed";
  EXPECT_NE(md.find("GFLOP/s"), std::string::npos);
  options.filter = "(";
  EXPECT_THROW(run_performance_suite(options, nullptr), UsageError);
}

}  // namespace
}  // namespace octrain::perf
