#include "octrain/methods/state_keys.h"

#include <fmt/format.h>

namespace octrain::methods {

std::string stage_key(size_t t, const std::string& name) {
  return fmt::format("stage{}.{}", t, name);
}

std::string stored_stage_key(torch::serialize::InputArchive& archive, size_t t,
                             const std::string& name, const std::string& legacy) {
  auto key = stage_key(t, name);
  torch::Tensor probe;
  if (archive.try_read(key, probe) || !archive.try_read(legacy, probe)) return key;
  return legacy;
}

}  // namespace octrain::methods
