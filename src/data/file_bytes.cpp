#include "octrain/data/file_bytes.h"

#include <fmt/format.h>
#include <zlib.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>

#include "octrain/util/error.h"

namespace octrain::data {
namespace {

namespace fs = std::filesystem;

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() &&
         s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// The gzip trailer's ISIZE (the inflated size mod 2^32) lets the buffer be allocated once;
// it is only a hint, the read loop grows the buffer if it is wrong.
size_t expected_size(const std::string& path, size_t stored_size) {
  std::ifstream in(path, std::ios::binary);
  unsigned char magic[2] = {0, 0};
  if (!in.read(reinterpret_cast<char*>(magic), 2) || magic[0] != 0x1f || magic[1] != 0x8b ||
      stored_size < 18) {
    return stored_size;
  }
  unsigned char trailer[4];
  if (!in.seekg(static_cast<std::streamoff>(stored_size - 4)) ||
      !in.read(reinterpret_cast<char*>(trailer), 4)) {
    return stored_size;
  }
  const size_t isize = size_t{trailer[0]} | size_t{trailer[1]} << 8 | size_t{trailer[2]} << 16 |
                       size_t{trailer[3]} << 24;
  // A damaged or hostile trailer must not size the buffer: deflate expands at most 1032:1, so a
  // larger claim is ignored and the read loop grows the buffer as the data really inflates.
  constexpr size_t kMaxDeflateRatio = 1032;
  if (isize / kMaxDeflateRatio > stored_size) return stored_size;
  return std::max(isize, stored_size);
}

struct GzCloser {
  void operator()(gzFile_s* file) const {
    if (file) gzclose(file);
  }
};

// zlib's error text, without the "PATH: " it prefixes (our messages name the file once).
std::string zlib_reason(gzFile file, const std::string& path, int* code) {
  std::string message = gzerror(file, code);
  if (message.rfind(path + ": ", 0) == 0) message.erase(0, path.size() + 2);
  return message;
}

}  // namespace

std::vector<uint8_t> read_file_bytes(const std::string& path) {
  std::error_code ec;
  const auto status = fs::status(path, ec);
  if (ec || !fs::exists(status)) throw DataError(path + ": no such file");
  if (fs::is_directory(status)) throw DataError(path + ": is a directory, expected a file");
  // A pipe or a device (csv:-, /dev/stdin) has no size to go by: the buffer grows as data comes.
  const bool regular = fs::is_regular_file(status);
  const size_t stored_size = regular ? static_cast<size_t>(fs::file_size(path, ec)) : 0;

  // gzopen reads non-gzip files transparently, so one code path serves raw and .gz files.
  std::unique_ptr<gzFile_s, GzCloser> file(gzopen(path.c_str(), "rb"));
  if (!file) throw DataError(fmt::format("{}: cannot open: {}", path, std::strerror(errno)));
  // A large buffer makes inflate work in big chunks (Fashion-MNIST's 26 MB file loads ~2x faster).
  gzbuffer(file.get(), 1 << 20);

  std::vector<uint8_t> bytes;
  bytes.resize(std::max<size_t>(regular ? expected_size(path, stored_size) : 0, 1 << 16) + 1);
  size_t filled = 0;
  for (;;) {
    if (filled == bytes.size()) bytes.resize(bytes.size() * 2);
    const size_t want = std::min<size_t>(bytes.size() - filled, 1u << 30);
    const int got = gzread(file.get(), bytes.data() + filled, static_cast<unsigned>(want));
    if (got < 0) {
      int code = Z_OK;
      throw DataError(
          fmt::format("{}: corrupt gzip data ({})", path, zlib_reason(file.get(), path, &code)));
    }
    if (got == 0) break;
    filled += static_cast<size_t>(got);
  }
  // zlib reports a stream cut short only through the error state, after returning what it had.
  int code = Z_OK;
  const std::string message = zlib_reason(file.get(), path, &code);
  if (code == Z_BUF_ERROR) {
    throw DataError(fmt::format("{}: truncated gzip data ({})", path, message));
  }
  if (code != Z_OK && code != Z_STREAM_END) {
    throw DataError(fmt::format("{}: corrupt gzip data ({})", path, message));
  }
  const bool was_gzip = gzdirect(file.get()) == 0;
  const int close_code = gzclose(file.release());
  if (close_code == Z_BUF_ERROR) throw DataError(path + ": truncated gzip data");
  if (close_code != Z_OK) throw DataError(path + ": error reading gzip data");
  if (!was_gzip && ends_with(path, ".gz")) {
    throw DataError(path + ": not gzip data although the name ends in .gz");
  }
  bytes.resize(filled);
  return bytes;
}

}  // namespace octrain::data
