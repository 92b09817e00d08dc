#pragma once

#include <functional>
#include <string>

namespace octrain {

// Writes `path` via a temporary file in the same directory and a rename, so a reader never
// sees a half-written file. `write` receives the temporary path.
void write_atomically(const std::string& path,
                      const std::function<void(const std::string&)>& write);

// Removes what writers that no longer run left in `dir`: every "<name>.tmp.<pid>" and
// "<name>.tmp.<pid>.<suffix>" whose process is gone (write_atomically does this for its own
// target after each write; a run directory is swept once when a run takes it).
void remove_dead_writers_temporaries(const std::string& dir);

// Convenience: atomically replaces `path` with `content`.
void write_text_atomically(const std::string& path, const std::string& content);

}  // namespace octrain
