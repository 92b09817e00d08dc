#pragma once

#include <optional>
#include <string>
#include <vector>

#include "octrain/data/dataset_builder.h"

namespace octrain::data {

// Where scikit-learn's bundled data files may be, in search order: <data_dir>/sklearn/ (which
// scripts/install_data.sh fills with links), the Debian package python3-sklearn's
// /usr/lib/python3/dist-packages/sklearn/datasets/data/, then any other
// /usr/{,local/}lib/python3*/{dist,site}-packages/sklearn/datasets/data/.
std::vector<std::string> sklearn_data_dirs(const std::string& data_dir);
std::optional<std::string> find_sklearn_file(const std::string& data_dir, const std::string& name);

// wine_data.csv: the header "178,13,class_0,class_1,class_2", then 178 rows of 13 features and
// the class 0..2. Tabular: 13 features, standardised with training statistics.
RawDataset load_wine(const std::string& path);

// digits.csv.gz: 1797 rows of 64 pixel values 0..16 (8x8 images) then the digit 0..9, no header.
// Kept tabular (64 features, standardised with training statistics) rather than [1, 8, 8]
// images, because the papers' fully connected nets on this set take vectors.
RawDataset load_digits(const std::string& path);

}  // namespace octrain::data
