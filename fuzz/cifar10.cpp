// CIFAR-10 binary batches (parse_cifar10_batch / read_cifar10_batch): the input is one batch
// file, parsed in memory (through the file reader and zlib when it is gzip).
#include <vector>

#include "fuzz.h"
#include "octrain/data/cifar10_reader.h"

OCTRAIN_FUZZ_HARNESS(cifar10) {
  using namespace octrain;
  data::Provenance provenance;
  fuzz::expect_octrain_errors_only([&] {
    const auto batch = fuzz::parse_or_read(
        data, size, ".bin",
        [](const std::vector<uint8_t>& bytes) { return data::parse_cifar10_batch(bytes, "fuzz"); },
        [&](const std::string& path) { return data::read_cifar10_batch(path, provenance); });
    if (batch.images.size(0) != batch.labels.size(0)) fuzz::unexpected_exception("count mismatch");
  });
}
