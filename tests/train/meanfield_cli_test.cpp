// `octrain meanfield`, `octrain plot --diagnostics` and `train --diagnostics` end to end.
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <sstream>

#include "cli_runner.h"
#include "octrain/plot/gnuplot_figure.h"
#include "octrain/train/trainer.h"
#include "run_helpers.h"

namespace octrain::train {
namespace fs = std::filesystem;
namespace {

using testing::run_cli;

std::string read(const fs::path& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

TEST(MeanFieldCli, OnePointPrintsTheFixedPointPicture) {
  const auto o = run_cli("meanfield --activation tanh --sw2 2.0 --sb2 0.05");
  ASSERT_EQ(o.code, 0) << o.output;
  EXPECT_NE(o.output.find("q*   = 0.7218"), std::string::npos) << o.output;
  EXPECT_NE(o.output.find("χ₁   = 1.048  (chaotic)"), std::string::npos) << o.output;
  EXPECT_NE(o.output.find("c*   = 0.7441"), std::string::npos) << o.output;
  EXPECT_NE(o.output.find("critical σ_w² for σ_b² = 0.05: 1.761"), std::string::npos) << o.output;
  // ReLU's χ₁ = σ_w²/2 needs the default rule to keep a node off the kink.
  const auto relu = run_cli("meanfield --activation relu --sw2 1 --sb2 0.1");
  EXPECT_NE(relu.output.find("χ₁   = 0.5  (ordered)"), std::string::npos) << relu.output;
}

// ReLU at σ_w² = 2, σ_b² = 0 sits exactly on χ₁ = 1: the edge, neither phase.
TEST(MeanFieldCli, TheCriticalPointIsCalledCritical) {
  const auto o = run_cli("meanfield --activation relu --sw2 2 --sb2 0");
  ASSERT_EQ(o.code, 0) << o.output;
  EXPECT_NE(o.output.find("(critical: χ₁ = 1 within 1e-06, the edge of chaos)"), std::string::npos)
      << o.output;
  EXPECT_EQ(o.output.find("chaotic)"), std::string::npos) << o.output;
}

TEST(MeanFieldCli, BadInputIsOneLine) {
  EXPECT_FAILS_WITH(run_cli("meanfield --activation swish"), 2, "unknown activation 'swish'");
  EXPECT_FAILS_WITH(run_cli("meanfield --sw2 -1"), 2, "σ_w²");
  EXPECT_FAILS_WITH(run_cli("meanfield --grid --sb2-range 0.05:0.05:1"), 2, "--sb2-range");
  EXPECT_FAILS_WITH(run_cli("meanfield --grid --critical-line"), 2, "choose one");
  EXPECT_FAILS_WITH(run_cli("meanfield --trainability --depths 10,x"), 2, "--depths");
  EXPECT_FAILS_WITH(run_cli("plot /nonexistent-run --diagnostics"), 2, "/nonexistent-run");
}

TEST(MeanFieldCli, GridWritesThePhaseDiagramWithTheTransitionWhereTheTableSaysItIs) {
  if (plot::find_gnuplot().empty()) GTEST_SKIP() << "gnuplot is not installed";
  const auto out = testing::fresh_dir();
  const auto o = run_cli("meanfield --grid --sw2-range 1:3:9 --sb2-range 0:0.2:5 --points 61 -o '" +
                         out.string() + "'");
  ASSERT_EQ(o.code, 0) << o.output;
  const std::string csv = read(out / "phase_diagram.csv");
  EXPECT_EQ(csv.rfind("sigma_w2,sigma_b2,q_star,chi1,c_star,xi_q,xi_c\n", 0), 0u);
  EXPECT_EQ(std::count(csv.begin(), csv.end(), '\n'), 1 + 9 * 5);
  // The drawn transition passes through the reference table's points (σ_b² = 0.05 → 1.761).
  std::ifstream line(out / "phase_diagram-critical.dat");
  std::string header;
  std::getline(line, header);
  EXPECT_EQ(header, "# sigma_w2 sigma_b2");
  int checked = 0;
  for (double w = 0, b = 0; line >> w >> b;) {
    for (const auto [sb2, critical] : {std::pair{0.05, 1.761}, std::pair{0.2, 2.285}}) {
      if (std::abs(b - sb2) > 1e-12) continue;
      EXPECT_NEAR(w, critical, 1e-3);
      ++checked;
    }
  }
  EXPECT_EQ(checked, 2);
  const std::string svg = read(out / "phase_diagram.svg");
  EXPECT_NE(svg.find("<svg"), std::string::npos);
  EXPECT_NE(svg.find("phase diagram"), std::string::npos);
  EXPECT_NE(svg.find("<image"), std::string::npos);  // the ξ_c colour map
  EXPECT_TRUE(fs::exists(out / "phase_diagram.gp"));
}

TEST(MeanFieldCli, EmpiricalAndTrainabilityModesWriteTheirTablesAndFigures) {
  if (plot::find_gnuplot().empty()) GTEST_SKIP() << "gnuplot is not installed";
  const auto out = testing::fresh_dir();
  const auto e = run_cli("meanfield --empirical --width 60 --depth 4 -o '" + out.string() + "'");
  ASSERT_EQ(e.code, 0) << e.output;
  EXPECT_NE(e.output.find("| orthogonal |"), std::string::npos) << e.output;
  const std::string signal = read(out / "signal_propagation.csv");
  EXPECT_EQ(std::count(signal.begin(), signal.end(), '\n'), 1 + 5);  // 4 hidden + output layer
  EXPECT_NE(read(out / "jacobian_spectrum.svg").find("orthogonal weights"), std::string::npos);

  if (!testing::installed("wine")) GTEST_SKIP() << "wine is not installed";
  const auto t = run_cli(
      "meanfield --trainability -d wine --depths 2,3 --sw2-list 1,2 -e 1 "
      "--width 8 -o '" +
      out.string() + "'");
  ASSERT_EQ(t.code, 0) << t.output;
  const std::string table = read(out / "trainability.csv");
  EXPECT_EQ(std::count(table.begin(), table.end(), '\n'), 1 + 4);
  EXPECT_NE(read(out / "trainability.svg").find("6 ξ"), std::string::npos);
  EXPECT_FALSE(fs::exists(out / "runs" / "depth2-sw2_1" / "checkpoint.pt"));
}

TEST(MeanFieldCli, TrainingDiagnosticsAreLoggedWithoutChangingTheRunAndPlotted) {
  const auto dir = testing::fresh_dir();
  auto plain = testing::toy_config(dir / "plain");
  auto logged = testing::toy_config(dir / "logged");
  logged.diagnostics_every = 3;
  RunOptions quiet;
  quiet.quiet = true;
  const auto a = run_training(plain, quiet);
  const auto b = run_training(logged, quiet);
  EXPECT_EQ(a.final_train_loss, b.final_train_loss);
  EXPECT_EQ(a.test.loss, b.test.loss);
  EXPECT_NE(read(dir / "logged" / "config.toml").find("diagnostics_every = 3"), std::string::npos);

  std::ifstream in(dir / "logged" / "metrics.jsonl");
  int records = 0;
  for (std::string line; std::getline(in, line);) {
    const auto r = nlohmann::json::parse(line);
    if (r["kind"] != "diagnostics") continue;
    ++records;
    EXPECT_EQ(r["step"].get<int64_t>() % 3, 0);
    EXPECT_EQ(r["costate_norm"].size(), r["hamiltonian"].size() + 1);
    EXPECT_EQ(r["update_norm"].size(), r["hamiltonian"].size());
  }
  EXPECT_EQ(records, int(b.steps / 3));

  if (plot::find_gnuplot().empty()) GTEST_SKIP() << "gnuplot is not installed";
  const auto o = run_cli("plot '" + (dir / "logged").string() + "' --diagnostics");
  ASSERT_EQ(o.code, 0) << o.output;
  const std::string svg = read(dir / "logged" / "plots" / "costate_norms.svg");
  EXPECT_NE(svg.find("co-state norms"), std::string::npos);
  EXPECT_NE(svg.find("<image"), std::string::npos);
  EXPECT_NE(read(dir / "logged" / "plots" / "costate_profile.svg").find("step 3"),
            std::string::npos);
  // A run without diagnostics says how to get them.
  EXPECT_FAILS_WITH(run_cli("plot '" + (dir / "plain").string() + "' --diagnostics"), 2,
                    "--diagnostics N");
}

}  // namespace
}  // namespace octrain::train
