#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "octrain/methods/method.h"

namespace octrain::methods {

// Builds a method from its parsed options for `network` (UsageError on options or stages it cannot
// handle).
using MethodFactory =
    std::function<std::unique_ptr<Method>(OptionValues options, control::Network& network)>;

struct MethodInfo {
  std::string name;
  std::string summary;
  OptionSchema schema;
  MethodFactory make;
};

// Every registered method with its option schema (for `octrain methods` and --help).
const std::vector<MethodInfo>& method_catalogue();
// The catalogue entry of `name`; throws UsageError naming the known methods if there is none.
const MethodInfo& find_method(const std::string& name);

// Builds the method for `network` from "name[:key=value,...]" (or a name and an option map).
// Throws UsageError naming the unknown method or the bad option.
std::unique_ptr<Method> make_method(const std::string& spec, control::Network& network);
std::unique_ptr<Method> make_method(const std::string& name,
                                    const std::map<std::string, std::string>& options,
                                    control::Network& network);

}  // namespace octrain::methods
