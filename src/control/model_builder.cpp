#include "octrain/control/model_builder.h"

#include <fmt/format.h>
#include <toml++/toml.h>

#include <algorithm>
#include <filesystem>
#include <regex>

#include "octrain/control/activation.h"
#include "octrain/control/batch_norm.h"
#include "octrain/control/conv2d.h"
#include "octrain/control/dense.h"
#include "octrain/control/discrete_controls.h"
#include "octrain/control/feature_map.h"
#include "octrain/control/initialiser.h"
#include "octrain/control/pool.h"
#include "octrain/control/residual.h"
#include "octrain/control/shapes_only.h"
#include "octrain/util/error.h"
#include "octrain/util/options.h"
#include "octrain/util/toml_options.h"

namespace octrain::control {
namespace {

struct SpecOptions {
  Activation activation = Activation::kTanh;
  double delta = 0.5;
  bool bias = true;
  bool batch_norm = false;
  bool fixed_io = false;  // resmlp: parameter-free lift (tile) and read-out (group sum)
  ControlSet weights = ControlSet::kReal;  // Binary/Ternary: no bias, batch norm after each layer
  Initialiser init;
};

// docs/methods/discrete-msa.md: ε = 1e-4 and running averages with TF momentum 0.9 (libtorch's
// 0.1).
constexpr double kDiscreteBatchNormEps = 1e-4;

int64_t flat_size(const Shape& shape) {
  int64_t n = 1;
  for (auto d : shape) n *= d;
  return n;
}

// Appends stages while tracking the current shape.
class Builder {
 public:
  Builder(const Shape& input, const SpecOptions& options)
      : network_(std::make_shared<Network>(input)), options_(options) {}

  const Shape& shape() const { return network_->output_shape(); }
  void add(std::shared_ptr<Stage> stage) { network_->append(std::move(stage)); }

  void flatten_if_needed() {
    if (shape().size() != 1) add(std::make_shared<FlattenStage>());
  }
  void dense(int64_t out, bool hidden) {
    flatten_if_needed();
    add(std::make_shared<DenseStage>(shape()[0], out, with_bias(), options_.weights));
    if (hidden)
      after_hidden(out);
    else if (discrete())
      add(std::make_shared<BatchNormStage>(out, kDiscreteBatchNormEps));  // the output BN of §3
  }
  void conv(int64_t out, int64_t kernel, int64_t stride, int64_t padding) {
    require_image("conv");
    add(std::make_shared<Conv2dStage>(shape()[0], out, kernel, stride, padding, with_bias(),
                                      options_.weights));
    after_hidden(out);
  }
  void residual_dense() {
    require_real("residual");
    flatten_if_needed();
    const int64_t n = shape()[0];
    add(std::make_shared<ResidualStage>(std::make_shared<DenseStage>(n, n, options_.bias),
                                        options_.activation, options_.delta));
  }
  void residual_conv(int64_t channels, int64_t kernel) {
    require_real("res");
    require_image("res");
    if (shape()[0] != channels)
      throw UsageError(
          fmt::format("res{}x{}: a residual conv stage keeps the channel count, input has {}",
                      channels, kernel, shape()[0]));
    add(std::make_shared<ResidualStage>(
        std::make_shared<Conv2dStage>(channels, channels, kernel, 1, kernel / 2, options_.bias),
        options_.activation, options_.delta));
  }
  std::shared_ptr<Network> finish() {
    if (!shapes_only()) initialise(*network_, options_.init);
    return network_;
  }

