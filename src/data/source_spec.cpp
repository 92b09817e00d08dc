#include "octrain/data/source_spec.h"

#include <fmt/format.h>

#include <algorithm>

#include "octrain/util/error.h"

namespace octrain::data {

SourceSpec parse_source(const std::string& source) {
  SourceSpec spec;
  std::string rest = source;
  const size_t colon = rest.find(':');
  // A one-letter "kind" would be a Windows drive; no octrain source kind is that short.
  if (colon != std::string::npos && colon > 1) {
    spec.kind = rest.substr(0, colon);
    rest = rest.substr(colon + 1);
  }
  const size_t question = rest.find('?');
  spec.location = rest.substr(0, question);
  if (question == std::string::npos) return spec;
  const std::string query = rest.substr(question + 1);
  size_t start = 0;
  while (start <= query.size()) {
    size_t end = query.find('&', start);
    if (end == std::string::npos) end = query.size();
    const std::string pair = query.substr(start, end - start);
    const size_t equals = pair.find('=');
    if (equals == std::string::npos || equals == 0 || equals + 1 == pair.size()) {
      throw UsageError(fmt::format("{}: bad option '{}', expected key=value", source, pair));
    }
    const std::string key = pair.substr(0, equals);
    if (!spec.options.emplace(key, pair.substr(equals + 1)).second) {
      throw UsageError(fmt::format("{}: option '{}' given twice", source, key));
    }
    start = end + 1;
  }
  return spec;
}

void check_option_keys(const std::string& source, const SourceSpec& spec,
                       const std::vector<std::string>& allowed) {
  for (const auto& [key, value] : spec.options) {
    if (std::find(allowed.begin(), allowed.end(), key) != allowed.end()) continue;
    std::string known;
    for (const auto& name : allowed) known += (known.empty() ? "" : ", ") + name;
    throw UsageError(fmt::format("{}: unknown option '{}' (known: {})", source, key,
                                 known.empty() ? "none" : known));
  }
}

}  // namespace octrain::data
