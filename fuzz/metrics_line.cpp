// metrics.jsonl (parse_metrics_line, parse_metrics): the input as one record, and as a whole
// log with each of the reader's options.
#include <string>

#include "fuzz.h"
#include "octrain/train/metrics_reader.h"

OCTRAIN_FUZZ_HARNESS(metrics_line) {
  using namespace octrain;
  const std::string input(reinterpret_cast<const char*>(data), size);
  fuzz::expect_octrain_errors_only([&] { train::parse_metrics_line(input, "fuzz:1"); });
  for (const bool skip : {false, true})
    for (const bool drop_torn : {false, true})
      fuzz::expect_octrain_errors_only([&] {
        train::MetricsReadOptions options;
        options.skip_damaged = skip;
        options.drop_torn_tail = drop_torn;
        for (const auto& record : train::parse_metrics(input, "fuzz.jsonl", options))
          if (!record.is_object()) fuzz::unexpected_exception("a record that is not an object");
      });
}
