#include "octrain/util/toml_options.h"

#include <toml++/toml.h>

#include <filesystem>

#include "octrain/util/error.h"
#include "octrain/util/options.h"

namespace octrain {

toml::table read_toml_file(const std::string& path, const std::string& what) {
  if (!std::filesystem::exists(path)) throw UsageError(path + ": " + what + " not found");
  try {
    return toml::parse_file(path);
  } catch (const toml::parse_error& e) {
    throw UsageError(path + ":" + std::to_string(e.source().begin.line) + ": " +
                     std::string(e.description()));
  }
}

std::string toml_scalar_text(const toml::node& node, const std::string& where) {
  if (auto s = node.value_exact<std::string>()) return *s;
  if (auto b = node.value_exact<bool>()) return *b ? "true" : "false";
  if (auto i = node.value_exact<int64_t>()) return std::to_string(*i);
  if (auto d = node.value_exact<double>()) return format_real(*d);
  throw UsageError(where + ": expected a string, number or boolean");
}

std::map<std::string, std::string> toml_table_options(const toml::table& table,
                                                      const std::string& where) {
  std::map<std::string, std::string> out;
  for (const auto& [key, node] : table) {
    const std::string name(key.str());
    out[name] = toml_scalar_text(node, where + ": '" + name + "'");
  }
  return out;
}

}  // namespace octrain
