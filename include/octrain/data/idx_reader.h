#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "octrain/data/dataset_builder.h"

namespace octrain::data {

// The IDX format of LeCun's MNIST files (also Fashion-MNIST, EMNIST, KMNIST): bytes 0x00 0x00,
// an element type (only 0x08 = unsigned byte is used by image sets and supported here), the
// number of dimensions d, d big-endian uint32 sizes, then the elements in row-major order.
struct IdxArray {
  std::vector<int64_t> dims;
  std::vector<uint8_t> bytes;  // the whole file, header included (not copied out: 47 MB)
  size_t header_size = 0;
  const uint8_t* elements() const { return bytes.data() + header_size; }
};

// Reads and validates one IDX file (raw or gzip) with `expected_dims` dimensions; the bytes
// are recorded in `provenance`.
IdxArray read_idx(const std::string& path, int expected_dims, Provenance& provenance);
// The same for a file's bytes already in memory (decompressed); `where` names it in errors.
IdxArray parse_idx(std::vector<uint8_t> bytes, const std::string& where, int expected_dims);

// Images [N, 1, H, W] scaled to [0, 1] and int64 labels [N] in [0, num_classes).
struct LabelledImages {
  torch::Tensor images;
  torch::Tensor labels;
};
LabelledImages read_idx_pair(const std::string& images_path, const std::string& labels_path,
                             int64_t num_classes, Provenance& provenance);
// The pair's checks and conversion for arrays already read (images 3, labels 1 dimension).
LabelledImages pair_idx_arrays(const IdxArray& images, const IdxArray& labels, int64_t num_classes,
                               const std::string& images_where, const std::string& labels_where);

// The IDX files of one directory: <prefix>-images-idx3-ubyte[.gz] with its
// <prefix>-labels-idx1-ubyte[.gz] ('.' also accepted in place of '-'), where the training prefix
// contains "train" and the test prefix is "t10k" or contains "test". Raw files win over .gz.
struct IdxFiles {
  std::string train_images, train_labels;
  std::string test_images, test_labels;  // empty when the directory has no test split
};
IdxFiles find_idx_files(const std::string& dir);

// The source idx:DIR (and the fashion-mnist built-in): an official test split when the
// directory has one, otherwise all samples are training samples for finish_dataset() to split.
RawDataset load_idx_directory(const std::string& dir, int64_t num_classes);

}  // namespace octrain::data
