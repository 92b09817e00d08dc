// Loading a trained model (trained_model.h) from each of its forms — the run directory, its
// checkpoint.pt, a packed file — gives back the network the run trained; a missing or damaged
// target is a one-line error; changed data are refused unless allowed.
#include "octrain/deploy/trained_model.h"

#include <gtest/gtest.h>
#include <torch/types.h>

#include <filesystem>
#include <fstream>

#include "octrain/data/inference_inputs.h"
#include "octrain/deploy/packed_model.h"
#include "octrain/deploy/prediction.h"
#include "octrain/deploy/pytorch_export.h"
#include "octrain/train/evaluation.h"
#include "octrain/util/error.h"
#include "train/run_helpers.h"

namespace octrain::deploy {
namespace {

namespace fs = std::filesystem;
namespace testing = train::testing;  // the run helpers (train/run_helpers.h)

// A ternary MLP (packable) trained for two epochs on a generated table: no installed data needed.
struct TinyRun : testing::CsvRunPaths {
  train::RunResult result;
};

TinyRun train_tiny_run() {
  TinyRun t{testing::csv_run_paths(), {}};
  train::RunConfig c;
  c.dataset = "csv:" + t.data.string();
  c.model = "tmlp:4-8-3";
  c.method = "msa-discrete";
  c.epochs = 2;
  c.batch_size = 10;
  c.threads = 1;
  c.out = t.run.string();
  t.result = train::run_training(c, testing::quiet());
  return t;
}

// The network's outputs in evaluation mode (batch norm on its running statistics).
torch::Tensor outputs(const TrainedModel& model, const torch::Tensor& x) {
  model.network->eval();
  return model.network->predict(x);
}

std::string write_packed(const TrainedModel& model, const fs::path& path) {
  write_packed_model(path.string(), *model.network, packed_run_settings(model.config));
  return path.string();
}

TEST(TrainedModel, RunDirectoryCheckpointAndPackedFileGiveTheTrainedNetwork) {
  const auto t = train_tiny_run();
  const auto from_dir = load_trained_model(t.run.string());
  EXPECT_FALSE(from_dir.packed);
  EXPECT_EQ(from_dir.source, t.run.string());
  EXPECT_EQ(from_dir.config.model, "tmlp:4-8-3");
  EXPECT_EQ(from_dir.recorded_checksum, from_dir.data.checksum);
  EXPECT_EQ(check_data_unchanged(from_dir, false), "");
  // The network the run ended with: its test loss is the one the trainer reported.
  const auto loss = run_loss(from_dir);
  EXPECT_EQ(loss->name(), "cross-entropy");
  const auto e = train::evaluate(*from_dir.network, *loss, from_dir.data.test);
  EXPECT_EQ(e.loss, t.result.test.loss);

  const auto from_checkpoint = load_trained_model((t.run / "checkpoint.pt").string());
  const auto from_packed = load_trained_model(write_packed(from_dir, t.dir / "model.octpack"));
  EXPECT_FALSE(from_checkpoint.packed);
  EXPECT_TRUE(from_packed.packed);
  EXPECT_EQ(from_packed.config.dataset, from_dir.config.dataset);
  EXPECT_EQ(from_packed.config.model, from_dir.config.model);
  EXPECT_TRUE(from_packed.recorded_checksum.empty());  // a packed file records no checksum
  // The same data, split and standardised as in training, and the same network on them.
  EXPECT_EQ(from_packed.data.checksum, from_dir.data.checksum);
  EXPECT_TRUE(torch::equal(from_packed.data.test.x, from_dir.data.test.x));
  const auto& x = from_dir.data.test.x;
  const auto expected = outputs(from_dir, x);
  EXPECT_TRUE(torch::equal(outputs(from_checkpoint, x), expected));
  EXPECT_TRUE(torch::equal(outputs(from_packed, x), expected));
  EXPECT_EQ(
      train::evaluate(*from_packed.network, *run_loss(from_packed), from_packed.data.test).loss,
      e.loss);
}

TEST(TrainedModel, ItsTorchscriptExportPredictsWhatTheNetworkGives) {
  const auto t = train_tiny_run();
  const auto model = load_trained_model(t.run.string());
  const auto loss = run_loss(model);
  const auto spec = export_spec(*loss, model.data, {});
  ASSERT_TRUE(spec.standardiser.has_value());  // tabular inputs: standardised inside the module
  auto module = to_torchscript(*model.network, spec);
  const auto inputs =
      data::load_inference_inputs("csv:" + t.data.string(), model_input_shape(module));
  const auto predictions = predict(module, inputs.x, 16);  // several batches
  const auto expected = outputs(model, spec.standardiser->apply(inputs.x));
  // α ⊙ W as one weight: float rounding only (pytorch_export_test.cpp).
  EXPECT_LE((predictions.outputs - expected).abs().max().item<double>(), 1e-5);
  EXPECT_TRUE(predictions.classes.equal(loss->predict_class(expected)));
  EXPECT_EQ(predictions.probabilities.sizes(), expected.sizes());
}

// load_trained_model(target) must throw E with one line that contains `text`.
template <class E>
void expect_one_line_error(const fs::path& target, const std::string& text) {
  SCOPED_TRACE(target.string());
  try {
    load_trained_model(target.string());
    ADD_FAILURE() << "loaded";
  } catch (const E& e) {
    const std::string message = e.what();
    EXPECT_NE(message.find(text), std::string::npos) << message;
    EXPECT_EQ(message.find('\n'), std::string::npos) << message;
  }
}

void write_bytes(const fs::path& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary | std::ios::trunc) << bytes;
}

TEST(TrainedModel, MissingOrDamagedTargetIsAOneLineError) {
  const auto t = train_tiny_run();
  expect_one_line_error<UsageError>(t.dir / "nothing", "no such run directory");
  // A checkpoint without its run's config.toml.
  fs::create_directories(t.dir / "loose");
  fs::copy_file(t.run / "checkpoint.pt", t.dir / "loose" / "checkpoint.pt");
  expect_one_line_error<UsageError>(t.dir / "loose" / "checkpoint.pt", "no config.toml");
  // A run directory whose checkpoint is missing, garbled, or of another model.
  const auto copy = t.dir / "copy";
  fs::copy(t.run, copy, fs::copy_options::recursive);
  fs::remove(copy / "checkpoint.pt");
  expect_one_line_error<DataError>(copy, "checkpoint not found");
  write_bytes(copy / "checkpoint.pt", "PK\x03\x04 not a checkpoint");
  expect_one_line_error<DataError>(copy, (copy / "checkpoint.pt").string());
  fs::copy_file(t.run / "checkpoint.pt", copy / "checkpoint.pt",
                fs::copy_options::overwrite_existing);
  auto config = testing::file_text(copy / "config.toml");
  ASSERT_NE(config.find("tmlp:4-8-3"), std::string::npos);
  write_bytes(copy / "config.toml", config.replace(config.find("tmlp:4-8-3"), 10, "tmlp:4-16-3"));
  expect_one_line_error<DataError>(copy, (copy / "checkpoint.pt").string());

  // A truncated packed file, and one whose run settings octrain does not know.
  const auto model = load_trained_model(t.run.string());
  const auto packed = write_packed(model, t.dir / "model.octpack");
  const auto bytes = testing::file_text(packed);
  write_bytes(t.dir / "truncated.octpack", bytes.substr(0, bytes.size() / 2));
  expect_one_line_error<DataError>(t.dir / "truncated.octpack", "truncated.octpack");
  auto settings = packed_run_settings(model.config);
  settings["no_such_setting"] = "1";
  write_packed_model((t.dir / "bad.octpack").string(), *model.network, settings);
  expect_one_line_error<DataError>(t.dir / "bad.octpack", "bad run setting");
}

TEST(TrainedModel, ChangedDataAreRefusedUnlessAllowed) {
  const auto t = train_tiny_run();
  testing::write_class_table(t.data, true, 93);  // three rows more than in training
  const auto model = load_trained_model(t.run.string());
  EXPECT_NE(model.recorded_checksum, model.data.checksum);
  EXPECT_THROW(check_data_unchanged(model, false), DataError);
  EXPECT_NE(check_data_unchanged(model, true).find("changed since training"), std::string::npos);
}

}  // namespace
}  // namespace octrain::deploy
