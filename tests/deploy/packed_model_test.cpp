// Packed export of binary/ternary networks: bit-identical logits after export → load, sparse
// encoding where it is smaller, and one-line DataErrors for corrupt or truncated files.
#include "octrain/deploy/packed_model.h"

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <torch/types.h>
#include <torch/utils.h>
#include <zlib.h>

#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>

#include "octrain/control/model_builder.h"
#include "octrain/control/network.h"
#include "octrain/util/error.h"
#include "train/run_helpers.h"

namespace octrain::deploy {
namespace {

namespace testing = train::testing;  // the run helpers (train/run_helpers.h)

// A trained-looking network: sparse ternary weights, non-trivial batch-norm state and scales.
std::shared_ptr<control::Network> make_network(const std::string& spec, uint64_t seed,
                                               double keep) {
  torch::manual_seed(seed);
  auto net = control::build_network(spec, {20});
  torch::NoGradGuard no_grad;
  for (auto& item : net->named_parameters()) {
    auto p = item.value();
    if (item.key().find("weight") != std::string::npos && keep < 1)
      p.mul_(torch::rand_like(p).lt(keep).to(p.scalar_type()));
    else if (item.key().find("weight") == std::string::npos)
      p.copy_(torch::randn_like(p));
  }
  for (auto& item : net->named_buffers()) item.value().copy_(torch::rand_like(item.value()) + 0.1);
  net->eval();
  return net;
}

TEST(PackedModel, ExportThenLoadGivesBitIdenticalLogits) {
  const auto dir = testing::fresh_dir();
  const RunSettings settings = {{"dataset", "digits"}, {"model", "tmlp:20-64x2-5"}};
  for (double keep : {1.0, 0.02}) {
    for (const std::string spec : {"tmlp:20-64x2-5", "bmlp:20-64x2-5"}) {
      if (spec[0] == 'b' && keep < 1) continue;
      SCOPED_TRACE(spec + " keep " + std::to_string(keep));
      auto trained = make_network(spec, 1, keep);
      const std::string path = (dir / "model.octpack").string();
      const auto sizes = write_packed_model(path, *trained, settings);
      EXPECT_EQ(sizes.written.file, int64_t(std::filesystem::file_size(path)));
      if (spec[0] == 'b') {  // 1 bit per weight, half the 2-bit code
        EXPECT_EQ(sizes.written.file, sizes.one_bit.file);
        EXPECT_EQ(2 * sizes.one_bit.weights, sizes.two_bit.weights);
      } else if (keep < 1) {
        EXPECT_LT(sizes.written.file, sizes.two_bit.file);  // sparse indices won
      } else {
        EXPECT_EQ(sizes.written.file, sizes.two_bit.file);  // ternary with zeros: no 1-bit code
        EXPECT_EQ(sizes.one_bit.file, sizes.two_bit.file);
      }
      ASSERT_TRUE(is_packed_model(path));
      const auto packed = read_packed_model(path);
      EXPECT_EQ(packed.settings, settings);
      auto fresh = make_network(spec, 2, 1.0);  // different weights until loaded
      load_packed_model(packed, *fresh, path);
      const auto x = torch::randn({50, 20});
      EXPECT_TRUE(torch::equal(trained->predict(x), fresh->predict(x)));
    }
  }
}

// An independent bitwise CRC-32 (the zlib/PNG polynomial, reflected 0xEDB88320).
uint32_t reference_crc32(const std::string& bytes) {
  uint32_t crc = 0xffffffffu;
  for (unsigned char c : bytes) {
    crc ^= c;
    for (int k = 0; k < 8; ++k) crc = (crc >> 1) ^ (0xedb88320u & (0u - (crc & 1u)));
  }
  return ~crc;
}

std::string read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// A packed file split by the documented layout: magic, u64 header length, header, payload, CRC.
struct Layout {
  nlohmann::json header;
  std::string payload;
};
Layout split_file(const std::string& bytes) {
  uint64_t length;
  std::memcpy(&length, bytes.data() + 8, 8);
  return {nlohmann::json::parse(bytes.substr(16, length)),
          bytes.substr(16 + length, bytes.size() - 16 - length - 4)};
}
std::string join_file(const Layout& layout) {
  const std::string header = layout.header.dump();
  std::string file = "OCTPACK1";
  const uint64_t length = header.size();
  file.append(reinterpret_cast<const char*>(&length), 8);
  file += header + layout.payload;
  const uint32_t crc = reference_crc32(file);
  file.append(reinterpret_cast<const char*>(&crc), 4);
  return file;
}

TEST(PackedModel, BinaryMlpTakesOneBitPerWeightInTheDocumentedLayout) {
  const auto dir = testing::fresh_dir();
  torch::manual_seed(4);
  auto net = control::build_network("bmlp:784-512x3-10", {784});
  const std::string path = (dir / "b.octpack").string();
  const auto sizes = write_packed_model(path, *net, {{"dataset", "mnist"}});
  const std::string bytes = read_bytes(path);
  uint32_t stored;
  std::memcpy(&stored, bytes.data() + bytes.size() - 4, 4);
  EXPECT_EQ(stored, reference_crc32(bytes.substr(0, bytes.size() - 4)));
  const auto layout = split_file(bytes);
  EXPECT_EQ(layout.header.at("format"), 2);

  // Every weight tensor decoded by hand from the payload: bit i%8 of byte i/8 set ⇔ w_i = −1.
  std::map<std::string, torch::Tensor> tensors;
  for (const auto& item : net->named_parameters()) tensors[item.key()] = item.value();
  int64_t weights = 0, one_bit_bytes = 0;
  for (const auto& entry : layout.header.at("tensors")) {
    const std::string name = entry.at("name");
    if (name.find("weight") == std::string::npos || !tensors.count(name) ||
        entry.at("encoding") == "float32")
      continue;
    EXPECT_EQ(entry.at("encoding"), "one-bit") << name;
    const auto w = tensors.at(name).flatten();
    const int64_t n = w.numel();
    ASSERT_EQ(entry.at("bytes").get<int64_t>(), (n + 7) / 8) << name;
    const size_t offset = entry.at("offset");
    for (int64_t i = 0; i < n; ++i) {
      const bool bit = (uint8_t(layout.payload[offset + size_t(i / 8)]) >> (i % 8)) & 1u;
      ASSERT_EQ(bit, w[i].item<float>() < 0) << name << " weight " << i;
    }
    weights += n, one_bit_bytes += (n + 7) / 8;
  }
  EXPECT_EQ(weights, 784 * 512 + 2 * 512 * 512 + 512 * 10);
  EXPECT_EQ(sizes.discrete_weights, weights);
  EXPECT_EQ(sizes.written.weights, one_bit_bytes);
  EXPECT_EQ(sizes.float32.weights, 4 * weights);
  EXPECT_EQ(sizes.two_bit.weights, weights / 4);
  // 32× on the weight tensors; the float32 batch-norm tensors keep the whole file above 25× too.
  EXPECT_GE(double(sizes.float32.weights) / double(sizes.written.weights), 25.0);
  EXPECT_GE(double(sizes.float32.file) / double(sizes.written.file), 25.0);

  // The ternary twin: 2 bits per weight (its uniform initialisation has ~1/3 zeros).
  torch::manual_seed(4);
  auto ternary = control::build_network("tmlp:784-512x3-10", {784});
  const auto t = write_packed_model((dir / "t.octpack").string(), *ternary, {});
  EXPECT_EQ(t.written.weights, weights / 4);
  EXPECT_GE(double(t.float32.weights) / double(t.written.weights), 15.0);
}

// read_packed_model(path) must throw a one-line DataError containing `text`.
void expect_read_error(const std::string& path, const std::string& text) {
  try {
    read_packed_model(path);
    ADD_FAILURE() << path << " was accepted";
  } catch (const DataError& e) {
    const std::string message = e.what();
    EXPECT_NE(message.find(text), std::string::npos) << message;
    EXPECT_EQ(message.find('\n'), std::string::npos) << message;
  }
}

TEST(PackedModel, FormatOneFilesStillReadAndNewerFormatsAreRefused) {
  const auto dir = testing::fresh_dir();
  auto ternary = make_network("tmlp:20-16-5", 5, 0.3);
  const std::string path = (dir / "t.octpack").string();
  write_packed_model(path, *ternary, {{"dataset", "digits"}});
  const auto write = [&](const std::string& name, int format, const std::string& from) {
    auto layout = split_file(read_bytes(from));
    layout.header["format"] = format;
    const std::string p = (dir / name).string();
    std::ofstream(p, std::ios::binary) << join_file(layout);
    return p;
  };
  // A format 1 file (same records, no 1-bit code) reads to the same tensors.
  const auto old = read_packed_model(write("old.octpack", 1, path));
  const auto now = read_packed_model(path);
  ASSERT_EQ(old.tensors.size(), now.tensors.size());
  for (const auto& [name, tensor] : now.tensors)
    EXPECT_TRUE(torch::equal(old.tensors.at(name), tensor)) << name;
  expect_read_error(write("new.octpack", 3, path), "format 3 is not readable");
  // Format 1 never had the 1-bit code: a binary tensor labelled so is refused.
  auto binary = make_network("bmlp:20-15-5", 5, 1.0);
  const std::string bpath = (dir / "b.octpack").string();
  write_packed_model(bpath, *binary, {});
  expect_read_error(write("b1.octpack", 1, bpath), "unknown encoding 'one-bit' for format 1");
  // A 1-bit record with stray padding bits in its last byte (15·20 and 5·15 weights leave some).
  auto layout = split_file(read_bytes(bpath));
  bool tampered = false;
  for (const auto& entry : layout.header.at("tensors")) {
    if (entry.at("encoding") != "one-bit" || entry.at("nonzero").get<int64_t>() % 8 == 0) continue;
    const size_t last = entry.at("offset").get<size_t>() + entry.at("bytes").get<size_t>() - 1;
    layout.payload[last] = char(uint8_t(layout.payload[last]) | 0x80u);
    tampered = true;
  }
  ASSERT_TRUE(tampered);
  const std::string padded = (dir / "padded.octpack").string();
  std::ofstream(padded, std::ios::binary) << join_file(layout);
  expect_read_error(padded, "bits set past its last weight");
}

// Writes tmlp:20-16-5 packed at `path` and returns the file's bytes.
std::string packed_ternary_bytes(const std::string& path) {
  auto net = make_network("tmlp:20-16-5", 3, 0.5);
  write_packed_model(path, *net, {{"dataset", "digits"}});
  std::ifstream in(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

TEST(PackedModel, CorruptTruncatedOrMismatchedFilesAreDataErrors) {
  const auto dir = testing::fresh_dir();
  const std::string path = (dir / "m.octpack").string();
  const std::string bytes = packed_ternary_bytes(path);
  const auto write = [&](const std::string& name, const std::string& content) {
    const std::string p = (dir / name).string();
    std::ofstream(p, std::ios::binary) << content;
    return p;
  };
  auto flipped = bytes;
  flipped[bytes.size() / 2] ^= 0x10;
  for (const auto& p :
       {write("truncated", bytes.substr(0, bytes.size() - 7)), write("flipped", flipped),
        write("short", bytes.substr(0, 10)), (dir / "missing").string()})
    expect_read_error(p, p);
  auto other = make_network("tmlp:20-8-5", 3, 1.0);
  EXPECT_THROW(load_packed_model(read_packed_model(path), *other, path), DataError);
}

// A header with a valid CRC but hostile shapes or counts is refused before any allocation.
TEST(PackedModel, HostileHeadersWithValidCrcAreDataErrors) {
  const auto dir = testing::fresh_dir();
  const std::string path = (dir / "m.octpack").string();
  const std::string bytes = packed_ternary_bytes(path);
  constexpr size_t kMagicSize = 8;
  uint64_t header_size;
  std::memcpy(&header_size, bytes.data() + kMagicSize, sizeof header_size);
  const auto header = nlohmann::json::parse(bytes.substr(kMagicSize + 8, header_size));
  const std::string payload =
      bytes.substr(kMagicSize + 8 + header_size, bytes.size() - kMagicSize - 8 - header_size - 4);
  // Re-seals `edited` with the original payload and a correct CRC.
  const auto seal = [&](const nlohmann::json& edited, const std::string& name) {
    const std::string text = edited.dump();
    std::string file = bytes.substr(0, kMagicSize);
    const uint64_t size = text.size();
    file.append(reinterpret_cast<const char*>(&size), sizeof size);
    file += text + payload;
    const uint32_t crc =
        uint32_t(crc32(0L, reinterpret_cast<const Bytef*>(file.data()), uInt(file.size())));
    file.append(reinterpret_cast<const char*>(&crc), sizeof crc);
    const std::string p = (dir / name).string();
    std::ofstream(p, std::ios::binary) << file;
    return p;
  };
  ASSERT_NO_THROW(read_packed_model(seal(header, "same.octpack")));
  const nlohmann::json hostile_shapes[] = {{-1}, {1000000000000LL}, {4294967296LL, 4294967296LL}};
  int k = 0;
  for (size_t t = 0; t < header["tensors"].size(); ++t) {
    for (const auto& shape : hostile_shapes) {
      auto edited = header;
      edited["tensors"][t]["shape"] = shape;
      expect_read_error(seal(edited, fmt::format("shape{}.octpack", k++)), "shape");
    }
    if (header["tensors"][t].value("encoding", "") == "sparse") {
      for (const int64_t count : {int64_t(-1), int64_t(1000000000000000000LL)}) {
        auto edited = header;
        edited["tensors"][t]["nonzero"] = count;
        expect_read_error(seal(edited, fmt::format("count{}.octpack", k++)), "non-zero");
      }
    }
  }
  EXPECT_GT(k, 6);
}

}  // namespace
}  // namespace octrain::deploy
