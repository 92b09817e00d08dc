#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace octrain::data {

// The whole content of a file, inflated when it is gzip-compressed (any file whose first bytes
// are the gzip magic; a name ending in ".gz" must be gzip). Throws DataError naming the file when
// it is missing, unreadable, not gzip despite its name, corrupt or truncated.
std::vector<uint8_t> read_file_bytes(const std::string& path);

}  // namespace octrain::data
