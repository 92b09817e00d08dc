// Checkpoints are checked before they are used: a flipped bit anywhere in the file either is
// harmless (the state loads identical) or is a DataError, and weights of another shape are
// refused instead of silently replacing the model's.
#include "octrain/train/checkpoint.h"

#include <gtest/gtest.h>
#include <torch/types.h>

#include <fstream>
#include <iterator>

#include "octrain/control/model_builder.h"
#include "octrain/control/network.h"
#include "octrain/control/terminal_loss.h"
#include "octrain/methods/registry.h"
#include "octrain/util/error.h"
#include "run_helpers.h"

namespace octrain::train::testing {
namespace {

struct Trained {
  std::shared_ptr<control::Network> network;
  std::unique_ptr<methods::Method> method;
};

Trained trained(const std::string& model, int steps) {
  torch::manual_seed(5);
  Trained t{control::build_network(model, {8}), nullptr};
  t.method = methods::make_method("adam:lr=0.01", *t.network);
  const control::CrossEntropyLoss loss;
  const auto x = torch::randn({16, 8});
  const auto y = torch::randint(3, {16}, torch::kLong);
  for (int s = 0; s < steps; ++s) t.method->step(*t.network, loss, x, y);
  return t;
}

std::string read_bytes(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), {}};
}

void write_bytes(const fs::path& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary) << bytes;
}

bool same_controls(control::Network& a, control::Network& b) {
  const auto ca = a.controls(), cb = b.controls();
  for (size_t i = 0; i < ca.size(); ++i)
    if (!ca[i].sizes().equals(cb[i].sizes()) || !ca[i].equal(cb[i])) return false;
  return true;
}

TEST(Checkpoint, EveryBitFlipIsHarmlessOrADataError) {
  const auto dir = fresh_dir();
  auto source = trained("mlp:8-9-3", 3);
  TrainingPosition position;
  position.global_step = 3;
  save_checkpoint((dir / "good.pt").string(), *source.network, *source.method, position);
  const auto good = read_bytes(dir / "good.pt");
  ASSERT_GT(good.size(), 1000u);
  int refused = 0, harmless = 0;
  for (size_t offset = 0; offset < good.size(); offset += 23) {  // every zip record is hit
    auto bad = good;
    bad[offset] = char(bad[offset] ^ (1 << (offset % 8)));
    write_bytes(dir / "bad.pt", bad);
    auto target = trained("mlp:8-9-3", 0);
    try {
      const auto loaded =
          load_checkpoint((dir / "bad.pt").string(), *target.network, *target.method);
      ASSERT_TRUE(same_controls(*target.network, *source.network))
          << "bit flip at byte " << offset << " loaded different weights without an error";
      ASSERT_EQ(loaded.global_step, 3) << "bit flip at byte " << offset;
      ++harmless;
    } catch (const DataError&) {
      ++refused;
    }
  }
  EXPECT_GT(refused, 0);
  RecordProperty("refused", refused);
  RecordProperty("harmless", harmless);
}

TEST(Checkpoint, AnotherShapeIsRefusedNamingTheTensor) {
  const auto dir = fresh_dir();
  auto wide = trained("mlp:8-9-3", 1);
  save_checkpoint((dir / "wide.pt").string(), *wide.network, *wide.method, {});
  auto narrow = trained("mlp:8-8-3", 0);
  try {
    load_network_from_checkpoint((dir / "wide.pt").string(), *narrow.network);
    FAIL() << "weights of mlp:8-9-3 loaded into mlp:8-8-3";
  } catch (const DataError& e) {
    EXPECT_NE(std::string(e.what()).find("[9, 8] in the checkpoint but [8, 8]"), std::string::npos)
        << e.what();
  }
  auto fresh = trained("mlp:8-8-3", 0);  // the refused load left `narrow` half-replaced
  EXPECT_THROW(load_checkpoint((dir / "wide.pt").string(), *fresh.network, *fresh.method),
               DataError);
}

TEST(Checkpoint, RoundTripIsExact) {
  const auto dir = fresh_dir();
  auto source = trained("mlp:8-9-3", 2);
  TrainingPosition position;
  position.epoch = 1, position.global_step = 2, position.lr_scale = 0.5;
  save_checkpoint((dir / "c.pt").string(), *source.network, *source.method, position);
  auto target = trained("mlp:8-9-3", 0);
  const auto loaded = load_checkpoint((dir / "c.pt").string(), *target.network, *target.method);
  EXPECT_TRUE(same_controls(*target.network, *source.network));
  EXPECT_EQ(loaded.global_step, 2);
  EXPECT_EQ(loaded.lr_scale, 0.5);
}

}  // namespace
}  // namespace octrain::train::testing
