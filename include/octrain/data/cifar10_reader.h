#pragma once

#include <string>
#include <vector>

#include "octrain/data/dataset_builder.h"
#include "octrain/data/idx_reader.h"

namespace octrain::data {

// CIFAR-10's "binary version": each record is 1 label byte (0..9) then 3072 pixel bytes, the
// 1024 red, then green, then blue values of a 32x32 image in row-major order.
constexpr int64_t kCifar10RecordBytes = 1 + 3 * 32 * 32;

// One batch file with any number of records: images [N, 3, 32, 32] in [0, 1], labels [N].
LabelledImages read_cifar10_batch(const std::string& path, Provenance& provenance);
// The same for a file's bytes already in memory (decompressed); `where` names it in errors.
LabelledImages parse_cifar10_batch(const std::vector<uint8_t>& bytes, const std::string& where);

// The batch files of a directory (or of its cifar-10-batches-bin/ subdirectory, as the archive
// unpacks): data_batch_1.bin, data_batch_2.bin, ... (consecutive from 1) and test_batch.bin.
struct Cifar10Files {
  std::vector<std::string> train;
  std::string test;
};
Cifar10Files find_cifar10_files(const std::string& dir);

// The source cifar10:DIR: all training batches concatenated, test_batch.bin as the test split.
RawDataset load_cifar10_directory(const std::string& dir);

}  // namespace octrain::data
