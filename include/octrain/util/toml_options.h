#pragma once

#include <map>
#include <string>

namespace toml {
inline namespace v3 {
class node;
class table;
}  // namespace v3
}  // namespace toml

namespace octrain {

// Parses a TOML file; a missing file or a syntax error is a UsageError "PATH[:LINE]: what".
// `what` names the file's role in the message ("config file", "model file").
toml::table read_toml_file(const std::string& path, const std::string& what);

// A TOML scalar as the "value" text that OptionSchema parses (strings unquoted, arrays refused).
std::string toml_scalar_text(const toml::node& node, const std::string& where);

// The scalar entries of a TOML table as key → text; `where` names the file/table in errors.
std::map<std::string, std::string> toml_table_options(const toml::table& table,
                                                      const std::string& where);

}  // namespace octrain
