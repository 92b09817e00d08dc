#include "octrain/train/zip_integrity.h"

#include <fmt/format.h>
#include <zlib.h>

#include <cstdint>
#include <limits>
#include <vector>

#include "octrain/util/error.h"

namespace octrain::train {
namespace {

// Zip record signatures and layout (PKWARE APPNOTE 4.3).
constexpr uint32_t kLocalHeader = 0x04034b50, kCentralHeader = 0x02014b50,
                   kEndOfDirectory = 0x06054b50, kZip64End = 0x06064b50, kZip64Locator = 0x07064b50;
constexpr size_t kLocalSize = 30, kCentralSize = 46, kEndSize = 22;
constexpr uint16_t kStored = 0, kDeflated = 8, kZip64Extra = 0x0001;

class Reader {
 public:
  Reader(const std::string& bytes, const std::string& where) : bytes_(bytes), where_(where) {}

  [[noreturn]] void fail(const std::string& what) const {
    throw DataError(fmt::format("{}: damaged file: {}", where_, what));
  }
  void need(uint64_t offset, uint64_t size, const char* what) const {
    if (offset > bytes_.size() || size > bytes_.size() - offset)
      fail(fmt::format("{} at byte {} runs past the end of the file", what, offset));
  }
  uint64_t le(uint64_t offset, int width) const {
    uint64_t v = 0;
    for (int i = width - 1; i >= 0; --i) v = (v << 8) | uint8_t(bytes_[size_t(offset) + i]);
    return v;
  }
  const std::string& bytes() const { return bytes_; }

 private:
  const std::string& bytes_;
  const std::string& where_;
};

struct Entry {
  std::string name;
  uint16_t method = 0;
  uint32_t crc = 0;
  uint64_t compressed = 0, size = 0, local_offset = 0;
};

// Replaces 32-bit fields that read 0xFFFFFFFF with the zip64 extra field's 64-bit values.
void apply_zip64(const Reader& r, uint64_t extra, uint64_t length, Entry& e) {
  for (uint64_t at = extra; at + 4 <= extra + length;) {
    const auto id = uint16_t(r.le(at, 2)), size = uint16_t(r.le(at + 2, 2));
    uint64_t field = at + 4;
    if (id == kZip64Extra) {
      for (uint64_t* v : {&e.size, &e.compressed, &e.local_offset}) {
        if (*v != 0xFFFFFFFFu) continue;
        if (field + 8 > at + 4 + size) r.fail("zip64 extra field of '" + e.name + "' is short");
        *v = r.le(field, 8);
        field += 8;
      }
    }
    at += 4 + size;
  }
}

uint32_t crc_of(const char* data, uint64_t size) {
  uint32_t crc = 0;
  while (size > 0) {
    const auto chunk = uInt(std::min<uint64_t>(size, std::numeric_limits<uInt>::max()));
    crc = uint32_t(crc32(crc, reinterpret_cast<const Bytef*>(data), chunk));
    data += chunk, size -= chunk;
  }
  return crc;
}

// CRC-32 of a raw-deflate stream that must inflate to exactly `size` bytes.
uint32_t inflated_crc(const Reader& r, const Entry& e, const char* data) {
  z_stream z{};
  if (inflateInit2(&z, -MAX_WBITS) != Z_OK) r.fail("cannot start zlib");
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data));
  z.avail_in = uInt(e.compressed);
  std::vector<char> buffer(1 << 16);
  uint32_t crc = 0;
  uint64_t produced = 0;
  int status = Z_OK;
  while (status == Z_OK) {
    z.next_out = reinterpret_cast<Bytef*>(buffer.data());
    z.avail_out = uInt(buffer.size());
    status = inflate(&z, Z_NO_FLUSH);
    const uint64_t n = buffer.size() - z.avail_out;
    produced += n;
    if (produced > e.size) break;
    crc = uint32_t(crc32(crc, reinterpret_cast<const Bytef*>(buffer.data()), uInt(n)));
  }
  inflateEnd(&z);
  if (status != Z_STREAM_END || produced != e.size)
    r.fail(fmt::format("entry '{}' does not inflate to its {} bytes", e.name, e.size));
  return crc;
}

}  // namespace

