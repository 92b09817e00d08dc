#include "octrain/train/lr_schedule.h"

#include <fmt/format.h>

#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <sstream>
#include <vector>

#include "octrain/util/error.h"

namespace octrain::train {
namespace {

constexpr const char* kGrammar =
    "expected constant, step:EVERY:GAMMA, cosine[:MIN] or warmup:STEPS[,SCHEDULE]";

// "step:2:0.5" → step, 2, 0.5 (a trailing ':' leaves an empty last part).
std::vector<std::string> colon_parts(const std::string& text) {
  std::vector<std::string> parts;
  std::istringstream in(text);
  for (std::string part; std::getline(in, part, ':');) parts.push_back(part);
  if (text.empty() || text.back() == ':') parts.emplace_back();
  return parts;
}

}  // namespace

LrSchedule LrSchedule::parse(const std::string& spec, const std::string& what) {
  auto fail = [&](const std::string& why) -> UsageError {
    return UsageError(fmt::format("{} '{}' is invalid: {}", what, spec, why));
  };
  auto real = [&](const std::string& text, const char* name, double min, double max) {
    char* end = nullptr;
    errno = 0;
    const double v = std::strtod(text.c_str(), &end);
    if (text.empty() || *end != '\0' || errno == ERANGE || !std::isfinite(v) || v < min || v > max)
      throw fail(fmt::format("{} = '{}' must be a number in [{}, {}]", name, text, min, max));
    return v;
  };
  auto integer = [&](const std::string& text, const char* name) {
    char* end = nullptr;
    errno = 0;
    const long long v = std::strtoll(text.c_str(), &end, 10);
    if (text.empty() || *end != '\0' || errno == ERANGE || v < 1)
      throw fail(fmt::format("{} = '{}' must be an integer ≥ 1", name, text));
    return int64_t(v);
  };
  LrSchedule s;
  s.spec_ = spec.empty() ? "constant" : spec;
  std::string rest = s.spec_;
  if (rest.rfind("warmup:", 0) == 0) {
    const size_t comma = rest.find(',');
    s.warmup_ = integer(rest.substr(7, comma == std::string::npos ? std::string::npos : comma - 7),
                        "STEPS");
    rest = comma == std::string::npos ? "constant" : rest.substr(comma + 1);
  }
  const auto parts = colon_parts(rest);
  if (parts[0] == "constant" && parts.size() == 1) {
    s.kind_ = Kind::kConstant;
  } else if (parts[0] == "step" && parts.size() == 3) {
    s.kind_ = Kind::kStep;
    s.every_ = integer(parts[1], "EVERY");
    s.gamma_ = real(parts[2], "GAMMA", 1e-12, 1.0);
  } else if (parts[0] == "cosine" && parts.size() <= 2) {
    s.kind_ = Kind::kCosine;
    if (parts.size() == 2) s.floor_ = real(parts[1], "MIN", 0.0, 1.0);
  } else {
    throw fail(kGrammar);
  }
  return s;
}

double LrSchedule::factor(int64_t step, int64_t epoch, int64_t horizon) const {
  double f = 1.0;
  if (kind_ == Kind::kStep) {
    f = std::pow(gamma_, double(epoch / every_));
  } else if (kind_ == Kind::kCosine && horizon > 0) {
    const double t = std::min(1.0, double(step) / double(horizon));
    f = floor_ + (1.0 - floor_) * 0.5 * (1.0 + std::cos(M_PI * t));
  }
  if (step < warmup_) f *= double(step + 1) / double(warmup_);
  return f;
}

}  // namespace octrain::train
