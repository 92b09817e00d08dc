#include "octrain/util/excerpt.h"

#include <fmt/format.h>

namespace octrain {

std::string excerpt(std::string_view text, size_t max_bytes) {
  std::string out;
  const size_t shown = std::min(text.size(), max_bytes);
  for (size_t i = 0; i < shown; ++i) {
    const auto c = static_cast<unsigned char>(text[i]);
    if (c == '\n')
      out += "\\n";
    else if (c == '\t')
      out += "\\t";
    else if (c == '\r')
      out += "\\r";
    else if (c < 0x20 || c == 0x7f)
      out += fmt::format("\\x{:02x}", c);
    else
      out += char(c);
  }
  if (shown < text.size()) out += fmt::format("… ({} bytes)", text.size());
  return out;
}

}  // namespace octrain
