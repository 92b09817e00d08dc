#include "octrain/util/config_profile.h"

#include <fmt/format.h>
#include <toml++/toml.h>

#include <vector>

#include "octrain/util/error.h"
#include "octrain/util/toml_options.h"

namespace octrain {

toml::table read_config_profile(const std::string& path, const std::string& profile) {
  toml::table doc = read_toml_file(path, "config file");
  toml::table profiles;
  if (auto* node = doc.get("profile")) {
    if (!node->is_table())
      throw UsageError(path + ": 'profile' must hold tables ([profile.quick], [profile.full])");
    profiles = *node->as_table();
    doc.erase("profile");
  }
  if (profile.empty()) return doc;
  std::vector<std::string> names;
  for (const auto& [name, node] : profiles) names.emplace_back(name.str());
  auto* chosen = profiles.get(profile);
  if (!chosen)
    throw UsageError(
        fmt::format("{}: no profile '{}' (profiles here: {})", path, profile,
                    names.empty() ? "none" : fmt::format("{}", fmt::join(names, ", "))));
  if (!chosen->is_table())
    throw UsageError(fmt::format("{}: profile '{}' is not a table", path, profile));
  for (const auto& [key, node] : *chosen->as_table()) doc.insert_or_assign(key, node);
  return doc;
}

}  // namespace octrain
