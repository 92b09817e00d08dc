#pragma once

#include <string>

namespace octrain::train {

// Checks a zip archive (libtorch's checkpoint and TorchScript format) before anything parses
// its contents: every central-directory entry has a matching local header, its data lies inside
// the file, and its CRC-32 matches the stored (or inflated) bytes. Throws DataError naming
// `where` and the first damaged entry.
void verify_zip_integrity(const std::string& bytes, const std::string& where);

}  // namespace octrain::train
