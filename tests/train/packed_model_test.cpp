// Packed export of binary/ternary networks: bit-identical logits after export → load, sparse
// encoding where it is smaller, and one-line DataErrors for corrupt or truncated files.
#include "octrain/train/packed_model.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <fstream>

#include "octrain/control/model_builder.h"
#include "octrain/control/network.h"
#include "octrain/util/error.h"
#include "run_helpers.h"

namespace octrain::train {
namespace {

// A trained-looking network: sparse ternary weights, non-trivial batch-norm state and scales.
std::shared_ptr<control::Network> make_network(const std::string& spec, uint64_t seed,
                                               double keep) {
  torch::manual_seed(seed);
  auto net = control::build_network(spec, {20});
  torch::NoGradGuard no_grad;
  for (auto& item : net->named_parameters()) {
    auto p = item.value();
    if (item.key().find("weight") != std::string::npos && keep < 1)
      p.mul_(torch::rand_like(p).lt(keep).to(p.scalar_type()));
    else if (item.key().find("weight") == std::string::npos)
      p.copy_(torch::randn_like(p));
  }
  for (auto& item : net->named_buffers()) item.value().copy_(torch::rand_like(item.value()) + 0.1);
  net->eval();
  return net;
}

TEST(PackedModel, ExportThenLoadGivesBitIdenticalLogits) {
  const auto dir = testing::fresh_dir();
  const RunSettings settings = {{"dataset", "digits"}, {"model", "tmlp:20-64x2-5"}};
  for (double keep : {1.0, 0.02}) {
    for (const std::string spec : {"tmlp:20-64x2-5", "bmlp:20-64x2-5"}) {
      if (spec[0] == 'b' && keep < 1) continue;
      SCOPED_TRACE(spec + " keep " + std::to_string(keep));
      auto trained = make_network(spec, 1, keep);
      const std::string path = (dir / "model.octpack").string();
      const auto sizes = write_packed_model(path, *trained, settings);
      EXPECT_EQ(sizes.file_bytes, int64_t(std::filesystem::file_size(path)));
      if (keep < 1)
        EXPECT_LT(sizes.file_bytes, sizes.packed_bytes);  // sparse indices won
      else
        EXPECT_EQ(sizes.file_bytes, sizes.packed_bytes);
      ASSERT_TRUE(is_packed_model(path));
      const auto packed = read_packed_model(path);
      EXPECT_EQ(packed.settings, settings);
      auto fresh = make_network(spec, 2, 1.0);  // different weights until loaded
      load_packed_model(packed, *fresh, path);
      const auto x = torch::randn({50, 20});
      EXPECT_TRUE(torch::equal(trained->predict(x), fresh->predict(x)));
    }
  }
}

TEST(PackedModel, CorruptTruncatedOrMismatchedFilesAreDataErrors) {
  const auto dir = testing::fresh_dir();
  auto net = make_network("tmlp:20-16-5", 3, 0.5);
  const std::string path = (dir / "m.octpack").string();
  write_packed_model(path, *net, {{"dataset", "digits"}});
  std::ifstream in(path, std::ios::binary);
  const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const auto write = [&](const std::string& name, const std::string& content) {
    const std::string p = (dir / name).string();
    std::ofstream(p, std::ios::binary) << content;
    return p;
  };
  auto flipped = bytes;
  flipped[bytes.size() / 2] ^= 0x10;
  for (const auto& p :
       {write("truncated", bytes.substr(0, bytes.size() - 7)), write("flipped", flipped),
        write("short", bytes.substr(0, 10)), (dir / "missing").string()}) {
    try {
      read_packed_model(p);
      ADD_FAILURE() << p << " was accepted";
    } catch (const DataError& e) {
      const std::string message = e.what();
      EXPECT_NE(message.find(p), std::string::npos) << message;
      EXPECT_EQ(message.find('\n'), std::string::npos) << message;
    }
  }
  auto other = make_network("tmlp:20-8-5", 3, 1.0);
  EXPECT_THROW(load_packed_model(read_packed_model(path), *other, path), DataError);
}

}  // namespace
}  // namespace octrain::train
