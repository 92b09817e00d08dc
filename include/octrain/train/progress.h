#pragma once

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <string>

namespace octrain::train {

// What a run shows while it trains. `octrain train` shows everything; `octrain compare` shows no
// per-run header or epoch lines (it prints one line per finished run) but the live line, with
// the run's place in the grid and an ETA for the whole grid.
struct ProgressOptions {
  bool quiet = false;        // nothing at all
  bool run_lines = true;     // the run's header lines and one line per epoch
  double plain_every = 5.0;  // seconds between plain progress lines when not on a terminal; 0: none
  std::string prefix;        // shown before the live line, e.g. "run 2/6 adam seed 1"
  int64_t runs_after = 0;    // runs of the grid still to come after this one
  double seconds_per_run = -1;  // mean duration of the grid's finished runs; < 0: none yet
  int terminal = -1;            // −1: detect from the stream; 0 or 1 forces it (tests)
};

// A live progress line on a terminal (epoch, step, loss, accuracy, steps/s, ETA), redrawn at
// most ten times a second; on a pipe or file the same line as plain text every `plain_every`
// seconds. Permanent lines clear a live line first; the destructor clears one left over.
class Progress {
 public:
  Progress(std::FILE* out, ProgressOptions options, int64_t epochs, int64_t steps_per_epoch);
  ~Progress();
  Progress(const Progress&) = delete;
  Progress& operator=(const Progress&) = delete;

  void step(int64_t epoch, int64_t step_in_epoch, double loss, double accuracy,
            int64_t steps_done_this_run);
  void line(const std::string& text);    // a header or epoch line (unless quiet or !run_lines)
  void notice(const std::string& text);  // a line worth seeing anywhere (unless quiet)

 private:
  void clear_live();
  std::FILE* out_;
  ProgressOptions options_;
  bool terminal_;
  int64_t epochs_, steps_per_epoch_;
  bool live_ = false;
  std::chrono::steady_clock::time_point start_, last_draw_;
};

// "0:42", "12:05", "1:02:03".
std::string format_duration(double seconds);

}  // namespace octrain::train
