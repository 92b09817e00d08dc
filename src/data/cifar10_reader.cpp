#include "octrain/data/cifar10_reader.h"

#include <fmt/format.h>

#include <filesystem>

#include "octrain/data/file_bytes.h"
#include "octrain/util/error.h"

namespace octrain::data {
namespace {

namespace fs = std::filesystem;

constexpr int64_t kClasses = 10;

}  // namespace

LabelledImages read_cifar10_batch(const std::string& path, Provenance& provenance) {
  std::vector<uint8_t> bytes = read_file_bytes(path);
  provenance.record_file(path, bytes.data(), bytes.size());
  return parse_cifar10_batch(bytes, path);
}

LabelledImages parse_cifar10_batch(const std::vector<uint8_t>& bytes, const std::string& path) {
  const int64_t size = static_cast<int64_t>(bytes.size());
  if (size == 0) throw DataError(path + ": empty, expected CIFAR-10 records of 3073 bytes");
  if (size % kCifar10RecordBytes != 0) {
    throw DataError(fmt::format(
        "{}: truncated: {} bytes is {} whole records of {} bytes and {} bytes of a partial one",
        path, size, size / kCifar10RecordBytes, kCifar10RecordBytes, size % kCifar10RecordBytes));
  }
  const int64_t n = size / kCifar10RecordBytes;
  const torch::Tensor records =
      torch::from_blob(const_cast<uint8_t*>(bytes.data()), {n, kCifar10RecordBytes}, torch::kUInt8);
  const torch::Tensor labels = records.select(1, 0).to(torch::kLong);
  const int64_t max_label = labels.max().item<int64_t>();
  if (max_label >= kClasses) {
    const int64_t record = (labels >= kClasses).nonzero()[0][0].item<int64_t>();
    throw DataError(fmt::format("{}: label {} of record {} is out of range (expected 0..9)", path,
                                labels[record].item<int64_t>(), record));
  }
  LabelledImages result;
  result.images =
      records.slice(1, 1).reshape({n, 3, 32, 32}).to(torch::kFloat).div_(255.0f).contiguous();
  result.labels = labels.contiguous();
  return result;
}

Cifar10Files find_cifar10_files(const std::string& dir) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) throw DataError(dir + ": no such directory");
  fs::path root = dir;
  if (!fs::exists(root / "data_batch_1.bin", ec) &&
      fs::exists(root / "cifar-10-batches-bin" / "data_batch_1.bin", ec)) {
    root /= "cifar-10-batches-bin";
  }
  Cifar10Files files;
  for (int i = 1; fs::exists(root / fmt::format("data_batch_{}.bin", i), ec); ++i) {
    files.train.push_back((root / fmt::format("data_batch_{}.bin", i)).string());
  }
  // A gap (batch 3 missing, 4 present) would silently drop the batches after it.
  for (int i = int(files.train.size()) + 2; i <= int(files.train.size()) + 10; ++i)
    if (fs::exists(root / fmt::format("data_batch_{}.bin", i), ec))
      throw DataError(fmt::format(
          "{}: no such file, although data_batch_{}.bin is there",
          (root / fmt::format("data_batch_{}.bin", files.train.size() + 1)).string(), i));
  if (files.train.empty()) {
    throw DataError((root / "data_batch_1.bin").string() +
                    ": no such file (CIFAR-10 binary batches)");
  }
  const fs::path test = root / "test_batch.bin";
  if (!fs::exists(test, ec)) throw DataError(test.string() + ": no such file");
  files.test = test.string();
  return files;
}

RawDataset load_cifar10_directory(const std::string& dir) {
  const Cifar10Files files = find_cifar10_files(dir);
  RawDataset raw;
  raw.num_classes = kClasses;
  raw.input_shape = {3, 32, 32};
  std::vector<torch::Tensor> images, labels;
  for (const auto& path : files.train) {
    LabelledImages batch = read_cifar10_batch(path, raw.provenance);
    images.push_back(batch.images);
    labels.push_back(batch.labels);
  }
  raw.train = {torch::cat(images), torch::cat(labels)};
  LabelledImages test = read_cifar10_batch(files.test, raw.provenance);
  raw.test = {test.images, test.labels};
  raw.has_official_test = true;
  raw.metadata["format"] = "cifar10-binary";
  raw.metadata["directory"] = dir;
  raw.metadata["inputs"] = "images [3, 32, 32] scaled to [0, 1] (byte / 255)";
  return raw;
}

}  // namespace octrain::data
