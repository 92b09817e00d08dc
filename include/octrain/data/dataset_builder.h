#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "octrain/data/dataset.h"
#include "octrain/data/provenance.h"

namespace octrain::data {

// What a reader produces before the shared steps: every sample, with the official test split
// when the data has one. finish_dataset() then does what is common to all sources.
struct RawDataset {
  std::string name;
  Task task = Task::kClassification;
  int64_t num_classes = 0;
  std::vector<int64_t> input_shape;
  int64_t target_dim = 1;
  Split train;  // all samples when has_official_test is false
  Split test;
  bool has_official_test = false;
  bool standardise = false;  // tabular inputs: standardise with training-split statistics
  Provenance provenance;
  nlohmann::json metadata = nlohmann::json::object();  // source-specific facts (format, ...)
};

// Checks the options, then, in this order:
//  1. without an official test split: a seeded split (stratified for classification) with
//     round(N * test_fraction) test samples, seed derive_seed(seed, 0);
//  2. train_limit / test_limit: seeded stratified subsets (seeds derive_seed(seed, 1) and 2);
//  3. validation: round(N_train * validation_fraction) samples carved from the (limited)
//     training split, stratified, seed derive_seed(seed, 3);
//  4. standardisation fitted on the final training split and applied to all three.
// Everything is recorded in the metadata. Throws UsageError for out-of-range options.
Dataset finish_dataset(RawDataset raw, const LoadOptions& options);

// The samples of `source` as its reader produced them, before finish_dataset(): no split, limit
// or standardisation (load_dataset() is finish_dataset(load_raw_dataset())).
RawDataset load_raw_dataset(const std::string& source, const LoadOptions& options);

// LoadOptions::data_dir, else $OCTRAIN_DATA_DIR, else octrain::default_data_dir().
std::string resolve_data_dir(const std::string& data_dir);

}  // namespace octrain::data
