#pragma once

#include <string>

namespace toml {
inline namespace v3 {
class table;
}  // namespace v3
}  // namespace toml

namespace octrain {

// Reads a config file and lays its [profile.NAME] table over the top-level keys, so one file
// holds a quick (minutes) and a full (paper-scale) version of an experiment. An empty `profile`
// keeps the top-level values. The result has no `profile` key. An unknown profile is a
// UsageError naming the file and the profiles it has.
toml::table read_config_profile(const std::string& path, const std::string& profile);

}  // namespace octrain
