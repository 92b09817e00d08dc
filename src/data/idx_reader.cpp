#include "octrain/data/idx_reader.h"

#include <fmt/format.h>

#include <filesystem>
#include <future>
#include <map>
#include <regex>

#include "octrain/data/file_bytes.h"
#include "octrain/util/error.h"

namespace octrain::data {
namespace {

namespace fs = std::filesystem;

constexpr uint8_t kUnsignedByte = 0x08;

uint32_t big_endian_u32(const uint8_t* p) {
  return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | uint32_t{p[3]};
}

std::string dims_text(const std::vector<int64_t>& dims, size_t from) {
  std::string text;
  for (size_t i = from; i < dims.size(); ++i)
    text += (i > from ? "x" : "") + std::to_string(dims[i]);
  return text;
}

}  // namespace

IdxArray read_idx(const std::string& path, int expected_dims, Provenance& provenance) {
  std::vector<uint8_t> bytes = read_file_bytes(path);
  provenance.record_file(path, bytes.data(), bytes.size());
  return parse_idx(std::move(bytes), path, expected_dims);
}

IdxArray parse_idx(std::vector<uint8_t> bytes, const std::string& path, int expected_dims) {
  if (bytes.size() < 4) {
    throw DataError(
        fmt::format("{}: truncated: {} bytes, too short for an IDX header", path, bytes.size()));
  }
  if (bytes[0] != 0 || bytes[1] != 0) {
    throw DataError(
        fmt::format("{}: not an IDX file: bad magic number 0x{:02x}{:02x}{:02x}{:02x} (expected "
                    "0x0000{:02x}{:02x})",
                    path, unsigned{bytes[0]}, unsigned{bytes[1]}, unsigned{bytes[2]},
                    unsigned{bytes[3]}, unsigned{kUnsignedByte}, expected_dims));
  }
  if (bytes[2] != kUnsignedByte) {
    throw DataError(fmt::format(
        "{}: unsupported IDX element type 0x{:02x} (only 0x08, unsigned byte, is supported)", path,
        unsigned{bytes[2]}));
  }
  const int dims = bytes[3];
  if (dims != expected_dims) {
    throw DataError(fmt::format("{}: IDX file has {} dimensions, expected {} ({})", path, dims,
                                expected_dims, expected_dims == 3 ? "images" : "labels"));
  }
  const size_t header = 4 + 4 * static_cast<size_t>(dims);
  if (bytes.size() < header) {
    throw DataError(fmt::format("{}: truncated: {} bytes, the IDX header needs {}", path,
                                bytes.size(), header));
  }
  IdxArray array;
  // Anything beyond 2^48 bytes cannot be in the file; stopping there also prevents overflow.
  constexpr uint64_t kBeyondAnyFile = uint64_t{1} << 48;
  const auto times = [](uint64_t a, uint64_t b) {
    return b != 0 && a > kBeyondAnyFile / b ? kBeyondAnyFile : a * b;
  };
  uint64_t count = 1, item = 1;  // all elements; those of one item (dimensions after the first)
  for (int d = 0; d < dims; ++d) {
    const uint32_t size = big_endian_u32(bytes.data() + 4 + 4 * d);
    if (size == 0 && d > 0) throw DataError(fmt::format("{}: IDX dimension {} is 0", path, d));
    array.dims.push_back(size);
    count = times(count, size);
    if (d > 0) item = times(item, size);
  }
  // An empty file (0 items) still declares its items' shape, which must be one a file can hold.
  if (item >= kBeyondAnyFile)
    throw DataError(fmt::format("{}: IDX items of {} are larger than any file", path,
                                dims_text(array.dims, 1)));
  const uint64_t actual = bytes.size() - header;
  if (actual != count) {
    const std::string what = dims == 3 ? fmt::format("{} images of {} ({} bytes)", array.dims[0],
                                                     dims_text(array.dims, 1), count)
                                       : fmt::format("{} labels ({} bytes)", array.dims[0], count);
    throw DataError(fmt::format("{}: {}: header declares {}, file has {}", path,
                                actual < count ? "truncated" : "trailing bytes", what, actual));
  }
  array.bytes = std::move(bytes);
  array.header_size = header;
  return array;
}

LabelledImages read_idx_pair(const std::string& images_path, const std::string& labels_path,
                             int64_t num_classes, Provenance& provenance) {
  const IdxArray images = read_idx(images_path, 3, provenance);
  const IdxArray labels = read_idx(labels_path, 1, provenance);
  return pair_idx_arrays(images, labels, num_classes, images_path, labels_path);
}

LabelledImages pair_idx_arrays(const IdxArray& images, const IdxArray& labels, int64_t num_classes,
                               const std::string& images_path, const std::string& labels_path) {
  if (images.dims[0] != labels.dims[0]) {
    throw DataError(fmt::format("{}: {} labels but {} has {} images", labels_path, labels.dims[0],
                                images_path, images.dims[0]));
  }
  const uint8_t* label = labels.elements();
  for (int64_t i = 0; i < labels.dims[0]; ++i) {
    if (label[i] >= num_classes) {
      throw DataError(fmt::format("{}: label {} of item {} is out of range (expected 0..{})",
                                  labels_path, int{label[i]}, i, num_classes - 1));
    }
  }
  const int64_t n = images.dims[0];
  LabelledImages result;
  // One conversion over the whole buffer; from_blob only borrows, .to() makes the owned copy.
  result.images = torch::from_blob(const_cast<uint8_t*>(images.elements()),
                                   {n, 1, images.dims[1], images.dims[2]}, torch::kUInt8)
                      .to(torch::kFloat)
                      .div_(255.0f);
  result.labels = torch::from_blob(const_cast<uint8_t*>(labels.elements()), {n}, torch::kUInt8)
                      .to(torch::kLong);
  return result;
}

IdxFiles find_idx_files(const std::string& dir) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) throw DataError(dir + ": no such directory");
  // prefix -> images file, chosen deterministically (raw before .gz) whatever the listing order.
  static const std::regex images_name(R"((.+)[-.]images[-.]idx3[-.]ubyte(\.gz)?)");
  std::map<std::string, std::string> images_by_prefix;
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    const std::string name = entry.path().filename().string();
    std::smatch match;
    if (!std::regex_match(name, match, images_name)) continue;
    auto [it, inserted] = images_by_prefix.emplace(match[1].str(), name);
    if (!inserted && !match[2].matched) it->second = name;
  }
  auto labels_for = [&](const std::string& images) {
    std::string labels = std::regex_replace(images, std::regex("images([-.])idx3"), "labels$1idx1");
    const fs::path path = fs::path(dir) / labels;
    if (fs::exists(path, ec)) return path.string();
    // The labels may be stored compressed when the images are not, or the other way round.
    const bool gz = labels.size() > 3 && labels.compare(labels.size() - 3, 3, ".gz") == 0;
    const fs::path other =
        fs::path(dir) / (gz ? labels.substr(0, labels.size() - 3) : labels + ".gz");
    if (fs::exists(other, ec)) return other.string();
    throw DataError(fmt::format("{}: missing (the labels for {})", path.string(), images));
  };
  IdxFiles files;
  for (const auto& [prefix, images] : images_by_prefix) {
    const bool is_train = prefix.find("train") != std::string::npos;
    const bool is_test = prefix == "t10k" || prefix.find("test") != std::string::npos;
    if (is_train == is_test) continue;  // neither, or ambiguous like "train-test"
    std::string& images_slot = is_train ? files.train_images : files.test_images;
    std::string& labels_slot = is_train ? files.train_labels : files.test_labels;
    if (!images_slot.empty()) {
      throw DataError(fmt::format("{}: more than one {} IDX image file ({} and {})", dir,
                                  is_train ? "training" : "test",
                                  fs::path(images_slot).filename().string(), images));
    }
    images_slot = (fs::path(dir) / images).string();
    labels_slot = labels_for(images);
  }
  if (files.train_images.empty()) {
    throw DataError(dir + ": no IDX training images (expected train-images-idx3-ubyte[.gz])");
  }
  return files;
}

