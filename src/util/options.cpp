#include "octrain/util/options.h"

#include <fmt/format.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <limits>

#include "octrain/util/error.h"
#include "octrain/util/excerpt.h"

namespace octrain {
namespace {

std::string value_text(const OptionValue& value) {
  if (auto* d = std::get_if<double>(&value)) return format_real(*d);
  if (auto* i = std::get_if<int64_t>(&value)) return std::to_string(*i);
  if (auto* b = std::get_if<bool>(&value)) return *b ? "true" : "false";
  return std::get<std::string>(value);
}

std::string trim(const std::string& s) {
  const auto begin = s.find_first_not_of(" \t");
  if (begin == std::string::npos) return "";
  const auto end = s.find_last_not_of(" \t");
  return s.substr(begin, end - begin + 1);
}

}  // namespace

std::string format_real(double value) {
  for (int precision = 1; precision <= 17; ++precision) {
    std::string text = fmt::format("{:.{}g}", value, precision);
    if (std::strtod(text.c_str(), nullptr) == value) return text;
  }
  return fmt::format("{:.17g}", value);
}

OptionSchema& OptionSchema::real(const std::string& name, double default_value,
                                 const std::string& doc, double min, double max, bool open_min) {
  entries_.push_back({name, default_value, doc, min, max, open_min, {}});
  return *this;
}

OptionSchema& OptionSchema::integer(const std::string& name, int64_t default_value,
                                    const std::string& doc, int64_t min, int64_t max) {
  entries_.push_back({name, default_value, doc, double(min), double(max), false, {}});
  return *this;
}

OptionSchema& OptionSchema::flag(const std::string& name, bool default_value,
                                 const std::string& doc) {
  entries_.push_back({name, default_value, doc, 0, 0, false, {}});
  return *this;
}

OptionSchema& OptionSchema::choice(const std::string& name, const std::string& default_value,
                                   const std::vector<std::string>& choices,
                                   const std::string& doc) {
  entries_.push_back({name, default_value, doc, 0, 0, false, choices});
  return *this;
}

const OptionSchema::Entry* OptionSchema::find(const std::string& name) const {
  for (const auto& e : entries_)
    if (e.name == name) return &e;
  return nullptr;
}

std::string OptionSchema::help() const {
  std::string out;
  for (const auto& e : entries_) {
    std::string range;
    if (std::holds_alternative<double>(e.default_value) ||
        std::holds_alternative<int64_t>(e.default_value)) {
      const bool unbounded = e.max == std::numeric_limits<double>::infinity() ||
                             e.max >= double(std::numeric_limits<int64_t>::max());
      range = fmt::format(" {}{}, {}]", e.open_min ? "(" : "[", format_real(e.min),
                          unbounded ? "inf" : format_real(e.max));
      if (unbounded) range.back() = ')';
    } else if (!e.choices.empty()) {
      range = fmt::format(" {{{}}}", fmt::join(e.choices, "|"));
    }
    out +=
        fmt::format("  {:<14} = {:<8} {}{}\n", e.name, value_text(e.default_value), e.doc, range);
  }
  return out;
}

OptionSchema::Values OptionSchema::parse(const std::map<std::string, std::string>& raw) const {
  for (const auto& [key, text] : raw) {
    if (!find(key)) {
      std::vector<std::string> names;
      for (const auto& e : entries_) names.push_back(e.name);
      throw UsageError(
          fmt::format("{}: unknown option '{}' (known: {})", owner_, key,
                      names.empty() ? "none" : fmt::format("{}", fmt::join(names, ", "))));
    }
  }
  Values values;
  values.owner_ = owner_;
  for (const auto& e : entries_) {
    auto it = raw.find(e.name);
    if (it == raw.end()) {
      values.values_.emplace_back(e.name, e.default_value);
      continue;
    }
    const std::string text = trim(it->second);
    auto bad = [&](const std::string& expected) {
      return UsageError(fmt::format("{}: option '{}' = '{}' is invalid: expected {}", owner_,
                                    e.name, text, expected));
    };
    OptionValue value;
    if (std::holds_alternative<double>(e.default_value) ||
        std::holds_alternative<int64_t>(e.default_value)) {
      const bool is_int = std::holds_alternative<int64_t>(e.default_value);
      char* end = nullptr;
      errno = 0;
      const double parsed = std::strtod(text.c_str(), &end);
      if (text.empty() || *end != '\0' || errno == ERANGE || !std::isfinite(parsed))
        throw bad(is_int ? "an integer" : "a finite number");
      if (is_int && parsed != std::floor(parsed)) throw bad("an integer");
      const bool below = e.open_min ? parsed <= e.min : parsed < e.min;
      if (below || parsed > e.max) {
        throw bad(fmt::format("a value in {}{}, {}]", e.open_min ? "(" : "[", format_real(e.min),
                              format_real(e.max)));
      }
      value = is_int ? OptionValue(int64_t(parsed)) : OptionValue(parsed);
    } else if (std::holds_alternative<bool>(e.default_value)) {
      if (text == "true" || text == "1" || text == "on" || text == "yes")
        value = true;
      else if (text == "false" || text == "0" || text == "off" || text == "no")
        value = false;
      else
        throw bad("true or false");
    } else {
      if (!e.choices.empty() &&
          std::find(e.choices.begin(), e.choices.end(), text) == e.choices.end())
        throw bad(fmt::format("one of {}", fmt::join(e.choices, ", ")));
      value = text;
    }
    values.values_.emplace_back(e.name, value);
  }
  return values;
}

const OptionValue& OptionSchema::Values::at(const std::string& name) const {
  for (const auto& [key, value] : values_)
    if (key == name) return value;
  throw std::logic_error(owner_ + ": option '" + name + "' was never declared");
}

double OptionSchema::Values::real(const std::string& name) const {
  const auto& v = at(name);
  if (auto* i = std::get_if<int64_t>(&v)) return double(*i);
  return std::get<double>(v);
}
int64_t OptionSchema::Values::integer(const std::string& name) const {
  return std::get<int64_t>(at(name));
}
bool OptionSchema::Values::flag(const std::string& name) const {
  return std::get<bool>(at(name));
}
const std::string& OptionSchema::Values::text(const std::string& name) const {
  return std::get<std::string>(at(name));
}

std::string OptionSchema::Values::to_string() const {
  std::vector<std::string> parts;
  for (const auto& [key, value] : values_) parts.push_back(key + "=" + value_text(value));
  return fmt::format("{}", fmt::join(parts, ", "));
}

std::map<std::string, std::string> OptionSchema::Values::to_map() const {
  std::map<std::string, std::string> out;
  for (const auto& [key, value] : values_) out[key] = value_text(value);
  return out;
}

NamedSpec parse_named_spec(const std::string& text) {
  NamedSpec spec;
  const auto colon = text.find(':');
  spec.name = trim(text.substr(0, colon));
  if (spec.name.empty())
    throw UsageError(fmt::format("'{}': missing a name before ':'", excerpt(text)));
  if (colon == std::string::npos) return spec;
  std::string rest = text.substr(colon + 1);
  size_t start = 0;
  while (start <= rest.size()) {
    size_t comma = rest.find(',', start);
    if (comma == std::string::npos) comma = rest.size();
    const std::string item = trim(rest.substr(start, comma - start));
    start = comma + 1;
    if (item.empty()) continue;
    const auto eq = item.find('=');
    if (eq == std::string::npos || trim(item.substr(0, eq)).empty())
      throw UsageError(
          fmt::format("'{}': expected key=value, got '{}'", excerpt(text), excerpt(item)));
    const std::string key = trim(item.substr(0, eq));
    if (!spec.options.emplace(key, trim(item.substr(eq + 1))).second)
      throw UsageError(
          fmt::format("'{}': option '{}' is given twice", excerpt(text), excerpt(key)));
  }
  return spec;
}

std::string NamedSpec::to_string() const {
  if (options.empty()) return name;
  std::vector<std::string> parts;
  for (const auto& [k, v] : options) parts.push_back(k + "=" + v);
  return fmt::format("{}:{}", name, fmt::join(parts, ","));
}

}  // namespace octrain
