#pragma once

#include <string>

namespace octrain {

// `text` as one safe path component: letters, digits, '.', '-' kept, everything else '_'
// ("idx:/data/x?classes=3" → "idx__data_x_classes_3").
std::string safe_file_name(const std::string& text);

}  // namespace octrain
