#include <fmt/format.h>
#include <toml++/toml.h>

#include <algorithm>
#include <functional>
#include <map>

#include "network_builder.h"
#include "octrain/util/options.h"
#include "octrain/util/toml_options.h"

// The model-file grammar: [init] and [[stage]] tables, one entry of kStageTypes per stage type.
namespace octrain::control {
namespace {

using RawOptions = std::map<std::string, std::string>;

// The optional `control_set` key of a dense/conv2d table, removed from `raw`.
ControlSet take_control_set(RawOptions& raw, const std::string& owner) {
  auto it = raw.find("control_set");
  if (it == raw.end()) return ControlSet::kReal;
  const ControlSet set = parse_control_set(it->second, owner);
  raw.erase(it);
  return set;
}

// Appends the stage a [[stage]] table of `type` describes; `owner` names the table in messages
// and `schema` is named after it.
using StageFromTable = std::function<void(Builder&, const std::string& type,
                                          const std::string& owner, OptionSchema&, RawOptions&)>;

void dense(Builder& b, const std::string&, const std::string& owner, OptionSchema& schema,
           RawOptions& raw) {
  const ControlSet set = take_control_set(raw, owner);
  auto v = schema.integer("out", 0, "output features", 1, 1 << 24)
               .flag("bias", set == ControlSet::kReal, "with bias")
               .parse(raw);
  b.file_dense(v.integer("out"), v.flag("bias"), set);
}

void conv2d(Builder& b, const std::string&, const std::string& owner, OptionSchema& schema,
            RawOptions& raw) {
  const ControlSet set = take_control_set(raw, owner);
  auto v = schema.integer("out", 0, "output channels", 1, 1 << 16)
               .integer("kernel", 3, "kernel size", 1, 64)
               .integer("stride", 1, "stride", 1, 64)
               .integer("padding", -1, "padding (−1: kernel/2)", -1, 64)
               .flag("bias", set == ControlSet::kReal, "with bias")
               .parse(raw);
  b.file_conv(v.integer("out"), v.integer("kernel"), v.integer("stride"), v.integer("padding"),
              v.flag("bias"), set);
}

void residual(Builder& b, const std::string&, const std::string&, OptionSchema& schema,
              RawOptions& raw) {
  auto v = schema.choice("inner", "dense", {"dense", "conv2d"}, "inner stage g")
               .integer("kernel", 3, "conv kernel", 1, 63)
               .choice("activation", "tanh",
                       {"tanh", "relu", "sigmoid", "softplus", "erf", "identity"}, "σ")
               .real("delta", 0.5, "step δ", 0, 1e3)
               .flag("bias", true, "with bias")
               .parse(raw);
  b.file_residual(v.text("inner") == "conv2d", v.integer("kernel"),
                  parse_activation(v.text("activation")), v.real("delta"), v.flag("bias"));
}

void pool(Builder& b, const std::string& type, const std::string&, OptionSchema& schema,
          RawOptions& raw) {
  auto v = schema.integer("window", 2, "window", 1, 64)
               .integer("stride", 0, "stride (0: window)", 0, 64)
               .parse(raw);
  b.add(std::make_shared<PoolStage>(type == "avgpool" ? PoolType::kAverage : PoolType::kMax,
                                    v.integer("window"), v.integer("stride")));
}

void tile(Builder& b, const std::string&, const std::string&, OptionSchema& schema,
          RawOptions& raw) {
  auto v = schema.integer("copies", 1, "copies of the features", 1, 1 << 16).parse(raw);
  b.add(std::make_shared<TileStage>(v.integer("copies")));
}

void group_sum(Builder& b, const std::string&, const std::string&, OptionSchema& schema,
               RawOptions& raw) {
  auto v =
      schema.integer("outputs", 1, "sums of consecutive feature blocks", 1, 1 << 16).parse(raw);
  b.add(std::make_shared<GroupSumStage>(v.integer("outputs")));
}

void batchnorm(Builder& b, const std::string&, const std::string&, OptionSchema& schema,
               RawOptions& raw) {
  auto v = schema.real("eps", 1e-5, "ε", 0, 1, true)
               .real("momentum", 0.1, "running-average rate", 0, 1, true)
               .parse(raw);
  b.add(std::make_shared<BatchNormStage>(b.shape()[0], v.real("eps"), v.real("momentum")));
}

template <typename StageKind>
void parameterless(Builder& b, const std::string&, const std::string&, OptionSchema& schema,
                   RawOptions& raw) {
  schema.parse(raw);
  b.add(std::make_shared<StageKind>());
}

void activation(Builder& b, const std::string& type, const std::string&, OptionSchema& schema,
                RawOptions& raw) {
  schema.parse(raw);
  b.add(std::make_shared<ActivationStage>(parse_activation(type)));
}

const std::vector<std::pair<std::string, StageFromTable>>& stage_types() {
  static const std::vector<std::pair<std::string, StageFromTable>> types = {
      {"dense", dense},
      {"conv2d", conv2d},
      {"residual", residual},
      {"avgpool", pool},
      {"maxpool", pool},
      {"flatten", parameterless<FlattenStage>},
      {"channel-mean", parameterless<ChannelMeanStage>},
      {"batchnorm", batchnorm},
      {"tile", tile},
      {"group-sum", group_sum},
      {"tanh", activation},
      {"relu", activation},
      {"sigmoid", activation},
      {"softplus", activation},
      {"erf", activation},
      {"identity", activation},
      {"linear", activation},
      {"none", activation},
  };
  return types;
}

Initialiser file_initialiser(const toml::table& doc, const std::string& path) {
  RawOptions raw;
  if (auto* init = doc["init"].as_table()) raw = toml_table_options(*init, path + ": [init]");
  const auto& keys = initialiser_keys();
  for (const auto& [key, value] : raw)
    if (std::find(keys.begin(), keys.end(), key) == keys.end())
      throw UsageError(fmt::format("{}: [init] has no option '{}' (known: {})", path, key,
                                   fmt::join(keys, ", ")));
  return parse_initialiser(raw);
}

}  // namespace

std::shared_ptr<Network> build_from_toml(const std::string& path, const Shape& input) {
  const toml::table doc = read_toml_file(path, "model file");
  SpecOptions options;
  options.init = file_initialiser(doc, path);
  Builder b(input, options);
  auto* stages = doc["stage"].as_array();
  if (!stages || stages->empty()) throw UsageError(path + ": no [[stage]] tables");
  for (size_t i = 0; i < stages->size(); ++i) {
    auto* table = stages->get(i)->as_table();
    if (!table) throw UsageError(fmt::format("{}: stage {} is not a table", path, i));
    auto where = [&](const std::string& what) {
      return fmt::format("{}: stage {}: {}", path, i, what);
    };
    auto raw = toml_table_options(*table, where("stage"));
    const std::string type = raw.count("type") ? raw["type"] : "";
    raw.erase("type");
    const auto& types = stage_types();
    const auto found = std::find_if(types.begin(), types.end(),
                                    [&](const auto& entry) { return entry.first == type; });
    if (found == types.end())
      throw UsageError(where(fmt::format(
          "unknown stage type '{}' (known: dense, conv2d, residual, avgpool, maxpool, "
          "flatten, channel-mean, batchnorm, tile, group-sum, and the activations tanh, "
          "relu, sigmoid, softplus, erf, identity)",
          type)));
    OptionSchema schema(where(type));
    try {
      found->second(b, type, where(type), schema, raw);
    } catch (const UsageError& e) {
      const std::string message = e.what();
      if (message.rfind(path, 0) == 0) throw;
      throw UsageError(where(message));
    }
  }
  return b.finish();
}

}  // namespace octrain::control
