#include "octrain/train/reference_table.h"

#include <fmt/format.h>
#include <toml++/toml.h>

#include <algorithm>
#include <filesystem>

#include "octrain/util/error.h"
#include "octrain/util/toml_options.h"

namespace octrain::train {
namespace {

std::string required_string(const toml::table& table, const std::string& key,
                            const std::string& where) {
  auto value = table[key].value<std::string>();
  if (!value || value->empty())
    throw UsageError(fmt::format("{}: needs a non-empty string '{}'", where, key));
  return *value;
}

ReferenceRow read_row(const toml::table& table, const std::string& where) {
  ReferenceRow row;
  row.id = required_string(table, "id", where);
  const std::string at = where + " '" + row.id + "'";
  row.description = required_string(table, "description", at);
  row.setting = table["setting"].value_or(std::string());
  for (const auto& [key, node] : table) {
    const std::string name(key.str());
    if (name == "id" || name == "description" || name == "setting") continue;
    if (name == "claims") {
      auto* list = node.as_array();
      if (!list) throw UsageError(at + ": 'claims' must be an array of strings");
      for (const auto& claim : *list) {
        auto text = claim.value<std::string>();
        if (!text) throw UsageError(at + ": 'claims' must be an array of strings");
        row.claims.push_back(*text);
      }
      continue;
    }
    const auto& known = reference_metrics();
    if (std::find(known.begin(), known.end(), name) == known.end() || !node.is_table())
      throw UsageError(fmt::format("{}: '{}' is not a metric table (known: {})", at, name,
                                   fmt::join(known, ", ")));
    for (const auto& [method, value] : *node.as_table()) {
      auto number = value.value<double>();
      if (!number)
        throw UsageError(fmt::format("{}: {}.{} must be a number", at, name, method.str()));
      row.values[name][std::string(method.str())] = *number;
    }
  }
  if (row.values.empty() && row.claims.empty())
    throw UsageError(at + ": has neither metric values nor claims");
  return row;
}

}  // namespace

const std::vector<std::string>& reference_metrics() {
  static const std::vector<std::string> metrics = {"test_accuracy", "train_loss", "test_loss",
                                                   "nonzero"};
  return metrics;
}

bool is_percent_metric(const std::string& metric) {
  return metric == "test_accuracy" || metric == "nonzero";
}

ReferenceTable read_reference_table(const std::string& path) {
  const toml::table doc = read_toml_file(path, "reference table");
  ReferenceTable table;
  table.name = std::filesystem::path(path).stem().string();
  table.title = required_string(doc, "title", path);
  table.source = required_string(doc, "source", path);
  table.certainty = required_string(doc, "certainty", path);
  table.note = doc["note"].value_or(std::string());
  auto* rows = doc["row"].as_array();
  if (!rows || rows->empty()) throw UsageError(path + ": needs [[row]] tables");
  for (size_t i = 0; i < rows->size(); ++i) {
    auto* row = rows->get(i)->as_table();
    if (!row) throw UsageError(fmt::format("{}: row {} is not a table", path, i));
    table.rows.push_back(read_row(*row, fmt::format("{}: row {}", path, i)));
  }
  return table;
}

Reference find_reference(const std::string& dir, const std::string& name) {
  const auto colon = name.find(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == name.size())
    throw UsageError(fmt::format("reference '{}': expected TABLE:ROW, e.g. ddpnopt:fc-wine", name));
  const std::string table_name = name.substr(0, colon), row_id = name.substr(colon + 1);
  const std::string path = dir + "/" + table_name + ".toml";
  if (!std::filesystem::exists(path)) {
    std::vector<std::string> tables;
    if (std::filesystem::is_directory(dir))
      for (const auto& entry : std::filesystem::directory_iterator(dir))
        if (entry.path().extension() == ".toml") tables.push_back(entry.path().stem().string());
    std::sort(tables.begin(), tables.end());
    throw UsageError(
        fmt::format("reference '{}': no table '{}' in {} (tables: {})", name, table_name, dir,
                    tables.empty() ? "none" : fmt::format("{}", fmt::join(tables, ", "))));
  }
  const auto table = read_reference_table(path);
  std::vector<std::string> ids;
  for (const auto& row : table.rows) {
    if (row.id == row_id)
      return {name, table.title, table.source, table.certainty, table.note, row};
    ids.push_back(row.id);
  }
  throw UsageError(fmt::format("reference '{}': {} has no row '{}' (rows: {})", name, path, row_id,
                               fmt::join(ids, ", ")));
}

nlohmann::json Reference::to_json() const {
  return {{"name", name},
          {"title", title},
          {"source", source},
          {"certainty", certainty},
          {"note", note},
          {"id", row.id},
          {"description", row.description},
          {"setting", row.setting},
          {"claims", row.claims},
          {"values", row.values}};
}

Reference Reference::from_json(const nlohmann::json& j) {
  Reference r;
  r.name = j.at("name").get<std::string>();
  r.title = j.at("title").get<std::string>();
  r.source = j.at("source").get<std::string>();
  r.certainty = j.at("certainty").get<std::string>();
  r.note = j.value("note", "");
  r.row.id = j.at("id").get<std::string>();
  r.row.description = j.at("description").get<std::string>();
  r.row.setting = j.value("setting", "");
  r.row.claims = j.value("claims", std::vector<std::string>());
  r.row.values = j.at("values").get<std::map<std::string, std::map<std::string, double>>>();
  return r;
}

}  // namespace octrain::train