 private:
  bool discrete() const { return options_.weights != ControlSet::kReal; }
  bool with_bias() const { return options_.bias && !discrete(); }
  void after_hidden(int64_t features) {
    if (discrete())
      add(std::make_shared<BatchNormStage>(features, kDiscreteBatchNormEps));
    else if (options_.batch_norm)
      add(std::make_shared<BatchNormStage>(features));
    add(std::make_shared<ActivationStage>(options_.activation));
  }
  void require_real(const char* what) {
    if (discrete())
      throw UsageError(fmt::format("{}: residual stages have real weights only, not {}", what,
                                   to_string(options_.weights)));
  }
  void require_image(const char* what) {
    if (shape().size() != 3)
      throw UsageError(fmt::format("{}: needs an image input [C×H×W], the current shape is {}",
                                   what, to_string(shape())));
  }

  std::shared_ptr<Network> network_;
  SpecOptions options_;
};

int64_t parse_size(const std::string& token, const std::string& spec) {
  if (token.empty() || token.find_first_not_of("0123456789") != std::string::npos ||
      token.size() > 9)
    throw UsageError(fmt::format("model '{}': '{}' is not a positive size", spec, token));
  const int64_t n = std::stoll(token);
  if (n <= 0) throw UsageError(fmt::format("model '{}': '{}' is not a positive size", spec, token));
  return n;
}

std::vector<std::string> split(const std::string& text, char sep) {
  std::vector<std::string> parts;
  size_t start = 0;
  while (true) {
    const size_t at = text.find(sep, start);
    parts.push_back(text.substr(start, at - start));
    if (at == std::string::npos) break;
    start = at + 1;
  }
  return parts;
}

SpecOptions parse_spec_options(const std::vector<std::string>& segments,
                               Activation default_activation, const std::string& spec) {
  std::map<std::string, std::string> raw;
  SpecOptions options;
  options.activation = default_activation;
  for (const auto& segment : segments) {
    if (segment.find('=') == std::string::npos) {
      options.activation = parse_activation(segment);
      continue;
    }
    for (const auto& [k, v] : parse_named_spec("x:" + segment).options) raw[k] = v;
  }
  options.init = parse_initialiser(raw);
  for (const auto& key : initialiser_keys()) raw.erase(key);
  const auto values = OptionSchema(fmt::format("model '{}'", spec))
                          .real("delta", 0.5, "residual step δ", 0, 1e3)
                          .flag("bias", true, "Dense/Conv2d stages have a bias")
                          .flag("bn", false, "batch norm after every hidden Dense/Conv2d")
                          .choice("io", "dense", {"dense", "fixed"},
                                  "resmlp: trainable Dense in/out, or tile in and sum out")
                          .choice("weights", "real", {"real", "binary", "ternary"},
                                  "control set of Dense/Conv2d (discrete: no bias, batch norm)")
                          .parse(raw);
  options.delta = values.real("delta");
  options.bias = values.flag("bias");
  options.batch_norm = values.flag("bn");
  options.fixed_io = values.text("io") == "fixed";
  options.weights = parse_control_set(values.text("weights"), spec);
  return options;
}

std::shared_ptr<Network> build_mlp(const std::string& body, const SpecOptions& options,
                                   const Shape& input, const std::string& spec) {
  std::vector<std::string> tokens;
  for (const auto& token : split(body, '-')) {  // "2048x3" is three hidden layers of 2048
    const size_t x = token.find('x');
    if (x == std::string::npos) {
      tokens.push_back(token);
      continue;
    }
    const int64_t repeat = parse_size(token.substr(x + 1), spec);
    if (repeat > 1000)
      throw UsageError(fmt::format("model '{}': '{}' repeats too often", spec, token));
    tokens.insert(tokens.end(), size_t(repeat), token.substr(0, x));
  }
  if (tokens.size() < 2)
    throw UsageError(fmt::format("model '{}': needs at least IN-OUT sizes", spec));
  const int64_t in = parse_size(tokens[0], spec);
  if (in != flat_size(input))
    throw UsageError(fmt::format("model '{}': input size {} does not match the data's {} = {}",
                                 spec, in, to_string(input), flat_size(input)));
  Builder b(input, options);
  for (size_t i = 1; i < tokens.size(); ++i)
    b.dense(parse_size(tokens[i], spec), i + 1 < tokens.size());
  return b.finish();
}

std::shared_ptr<Network> build_resmlp(const std::string& body, const SpecOptions& options,
                                      const Shape& input, const std::string& spec) {
  static const std::regex pattern(R"((\d+)-(\d+)x(\d+)-(\d+))");
  std::smatch m;
  if (!std::regex_match(body, m, pattern))
    throw UsageError(fmt::format("model '{}': expected resmlp:IN-WIDTHxDEPTH-OUT", spec));
  if (parse_size(m[1], spec) != flat_size(input))
    throw UsageError(fmt::format("model '{}': input size {} does not match the data's {}", spec,
                                 m[1].str(), flat_size(input)));
  const int64_t in = parse_size(m[1], spec), width = parse_size(m[2], spec),
                out = parse_size(m[4], spec);
  Builder b(input, options);
  if (options.fixed_io) {
    if (width % in != 0 || width % out != 0)
      throw UsageError(
          fmt::format("model '{}': io=fixed needs WIDTH to be a multiple of IN and OUT", spec));
    b.flatten_if_needed();
    b.add(std::make_shared<TileStage>(width / in));
  } else {
    b.dense(width, true);
  }
  for (int64_t i = 0, depth = parse_size(m[3], spec); i < depth; ++i) b.residual_dense();
  if (options.fixed_io)
    b.add(std::make_shared<GroupSumStage>(out));
  else
    b.dense(out, false);
  return b.finish();
}

std::shared_ptr<Network> build_cnn(const std::string& body, const SpecOptions& options,
                                   const Shape& input, const std::string& spec) {
  static const std::regex conv(R"(conv(\d+)x(\d+)(?:s(\d+))?)"), res(R"(res(\d+)x(\d+))"),
      pool(R"((avg|max)pool(\d+))"), fc(R"(fc(\d+))"), out(R"(\d+)");
  const auto tokens = split(body, '-');
  Builder b(input, options);
  for (size_t i = 0; i < tokens.size(); ++i) {
    const auto& tok = tokens[i];
    std::smatch m;
    if (std::regex_match(tok, m, conv)) {
      const int64_t k = parse_size(m[2], spec);
      b.conv(parse_size(m[1], spec), k, m[3].matched ? parse_size(m[3], spec) : 1, k / 2);
    } else if (std::regex_match(tok, m, res)) {
      b.residual_conv(parse_size(m[1], spec), parse_size(m[2], spec));
    } else if (std::regex_match(tok, m, pool)) {
      b.add(std::make_shared<PoolStage>(m[1] == "avg" ? PoolType::kAverage : PoolType::kMax,
                                        parse_size(m[2], spec)));
    } else if (tok == "chmean") {
      b.add(std::make_shared<ChannelMeanStage>());
    } else if (tok == "flatten") {
      b.add(std::make_shared<FlattenStage>());
    } else if (tok == "bn") {
      b.add(std::make_shared<BatchNormStage>(b.shape()[0]));
    } else if (std::regex_match(tok, m, fc)) {
      b.dense(parse_size(m[1], spec), true);
    } else if (std::regex_match(tok, m, out) && i + 1 == tokens.size()) {
      b.dense(parse_size(tok, spec), false);
    } else {
      throw UsageError(fmt::format(
          "model '{}': unknown token '{}' (known: convCxK[sS], resCxK, avgpoolK, maxpoolK, chmean, "
          "flatten, bn, fcN, and a final output size)",
          spec, tok));
    }
  }
  return b.finish();
}

// The optional `control_set` key of a dense/conv2d table, removed from `raw`.
ControlSet toml_control_set(std::map<std::string, std::string>& raw, const std::string& owner) {
  auto it = raw.find("control_set");
  if (it == raw.end()) return ControlSet::kReal;
  const ControlSet set = parse_control_set(it->second, owner);
  raw.erase(it);
  return set;
}

std::shared_ptr<Network> build_from_toml(const std::string& path, const Shape& input) {
  const toml::table doc = read_toml_file(path, "model file");
  std::map<std::string, std::string> init_raw;
  if (auto* init = doc["init"].as_table()) init_raw = toml_table_options(*init, path + ": [init]");
  const auto& init_keys = initialiser_keys();
  for (const auto& [key, value] : init_raw)
    if (std::find(init_keys.begin(), init_keys.end(), key) == init_keys.end())
      throw UsageError(fmt::format("{}: [init] has no option '{}' (known: {})", path, key,
                                   fmt::join(init_keys, ", ")));
  SpecOptions options;
  options.init = parse_initialiser(init_raw);
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
    OptionSchema schema(where(type.empty() ? "stage" : type));
    try {
      if (type == "dense") {
        const ControlSet set = toml_control_set(raw, where("dense"));
        auto v = schema.integer("out", 0, "output features", 1, 1 << 24)
                     .flag("bias", set == ControlSet::kReal, "with bias")
                     .parse(raw);
        if (b.shape().size() != 1)
          throw UsageError(where("dense needs a flat input; add a flatten stage"));
        b.add(std::make_shared<DenseStage>(b.shape()[0], v.integer("out"), v.flag("bias"), set));
      } else if (type == "conv2d") {
        const ControlSet set = toml_control_set(raw, where("conv2d"));
        auto v = schema.integer("out", 0, "output channels", 1, 1 << 16)
                     .integer("kernel", 3, "kernel size", 1, 64)
                     .integer("stride", 1, "stride", 1, 64)
                     .integer("padding", -1, "padding (−1: kernel/2)", -1, 64)
                     .flag("bias", set == ControlSet::kReal, "with bias")
                     .parse(raw);
        if (b.shape().size() != 3) throw UsageError(where("conv2d needs an image input [C×H×W]"));
        const int64_t k = v.integer("kernel");
        b.add(std::make_shared<Conv2dStage>(b.shape()[0], v.integer("out"), k, v.integer("stride"),
                                            v.integer("padding") < 0 ? k / 2 : v.integer("padding"),
                                            v.flag("bias"), set));
      } else if (type == "residual") {
        auto v = schema.choice("inner", "dense", {"dense", "conv2d"}, "inner stage g")
                     .integer("kernel", 3, "conv kernel", 1, 63)
                     .choice("activation", "tanh",
                             {"tanh", "relu", "sigmoid", "softplus", "identity"}, "σ")
                     .real("delta", 0.5, "step δ", 0, 1e3)
                     .flag("bias", true, "with bias")
                     .parse(raw);
        std::shared_ptr<Stage> inner;
        if (v.text("inner") == "dense") {
          if (b.shape().size() != 1) throw UsageError(where("residual dense needs a flat input"));
          inner = std::make_shared<DenseStage>(b.shape()[0], b.shape()[0], v.flag("bias"));
        } else {
          if (b.shape().size() != 3)
            throw UsageError(where("residual conv2d needs an image input"));
          const int64_t k = v.integer("kernel");
          inner = std::make_shared<Conv2dStage>(b.shape()[0], b.shape()[0], k, 1, k / 2,
                                                v.flag("bias"));
        }
        b.add(std::make_shared<ResidualStage>(inner, parse_activation(v.text("activation")),
                                              v.real("delta")));
      } else if (type == "avgpool" || type == "maxpool") {
        auto v = schema.integer("window", 2, "window", 1, 64)
                     .integer("stride", 0, "stride (0: window)", 0, 64)
                     .parse(raw);
        b.add(std::make_shared<PoolStage>(type == "avgpool" ? PoolType::kAverage : PoolType::kMax,
                                          v.integer("window"), v.integer("stride")));
      } else if (type == "tile") {
        auto v = schema.integer("copies", 1, "copies of the features", 1, 1 << 16).parse(raw);
        b.add(std::make_shared<TileStage>(v.integer("copies")));
      } else if (type == "group-sum") {
        auto v = schema.integer("outputs", 1, "sums of consecutive feature blocks", 1, 1 << 16)
                     .parse(raw);
        b.add(std::make_shared<GroupSumStage>(v.integer("outputs")));
      } else if (type == "flatten" || type == "channel-mean") {
        schema.parse(raw);
        if (type == "flatten")
          b.add(std::make_shared<FlattenStage>());
        else
          b.add(std::make_shared<ChannelMeanStage>());
      } else if (type == "batchnorm") {
        auto v = schema.real("eps", 1e-5, "ε", 0, 1, true)
                     .real("momentum", 0.1, "running-average rate", 0, 1, true)
                     .parse(raw);
        b.add(std::make_shared<BatchNormStage>(b.shape()[0], v.real("eps"), v.real("momentum")));
      } else {
        static const char* kActivations[] = {"tanh",     "relu",   "sigmoid", "softplus",
                                             "identity", "linear", "none"};
        if (std::find(std::begin(kActivations), std::end(kActivations), type) ==
            std::end(kActivations))
          throw UsageError(where(fmt::format(
              "unknown stage type '{}' (known: dense, conv2d, residual, avgpool, maxpool, "
              "flatten, channel-mean, batchnorm, tile, group-sum, and the activations tanh, "
              "relu, sigmoid, softplus, identity)",
              type)));
        schema.parse(raw);
        b.add(std::make_shared<ActivationStage>(parse_activation(type)));
      }
    } catch (const UsageError& e) {
      const std::string message = e.what();
      if (message.rfind(path, 0) == 0) throw;
      throw UsageError(where(message));
    }
  }
  return b.finish();
}

}  // namespace

