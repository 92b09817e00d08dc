#pragma once

#include <memory>

#include "octrain/dist/communicator.h"
#include "octrain/dist/world.h"

namespace octrain::dist {

// A Communicator on torch's c10d: rendezvous through c10d::TCPStore at spec's MASTER_ADDR:PORT
// (served by rank 0, or by the launcher with agent_store), then a c10d::ProcessGroupGloo over TCP.
// Every rank waits at most spec.timeout for the others to join and for each collective; a peer
// that dies, hangs or never joins ends every surviving rank with a PeerLostError naming it.
std::unique_ptr<Communicator> make_process_group_communicator(const WorldSpec& spec);

}  // namespace octrain::dist
