#pragma once

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <string>

namespace octrain::train {

// A live progress line on a terminal (epoch, step, loss, accuracy, steps/s, ETA), redrawn at most
// ten times a second; plain line-oriented output (one line per epoch) when not a terminal.
class Progress {
 public:
  Progress(std::FILE* out, bool quiet, int64_t epochs, int64_t steps_per_epoch);
  void step(int64_t epoch, int64_t step_in_epoch, double loss, double accuracy,
            int64_t steps_done_this_run);
  void line(const std::string& text);  // a permanent line (clears a live line first)

 private:
  std::FILE* out_;
  bool quiet_, terminal_;
  int64_t epochs_, steps_per_epoch_;
  bool live_ = false;
  std::chrono::steady_clock::time_point start_, last_draw_;
};

}  // namespace octrain::train
