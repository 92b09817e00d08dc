#include "octrain/control/model_builder.h"

#include <fmt/format.h>

#include <algorithm>
#include <filesystem>
#include <regex>

#include "network_builder.h"
#include "octrain/util/options.h"

namespace octrain::control {
namespace {

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
