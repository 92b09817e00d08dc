// CSV tables and the csv: source (parse_source, parse_csv / read_csv, csv_source_from_text /
// load_csv_source): the input's first line is the source's option list
// ("label=first&header=yes"), the rest the CSV file, parsed in memory (through the file reader
// and zlib when it is gzip).
#include <string>

#include "fuzz.h"
#include "octrain/data/csv_reader.h"
#include "octrain/data/csv_source.h"
#include "octrain/data/source_spec.h"

OCTRAIN_FUZZ_HARNESS(csv) {
  using namespace octrain;
  const std::string input(reinterpret_cast<const char*>(data), size);
  const size_t newline = input.find('\n');
  const std::string options = newline == std::string::npos ? "" : input.substr(0, newline);
  const std::string body = newline == std::string::npos ? input : input.substr(newline + 1);
  const bool gzip = fuzz::is_gzip(reinterpret_cast<const uint8_t*>(body.data()), body.size());
  const std::string path = gzip ? fuzz::scratch_file(body, ".csv") : "fuzz.csv";
  for (const auto mode :
       {data::CsvHeader::kAuto, data::CsvHeader::kPresent, data::CsvHeader::kAbsent}) {
    fuzz::expect_octrain_errors_only([&] {
      data::Provenance provenance;
      const data::CsvTable table =
          gzip ? data::read_csv(path, mode, provenance) : data::parse_csv(body, path, mode);
      if (table.values.size() != size_t(table.rows * table.cols) ||
          table.line_numbers.size() != size_t(table.rows))
        fuzz::unexpected_exception("table sizes disagree");
    });
  }
  fuzz::expect_octrain_errors_only([&] {
    const std::string source = "csv:" + path + (options.empty() ? "" : "?" + options);
    const data::SourceSpec spec = data::parse_source(source);
    if (gzip)
      data::load_csv_source(source, spec);
    else
      data::csv_source_from_text(source, spec, body);
  });
}
