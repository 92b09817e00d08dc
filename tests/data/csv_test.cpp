#include <fmt/format.h>
#include <sys/stat.h>

#include <thread>

#include "data/fixtures.h"
#include "octrain/data/csv_reader.h"
#include "octrain/data/dataset.h"

namespace octrain::data {
namespace {

using namespace testing;

// 20 rows: x0 = i, x1 = 2i + 1, class = i % 2.
std::string table_text(bool header) {
  std::string text = header ? "a,b,class\n" : "";
  for (int i = 0; i < 20; ++i) text += fmt::format("{},{},{}\n", i, 2 * i + 1, i % 2);
  return text;
}

std::string csv(const fs::path& path, const std::string& query = "") {
  return "csv:" + path.string() + query;
}

TEST(Csv, HeaderIsDetectedAndLastColumnIsTheLabel) {
  const fs::path dir = fresh_dir();
  write_text(dir / "with.csv", table_text(true));
  write_text(dir / "without.csv", table_text(false));
  const Dataset with = load_dataset(csv(dir / "with.csv"));
  const Dataset without = load_dataset(csv(dir / "without.csv"));
  for (const Dataset* data : {&with, &without}) {
    EXPECT_EQ(data->task, Task::kClassification);
    EXPECT_EQ(data->num_classes, 2);
    EXPECT_EQ(data->input_shape, (std::vector<int64_t>{2}));
    EXPECT_EQ(data->train.size(), 16);
    EXPECT_EQ(data->test.size(), 4);
    EXPECT_EQ(data->train.y.dtype(), torch::kLong);
  }
  EXPECT_TRUE(torch::equal(with.train.x, without.train.x));
  EXPECT_EQ(with.metadata["column_names"], (std::vector<std::string>{"a", "b", "class"}));
}

TEST(Csv, LabelColumnCanBeChosen) {
  const fs::path dir = fresh_dir();
  write_text(dir / "first.csv",
             "label,x\n0,1.5\n1,2.5\n0,3.5\n1,4.5\n0,5.5\n1,6.5\n0,7\n1,8\n0,9\n1,10\n");
  const Dataset first = load_dataset(csv(dir / "first.csv", "?label=first"));
  EXPECT_EQ(first.num_classes, 2);
  EXPECT_EQ(first.input_shape, (std::vector<int64_t>{1}));
  const Dataset by_index = load_dataset(csv(dir / "first.csv", "?label=0"));
  EXPECT_TRUE(torch::equal(first.train.y, by_index.train.y));
  // Column 1 holds 1.5: not a class label.
  const std::string message = data_error([&] { load_dataset(csv(dir / "first.csv")); });
  EXPECT_TRUE(contains(message, "line 2, column 2 (x): class label 1.5 is not an integer"))
      << message;
  EXPECT_THROW(load_dataset(csv(dir / "first.csv", "?label=5")), octrain::UsageError);
  EXPECT_THROW(load_dataset(csv(dir / "first.csv", "?label=middle")), octrain::UsageError);
}

TEST(Csv, RegressionTargets) {
  const fs::path dir = fresh_dir();
  std::string text;
  for (int i = 0; i < 10; ++i) text += fmt::format("{},{},{},{}\n", i, i * 0.5, i * i, -i);
  write_text(dir / "r.csv", text);
  const Dataset data = load_dataset(csv(dir / "r.csv", "?target=2,3"));
  EXPECT_EQ(data.task, Task::kRegression);
  EXPECT_EQ(data.num_classes, 0);
  EXPECT_EQ(data.target_dim, 2);
  EXPECT_EQ(data.input_shape, (std::vector<int64_t>{2}));
  ASSERT_EQ(data.train.y.sizes(), (std::vector<int64_t>{8, 2}));
  EXPECT_EQ(data.train.y.dtype(), torch::kFloat);
  // Targets keep their values: y0 = i^2 and y1 = -i for the same row.
  const torch::Tensor y = torch::cat({data.train.y, data.test.y});
  EXPECT_TRUE(torch::allclose(y.select(1, 0), y.select(1, 1) * y.select(1, 1)));
  const Dataset last = load_dataset(csv(dir / "r.csv", "?task=regression"));
  EXPECT_EQ(last.target_dim, 1);
  EXPECT_EQ(last.input_shape, (std::vector<int64_t>{3}));
  EXPECT_THROW(load_dataset(csv(dir / "r.csv", "?task=regression&label=first")),
               octrain::UsageError);
  EXPECT_THROW(load_dataset(csv(dir / "r.csv", "?target=2,2")), octrain::UsageError);
  EXPECT_THROW(load_dataset(csv(dir / "r.csv", "?task=ranking")), octrain::UsageError);
}

TEST(Csv, NonNumericFieldNamesLineAndColumn) {
  const fs::path dir = fresh_dir();
  write_text(dir / "bad.csv", "a,b,class\n1,2,0\n3,oops,1\n");
  const std::string message = data_error([&] { load_dataset(csv(dir / "bad.csv")); });
  EXPECT_EQ(message, (dir / "bad.csv").string() + ": line 3, column 2 (b): 'oops' is not a number");
  write_text(dir / "nan.csv", "1,2,0\n3,nan,1\n");
  EXPECT_TRUE(contains(data_error([&] { load_dataset(csv(dir / "nan.csv")); }),
                       "line 2, column 2: 'nan' is not a finite number"));
  write_text(dir / "empty-field.csv", "1,2,0\n3,,1\n");
  EXPECT_TRUE(contains(data_error([&] { load_dataset(csv(dir / "empty-field.csv")); }),
                       "line 2, column 2: '' is not a number"));
}

TEST(Csv, RaggedRowIsReported) {
  const fs::path dir = fresh_dir();
  write_text(dir / "ragged.csv", "1,2,0\n3,4,1\n\n5,1\n");
  const std::string message = data_error([&] { load_dataset(csv(dir / "ragged.csv")); });
  EXPECT_TRUE(contains(message, "ragged.csv: line 4 has 2 fields, expected 3 (as on line 1)"))
      << message;
}

TEST(Csv, NegativeLabelsAndEmptyFilesAreReported) {
  const fs::path dir = fresh_dir();
  write_text(dir / "neg.csv", "1,2,0\n3,4,-1\n");
  EXPECT_TRUE(contains(data_error([&] { load_dataset(csv(dir / "neg.csv")); }),
                       "line 2, column 3: class label -1 is not an integer"));
  write_text(dir / "empty.csv", "\n\n");
  EXPECT_TRUE(contains(data_error([&] { load_dataset(csv(dir / "empty.csv")); }), "empty"));
  write_text(dir / "only-header.csv", "a,b\n");
  EXPECT_TRUE(
      contains(data_error([&] { load_dataset(csv(dir / "only-header.csv")); }), "no data rows"));
  EXPECT_TRUE(contains(data_error([&] { load_dataset(csv(dir / "missing.csv")); }),
                       "missing.csv: no such file"));
}

TEST(Csv, StandardisationUsesTrainingStatisticsOnly) {
  const fs::path dir = fresh_dir();
  write_text(dir / "t.csv", table_text(false));
  const Dataset data = load_dataset(csv(dir / "t.csv"));
  const torch::Tensor train_mean = data.train.x.mean(0);
  const torch::Tensor train_std = data.train.x.std(0, /*unbiased=*/false);
  EXPECT_TRUE(torch::allclose(train_mean, torch::zeros({2}), 0, 1e-5)) << train_mean;
  EXPECT_TRUE(torch::allclose(train_std, torch::ones({2}), 0, 1e-5)) << train_std;
  EXPECT_GT(data.test.x.mean(0).abs().max().item<float>(), 1e-3);
  const auto& stats = data.metadata["standardisation"];
  EXPECT_EQ(stats["applied"], true);
  EXPECT_EQ(stats["fitted_on"], "train");
  ASSERT_EQ(stats["mean"].size(), 2u);
  // The recorded mean is the raw training mean, so x0 = (x - mean) / std undoes to raw values.
  const double mean0 = stats["mean"][0];
  const double std0 = stats["std"][0];
  const torch::Tensor raw0 = data.test.x.select(1, 0).to(torch::kDouble) * std0 + mean0;
  EXPECT_TRUE(torch::allclose(raw0, raw0.round(), 0, 1e-4)) << raw0;
}

TEST(Csv, SklearnStyleHeaderCountsAreChecked) {
  const fs::path dir = fresh_dir();
  std::string rows;
  for (int i = 0; i < 10; ++i) rows += fmt::format("{},{},{}\n", i, i + 1, i % 2);
  write_text(dir / "ok.csv", "10,2,zero,one\n" + rows);
  EXPECT_EQ(load_dataset(csv(dir / "ok.csv")).train.size(), 8);
  write_text(dir / "short.csv", "12,2,zero,one\n" + rows);
  EXPECT_TRUE(contains(data_error([&] { load_dataset(csv(dir / "short.csv")); }),
                       "short.csv: header declares 12 samples, file has 10 rows"));
  write_text(dir / "features.csv", "10,1,zero,one\n" + rows);  // 1 feature but 2 in the rows
  EXPECT_TRUE(
      contains(data_error([&] { load_dataset(csv(dir / "features.csv")); }),
               "header declares 1 features, so rows should have 2 fields, but they have 3"));
  write_text(dir / "names.csv", "a,b\n" + rows);
  EXPECT_TRUE(contains(data_error([&] { load_dataset(csv(dir / "names.csv")); }),
                       "header on line 1 has 2 fields but the data rows have 3"));
}

TEST(Csv, GzippedCsvAndWindowsLineEnds) {
  const fs::path dir = fresh_dir();
  std::string text = "x,y,c\r\n";
  for (int i = 0; i < 10; ++i) text += fmt::format("{}, {} ,{}\r\n", i, -i, i % 2);
  const std::vector<uint8_t> bytes(text.begin(), text.end());
  write_bytes(dir / "t.csv.gz", gzip(bytes));
  const Dataset data = load_dataset(csv(dir / "t.csv.gz"));
  EXPECT_EQ(data.train.size() + data.test.size(), 10);
  EXPECT_THROW(load_dataset(csv(dir / "t.csv.gz", "?shape=round")), octrain::UsageError);
  EXPECT_THROW(load_dataset(csv(dir / "t.csv.gz", "?header")), octrain::UsageError);
}

}  // namespace
}  // namespace octrain::data