std::shared_ptr<Network> build_network(const std::string& spec, const Shape& input_shape) {
  if (spec.size() > 5 && spec.substr(spec.size() - 5) == ".toml")
    return build_from_toml(spec, input_shape);
  auto segments = split(spec, ':');
  const std::string kind = segments[0];
  if (segments.size() < 2 || segments[1].empty())
    throw UsageError(
        fmt::format("model '{}': expected KIND:LAYERS (mlp, resmlp, cnn, bmlp, tmlp, bcnn, tcnn) "
                    "or a .toml file",
                    spec));
  const std::string body = segments[1];
  std::vector<std::string> rest(segments.begin() + 2, segments.end());
  // bmlp/tmlp/bcnn/tcnn: the binary/ternary networks of docs/methods/discrete-msa.md (ReLU by
  // default).
  if (kind == "bmlp" || kind == "tmlp" || kind == "bcnn" || kind == "tcnn") {
    rest.insert(rest.begin(), kind[0] == 'b' ? "weights=binary" : "weights=ternary");
    const Activation act = Activation::kRelu;
    return kind.substr(1) == "mlp"
               ? build_mlp(body, parse_spec_options(rest, act, spec), input_shape, spec)
               : build_cnn(body, parse_spec_options(rest, act, spec), input_shape, spec);
  }
  if (kind == "mlp")
    return build_mlp(body, parse_spec_options(rest, Activation::kTanh, spec), input_shape, spec);
  if (kind == "resmlp")
    return build_resmlp(body, parse_spec_options(rest, Activation::kTanh, spec), input_shape, spec);
  if (kind == "cnn")
    return build_cnn(body, parse_spec_options(rest, Activation::kRelu, spec), input_shape, spec);
  throw UsageError(
      fmt::format("model '{}': unknown kind '{}' (known: mlp, resmlp, cnn, bmlp, tmlp, bcnn, tcnn, "
                  "FILE.toml)",
                  spec, kind));
}

std::shared_ptr<Network> plan_network(const std::string& spec, const Shape& input_shape) {
  const ShapesOnlyScope meta;
  return build_network(spec, input_shape);
}

}  // namespace octrain::control
