#include "octrain/data/inference_inputs.h"

#include <fmt/format.h>

#include "octrain/data/dataset_builder.h"
#include "octrain/data/source_spec.h"
#include "octrain/util/error.h"

namespace octrain::data {
namespace {

std::string shape_text(const std::vector<int64_t>& shape) {
  return fmt::format("[{}]", fmt::join(shape, "×"));
}

torch::Tensor joined(const torch::Tensor& a, const torch::Tensor& b) {
  if (!b.defined() || b.size(0) == 0) return a;
  return a.defined() ? torch::cat({a, b}) : b;
}

}  // namespace

InferenceInputs load_inference_inputs(const std::string& source,
                                      const std::vector<int64_t>& input_shape,
                                      const LoadOptions& options) {
  const SourceSpec spec = parse_source(source);
  RawDataset raw;
  const bool csv_without_targets =
      spec.kind == "csv" && !spec.options.count("label") && !spec.options.count("target");
  if (csv_without_targets) {
    // A file of features only is the common case for new inputs; with one column more it
    // carries labels (the last column, as for training).
    const std::string sep = spec.options.empty() ? "?" : "&";
    raw = load_raw_dataset(source + sep + "label=none", options);
    if (raw.input_shape != input_shape) {
      const int64_t columns = raw.input_shape.at(0);
      raw = load_raw_dataset(source, options);
      if (raw.input_shape != input_shape)
        throw DataError(fmt::format(
            "{}: {} columns, the model takes {} (features only, or features and a last label "
            "column)",
            spec.location, columns, shape_text(input_shape)));
    }
  } else {
    raw = load_raw_dataset(source, options);
  }
  if (raw.input_shape != input_shape)
    throw DataError(fmt::format("{}: samples of shape {}, the model takes {}", source,
                                shape_text(raw.input_shape), shape_text(input_shape)));
  InferenceInputs inputs;
  inputs.x = joined(raw.train.x, raw.test.x);
  if (raw.train.y.defined()) inputs.y = joined(raw.train.y, raw.test.y);
  inputs.checksum = raw.provenance.checksum_hex();
  if (!inputs.x.defined() || inputs.x.size(0) == 0) throw DataError(source + ": no samples");
  return inputs;
}

}  // namespace octrain::data
