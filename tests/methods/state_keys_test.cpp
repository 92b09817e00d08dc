// One naming scheme for per-stage records and checkpoint keys ("stage<t>.<name>"), and checkpoints
// written before it (keys "t<t>_…", "E_t<t>", "w_t<t>") still resume exactly.
#include "octrain/methods/state_keys.h"

#include <gtest/gtest.h>
#include <torch/serialize.h>
#include <torch/types.h>
#include <torch/utils.h>

#include <functional>
#include <regex>
#include <sstream>

#include "octrain/control/discrete_controls.h"
#include "octrain/control/model_builder.h"
#include "octrain/control/network.h"
#include "octrain/control/terminal_loss.h"
#include "octrain/methods/registry.h"

namespace octrain::methods {
namespace {

// Copies every entry of `in` into `out` under rename(key): tensors, IValues and sub-archives
// (copied whole, under their own keys).
void copy_archive(torch::serialize::InputArchive& in, torch::serialize::OutputArchive& out,
                  const std::function<std::string(const std::string&)>& rename) {
  for (const auto& key : in.keys()) {
    torch::Tensor tensor;
    torch::serialize::InputArchive sub;
    c10::IValue value;
    if (in.try_read(key, tensor)) {
      out.write(rename(key), tensor);
    } else if (in.try_read(key, sub)) {
      torch::serialize::OutputArchive copy;
      copy_archive(sub, copy, [](const std::string& k) { return k; });
      out.write(rename(key), copy);
    } else if (in.try_read(key, value)) {
      out.write(rename(key), value);
    } else {
      throw std::runtime_error("legacy_copy: cannot read " + key);
    }
  }
}

// The archive's bytes with every per-stage key renamed to what checkpoints before the scheme used.
std::string legacy_copy(const std::string& bytes) {
  std::stringstream in_bytes(bytes);
  torch::serialize::InputArchive in;
  in.load_from(in_bytes);
  torch::serialize::OutputArchive out;
  const std::regex stage_key_pattern(R"(stage(\d+)\.(.*))");
  copy_archive(in, out, [&](const std::string& key) {
    std::smatch m;
    if (!std::regex_match(key, m, stage_key_pattern)) return key;
    const std::string t = m[1], name = m[2];
    return name == "E" ? "E_t" + t : name == "latent_weight" ? "w_t" + t : "t" + t + "_" + name;
  });
  std::stringstream out_bytes;
  out.save_to(out_bytes);
  return out_bytes.str();
}

TEST(StateKeys, RecordsAndCheckpointsUseOneScheme) {
  EXPECT_EQ(stage_key(3, "flips"), "stage3.flips");
  for (const char* spec : {"kfac:lr=0.05", "msa-discrete", "twn:lr=0.01"}) {
    torch::manual_seed(9);
    const bool discrete = std::string(spec) != "kfac:lr=0.05";
    auto net = control::build_network(discrete ? "tmlp:6-8-3" : "mlp:6-8-3:tanh", {6});
    control::CrossEntropyLoss loss;
    const auto x = torch::randn({10, 6});
    const auto y = torch::randint(0, 3, {10}, torch::kLong);
    auto method = make_method(spec, *net);
    const auto stats = method->step(*net, loss, x, y);
    for (const auto& [key, value] : stats.extras)
      EXPECT_EQ(key.find("_t"), std::string::npos) << spec << ": " << key;
    for (const auto& [key, value] : control::nonzero_fractions(*net))  // epoch records
      EXPECT_EQ(key.find("_t"), std::string::npos) << spec << ": " << key;
    torch::serialize::OutputArchive state;
    method->save(state);
    std::stringstream bytes;
    state.save_to(bytes);
    for (const auto& key : [&] {
           torch::serialize::InputArchive in;
           std::stringstream copy(bytes.str());
           in.load_from(copy);
           return in.keys();
         }())
      EXPECT_TRUE(key.rfind("stage", 0) == 0 || key.find('.') == std::string::npos)
          << spec << ": " << key;

    // A checkpoint with the old keys resumes like one with the new.
    std::vector<torch::Tensor> after;
    for (const auto& saved : {bytes.str(), legacy_copy(bytes.str())}) {
      // As the trainer resumes: the method first, then the saved weights, then its state.
      auto twin = control::build_network(discrete ? "tmlp:6-8-3" : "mlp:6-8-3:tanh", {6});
      auto resumed = make_method(spec, *twin);
      {
        torch::NoGradGuard no_grad;
        for (size_t i = 0; i < net->parameters().size(); ++i)
          twin->parameters()[i].copy_(net->parameters()[i]);
        for (size_t i = 0; i < net->buffers().size(); ++i)
          twin->buffers()[i].copy_(net->buffers()[i]);
      }
      std::stringstream in_bytes(saved);
      torch::serialize::InputArchive in;
      in.load_from(in_bytes);
      resumed->load(in);
      for (int i = 0; i < 3; ++i) resumed->step(*twin, loss, x, y);
      std::vector<torch::Tensor> flat;
      for (const auto& p : twin->parameters()) flat.push_back(p.detach().flatten());
      after.push_back(torch::cat(flat));
    }
    EXPECT_TRUE(torch::equal(after[0], after[1])) << spec;
  }
}

}  // namespace
}  // namespace octrain::methods
