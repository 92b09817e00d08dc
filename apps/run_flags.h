#pragma once

#include <CLI/CLI.hpp>
#include <map>
#include <string>
#include <vector>

#include "octrain/train/run_config.h"

namespace octrain::app {

// The RunConfig flags shared by `train` and `compare`: each flag is kept as text and applied on
// top of the --config file only when it was given.
class RunFlags {
 public:
  void add_to(CLI::App& command, bool with_method);
  // Applies given flags to `config` (after the config file).
  void apply(train::RunConfig& config) const;
  const std::string& config_file() const { return config_file_; }
  // A config file chosen otherwise than by --config (tune --problem NAME).
  void set_config_file(const std::string& path) { config_file_ = path; }
  // The --profile NAME to lay over the config file (empty: its top-level values).
  const std::string& profile() const { return profile_; }
  // The config keys whose flags were given.
  std::vector<std::string> given() const;

 private:
  std::string config_file_;
  std::string profile_;
  std::map<std::string, std::string> values_;
  std::map<std::string, CLI::Option*> options_;
};

}  // namespace octrain::app
