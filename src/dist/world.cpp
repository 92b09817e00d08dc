#include "octrain/dist/world.h"

#include <fmt/format.h>

#include <cstdlib>
#include <mutex>

#include "octrain/dist/communicator.h"
#include "octrain/dist/process_group_communicator.h"
#include "octrain/util/error.h"

namespace octrain::dist {
namespace {

const char* variable(const char* name) {
  const char* value = std::getenv(name);
  return value && *value ? value : nullptr;
}

int integer_variable(const char* name, int fallback, int low, int high) {
  const char* text = variable(name);
  if (!text) return fallback;
  char* end = nullptr;
  const long value = std::strtol(text, &end, 10);
  if (*end != '\0' || value < low || value > high)
    throw UsageError(fmt::format("environment variable {}={}: expected an integer in [{}, {}]",
                                 name, text, low, high));
  return int(value);
}

}  // namespace

WorldSpec WorldSpec::from_environment() {
  WorldSpec spec;
  spec.world_size = integer_variable("WORLD_SIZE", 1, 1, 1 << 20);
  if (!variable("WORLD_SIZE") && variable("RANK"))
    throw UsageError("environment variable RANK is set but WORLD_SIZE is not");
  spec.rank = integer_variable("RANK", 0, 0, spec.world_size - 1);
  spec.local_rank = integer_variable("LOCAL_RANK", spec.rank, 0, 1 << 20);
  if (const char* addr = variable("MASTER_ADDR")) spec.master_addr = addr;
  if (spec.world_size > 1 && !variable("MASTER_PORT"))
    throw UsageError(fmt::format("WORLD_SIZE={} needs MASTER_PORT (and MASTER_ADDR) to rendezvous",
                                 spec.world_size));
  spec.master_port = integer_variable("MASTER_PORT", spec.master_port, 1, 65535);
  const char* agent = variable("TORCHELASTIC_USE_AGENT_STORE");
  spec.agent_store = agent && (std::string(agent) == "True" || std::string(agent) == "1");
  spec.timeout = std::chrono::seconds(integer_variable("OCTRAIN_DIST_TIMEOUT", 300, 1, 1 << 24));
  return spec;
}

Communicator& world() {
  static std::unique_ptr<Communicator> communicator;
  static std::mutex mutex;
  std::lock_guard<std::mutex> lock(mutex);
  if (!communicator) {
    const auto spec = WorldSpec::from_environment();
    communicator = spec.world_size > 1 ? make_process_group_communicator(spec)
                                       : make_single_process_communicator();
  }
  return *communicator;
}

}  // namespace octrain::dist
