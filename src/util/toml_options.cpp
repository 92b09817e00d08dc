#include "octrain/util/toml_options.h"

#include <sstream>
#include <toml++/toml.h>

#include "octrain/util/error.h"
#include "octrain/util/options.h"

namespace octrain {

std::string toml_scalar_text(const toml::node& node, const std::string& where) {
  if (auto s = node.value_exact<std::string>()) return *s;
  if (auto b = node.value_exact<bool>()) return *b ? "true" : "false";
  if (auto i = node.value_exact<int64_t>()) return std::to_string(*i);
  if (auto d = node.value_exact<double>()) return format_real(*d);
  throw UsageError(where + ": expected a string, number or boolean");
}

std::map<std::string, std::string> toml_table_options(const toml::table& table, const std::string& where) {
  std::map<std::string, std::string> out;
  for (const auto& [key, node] : table) {
    const std::string name(key.str());
    out[name] = toml_scalar_text(node, where + ": '" + name + "'");
  }
  return out;
}

}  // namespace octrain
