#pragma once

#include <torch/types.h>

#include <cstdint>
#include <map>
#include <string>

namespace octrain::control {
class Network;
}

namespace octrain::deploy {

// The deployable form of a trained binary/ternary network (docs/methods/discrete-msa.md,
// "Packed format"): every binary weight tensor at 1 bit per weight, every other discrete weight
// tensor at 2 bits per weight or as sparse indices (LEB128 gaps between non-zeros plus one sign
// bit each) where that is smaller; all other tensors (batch norm γ, β, running statistics, output
// scales, real layers) as float32; and the run settings (dataset, split, model, loss) that
// rebuild and evaluate the model. Layout: magic "OCTPACK1", u64 header length, JSON header
// (format 2), payload, CRC-32 of everything before it. Format 1 files (no 1-bit code) still read.
struct PackedSize {
  int64_t file = 0;     // the whole file (for float32: every tensor's 4 bytes per value)
  int64_t weights = 0;  // the discrete weight tensors' payload alone
};
struct PackedSizes {
  PackedSize float32;  // every tensor as float32
  PackedSize two_bit;  // every discrete tensor at 2 bits per weight
  PackedSize one_bit;  // binary (zero-free) tensors at 1 bit, the other discrete ones at 2 bits
  PackedSize written;  // the file written: 1 bit where binary, else sparse where smaller
  int64_t discrete_weights = 0, nonzero_weights = 0;
};

using RunSettings = std::map<std::string, std::string>;  // RunConfig keys → values as text

// Writes `network` (its parameters and buffers) with `settings` atomically to `path`.
PackedSizes write_packed_model(const std::string& path, control::Network& network,
                               const RunSettings& settings);

bool is_packed_model(const std::string& path);

struct PackedModel {
  RunSettings settings;
  std::map<std::string, torch::Tensor> tensors;  // by the network's parameter/buffer names
};
// Throws DataError naming the file when it is missing, truncated or corrupt.
PackedModel read_packed_model(const std::string& path);
// The same for a file's bytes already in memory; `where` names it in errors.
PackedModel parse_packed_model(const std::string& bytes, const std::string& where);
// Copies the tensors into `network`; DataError when a name or shape does not match.
void load_packed_model(const PackedModel& model, control::Network& network,
                       const std::string& where);

}  // namespace octrain::deploy
