#pragma once

#include <string>
#include <string_view>

namespace octrain {

// A piece of user input fit for a one-line error: control bytes escaped (\n, \t, \xNN) and
// anything past `max_bytes` cut, with the full length said ("abc… (1048576 bytes)").
std::string excerpt(std::string_view text, size_t max_bytes = 80);

}  // namespace octrain
