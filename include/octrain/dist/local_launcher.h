#pragma once

#include <chrono>
#include <string>
#include <vector>

namespace octrain::dist {

// Runs `arguments` (argv[1…] of this executable, without --nproc) as ranks 0 … nproc−1 on this
// machine, like torchrun --nproc_per_node: it serves their c10d::TCPStore on a free loopback port
// and sets RANK, LOCAL_RANK, WORLD_SIZE, LOCAL_WORLD_SIZE, MASTER_ADDR, MASTER_PORT,
// TORCHELASTIC_USE_AGENT_STORE and OCTRAIN_DIST_TIMEOUT for each. When a worker fails it says
// which, gives the others `timeout` to finish on their own and then kills them. Returns 0 when
// every worker succeeded, else the first failure's exit code (ExitCode::kPeerLost for a worker
// killed by a signal).
int launch_local_workers(int nproc, const std::vector<std::string>& arguments,
                         std::chrono::seconds timeout);

}  // namespace octrain::dist
