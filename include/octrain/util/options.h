#pragma once

#include <cstdint>
#include <limits>
#include <map>
#include <string>
#include <variant>
#include <vector>

namespace octrain {

// A method's (or component's) options: declared once with defaults, ranges and docs, parsed
// from "key=value" text (flags, TOML), validated with errors that name the field, printable.
using OptionValue = std::variant<double, int64_t, bool, std::string>;

class OptionSchema {
 public:
  // The upper bound of a real option that has none.
  static constexpr double kUnbounded = std::numeric_limits<double>::infinity();

  explicit OptionSchema(std::string owner) : owner_(std::move(owner)) {}

  // A real number in [min, max]; `open_min` excludes min itself (e.g. learning rate > 0).
  OptionSchema& real(const std::string& name, double default_value, const std::string& doc,
                     double min, double max, bool open_min = false);
  OptionSchema& integer(const std::string& name, int64_t default_value, const std::string& doc,
                        int64_t min, int64_t max);
  OptionSchema& flag(const std::string& name, bool default_value, const std::string& doc);
  OptionSchema& choice(const std::string& name, const std::string& default_value,
                       const std::vector<std::string>& choices, const std::string& doc);
  // Free text (e.g. a '/'-separated list); the owner validates its content.
  OptionSchema& text(const std::string& name, const std::string& default_value,
                     const std::string& doc) {
    return choice(name, default_value, {}, doc);
  }

  // Lines "  name = default  doc [range]" for --help and `octrain methods`.
  std::string help() const;

  class Values;
  // Parses raw strings; unknown keys and bad values throw UsageError naming owner and key.
  Values parse(const std::map<std::string, std::string>& raw) const;

 private:
  struct Entry {
    std::string name;
    OptionValue default_value;
    std::string doc;
    double min = 0, max = 0;
    bool open_min = false;
    std::vector<std::string> choices;
  };
  const Entry* find(const std::string& name) const;

  std::string owner_;
  std::vector<Entry> entries_;
};

class OptionSchema::Values {
 public:
  double real(const std::string& name) const;
  int64_t integer(const std::string& name) const;
  bool flag(const std::string& name) const;
  const std::string& text(const std::string& name) const;
  // "lr=0.001, momentum=0.9" in declaration order.
  std::string to_string() const;
  // name -> value as text, for configs and metadata.
  std::map<std::string, std::string> to_map() const;

 private:
  friend class OptionSchema;
  const OptionValue& at(const std::string& name) const;
  std::string owner_;
  std::vector<std::pair<std::string, OptionValue>> values_;
};

using OptionValues = OptionSchema::Values;

// "adam:lr=0.001,betas=0.9" -> name "adam", {lr: 0.001, ...}. Throws UsageError on bad syntax.
struct NamedSpec {
  std::string name;
  std::map<std::string, std::string> options;
  std::string to_string() const;
};
NamedSpec parse_named_spec(const std::string& text);

// Shortest text that parses back to the same double.
std::string format_real(double value);

}  // namespace octrain
