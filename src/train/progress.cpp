#include "octrain/train/progress.h"

#include <fmt/format.h>
#include <unistd.h>

#include <cmath>

namespace octrain::train {

std::string format_duration(double seconds) {
  const int64_t s = std::isfinite(seconds) && seconds > 0 ? int64_t(std::llround(seconds)) : 0;
  if (s >= 3600) return fmt::format("{}:{:02d}:{:02d}", s / 3600, (s / 60) % 60, s % 60);
  return fmt::format("{}:{:02d}", s / 60, s % 60);
}

Progress::Progress(std::FILE* out, ProgressOptions options, int64_t epochs, int64_t steps_per_epoch)
    : out_(out),
      options_(std::move(options)),
      terminal_(options_.terminal >= 0 ? options_.terminal == 1 : ::isatty(::fileno(out)) != 0),
      epochs_(epochs),
      steps_per_epoch_(steps_per_epoch),
      start_(std::chrono::steady_clock::now()),
      last_draw_(start_) {}

Progress::~Progress() {
  clear_live();
  std::fflush(out_);
}

void Progress::step(int64_t epoch, int64_t step_in_epoch, double loss, double accuracy,
                    int64_t steps_done) {
  if (options_.quiet) return;
  const auto now = std::chrono::steady_clock::now();
  const double since_draw = std::chrono::duration<double>(now - last_draw_).count();
  if (terminal_ ? since_draw < 0.1 && step_in_epoch != steps_per_epoch_
                : options_.plain_every <= 0 || since_draw < options_.plain_every)
    return;
  last_draw_ = now;
  const double elapsed = std::chrono::duration<double>(now - start_).count();
  const double rate = elapsed > 0 ? double(steps_done) / elapsed : 0.0;
  const int64_t remaining = (epochs_ - epoch) * steps_per_epoch_ - step_in_epoch;
  const double eta = rate > 0 ? double(remaining) / rate : 0.0;
  std::string text = options_.prefix.empty() ? "" : options_.prefix + "  ";
  text += fmt::format("epoch {}/{}  step {}/{}  loss {:.4f}", epoch + 1, epochs_, step_in_epoch,
                      steps_per_epoch_, loss);
  if (!std::isnan(accuracy)) text += fmt::format("  acc {:5.1f}%", 100 * accuracy);
  text += fmt::format("  {:.0f} steps/s  ETA {}", rate, format_duration(eta));
  if (options_.runs_after > 0) {
    const double per_run = options_.seconds_per_run >= 0 ? options_.seconds_per_run : elapsed + eta;
    text += fmt::format(" (all {})", format_duration(eta + double(options_.runs_after) * per_run));
  }
  if (terminal_) {
    fmt::print(out_, "\r\033[K{}", text);
    live_ = true;
  } else {
    fmt::print(out_, "{}\n", text);
  }
  std::fflush(out_);
}

void Progress::clear_live() {
  if (live_) fmt::print(out_, "\r\033[K");
  live_ = false;
}

void Progress::line(const std::string& text) {
  if (options_.run_lines) notice(text);
}

void Progress::notice(const std::string& text) {
  if (options_.quiet) return;
  clear_live();
  fmt::print(out_, "{}\n", text);
  std::fflush(out_);
}

}  // namespace octrain::train