RawDataset load_idx_directory(const std::string& dir, int64_t num_classes) {
  const IdxFiles files = find_idx_files(dir);
  RawDataset raw;
  raw.num_classes = num_classes;
  // The test files are inflated on a second thread while the (larger) training files are; the
  // provenance is still recorded in the fixed order train, then test.
  Provenance test_provenance;
  std::future<LabelledImages> test_future;
  if (!files.test_images.empty()) {
    test_future = std::async(std::launch::async, [&] {
      return read_idx_pair(files.test_images, files.test_labels, num_classes, test_provenance);
    });
  }
  LabelledImages train;
  try {
    train = read_idx_pair(files.train_images, files.train_labels, num_classes, raw.provenance);
  } catch (...) {
    if (test_future.valid()) test_future.wait();  // it uses locals of this frame
    throw;
  }
  raw.input_shape = {1, train.images.size(2), train.images.size(3)};
  raw.train = {train.images, train.labels};
  if (test_future.valid()) {
    LabelledImages test = test_future.get();
    raw.provenance.append(test_provenance);
    if (test.images.size(2) != train.images.size(2) ||
        test.images.size(3) != train.images.size(3)) {
      throw DataError(fmt::format("{}: images are {}x{} but the training images are {}x{}",
                                  files.test_images, test.images.size(2), test.images.size(3),
                                  train.images.size(2), train.images.size(3)));
    }
    raw.test = {test.images, test.labels};
    raw.has_official_test = true;
  }
  raw.metadata["format"] = "idx";
  raw.metadata["directory"] = dir;
  raw.metadata["inputs"] = "images scaled to [0, 1] (byte / 255)";
  return raw;
}

}  // namespace octrain::data
