#include "octrain/data/cifar10_reader.h"

#include "data/fixtures.h"
#include "octrain/data/dataset.h"

namespace octrain::data {
namespace {

using namespace testing;

// n records; record i has label (first_label + i) % 10, and every pixel of channel c equals
// 10 * c + i, except pixel (row 1, column 2) of the red channel, which is 200.
std::vector<uint8_t> batch(int n, int first_label) {
  std::vector<uint8_t> bytes;
  for (int i = 0; i < n; ++i) {
    bytes.push_back(static_cast<uint8_t>((first_label + i) % 10));
    for (int c = 0; c < 3; ++c) {
      for (int p = 0; p < 1024; ++p) {
        bytes.push_back(static_cast<uint8_t>(c == 0 && p == 32 + 2 ? 200 : 10 * c + i));
      }
    }
  }
  return bytes;
}

TEST(Cifar10Reader, ReadsGeneratedBatches) {
  const fs::path dir = fresh_dir();
  write_bytes(dir / "data_batch_1.bin", batch(3, 0));
  write_bytes(dir / "data_batch_2.bin", batch(2, 3));
  write_bytes(dir / "test_batch.bin", batch(4, 7));
  const Dataset data = load_dataset("cifar10:" + dir.string());
  ASSERT_EQ(data.train.x.sizes(), (std::vector<int64_t>{5, 3, 32, 32}));
  ASSERT_EQ(data.test.x.sizes(), (std::vector<int64_t>{4, 3, 32, 32}));
  EXPECT_EQ(data.input_shape, (std::vector<int64_t>{3, 32, 32}));
  EXPECT_EQ(data.num_classes, 10);
  EXPECT_TRUE(torch::equal(data.train.y, torch::tensor({0, 1, 2, 3, 4}, torch::kLong)));
  EXPECT_TRUE(torch::equal(data.test.y, torch::tensor({7, 8, 9, 0}, torch::kLong)));
  EXPECT_FLOAT_EQ(data.train.x[1][0][1][2].item<float>(), 200 / 255.0f);
  EXPECT_FLOAT_EQ(data.train.x[1][0][1][3].item<float>(), 1 / 255.0f);
  EXPECT_FLOAT_EQ(data.train.x[4][2][31][31].item<float>(), (20 + 1) / 255.0f);  // 2nd of batch 2
  EXPECT_EQ(data.metadata["files"].size(), 3u);
}

TEST(Cifar10Reader, FindsTheArchiveSubdirectory) {
  const fs::path dir = fresh_dir();
  fs::create_directories(dir / "cifar-10-batches-bin");
  write_bytes(dir / "cifar-10-batches-bin" / "data_batch_1.bin", batch(2, 0));
  write_bytes(dir / "cifar-10-batches-bin" / "test_batch.bin", batch(1, 0));
  EXPECT_EQ(load_dataset("cifar10:" + dir.string()).train.size(), 2);
}

TEST(Cifar10Reader, TruncatedRecordIsReported) {
  const fs::path dir = fresh_dir();
  std::vector<uint8_t> bytes = batch(3, 0);
  bytes.resize(bytes.size() - 100);
  write_bytes(dir / "data_batch_1.bin", bytes);
  write_bytes(dir / "test_batch.bin", batch(1, 0));
  const std::string message = data_error([&] { load_dataset("cifar10:" + dir.string()); });
  EXPECT_EQ(message, (dir / "data_batch_1.bin").string() +
                         ": truncated: 9119 bytes is 2 whole records of 3073 bytes and 2973 "
                         "bytes of a partial one");
}

TEST(Cifar10Reader, LabelOutOfRangeAndMissingFiles) {
  const fs::path dir = fresh_dir();
  std::vector<uint8_t> bytes = batch(3, 0);
  bytes[2 * kCifar10RecordBytes] = 10;
  write_bytes(dir / "data_batch_1.bin", bytes);
  EXPECT_TRUE(contains(data_error([&] { load_dataset("cifar10:" + dir.string()); }),
                       "test_batch.bin: no such file"));
  write_bytes(dir / "test_batch.bin", batch(1, 0));
  EXPECT_TRUE(contains(data_error([&] { load_dataset("cifar10:" + dir.string()); }),
                       "data_batch_1.bin: label 10 of record 2 is out of range"));
  const fs::path empty = dir / "empty";
  fs::create_directories(empty);
  EXPECT_TRUE(contains(data_error([&] { load_dataset("cifar10:" + empty.string()); }),
                       "data_batch_1.bin: no such file"));
}

TEST(Cifar10Reader, AGapInTheBatchesIsAnError) {
  const fs::path dir = fresh_dir();
  write_bytes(dir / "data_batch_1.bin", batch(3, 0));
  write_bytes(dir / "data_batch_2.bin", batch(3, 0));
  write_bytes(dir / "data_batch_4.bin", batch(3, 0));
  write_bytes(dir / "test_batch.bin", batch(2, 0));
  EXPECT_TRUE(contains(data_error([&] { load_dataset("cifar10:" + dir.string()); }),
                       "data_batch_3.bin: no such file, although data_batch_4.bin is there"));
}

}  // namespace
}  // namespace octrain::data
