#include "local_workers.h"

#include <fmt/format.h>

#include <cstdlib>
#include <string>
#include <vector>

#include "octrain/dist/local_launcher.h"
#include "octrain/dist/world.h"
#include "octrain/util/error.h"

namespace octrain::app {
namespace {
std::vector<std::string> g_arguments;
}

void remember_command_line(int argc, char** argv) {
  g_arguments.assign(argv + 1, argv + argc);
}

void WorkerFlags::add_to(CLI::App& command) {
  command
      .add_option("--nproc", nproc,
                  "data-parallel processes on this machine (default 1); --batch-size stays the "
                  "global batch. Under torchrun, set WORLD_SIZE etc. instead")
      ->check(CLI::Range(1, 1024));
  command
      .add_option("--dist-timeout", timeout_s,
                  "seconds a process waits for a peer to join or answer before it names the "
                  "lost rank and exits with code 5 (default 300)")
      ->check(CLI::Range(1, 1 << 24));
}

bool WorkerFlags::run_as_workers() const {
  if (nproc <= 1) {
    if (timeout_s != 300) setenv("OCTRAIN_DIST_TIMEOUT", std::to_string(timeout_s).c_str(), 1);
    return false;
  }
  if (std::getenv("WORLD_SIZE"))
    throw UsageError(
        "--nproc starts its own workers; it cannot be given to a worker that "
        "already has WORLD_SIZE set (torchrun)");
  // This command line without --nproc N: each worker does its share itself.
  std::vector<std::string> arguments;
  for (size_t i = 0; i < g_arguments.size(); ++i) {
    const auto& a = g_arguments[i];
    if (a == "--nproc") {
      ++i;
      continue;
    }
    if (a.rfind("--nproc=", 0) == 0) continue;
    arguments.push_back(a);
  }
  const int code = dist::launch_local_workers(nproc, arguments, std::chrono::seconds(timeout_s));
  if (code != 0)
    throw Error(ExitCode(code),
                fmt::format("{} of {} workers failed (see above)",
                            code == int(ExitCode::kInterrupted) ? "some" : "one", nproc));
  return true;
}

bool prints_results() {
  return dist::WorldSpec::from_environment().rank == 0;
}

}  // namespace octrain::app
