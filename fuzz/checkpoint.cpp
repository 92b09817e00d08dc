// Checkpoints (verify_zip_integrity, load_checkpoint, load_network_from_checkpoint): the input is
// a checkpoint.pt, loaded into the network mlp:1-2-1:tanh with a stand-in for the method "sgd"
// (the corpus holds checkpoints of that run, fuzz/make_corpus.sh). The zip check runs on the
// bytes in memory; the loaders read the file.
#include "octrain/train/checkpoint.h"

#include <torch/serialize.h>
#include <torch/types.h>

#include <string>

#include "fuzz.h"
#include "octrain/control/model_builder.h"
#include "octrain/methods/method.h"
#include "octrain/train/zip_integrity.h"

namespace {

// The checkpoint's method state is the method's own business; the position, model and RNG
// parts are what the checkpoint reader parses.
class StandInMethod : public octrain::methods::Method {
 public:
  StandInMethod() : Method({}) {}
  std::string name() const override { return "sgd"; }
  octrain::methods::StepStats step(octrain::control::Network&,
                                   const octrain::control::TerminalLoss&, const torch::Tensor&,
                                   const torch::Tensor&) override {
    return {};
  }
  void set_learning_rate_scale(double) override {}
  void save(torch::serialize::OutputArchive&) const override {}
  void load(torch::serialize::InputArchive&) override {}
};

}  // namespace

OCTRAIN_FUZZ_HARNESS(checkpoint) {
  using namespace octrain;
  const std::string bytes(reinterpret_cast<const char*>(data), size);
  fuzz::expect_octrain_errors_only([&] { train::verify_zip_integrity(bytes, "fuzz"); });
  static const auto network = control::build_network("mlp:1-2-1:tanh", {1});
  StandInMethod method;
  const std::string path = fuzz::scratch_file(bytes, ".pt");
  fuzz::expect_octrain_errors_only([&] { train::load_checkpoint(path, *network, method); });
  fuzz::expect_octrain_errors_only([&] { train::load_network_from_checkpoint(path, *network); });
}
