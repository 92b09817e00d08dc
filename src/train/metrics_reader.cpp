#include "octrain/train/metrics_reader.h"

#include <fmt/format.h>

#include <cstdio>
#include <fstream>
#include <sstream>

#include "octrain/util/error.h"

namespace octrain::train {
namespace {

// Depth of the deepest bracket outside strings, counted before parsing so a hostile line cannot
// exhaust the parser's recursion (nlohmann::json recurses per level).
int nesting_depth(const std::string& line) {
  int depth = 0, deepest = 0;
  bool in_string = false, escaped = false;
  for (char c : line) {
    if (in_string) {
      if (escaped)
        escaped = false;
      else if (c == '\\')
        escaped = true;
      else if (c == '"')
        in_string = false;
    } else if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      deepest = std::max(deepest, ++depth);
      if (deepest > kMaxMetricsDepth) return deepest;
    } else if (c == ']' || c == '}') {
      --depth;
    }
  }
  return deepest;
}

void require_integer(const nlohmann::json& record, const char* key, const std::string& where) {
  auto it = record.find(key);
  if (it == record.end()) return;
  if (!it->is_number_integer() || it->get<int64_t>() < 0)
    throw DataError(fmt::format("{}: \"{}\" is not a non-negative integer", where, key));
}

void require_numbers(const nlohmann::json& record, const char* key, bool required,
                     const std::string& where) {
  auto it = record.find(key);
  if (it == record.end()) {
    if (required) throw DataError(fmt::format("{}: diagnostics record without \"{}\"", where, key));
    return;
  }
  bool ok = it->is_array();
  if (ok)
    for (const auto& v : *it) ok = ok && (v.is_number() || v.is_null());  // null: a NaN norm
  if (!ok) throw DataError(fmt::format("{}: \"{}\" is not an array of numbers", where, key));
}

}  // namespace

nlohmann::json parse_metrics_line(const std::string& line, const std::string& where) {
  if (nesting_depth(line) > kMaxMetricsDepth)
    throw DataError(fmt::format("{}: nested deeper than {} levels; not a metrics record", where,
                                kMaxMetricsDepth));
  auto record = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
  if (record.is_discarded()) throw DataError(where + ": not a metrics record (not valid JSON)");
  if (!record.is_object()) throw DataError(where + ": not a metrics record (not a JSON object)");
  auto kind = record.find("kind");
  if (kind == record.end() || !kind->is_string())
    throw DataError(where + ": no string \"kind\"; not a metrics record");
  require_integer(record, "step", where);
  require_integer(record, "epoch", where);
  if (*kind == "diagnostics") {
    if (!record.contains("step")) throw DataError(where + ": diagnostics record without \"step\"");
    require_numbers(record, "costate_norm", true, where);
    require_numbers(record, "update_norm", false, where);
  }
  return record;
}

std::vector<nlohmann::json> read_metrics(const std::string& path,
                                         const MetricsReadOptions& options) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw DataError(path + ": metrics log not found");
  std::stringstream buffer;
  buffer << in.rdbuf();
  return parse_metrics(buffer.str(), path, options);
}

std::vector<nlohmann::json> parse_metrics(const std::string& text, const std::string& path,
                                          const MetricsReadOptions& options) {
  std::vector<nlohmann::json> records;
  size_t begin = 0;
  for (int line_number = 1; begin < text.size(); ++line_number) {
    const size_t end = text.find('\n', begin);
    const bool torn = end == std::string::npos;
    const std::string line = text.substr(begin, torn ? std::string::npos : end - begin);
    begin = torn ? text.size() : end + 1;
    if (line.empty()) continue;
    const std::string where = fmt::format("{}:{}", path, line_number);
    try {
      records.push_back(parse_metrics_line(line, where));
    } catch (const DataError& e) {
      if (torn && options.drop_torn_tail) break;
      if (!options.skip_damaged) throw;
      std::fprintf(stderr, "notice: skipping %s\n", e.what());
    }
  }
  return records;
}

}  // namespace octrain::train
