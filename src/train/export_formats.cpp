#include "octrain/train/export_formats.h"

#include <fmt/format.h>

#include <sstream>

#include "octrain/util/error.h"

namespace octrain::train {

ExportFormats ExportFormats::parse(const std::string& text) {
  ExportFormats formats;
  std::stringstream list(text);
  for (std::string name; std::getline(list, name, ',');) {
    if (name == "deepobs")
      formats.deepobs = true;
    else if (name == "algoperf")
      formats.algoperf = true;
    else if (!name.empty())
      throw UsageError(fmt::format(
          "config 'export_format' = '{}' is invalid: expected deepobs, algoperf or both "
          "(deepobs,algoperf)",
          text));
  }
  return formats;
}

std::string ExportFormats::to_string() const {
  if (deepobs && algoperf) return "deepobs,algoperf";
  return deepobs ? "deepobs" : algoperf ? "algoperf" : "";
}

}  // namespace octrain::train
