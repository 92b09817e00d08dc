#pragma once

#include <cstdint>
#include <string>

namespace octrain::train {

// A learning-rate schedule: a factor on every step size of the method (through
// Method::set_learning_rate_scale, on top of the divergence rollback's factor), a pure function
// of the position, so a resumed run sees the same factors. Grammar (`--lr-schedule`):
//   constant                 1 (the default)
//   step:EVERY:GAMMA         × GAMMA every EVERY epochs
//   cosine[:MIN]             from 1 down to MIN (default 0) over the run's steps, half a cosine
//   warmup:STEPS[,SCHEDULE]  × (t+1)/STEPS over the first STEPS steps, times SCHEDULE
class LrSchedule {
 public:
  LrSchedule() = default;
  // Throws UsageError naming `what` (the flag or config key) and the grammar.
  static LrSchedule parse(const std::string& spec, const std::string& what = "--lr-schedule");

  bool constant() const { return kind_ == Kind::kConstant && warmup_ == 0; }
  // The factor of the step that follows `step` completed steps, in epoch `epoch` (0-based), of
  // a run of `horizon` steps (cosine's length).
  double factor(int64_t step, int64_t epoch, int64_t horizon) const;
  const std::string& spec() const { return spec_; }

 private:
  enum class Kind { kConstant, kStep, kCosine };
  Kind kind_ = Kind::kConstant;
  int64_t every_ = 1, warmup_ = 0;
  double gamma_ = 1.0, floor_ = 0.0;
  std::string spec_ = "constant";
};

}  // namespace octrain::train
