#include "octrain/data/csv_reader.h"

#include <fmt/format.h>

#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <limits>
#include <optional>
#include <string_view>

#include "octrain/data/file_bytes.h"
#include "octrain/util/error.h"
#include "octrain/util/excerpt.h"

namespace octrain::data {
namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r'))
    s.remove_suffix(1);
  return s;
}

std::string_view unquote(std::string_view s) {
  if (s.size() >= 2 && s.front() == '"' && s.back() == '"') return s.substr(1, s.size() - 2);
  return s;
}

std::vector<std::string_view> split_fields(std::string_view line) {
  std::vector<std::string_view> fields;
  size_t start = 0;
  for (;;) {
    const size_t comma = line.find(',', start);
    fields.push_back(trim(line.substr(start, comma - start)));
    if (comma == std::string_view::npos) break;
    start = comma + 1;
  }
  return fields;
}

// The whole field must be a number; strtod alone would accept "12abc" as 12.
std::optional<double> parse_number(std::string_view field) {
  field = unquote(field);
  if (field.empty()) return std::nullopt;
  const std::string terminated(field);  // strtod needs a NUL; short strings do not allocate
  char* end = nullptr;
  const double value = std::strtod(terminated.c_str(), &end);
  if (end != terminated.c_str() + terminated.size()) return std::nullopt;
  return value;
}

std::optional<int64_t> parse_count(std::string_view field) {
  const auto value = parse_number(field);
  if (!value || *value < 0 || *value != std::floor(*value) || *value > 1e15) return std::nullopt;
  return static_cast<int64_t>(*value);
}

struct Line {
  std::string_view text;
  int64_t number;  // 1-based, as an editor shows it
};

}  // namespace

CsvTable read_csv(const std::string& path, CsvHeader header_mode, Provenance& provenance) {
  const std::vector<uint8_t> bytes = read_file_bytes(path);
  provenance.record_file(path, bytes.data(), bytes.size());
  return parse_csv(std::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size()),
                   path, header_mode);
}

CsvTable parse_csv(std::string_view text, const std::string& path, CsvHeader header_mode) {
  if (text.substr(0, 3) == "\xEF\xBB\xBF") text.remove_prefix(3);  // a UTF-8 byte-order mark
  if (text.find('\0') != std::string_view::npos) {
    throw DataError(path + ": contains NUL bytes, not a text CSV file");
  }

  std::vector<Line> lines;
  int64_t number = 0;
  for (size_t start = 0; start < text.size();) {
    size_t end = text.find('\n', start);
    if (end == std::string_view::npos) end = text.size();
    ++number;
    const std::string_view line = trim(text.substr(start, end - start));
    if (!line.empty()) lines.push_back({line, number});
    start = end + 1;
  }
  if (lines.empty()) throw DataError(path + ": empty, expected comma-separated numbers");

  CsvTable table;
  size_t first_data = 0;
  std::vector<std::string_view> header_fields;
  {
    const auto fields = split_fields(lines[0].text);
    bool all_numeric = true;
    for (const auto& field : fields) all_numeric = all_numeric && parse_number(field).has_value();
    const bool is_header =
        header_mode == CsvHeader::kPresent || (header_mode == CsvHeader::kAuto && !all_numeric);
    if (is_header) {
      header_fields = fields;
      for (const auto& field : fields) table.header.emplace_back(unquote(field));
      first_data = 1;
    }
  }
  if (first_data >= lines.size()) {
    throw DataError(
        fmt::format("{}: no data rows after the header on line {}", path, lines[0].number));
  }

  const std::vector<std::string_view> first_row = split_fields(lines[first_data].text);
  table.cols = static_cast<int64_t>(first_row.size());
  table.rows = static_cast<int64_t>(lines.size() - first_data);
  table.values.reserve(static_cast<size_t>(table.rows * table.cols));
  const bool named_columns = static_cast<int64_t>(table.header.size()) == table.cols;
  for (size_t r = first_data; r < lines.size(); ++r) {
    const auto fields = r == first_data ? first_row : split_fields(lines[r].text);
    if (static_cast<int64_t>(fields.size()) != table.cols) {
      throw DataError(fmt::format("{}: line {} has {} fields, expected {} (as on line {})", path,
                                  lines[r].number, fields.size(), table.cols,
                                  lines[first_data].number));
    }
    for (size_t c = 0; c < fields.size(); ++c) {
      const auto value = parse_number(fields[c]);
      // Values train as float32: beyond its range they would become inf in the tensor.
      const bool representable =
          value && std::isfinite(*value) && std::abs(*value) <= std::numeric_limits<float>::max();
      if (!representable) {
        const std::string column = named_columns
                                       ? fmt::format("column {} ({})", c + 1, table.header[c])
                                       : fmt::format("column {}", c + 1);
        const char* expected = !value                   ? "a number"
                               : !std::isfinite(*value) ? "a finite number"
                                                        : "within float32's range (±3.4e38)";
        throw DataError(fmt::format("{}: line {}, {}: '{}' is not {}", path, lines[r].number,
                                    column, excerpt(fields[c]), expected));
      }
      table.values.push_back(*value);
    }
    table.line_numbers.push_back(lines[r].number);
  }

  if (!table.header.empty() && !named_columns) {
    // Only scikit-learn's "n_samples,n_features,target names..." line may differ in width.
    const auto samples = header_fields.size() >= 2 ? parse_count(header_fields[0]) : std::nullopt;
    const auto features = header_fields.size() >= 2 ? parse_count(header_fields[1]) : std::nullopt;
    if (!samples || !features) {
      throw DataError(
          fmt::format("{}: the header on line {} has {} fields but the data rows have {}", path,
                      lines[0].number, header_fields.size(), table.cols));
    }
    if (*samples != table.rows) {
      throw DataError(fmt::format("{}: header declares {} samples, file has {} rows", path,
                                  *samples, table.rows));
    }
    // Rows are the features and one target.
    if (*features + 1 != table.cols) {
      throw DataError(fmt::format(
          "{}: header declares {} features, so rows should have {} fields, but they have {}", path,
          *features, *features + 1, table.cols));
    }
    table.declared_samples = *samples;
    table.declared_features = *features;
    for (size_t i = 2; i < header_fields.size(); ++i)
      table.target_names.emplace_back(header_fields[i]);
    table.header.clear();
  }
  return table;
}

}  // namespace octrain::data
