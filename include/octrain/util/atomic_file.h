#pragma once

#include <functional>
#include <string>

namespace octrain {

// Writes `path` via a temporary file in the same directory and a rename, so a reader never
// sees a half-written file. `write` receives the temporary path.
void write_atomically(const std::string& path,
                      const std::function<void(const std::string&)>& write);

// Convenience: atomically replaces `path` with `content`.
void write_text_atomically(const std::string& path, const std::string& content);

}  // namespace octrain
