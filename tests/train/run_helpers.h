#pragma once

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "octrain/data/dataset.h"
#include "octrain/train/run_config.h"
#include "octrain/train/trainer.h"
#include "test_device.h"

namespace octrain::train::testing {

namespace fs = std::filesystem;

// A fresh folder for this test under $OCTRAIN_TEST_TMP (set by ctest) or the system temp folder.
inline fs::path fresh_dir(const std::string& leaf = "") {
  const char* env = std::getenv("OCTRAIN_TEST_TMP");
  const fs::path base = env && *env ? fs::path(env) : fs::temp_directory_path();
  const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  fs::path dir = base / "train" /
                 (std::string(info->test_suite_name()) + "." + info->name() + "-" +
                  std::to_string(::getpid()));
  if (!leaf.empty()) dir /= leaf;
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}

// Options for a run that prints nothing.
inline RunOptions quiet() {
  RunOptions o;
  o.quiet = true;
  return o;
}

inline std::string file_text(const fs::path& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// The records of a run's metrics.jsonl.
inline std::vector<nlohmann::json> read_records(const fs::path& dir) {
  std::vector<nlohmann::json> out;
  std::ifstream in(dir / "metrics.jsonl");
  std::string line;
  while (std::getline(in, line)) out.push_back(nlohmann::json::parse(line));
  return out;
}

inline bool installed(const std::string& name) {
  for (const auto& d : data::builtin_datasets())
    if (d.name == name) return d.installed;
  return false;
}

// A CSV table of 4 features and (with `labels`) a last column of 3 classes that the features
// separate: a classification problem that needs no installed data.
inline void write_class_table(const fs::path& path, bool labels, int rows = 90) {
  std::ofstream out(path);
  for (int r = 0; r < rows; ++r) {
    const int c = r % 3;
    out << (c + 0.1 * (r % 7)) << "," << (10.0 * c - r % 5) << "," << (r % 11) << ","
        << (0.5 * c * c + 0.01 * r);
    if (labels) out << "," << c;
    out << "\n";
  }
}

// A fresh folder holding the class table (write_class_table, with labels) as `data`, and the
// path `run` for a run trained on it.
struct CsvRunPaths {
  fs::path dir, data, run;
};
inline CsvRunPaths csv_run_paths() {
  CsvRunPaths paths;
  paths.dir = fresh_dir();
  paths.data = paths.dir / "table.csv";
  paths.run = paths.dir / "run";
  write_class_table(paths.data, true);
  return paths;
}

// A small, fast run on the toy problem (20 zero-initialised residual tanh stages of width 5 would
// be the E-MSA recipe; a shallower one keeps the suite quick).
inline RunConfig toy_config(const fs::path& out) {
  RunConfig c;
  c.dataset = "toy-sin";
  c.model = "resmlp:1-8x3-1:tanh:delta=0.5";
  c.method = "adam";
  c.method_options = {{"lr", "0.01"}};
  c.epochs = 4;
  c.batch_size = 25;
  c.threads = 1;
  c.device = test_env::test_device_name();  // OCTRAIN_TEST_DEVICE
  c.out = out.string();
  return c;
}

inline RunConfig wine_config(const fs::path& out, const std::string& method,
                             std::map<std::string, std::string> options) {
  RunConfig c;
  c.dataset = "wine";
  c.model = "mlp:13-32-32-32-32-3:tanh";
  c.method = method;
  c.method_options = std::move(options);
  c.epochs = 5;
  c.batch_size = 16;
  c.threads = 1;
  c.device = test_env::test_device_name();  // OCTRAIN_TEST_DEVICE
  c.out = out.string();
  return c;
}

}  // namespace octrain::train::testing
