// Model specs and model files (build_network): the input's first byte picks the input shape
// and whether the rest is a compact spec ("mlp:13-32-3:tanh") or a TOML model file. A network
// that builds must run a forward pass of two samples to the output shape it declares. Inputs with
// a number above 48 are skipped: those networks are legitimately too large to build here.
#include <torch/types.h>

#include <string>
#include <vector>

#include "fuzz.h"
#include "octrain/control/model_builder.h"

OCTRAIN_FUZZ_HARNESS(model_spec) {
  using namespace octrain;
  if (size < 1) return;
  static const std::vector<control::Shape> kShapes = {{13}, {64}, {1, 28, 28}, {3, 8, 8}};
  const control::Shape& shape = kShapes[data[0] % kShapes.size()];
  const bool toml_file = data[0] & 0x80;
  const std::string text(reinterpret_cast<const char*>(data) + 1, size - 1);
  if (fuzz::has_number_above(text, 48)) return;
  const std::string spec = toml_file ? fuzz::scratch_file(text, ".toml") : text;
  fuzz::expect_octrain_errors_only([&] {
    torch::manual_seed(0);
    const auto network = control::build_network(spec, shape);
    control::Shape batch = shape;
    batch.insert(batch.begin(), 2);
    const torch::Tensor out = network->predict(torch::rand(batch));
    control::Shape expected = network->output_shape();
    expected.insert(expected.begin(), 2);
    if (out.sizes().vec() != expected) fuzz::unexpected_exception("output shape differs");
  });
}
