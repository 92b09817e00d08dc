#include "octrain/train/progress.h"

#include <fmt/format.h>
#include <unistd.h>

#include <cmath>

namespace octrain::train {

Progress::Progress(std::FILE* out, bool quiet, int64_t epochs, int64_t steps_per_epoch)
    : out_(out),
      quiet_(quiet),
      terminal_(::isatty(::fileno(out)) != 0),
      epochs_(epochs),
      steps_per_epoch_(steps_per_epoch),
      start_(std::chrono::steady_clock::now()),
      last_draw_(start_) {}

void Progress::step(int64_t epoch, int64_t step_in_epoch, double loss, double accuracy,
                    int64_t steps_done) {
  if (quiet_ || !terminal_) return;
  const auto now = std::chrono::steady_clock::now();
  if (now - last_draw_ < std::chrono::milliseconds(100) && step_in_epoch != steps_per_epoch_)
    return;
  last_draw_ = now;
  const double elapsed = std::chrono::duration<double>(now - start_).count();
  const double rate = elapsed > 0 ? double(steps_done) / elapsed : 0.0;
  const int64_t remaining = (epochs_ - epoch) * steps_per_epoch_ - step_in_epoch;
  const int64_t eta = rate > 0 ? int64_t(double(remaining) / rate) : 0;
  const std::string acc = std::isnan(accuracy) ? "" : fmt::format("  acc {:5.1f}%", 100 * accuracy);
  fmt::print(out_, "\r\033[Kepoch {}/{}  step {}/{}  loss {:.4f}{}  {:.0f} steps/s  ETA {}:{:02d}",
             epoch + 1, epochs_, step_in_epoch, steps_per_epoch_, loss, acc, rate, eta / 60,
             eta % 60);
  std::fflush(out_);
  live_ = true;
}

void Progress::line(const std::string& text) {
  if (quiet_) return;
  if (live_) fmt::print(out_, "\r\033[K");
  live_ = false;
  fmt::print(out_, "{}\n", text);
  std::fflush(out_);
}

}  // namespace octrain::train
