// IDX files (parse_idx / read_idx, pair_idx_arrays): the input is one IDX file, parsed in memory
// (through read_idx and zlib when it is gzip). A labels array (1 dimension) is paired with
// generated images, an images array (3 dimensions) with generated labels, so the pair's checks
// and tensor conversion run on the fuzzed side.
#include <string>
#include <vector>

#include "fuzz.h"
#include "octrain/data/idx_reader.h"

namespace {

std::vector<uint8_t> idx_header(int dims, const std::vector<uint32_t>& sizes) {
  std::vector<uint8_t> out = {0, 0, 0x08, uint8_t(dims)};
  for (const uint32_t s : sizes)
    for (int shift = 24; shift >= 0; shift -= 8) out.push_back(uint8_t(s >> shift));
  return out;
}

}  // namespace

OCTRAIN_FUZZ_HARNESS(idx) {
  using namespace octrain;
  const std::string path = "fuzz.idx";
  for (const int dims : {1, 3}) {
    fuzz::expect_octrain_errors_only([&] {
      data::Provenance provenance;
      const data::IdxArray array = fuzz::parse_or_read(
          data, size, ".idx",
          [&](std::vector<uint8_t> bytes) { return data::parse_idx(std::move(bytes), path, dims); },
          [&](const std::string& file) { return data::read_idx(file, dims, provenance); });
      const auto n = uint32_t(array.dims.at(0));
      if (n > 4096) return;
      if (dims == 3) {  // labels 0..9 for the fuzzed images
        std::vector<uint8_t> labels = idx_header(1, {n});
        for (uint32_t i = 0; i < n; ++i) labels.push_back(uint8_t(i % 10));
        data::pair_idx_arrays(array, data::parse_idx(labels, "labels", 1), 10, path, "labels");
      } else {  // 2x2 images for the fuzzed labels
        std::vector<uint8_t> images = idx_header(3, {n, 2, 2});
        images.resize(images.size() + 4 * size_t(n), 7);
        data::pair_idx_arrays(data::parse_idx(images, "images", 3), array, 10, "images", path);
      }
    });
  }
}
