// Packed binary/ternary models (parse_packed_model, load_packed_model): the input is a .octpack
// file; what reads is loaded into the network bmlp:4-3-2 (the corpus's models are of it,
// fuzz/make_corpus.sh), which must refuse every tensor of another name or shape.
#include "octrain/deploy/packed_model.h"

#include <torch/types.h>

#include <string>

#include "fuzz.h"
#include "octrain/control/model_builder.h"

OCTRAIN_FUZZ_HARNESS(packed_model) {
  using namespace octrain;
  static const auto network = control::build_network("bmlp:4-3-2", {4});
  fuzz::expect_octrain_errors_only([&] {
    const deploy::PackedModel model =
        deploy::parse_packed_model(std::string(reinterpret_cast<const char*>(data), size), "fuzz");
    deploy::load_packed_model(model, *network, "fuzz");
  });
}