void verify_zip_integrity(const std::string& bytes, const std::string& where) {
  const Reader r(bytes, where);
  if (bytes.size() < kEndSize) r.fail("too short to be a zip archive");
  // The end-of-central-directory record: the last signature within the comment's reach.
  uint64_t end = bytes.size() - kEndSize;
  const uint64_t lowest = bytes.size() > kEndSize + 0xFFFF ? bytes.size() - kEndSize - 0xFFFF : 0;
  while (r.le(end, 4) != kEndOfDirectory) {
    if (end == lowest) r.fail("no zip end-of-directory record");
    --end;
  }
  uint64_t count = r.le(end + 10, 2), directory = r.le(end + 16, 4);
  const uint64_t directory_size = r.le(end + 12, 4);
  if (end >= 20 && r.le(end - 20, 4) == kZip64Locator) {
    const uint64_t record = r.le(end - 20 + 8, 8);
    r.need(record, 56, "zip64 end-of-directory record");
    if (r.le(record, 4) != kZip64End) r.fail("zip64 end-of-directory record has a bad signature");
    count = r.le(record + 32, 8);
    directory = r.le(record + 48, 8);
  } else if (directory + directory_size != end) {
    r.fail("central directory does not end where the end-of-directory record starts");
  }
  if (count == 0) r.fail("zip archive has no entries");
  uint64_t at = directory;
  for (uint64_t i = 0; i < count; ++i) {
    r.need(at, kCentralSize, "central directory entry");
    if (r.le(at, 4) != kCentralHeader)
      r.fail(fmt::format("central directory entry {} has a bad signature", i));
    Entry e;
    e.method = uint16_t(r.le(at + 10, 2));
    e.crc = uint32_t(r.le(at + 16, 4));
    e.compressed = r.le(at + 20, 4);
    e.size = r.le(at + 24, 4);
    const uint64_t name_length = r.le(at + 28, 2), extra_length = r.le(at + 30, 2),
                   comment_length = r.le(at + 32, 2);
    e.local_offset = r.le(at + 42, 4);
    r.need(at + kCentralSize, name_length + extra_length + comment_length, "entry name");
    e.name = bytes.substr(size_t(at + kCentralSize), size_t(name_length));
    apply_zip64(r, at + kCentralSize + name_length, extra_length, e);
    at += kCentralSize + name_length + extra_length + comment_length;

    r.need(e.local_offset, kLocalSize, "local header");
    if (r.le(e.local_offset, 4) != kLocalHeader)
      r.fail(fmt::format("entry '{}' has no local header at byte {}", e.name, e.local_offset));
    const uint64_t local_name = r.le(e.local_offset + 26, 2),
                   local_extra = r.le(e.local_offset + 28, 2);
    r.need(e.local_offset + kLocalSize, local_name + local_extra, "local header name");
    if (uint16_t(r.le(e.local_offset + 8, 2)) != e.method ||
        bytes.compare(size_t(e.local_offset + kLocalSize), size_t(local_name), e.name) != 0)
      r.fail(fmt::format("local header of '{}' disagrees with the central directory", e.name));
    const uint64_t data = e.local_offset + kLocalSize + local_name + local_extra;
    r.need(data, e.compressed, "entry data");
    uint32_t crc = 0;
    if (e.method == kStored) {
      if (e.compressed != e.size) r.fail(fmt::format("stored entry '{}' changes size", e.name));
      crc = crc_of(bytes.data() + data, e.size);
    } else if (e.method == kDeflated) {
      crc = inflated_crc(r, e, bytes.data() + data);
    } else {
      r.fail(fmt::format("entry '{}' uses compression method {}", e.name, e.method));
    }
    if (crc != e.crc)
      r.fail(fmt::format("entry '{}' fails its CRC-32 check (stored {:08x}, contents {:08x})",
                         e.name, e.crc, crc));
  }
}

}  // namespace octrain::train
