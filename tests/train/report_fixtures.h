#pragma once

#include <fmt/format.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

// Synthetic run directories for report tests: metrics.jsonl written by hand, so the expected
// means and deviations are known exactly.
namespace octrain::train::testing {

// One run: `steps` step records with loss 1/step and 2 ms per step, one epoch record at the
// end with the given final train loss and test accuracy (test loss = 1 − accuracy).
inline void write_synthetic_run(const std::filesystem::path& dir, const std::string& method,
                                int steps, double train_loss, double test_accuracy) {
  std::filesystem::create_directories(dir);
  std::ofstream log(dir / "metrics.jsonl");
  for (int s = 1; s <= steps; ++s)
    log << fmt::format(
               R"({{"kind":"step","epoch":1,"step":{},"loss":{},"accuracy":null,"step_time_ms":2.0}})",
               s, 1.0 / s)
        << "\n";
  log << fmt::format(R"({{"kind":"epoch","epoch":1,"step":{},"train_loss":{},"test_loss":{},)"
                     R"("test_accuracy":{},"mean_step_ms":2.0,"epoch_time_s":0.1}})",
                     steps, train_loss, 1 - test_accuracy, test_accuracy)
      << "\n";
  std::ofstream(dir / "config.toml") << "dataset = \"digits\"\nmodel = \"mlp:64-10\"\nepochs = 1\n"
                                     << "batch_size = 32\n[method]\nname = \"" << method << "\"\n";
}

// A compare grid: "sgd:lr=0.1" (method sgd) and "Adam" (method adam), seeds 0 and 1;
// sgd: train loss 0.4, 0.6, accuracy 0.9, 0.8; adam: train loss 0.2, 0.2, accuracy 0.95, 0.95.
inline void write_synthetic_grid(const std::filesystem::path& dir,
                                 const std::string& reference_json = "") {
  write_synthetic_run(dir / "sgd_lr_0.1" / "seed-0", "sgd", 20, 0.4, 0.9);
  write_synthetic_run(dir / "sgd_lr_0.1" / "seed-1", "sgd", 20, 0.6, 0.8);
  write_synthetic_run(dir / "Adam" / "seed-0", "adam", 20, 0.2, 0.95);
  write_synthetic_run(dir / "Adam" / "seed-1", "adam", 20, 0.2, 0.95);
  std::ofstream(dir / "experiment.json")
      << R"({"dataset":"digits","model":"mlp:64-10","epochs":1,"batch_size":32,"seeds":[0,1],)"
      << R"("entries":[{"label":"sgd:lr=0.1","method":"sgd","dir":"sgd_lr_0.1"},)"
      << R"({"label":"Adam","method":"adam","dir":"Adam"}])"
      << (reference_json.empty() ? "" : ",\"reference\":" + reference_json) << "}\n";
}

}  // namespace octrain::train::testing
