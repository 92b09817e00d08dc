#include "octrain/data/idx_reader.h"

#include "data/fixtures.h"
#include "octrain/data/dataset.h"

namespace octrain::data {
namespace {

using namespace testing;

// n images of 2x3 whose pixel p of image i is 10 * i + p; labels i % 3.
std::vector<uint8_t> images_of(uint32_t n) {
  std::vector<uint8_t> pixels;
  for (uint32_t i = 0; i < n; ++i) {
    for (uint32_t p = 0; p < 6; ++p) pixels.push_back(static_cast<uint8_t>(10 * i + p));
  }
  return idx_bytes({n, 2, 3}, pixels);
}

std::vector<uint8_t> labels_of(uint32_t n) {
  std::vector<uint8_t> labels;
  for (uint32_t i = 0; i < n; ++i) labels.push_back(static_cast<uint8_t>(i % 3));
  return idx_bytes({n}, labels);
}

// Training files raw, test files gzipped: both kinds are read in one load.
fs::path write_set(uint32_t train, uint32_t test) {
  const fs::path dir = fresh_dir();
  write_bytes(dir / "train-images-idx3-ubyte", images_of(train));
  write_bytes(dir / "train-labels-idx1-ubyte", labels_of(train));
  write_bytes(dir / "t10k-images-idx3-ubyte.gz", gzip(images_of(test)));
  write_bytes(dir / "t10k-labels-idx1-ubyte.gz", gzip(labels_of(test)));
  return dir;
}

TEST(IdxReader, ReadsRawAndGzipFilesWithOfficialSplit) {
  const fs::path dir = write_set(6, 4);
  const Dataset data = load_dataset("idx:" + dir.string());
  EXPECT_EQ(data.train.size(), 6);
  EXPECT_EQ(data.test.size(), 4);
  EXPECT_EQ(data.input_shape, (std::vector<int64_t>{1, 2, 3}));
  EXPECT_EQ(data.num_classes, 10);
  ASSERT_EQ(data.train.x.sizes(), (std::vector<int64_t>{6, 1, 2, 3}));
  EXPECT_EQ(data.train.x.dtype(), torch::kFloat);
  EXPECT_EQ(data.train.y.dtype(), torch::kLong);
  EXPECT_FLOAT_EQ(data.train.x[4][0][1][2].item<float>(), (10 * 4 + 5) / 255.0f);
  EXPECT_FLOAT_EQ(data.test.x[3][0][0][1].item<float>(), (10 * 3 + 1) / 255.0f);
  EXPECT_EQ(data.train.y[5].item<int64_t>(), 2);
  EXPECT_EQ(data.test.y[1].item<int64_t>(), 1);
  EXPECT_EQ(data.metadata["split"]["test"], "official");
  EXPECT_EQ(data.metadata["files"].size(), 4u);
  EXPECT_EQ(data.checksum.size(), 8u);
}

TEST(IdxReader, GzipAndRawOfTheSameDataHaveTheSameChecksum) {
  const fs::path raw = write_set(6, 4);
  const fs::path zipped = raw.parent_path() / (raw.filename().string() + "-gz");
  fs::remove_all(zipped);
  fs::create_directories(zipped);
  write_bytes(zipped / "train-images-idx3-ubyte.gz", gzip(images_of(6)));
  write_bytes(zipped / "train-labels-idx1-ubyte.gz", gzip(labels_of(6)));
  write_bytes(zipped / "t10k-images-idx3-ubyte", images_of(4));
  write_bytes(zipped / "t10k-labels-idx1-ubyte", labels_of(4));
  const Dataset a = load_dataset("idx:" + raw.string());
  const Dataset b = load_dataset("idx:" + zipped.string());
  EXPECT_EQ(a.checksum, b.checksum);
  EXPECT_TRUE(torch::equal(a.train.x, b.train.x));
}

TEST(IdxReader, WithoutTestFilesSplitsTheTrainingFilesBySeed) {
  const fs::path dir = fresh_dir();
  write_bytes(dir / "train-images-idx3-ubyte", images_of(30));
  write_bytes(dir / "train-labels-idx1-ubyte", labels_of(30));
  const Dataset data = load_dataset("idx:" + dir.string());
  EXPECT_EQ(data.train.size(), 24);
  EXPECT_EQ(data.test.size(), 6);
  EXPECT_EQ(data.metadata["split"]["test"], "seeded");
}

TEST(IdxReader, WrongMagicNamesTheFile) {
  const fs::path dir = write_set(6, 4);
  std::vector<uint8_t> bytes = images_of(6);
  bytes[2] = 0x09;  // not unsigned bytes
  write_bytes(dir / "train-images-idx3-ubyte", bytes);
  const std::string message = data_error([&] { load_dataset("idx:" + dir.string()); });
  EXPECT_TRUE(contains(message, (dir / "train-images-idx3-ubyte").string() + ": ")) << message;
  EXPECT_TRUE(contains(message, "element type 0x09")) << message;

  bytes = images_of(6);
  bytes[0] = 0x1f;
  write_bytes(dir / "train-images-idx3-ubyte", bytes);
  const std::string magic = data_error([&] { load_dataset("idx:" + dir.string()); });
  EXPECT_TRUE(contains(magic, "bad magic number 0x1f000803")) << magic;
  EXPECT_FALSE(contains(magic, "\n"));
}

TEST(IdxReader, LabelsFileWithImageDimensionsIsRejected) {
  const fs::path dir = write_set(6, 4);
  write_bytes(dir / "train-labels-idx1-ubyte", images_of(6));
  const std::string message = data_error([&] { load_dataset("idx:" + dir.string()); });
  EXPECT_TRUE(contains(message, "train-labels-idx1-ubyte: IDX file has 3 dimensions, expected 1"))
      << message;
}

TEST(IdxReader, TruncatedImagesReportDeclaredAndActualBytes) {
  const fs::path dir = write_set(6, 4);
  std::vector<uint8_t> bytes = images_of(6);
  bytes.resize(bytes.size() - 7);
  write_bytes(dir / "t10k-images-idx3-ubyte.gz", gzip(images_of(4)));
  write_bytes(dir / "train-images-idx3-ubyte", bytes);
  const std::string message = data_error([&] { load_dataset("idx:" + dir.string()); });
  EXPECT_TRUE(contains(message,
                       "train-images-idx3-ubyte: truncated: header declares 6 images of "
                       "2x3 (36 bytes), file has 29"))
      << message;
}

TEST(IdxReader, TrailingBytesAreAnError) {
  const fs::path dir = write_set(6, 4);
  std::vector<uint8_t> bytes = labels_of(6);
  bytes.push_back(0);
  write_bytes(dir / "train-labels-idx1-ubyte", bytes);
  const std::string message = data_error([&] { load_dataset("idx:" + dir.string()); });
  EXPECT_TRUE(contains(message, "trailing bytes: header declares 6 labels (6 bytes), file has 7"))
      << message;
}

// Found by the idx fuzzer (its seed crash-empty-huge-items, fuzz/make_corpus.py): 0 images of
// 2164260863 x 4294967291 pixels matched the empty file, and libtorch then refused the shape with
// an error that was not a DataError.
TEST(IdxReader, EmptyFileOfItemsTooLargeForAnyFileIsRejected) {
  const std::vector<uint8_t> bytes = {0,    0,    8,    3,    0,    0,    0,    0,
                                      0x80, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xfb};
  const std::string message = data_error([&] { parse_idx(bytes, "images", 3); });
  EXPECT_TRUE(contains(message,
                       "images: IDX items of 2164260863x4294967291 are larger than any "
                       "file"))
      << message;
  const fs::path dir = write_set(6, 4);
  write_bytes(dir / "train-images-idx3-ubyte", bytes);
  write_bytes(dir / "train-labels-idx1-ubyte", labels_of(0));
  EXPECT_TRUE(
      contains(data_error([&] { load_dataset("idx:" + dir.string()); }), "larger than any file"));
  // An empty file of ordinary items is still an empty array.
  EXPECT_EQ(parse_idx(idx_bytes({0, 28, 28}, {}), "empty", 3).dims,
            (std::vector<int64_t>{0, 28, 28}));
}

TEST(IdxReader, ImageAndLabelCountsMustMatch) {
  const fs::path dir = write_set(6, 4);
  write_bytes(dir / "t10k-labels-idx1-ubyte.gz", gzip(labels_of(3)));
  const std::string message = data_error([&] { load_dataset("idx:" + dir.string()); });
  EXPECT_TRUE(contains(message, "t10k-labels-idx1-ubyte.gz: 3 labels but")) << message;
  EXPECT_TRUE(contains(message, "has 4 images")) << message;
}

TEST(IdxReader, LabelOutOfRange) {
  const fs::path dir = write_set(6, 4);
  write_bytes(dir / "train-labels-idx1-ubyte", idx_bytes({6}, {0, 1, 2, 10, 1, 0}));
  const std::string message = data_error([&] { load_dataset("idx:" + dir.string()); });
  EXPECT_TRUE(contains(message, "label 10 of item 3 is out of range (expected 0..9)")) << message;
  // With more classes declared the same file is fine.
  EXPECT_EQ(load_dataset("idx:" + dir.string() + "?classes=11").num_classes, 11);
}

TEST(IdxReader, CorruptGzipIsReported) {
  const fs::path dir = write_set(6, 4);
  std::vector<uint8_t> zipped = gzip(images_of(4));
  for (size_t i = 10; i < zipped.size() - 8; ++i)
    zipped[i] = static_cast<uint8_t>(0xff - zipped[i]);
  write_bytes(dir / "t10k-images-idx3-ubyte.gz", zipped);
  const std::string message = data_error([&] { load_dataset("idx:" + dir.string()); });
  EXPECT_TRUE(contains(message, "t10k-images-idx3-ubyte.gz: corrupt gzip data")) << message;
}

TEST(IdxReader, TruncatedGzipIsReported) {
  const fs::path dir = write_set(6, 4);
  std::vector<uint8_t> zipped = gzip(images_of(4));
  zipped.resize(zipped.size() / 2);
  write_bytes(dir / "t10k-images-idx3-ubyte.gz", zipped);
  const std::string message = data_error([&] { load_dataset("idx:" + dir.string()); });
  EXPECT_TRUE(contains(message, "t10k-images-idx3-ubyte.gz: truncated gzip data")) << message;
}

TEST(IdxReader, RawDataNamedGzIsReported) {
  const fs::path dir = write_set(6, 4);
  write_bytes(dir / "t10k-images-idx3-ubyte.gz", images_of(4));
  const std::string message = data_error([&] { load_dataset("idx:" + dir.string()); });
  EXPECT_TRUE(contains(message, "not gzip data although the name ends in .gz")) << message;
}

TEST(IdxReader, MissingDirectoryAndFiles) {
  const fs::path dir = fresh_dir();
  EXPECT_TRUE(contains(data_error([&] { load_dataset("idx:" + (dir / "nope").string()); }),
                       "nope: no such directory"));
  EXPECT_TRUE(
      contains(data_error([&] { load_dataset("idx:" + dir.string()); }), "no IDX training images"));
  write_bytes(dir / "train-images-idx3-ubyte", images_of(6));
  EXPECT_TRUE(contains(data_error([&] { load_dataset("idx:" + dir.string()); }),
                       "train-labels-idx1-ubyte: missing"));
}

TEST(IdxReader, EmptyTrainingSetIsAnError) {
  const fs::path dir = write_set(0, 4);
  const std::string message = data_error([&] { load_dataset("idx:" + dir.string()); });
  EXPECT_EQ(message, (dir / "train-images-idx3-ubyte").string() + ": no samples");
}

TEST(IdxReader, BadOptionsAreUsageErrors) {
  const fs::path dir = write_set(6, 4);
  EXPECT_THROW(load_dataset("idx:" + dir.string() + "?classes=0"), octrain::UsageError);
  EXPECT_THROW(load_dataset("idx:" + dir.string() + "?colour=red"), octrain::UsageError);
}

}  // namespace
}  // namespace octrain::data