namespace octrain::data {
namespace {

using namespace testing;

TEST(Csv, ValuesBeyondFloat32AreRefusedNamingTheCell) {
  const fs::path dir = fresh_dir();
  write_text(dir / "huge.csv", "1,2,0\n3,1e39,1\n5,6,0\n7,8,1\n9,10,0\n");
  EXPECT_TRUE(contains(data_error([&] { load_dataset(csv(dir / "huge.csv")); }),
                       "huge.csv: line 2, column 2: '1e39' is not within float32's range"));
}

TEST(Csv, LongAndControlFieldsAreCutInMessages) {
  const fs::path dir = fresh_dir();
  write_text(dir / "long.csv", "1,2,0\n3," + std::string(1 << 20, 'x') + "\x01,1\n");
  const std::string message = data_error([&] { load_dataset(csv(dir / "long.csv")); });
  EXPECT_LT(message.size(), 300u) << message.substr(0, 300);
  EXPECT_TRUE(contains(message, "… (1048577 bytes)")) << message.substr(0, 300);
  write_text(dir / "control.csv", "1,2,0\n3,a\x1b[2Jb,1\n");
  EXPECT_TRUE(contains(data_error([&] { load_dataset(csv(dir / "control.csv")); }),
                       "'a\\x1b[2Jb' is not a number"));
}

TEST(Csv, ByteOrderMarkIsNotAHeader) {
  const fs::path dir = fresh_dir();
  write_text(dir / "bom.csv", "\xEF\xBB\xBF" + table_text(false));
  const Dataset data = load_dataset(csv(dir / "bom.csv"));
  EXPECT_EQ(data.train.size() + data.test.size(), 20);
  EXPECT_FALSE(data.metadata.contains("column_names"));
}

TEST(Csv, PipesAreRead) {
  const fs::path dir = fresh_dir();
  write_text(dir / "rows.csv", table_text(true));
  const fs::path fifo = dir / "pipe";
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  std::thread writer([&] { write_text(fifo, table_text(true)); });
  const Dataset piped = load_dataset(csv(fifo));
  writer.join();
  const Dataset file = load_dataset(csv(dir / "rows.csv"));
  EXPECT_TRUE(torch::equal(piped.train.x, file.train.x));
}

}  // namespace
}  // namespace octrain::data
