#include "octrain/data/provenance.h"

#include <fmt/format.h>
#include <zlib.h>

namespace octrain::data {
namespace {

uint32_t crc32_update(uint32_t crc, const void* bytes, size_t size) {
  return static_cast<uint32_t>(crc32_z(crc, static_cast<const Bytef*>(bytes), size));
}

}  // namespace

std::string crc32_hex(const void* bytes, size_t size) {
  return fmt::format("{:08x}", crc32_update(0, bytes, size));
}

void Provenance::record_file(const std::string& path, const void* bytes, size_t size) {
  // One pass over the bytes: the running CRC is combined from the file's own CRC.
  const uint32_t crc = crc32_update(0, bytes, size);
  crc_ = static_cast<uint32_t>(crc32_combine(crc_, crc, static_cast<z_off_t>(size)));
  total_bytes_ += size;
  files_.push_back({{"path", path}, {"bytes", size}, {"crc32", fmt::format("{:08x}", crc)}});
}

void Provenance::record_generated(const std::string& what, const void* bytes, size_t size) {
  const uint32_t crc = crc32_update(0, bytes, size);
  crc_ = static_cast<uint32_t>(crc32_combine(crc_, crc, static_cast<z_off_t>(size)));
  total_bytes_ += size;
  files_.push_back({{"generated", what}, {"bytes", size}, {"crc32", fmt::format("{:08x}", crc)}});
}

void Provenance::append(const Provenance& later) {
  crc_ = static_cast<uint32_t>(
      crc32_combine(crc_, later.crc_, static_cast<z_off_t>(later.total_bytes_)));
  total_bytes_ += later.total_bytes_;
  for (const auto& file : later.files_) files_.push_back(file);
}

std::string Provenance::checksum_hex() const {
  return fmt::format("{:08x}", crc_);
}

}  // namespace octrain::data
