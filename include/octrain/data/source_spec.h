#pragma once

#include <map>
#include <string>
#include <vector>

namespace octrain::data {

// A dataset source string split into its parts: "csv:/a/b.csv?label=first&task=regression" has
// kind "csv", location "/a/b.csv" and options {label: first, task: regression}. A built-in name
// has no kind: its location is the name.
struct SourceSpec {
  std::string kind;
  std::string location;
  std::map<std::string, std::string> options;
};

// Throws UsageError for a malformed option list ("?key", "?=v", a repeated key).
SourceSpec parse_source(const std::string& source);

// Throws UsageError naming the first option key that is not in `allowed`.
void check_option_keys(const std::string& source, const SourceSpec& spec,
                       const std::vector<std::string>& allowed);

}  // namespace octrain::data
