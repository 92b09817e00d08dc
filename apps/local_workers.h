#pragma once

#include <CLI/CLI.hpp>

namespace octrain::app {

// main() keeps its arguments so a command can re-run itself as data-parallel workers.
void remember_command_line(int argc, char** argv);

// Adds --nproc N and --dist-timeout S to a command (train, compare).
struct WorkerFlags {
  int nproc = 1;
  int timeout_s = 300;
  void add_to(CLI::App& command);
  // With --nproc > 1: runs this command line (without --nproc) as N local workers and returns
  // true once they all succeeded (throws Error with the first failure's exit code otherwise);
  // false when this process should do the work itself.
  bool run_as_workers() const;
};

// True in the process that prints results: rank 0 of a data-parallel job, or the only one.
bool prints_results();

}  // namespace octrain::app
