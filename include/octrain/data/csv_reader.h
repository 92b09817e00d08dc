#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "octrain/data/provenance.h"

namespace octrain::data {

enum class CsvHeader { kAuto, kPresent, kAbsent };

// A numeric table read from a comma-separated file (raw or gzip).
struct CsvTable {
  std::vector<std::string> header;  // column names; empty when the file has none
  int64_t rows = 0;
  int64_t cols = 0;
  std::vector<double> values;         // row-major, rows x cols, all finite
  std::vector<int64_t> line_numbers;  // the file line of each row, for error messages
  // scikit-learn's bundled CSVs start with "n_samples,n_features,<target names>..."; when such a
  // line is the header, its counts were checked against the table and are kept here.
  int64_t declared_samples = -1;
  int64_t declared_features = -1;
  std::vector<std::string> target_names;
};

// Reads and validates a numeric CSV. kAuto takes the first line as a header when any of its
// fields is not a number. Blank lines are skipped; "\r\n" line ends and surrounding spaces are
// accepted. Every other problem (non-numeric or empty field, non-finite number, a row with the
// wrong number of fields, a header whose declared counts disagree, no data) is a DataError that
// names the line and column.
CsvTable read_csv(const std::string& path, CsvHeader header, Provenance& provenance);
// The same for a file's text already in memory (decompressed); `where` names it in errors.
CsvTable parse_csv(std::string_view text, const std::string& where, CsvHeader header);

}  // namespace octrain::data
