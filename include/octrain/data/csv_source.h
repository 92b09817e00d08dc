#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "octrain/data/csv_reader.h"
#include "octrain/data/dataset_builder.h"
#include "octrain/data/source_spec.h"

namespace octrain::data {

// Turns a numeric table into a tabular dataset: the `target_columns` (0-based) become y, every
// other column is a feature (standardised later with training statistics). Classification takes
// exactly one target column whose values must be integers >= 0; num_classes = max label + 1, and
// classes in 0..max that never occur are listed in the metadata. Fills raw's fields except
// provenance, which the caller recorded while reading.
void fill_tabular(RawDataset& raw, const std::string& path, const CsvTable& table, Task task,
                  const std::vector<int64_t>& target_columns);

// The source csv:PATH[?options]:
//   label=first|last|<index>  class label column (default last), classification; none: every
//                             column is a feature (inputs for octrain predict only)
//   target=<i>[,<j>...]       regression target column(s), implies task=regression
//   task=classification|regression   regression without target= uses the last column
//   header=auto|yes|no        default auto: a first line with a non-number is a header
// Column indices are 0-based.
RawDataset load_csv_source(const std::string& source, const SourceSpec& spec);
// The same with the file's text already in memory (the fuzz harness; no provenance recorded).
RawDataset csv_source_from_text(const std::string& source, const SourceSpec& spec,
                                std::string_view text);

}  // namespace octrain::data
