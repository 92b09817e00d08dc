#include "octrain/util/file_name.h"

#include <cctype>

namespace octrain {

std::string safe_file_name(const std::string& text) {
  std::string out;
  for (char c : text)
    out += (std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '-') ? c : '_';
  return out;
}

}  // namespace octrain
