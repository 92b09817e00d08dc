#pragma once

#include <chrono>
#include <cstdint>
#include <string>

namespace octrain::dist {

class Communicator;

// Where this process stands in a data-parallel job, read from torchrun's environment:
// RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR, MASTER_PORT (all absent: one process), and
// OCTRAIN_DIST_TIMEOUT (seconds a collective or the rendezvous may wait for a peer, default 300).
// TORCHELASTIC_USE_AGENT_STORE=True means the launcher hosts the TCPStore, so rank 0 joins it as
// a client instead of serving it (as under torchrun; `octrain --nproc` does the same).
struct WorldSpec {
  int rank = 0;
  int world_size = 1;
  int local_rank = 0;
  std::string master_addr = "127.0.0.1";
  int master_port = 29500;
  bool agent_store = false;
  std::chrono::milliseconds timeout{300'000};

  // UsageError naming the variable when one is malformed, missing or inconsistent.
  static WorldSpec from_environment();
};

// The process's communicator, created on first use from WorldSpec::from_environment() (a
// rendezvous through c10d::TCPStore and a Gloo process group when WORLD_SIZE > 1) and kept for the
// life of the process, so every run of `octrain compare` shares it.
Communicator& world();

}  // namespace octrain::dist
