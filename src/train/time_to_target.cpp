#include "octrain/train/time_to_target.h"

#include <fmt/format.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdlib>

#include "octrain/util/error.h"

namespace octrain::train {
namespace {

double median(std::vector<double> values) {
  if (values.empty()) return kMiss;
  std::sort(values.begin(), values.end());
  const size_t mid = values.size() / 2;
  return values.size() % 2 ? values[mid] : (values[mid - 1] + values[mid]) / 2;
}

nlohmann::json finite_or_null(double v) {
  return std::isfinite(v) ? nlohmann::json(v) : nlohmann::json();
}

}  // namespace

Target Target::parse(const std::string& text, const std::string& where) {
  const auto equals = text.find('=');
  Target target;
  target.metric = text.substr(0, equals);
  const std::string value = equals == std::string::npos ? "" : text.substr(equals + 1);
  char* end = nullptr;
  errno = 0;
  target.value = std::strtod(value.c_str(), &end);
  const bool number = !value.empty() && *end == '\0' && errno == 0 && std::isfinite(target.value);
  if ((target.metric != "accuracy" && target.metric != "loss") || !number)
    throw UsageError(
        fmt::format("{} '{}': expected accuracy=V or loss=V (a validation accuracy to reach or a "
                    "validation loss to get below)",
                    where, text));
  if (target.metric == "accuracy" && !(target.value > 0 && target.value <= 1))
    throw UsageError(fmt::format("{} '{}': an accuracy target lies in (0, 1]", where, text));
  return target;
}

bool Target::reached_by(const nlohmann::json& evaluation) const {
  const std::string key = "validation_" + metric;
  auto it = evaluation.find(key);
  if (it == evaluation.end() || !it->is_number()) return false;
  const double v = it->get<double>();
  return metric == "accuracy" ? v >= value : v <= value;
}

std::string Target::to_string() const {
  return empty() ? "" : fmt::format("{}={}", metric, value);
}

std::string Target::describe() const {
  return fmt::format("validation {} {} {}", metric, metric == "accuracy" ? "≥" : "≤", value);
}

TargetHit time_to_target(const std::vector<nlohmann::json>& records, const Target& target) {
  TargetHit hit;
  double seconds = 0;
  for (const auto& r : records) {
    const std::string kind = r.value("kind", "");
    if (kind != "epoch" && kind != "evaluation") continue;
    if (r.contains("epoch_time_s") && r["epoch_time_s"].is_number())
      seconds += r["epoch_time_s"].get<double>();
    if (!target.reached_by(r)) continue;
    hit.reached = true;
    hit.seconds = seconds;
    hit.steps = double(r.value("step", int64_t(0)));
    hit.epoch = r.value("epoch", int64_t(0));
    break;
  }
  return hit;
}

TargetSummary summarise_hits(const std::vector<TargetHit>& hits) {
  TargetSummary summary;
  std::vector<double> seconds, steps;
  for (const auto& h : hits) {
    ++summary.runs;
    summary.reached += h.reached;
    seconds.push_back(h.seconds);
    steps.push_back(h.steps);
  }
  summary.median_seconds = median(seconds);
  summary.median_steps = median(steps);
  return summary;
}

nlohmann::json TargetSummary::to_json() const {
  return {{"runs", runs},
          {"reached", reached},
          {"median_seconds", finite_or_null(median_seconds)},
          {"median_steps", finite_or_null(median_steps)}};
}

}  // namespace octrain::train
