#include "octrain/deploy/packed_model.h"

#include <fmt/format.h>
#include <torch/utils.h>
#include <zlib.h>

#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>

#include "octrain/control/network.h"
#include "octrain/util/atomic_file.h"
#include "octrain/util/error.h"

namespace octrain::deploy {
namespace {

constexpr char kMagic[8] = {'O', 'C', 'T', 'P', 'A', 'C', 'K', '1'};
// Header "format": 1 knew float32, two-bit and sparse; 2 adds one-bit. Readers take 1 and 2.
constexpr int kFormat = 2;

using Bytes = std::string;

// 2-bit codes: 0 → 0, 1 → +1, 2 → −1; four weights per byte, first weight in the low bits.
Bytes encode_two_bit(const float* w, int64_t n) {
  Bytes out(size_t((n + 3) / 4), '\0');
  for (int64_t i = 0; i < n; ++i) {
    const unsigned code = w[i] > 0 ? 1u : w[i] < 0 ? 2u : 0u;
    out[size_t(i / 4)] = char(uint8_t(out[size_t(i / 4)]) | (code << (2 * (i % 4))));
  }
  return out;
}

// 1-bit codes for tensors without zeros: bit set → −1, clear → +1; eight weights per byte, first
// weight in the low bit, unused high bits of the last byte clear.
Bytes encode_one_bit(const float* w, int64_t n) {
  Bytes out(size_t((n + 7) / 8), '\0');
  for (int64_t i = 0; i < n; ++i)
    if (w[i] < 0) out[size_t(i / 8)] = char(uint8_t(out[size_t(i / 8)]) | (1u << (i % 8)));
  return out;
}

Bytes encode_sparse(const float* w, int64_t n) {
  Bytes gaps, signs;
  int64_t previous = -1, count = 0;
  for (int64_t i = 0; i < n; ++i) {
    if (w[i] == 0) continue;
    for (uint64_t gap = uint64_t(i - previous - 1);; gap >>= 7) {  // LEB128
      const uint8_t low = gap & 0x7f;
      if (gap < 0x80) {
        gaps.push_back(char(low));
        break;
      }
      gaps.push_back(char(low | 0x80));
    }
    if (count % 8 == 0) signs.push_back('\0');
    if (w[i] < 0) signs.back() = char(uint8_t(signs.back()) | (1u << (count % 8)));
    previous = i, ++count;
  }
  return gaps + signs;
}

void decode_two_bit(const Bytes& in, float* w, int64_t n, const std::string& where) {
  if (int64_t(in.size()) != (n + 3) / 4)
    throw DataError(where + ": 2-bit tensor has the wrong size");
  for (int64_t i = 0; i < n; ++i) {
    const unsigned code = (uint8_t(in[size_t(i / 4)]) >> (2 * (i % 4))) & 3u;
    if (code == 3) throw DataError(where + ": invalid 2-bit weight code");
    w[i] = code == 1 ? 1.0f : code == 2 ? -1.0f : 0.0f;
  }
}

void decode_one_bit(const Bytes& in, float* w, int64_t n, const std::string& where) {
  if (int64_t(in.size()) != (n + 7) / 8)
    throw DataError(where + ": 1-bit tensor has the wrong size");
  if (n % 8 != 0 && (uint8_t(in.back()) >> (n % 8)) != 0)
    throw DataError(where + ": 1-bit tensor has bits set past its last weight");
  for (int64_t i = 0; i < n; ++i)
    w[i] = (uint8_t(in[size_t(i / 8)]) >> (i % 8)) & 1u ? -1.0f : 1.0f;
}

void decode_sparse(const Bytes& in, float* w, int64_t n, int64_t count, const std::string& where) {
  std::fill(w, w + n, 0.0f);
  size_t at = 0;
  int64_t index = -1;
  std::vector<int64_t> positions;
  positions.reserve(size_t(count));
  for (int64_t k = 0; k < count; ++k) {
    uint64_t gap = 0;
    for (int shift = 0;; shift += 7) {
      if (at >= in.size() || shift > 56) throw DataError(where + ": truncated sparse indices");
      const uint8_t byte = uint8_t(in[at++]);
      gap |= uint64_t(byte & 0x7f) << shift;
      if (!(byte & 0x80)) break;
    }
    index += int64_t(gap) + 1;
    if (index >= n) throw DataError(where + ": sparse index out of range");
    positions.push_back(index);
  }
  if (in.size() - at != size_t((count + 7) / 8))
    throw DataError(where + ": sparse sign bits have the wrong size");
  for (int64_t k = 0; k < count; ++k) {
    const bool negative = (uint8_t(in[at + size_t(k / 8)]) >> (k % 8)) & 1u;
    w[positions[size_t(k)]] = negative ? -1.0f : 1.0f;
  }
}

// Names of the weights of Binary/Ternary stages ("<t>.weight").
std::set<std::string> discrete_tensor_names(control::Network& network) {
  std::set<std::string> names;
  for (size_t t = 0; t < network.size(); ++t)
    if (network.stage(t).control_set() != control::ControlSet::kReal)
      names.insert(fmt::format("{}.weight", t));
  return names;
}

std::map<std::string, torch::Tensor> network_tensors(control::Network& network) {
  std::map<std::string, torch::Tensor> out;
  for (const auto& item : network.named_parameters()) out[item.key()] = item.value();
  for (const auto& item : network.named_buffers()) out[item.key()] = item.value();
  return out;
}

// A tensor's element count from a header shape, refused before anything is allocated when a
// dimension is negative or the count exceeds what the encoding can hold in `bytes` (float32: 4
// per element; one-/two-bit: 8 or 4 elements per byte) or, for sparse tensors whose zeros take no
// bytes, kMaxSparseElements.
constexpr int64_t kMaxSparseElements = int64_t(1) << 31;
int64_t checked_numel(const std::vector<int64_t>& shape, const std::string& encoding, size_t bytes,
                      const std::string& where) {
  const int64_t limit = encoding == "float32"   ? int64_t(bytes / 4)
                        : encoding == "one-bit" ? int64_t(bytes) * 8
                        : encoding == "two-bit" ? int64_t(bytes) * 4
                                                : kMaxSparseElements;
  int64_t n = 1;
  for (const int64_t d : shape) {
    if (d < 0) throw DataError(fmt::format("{}: negative dimension {} in its shape", where, d));
    if (d != 0 && n > limit / d)
      throw DataError(fmt::format("{}: shape holds more elements than its {} bytes of {} data",
                                  where, bytes, encoding));
    n *= d;
  }
  return n;
}

uint32_t crc_of(const Bytes& bytes) {
  return uint32_t(crc32(0L, reinterpret_cast<const Bytef*>(bytes.data()), uInt(bytes.size())));
}

template <typename T>
void append_raw(Bytes& out, T value) {
  out.append(reinterpret_cast<const char*>(&value), sizeof value);
}

}  // namespace

PackedSizes write_packed_model(const std::string& path, control::Network& network,
                               const RunSettings& settings) {
  torch::NoGradGuard no_grad;
  const auto discrete = discrete_tensor_names(network);
  PackedSizes sizes;
  nlohmann::json entries = nlohmann::json::array();
  Bytes payload;
  // Payload bytes of the hypothetical files beside the one written (framing added below).
  PackedSize two_bit_payload, one_bit_payload;
  for (const auto& [name, tensor] : network_tensors(network)) {
    const auto w = tensor.detach().to(torch::kCPU, torch::kFloat32).contiguous();
    const int64_t n = w.numel();
    const float* data = w.data_ptr<float>();
    nlohmann::json entry = {{"name", name}, {"shape", w.sizes().vec()}, {"offset", payload.size()}};
    Bytes encoded;
    sizes.float32.file += 4 * n;
    if (discrete.count(name)) {
      const int64_t nonzero = w.count_nonzero().item<int64_t>();
      sizes.float32.weights += 4 * n;
      sizes.discrete_weights += n, sizes.nonzero_weights += nonzero;
      // Binary weights (no zeros) take 1 bit; otherwise the smaller of 2 bits and sparse.
      const Bytes two_bit = encode_two_bit(data, n);
      two_bit_payload.weights += int64_t(two_bit.size());
      if (nonzero == n) {
        encoded = encode_one_bit(data, n);
        entry["encoding"] = "one-bit";
      } else {
        const Bytes sparse = encode_sparse(data, n);
        const bool use_sparse = sparse.size() < two_bit.size();
        encoded = use_sparse ? sparse : two_bit;
        entry["encoding"] = use_sparse ? "sparse" : "two-bit";
      }
      one_bit_payload.weights += nonzero == n ? int64_t(encoded.size()) : int64_t(two_bit.size());
      sizes.written.weights += int64_t(encoded.size());
      entry["nonzero"] = nonzero;
    } else {
      encoded.assign(reinterpret_cast<const char*>(data), size_t(4 * n));
      entry["encoding"] = "float32";
      two_bit_payload.file += 4 * n, one_bit_payload.file += 4 * n;
    }
    entry["bytes"] = encoded.size();
    payload += encoded;
    entries.push_back(entry);
  }
  const Bytes header =
      nlohmann::json{{"format", kFormat}, {"settings", settings}, {"tensors", entries}}.dump();
  Bytes file(kMagic, sizeof kMagic);
  append_raw(file, uint64_t(header.size()));
  file += header;
  const int64_t framing = int64_t(file.size()) + int64_t(sizeof(uint32_t));
  file += payload;
  append_raw(file, crc_of(file));
  write_text_atomically(path, file);
  sizes.written.file = int64_t(file.size());
  sizes.two_bit = {framing + two_bit_payload.file + two_bit_payload.weights,
                   two_bit_payload.weights};
  sizes.one_bit = {framing + one_bit_payload.file + one_bit_payload.weights,
                   one_bit_payload.weights};
  return sizes;
}

bool is_packed_model(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  char magic[sizeof kMagic] = {};
  return in.read(magic, sizeof magic) && std::memcmp(magic, kMagic, sizeof kMagic) == 0;
}

PackedModel read_packed_model(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw DataError(path + ": packed model not found");
  const Bytes file((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  return parse_packed_model(file, path);
}

PackedModel parse_packed_model(const std::string& file, const std::string& path) {
  const size_t prefix = sizeof kMagic + sizeof(uint64_t);
  if (file.size() < prefix + sizeof(uint32_t) || std::memcmp(file.data(), kMagic, sizeof kMagic))
    throw DataError(path + ": not a packed octrain model (bad magic or too short)");
  uint32_t stored_crc;
  std::memcpy(&stored_crc, file.data() + file.size() - sizeof stored_crc, sizeof stored_crc);
  const Bytes body = file.substr(0, file.size() - sizeof stored_crc);
  if (crc_of(body) != stored_crc)
    throw DataError(path + ": packed model is truncated or corrupt (CRC-32 mismatch)");
  uint64_t header_size;
  std::memcpy(&header_size, file.data() + sizeof kMagic, sizeof header_size);
  if (header_size > body.size() - prefix)
    throw DataError(path + ": packed model header length exceeds the file");
  nlohmann::json header;
  try {
    header = nlohmann::json::parse(body.substr(prefix, header_size));
  } catch (const std::exception&) {
    throw DataError(path + ": packed model header is not valid JSON");
  }
  const Bytes payload = body.substr(prefix + header_size);
  PackedModel model;
  try {
    const int format = header.at("format").get<int>();
    if (format < 1 || format > kFormat)
      throw DataError(fmt::format(
          "{}: packed model format {} is not readable by this octrain (it reads formats 1–{})",
          path, format, kFormat));
    model.settings = header.at("settings").get<RunSettings>();
    for (const auto& entry : header.at("tensors")) {
      const std::string name = entry.at("name").get<std::string>();
      const auto shape = entry.at("shape").get<std::vector<int64_t>>();
      const size_t offset = entry.at("offset").get<size_t>(),
                   bytes = entry.at("bytes").get<size_t>();
      if (offset > payload.size() || bytes > payload.size() - offset)
        throw DataError(fmt::format("{}: tensor '{}' lies outside the payload", path, name));
      const Bytes data = payload.substr(offset, bytes);
      const std::string where = fmt::format("{}: tensor '{}'", path, name);
      const std::string encoding = entry.at("encoding").get<std::string>();
      const int64_t numel = checked_numel(shape, encoding, bytes, where);
      if (encoding == "sparse") {
        const int64_t nonzero = entry.at("nonzero").get<int64_t>();
        if (nonzero < 0 || nonzero > numel)
          throw DataError(
              fmt::format("{}: {} non-zero entries in a tensor of {}", where, nonzero, numel));
      }
      auto tensor = torch::empty(shape, torch::kFloat32);
      if (encoding == "float32") {
        if (int64_t(bytes) != 4 * tensor.numel()) throw DataError(where + ": wrong size");
        std::memcpy(tensor.data_ptr<float>(), data.data(), bytes);
      } else if (encoding == "one-bit" && format >= 2) {
        decode_one_bit(data, tensor.data_ptr<float>(), tensor.numel(), where);
      } else if (encoding == "two-bit") {
        decode_two_bit(data, tensor.data_ptr<float>(), tensor.numel(), where);
      } else if (encoding == "sparse") {
        decode_sparse(data, tensor.data_ptr<float>(), tensor.numel(),
                      entry.at("nonzero").get<int64_t>(), where);
      } else {
        throw DataError(
            fmt::format("{}: unknown encoding '{}' for format {}", where, encoding, format));
      }
      model.tensors[name] = tensor;
    }
  } catch (const nlohmann::json::exception& e) {
    throw DataError(fmt::format("{}: packed model header is malformed ({})", path, e.what()));
  }
  return model;
}

void load_packed_model(const PackedModel& model, control::Network& network,
                       const std::string& where) {
  torch::NoGradGuard no_grad;
  const auto targets = network_tensors(network);
  if (targets.size() != model.tensors.size())
    throw DataError(fmt::format("{}: holds {} tensors, the model has {}", where,
                                model.tensors.size(), targets.size()));
  for (const auto& [name, target] : targets) {
    auto it = model.tensors.find(name);
    if (it == model.tensors.end())
      throw DataError(fmt::format("{}: tensor '{}' of the model is missing", where, name));
    if (!it->second.sizes().equals(target.sizes()))
      throw DataError(fmt::format("{}: tensor '{}' has shape {}, the model expects {}", where, name,
                                  fmt::join(it->second.sizes(), "×"),
                                  fmt::join(target.sizes(), "×")));
    auto t = target;  // shares storage with the network's tensor
    t.copy_(it->second.to(target.options()));
  }
}

}  // namespace octrain::deploy
