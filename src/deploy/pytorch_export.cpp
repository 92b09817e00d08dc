#include "octrain/deploy/pytorch_export.h"

#include <fmt/format.h>
#include <torch/csrc/jit/serialization/pickle.h>
#include <torch/utils.h>

#include <cctype>
#include <fstream>

#include "octrain/control/activation.h"
#include "octrain/control/batch_norm.h"
#include "octrain/control/conv2d.h"
#include "octrain/control/dense.h"
#include "octrain/control/feature_map.h"
#include "octrain/control/pool.h"
#include "octrain/control/residual.h"
#include "octrain/util/atomic_file.h"
#include "octrain/util/error.h"

namespace octrain::deploy {
namespace {

using NamedTensors = std::vector<std::pair<std::string, torch::Tensor>>;

// One stage in TorchScript: its tensors and the expression of its forward in `x`.
struct ExportedStage {
  std::string type;  // class name, e.g. "Dense"
  NamedTensors parameters;
  NamedTensors buffers;
  std::string expression;
};

torch::Tensor plain(const torch::Tensor& t) {
  return t.detach().to(torch::kCPU).contiguous().clone();
}

// A float literal TorchScript reads back to the same double ("1" would be an int).
std::string literal(double value) {
  std::string text = fmt::format("{:.17g}", value);
  if (text.find_first_of(".en") == std::string::npos) text += ".0";
  return text;
}

std::string activation_expression(control::Activation activation, const std::string& z) {
  switch (activation) {
    case control::Activation::kTanh:
      return "torch.tanh(" + z + ")";
    case control::Activation::kRelu:
      return "torch.relu(" + z + ")";
    case control::Activation::kSigmoid:
      return "torch.sigmoid(" + z + ")";
    case control::Activation::kSoftplus:
      return "torch.softplus(" + z + ", 1, 20)";  // libtorch's defaults: β = 1, threshold 20
    case control::Activation::kErf:
      return "torch.erf(" + z + ")";
    case control::Activation::kIdentity:
      return z;
  }
  return z;
}

// Dense and Conv2d, real or discrete (the effective weight α ⊙ W, so no scale is needed).
std::optional<ExportedStage> export_layer(control::Stage& stage) {
  if (auto* d = dynamic_cast<control::DenseStage*>(&stage)) {
    ExportedStage e{"Dense", {}, {}, {}};
    const auto w = d->scale.defined() ? d->weight * d->scale.unsqueeze(1) : d->weight;
    e.parameters.emplace_back("weight", plain(w));
    if (d->bias.defined()) {
      e.parameters.emplace_back("bias", plain(d->bias));
      e.expression = "torch.addmm(self.bias, x, self.weight.t())";
    } else {
      e.expression = "torch.mm(x, self.weight.t())";
    }
    return e;
  }
  if (auto* c = dynamic_cast<control::Conv2dStage*>(&stage)) {
    ExportedStage e{"Conv2d", {}, {}, {}};
    const auto w = c->scale.defined() ? c->weight * c->scale.view({-1, 1, 1, 1}) : c->weight;
    e.parameters.emplace_back("weight", plain(w));
    if (c->bias.defined()) e.parameters.emplace_back("bias", plain(c->bias));
    e.expression = fmt::format("torch.conv2d(x, self.weight, {}, [{}, {}], [{}, {}])",
                               c->bias.defined() ? "self.bias" : "None", c->stride(), c->stride(),
                               c->padding(), c->padding());
    return e;
  }
  return std::nullopt;
}

ExportedStage export_stage(control::Stage& stage, size_t t) {
  if (auto layer = export_layer(stage)) return *layer;
  if (auto* r = dynamic_cast<control::ResidualStage*>(&stage)) {
    auto inner = export_layer(r->inner());
    if (!inner)
      throw UsageError(fmt::format("stage {} ({}): cannot be exported", t, r->describe()));
    inner->type = "Residual";
    inner->expression = fmt::format("x + {} * {}", literal(r->delta()),
                                    activation_expression(r->activation(), inner->expression));
    return *inner;
  }
  if (auto* b = dynamic_cast<control::BatchNormStage*>(&stage)) {
    return {"BatchNorm",
            {{"weight", plain(b->gamma)}, {"bias", plain(b->beta)}},
            {{"running_mean", plain(b->running_mean)}, {"running_var", plain(b->running_var)}},
            fmt::format("torch.batch_norm(x, self.weight, self.bias, self.running_mean, "
                        "self.running_var, False, {}, {}, True)",
                        literal(b->momentum()), literal(b->eps()))};
  }
  if (auto* a = dynamic_cast<control::ActivationStage*>(&stage)) {
    std::string type = to_string(a->activation());  // "tanh" → class "Tanh"
    type[0] = char(std::toupper(static_cast<unsigned char>(type[0])));
    return {type, {}, {}, activation_expression(a->activation(), "x")};
  }
  if (auto* p = dynamic_cast<control::PoolStage*>(&stage)) {
    const bool average = p->type() == control::PoolType::kAverage;
    return {average ? "AvgPool" : "MaxPool",
            {},
            {},
            fmt::format("torch.{}(x, [{}, {}], [{}, {}])", average ? "avg_pool2d" : "max_pool2d",
                        p->window(), p->window(), p->stride(), p->stride())};
  }
  if (dynamic_cast<control::ChannelMeanStage*>(&stage))
    return {"ChannelMean", {}, {}, "torch.mean(x, [1], True)"};
  if (dynamic_cast<control::FlattenStage*>(&stage))
    return {"Flatten", {}, {}, "torch.flatten(x, 1)"};
  if (auto* tile = dynamic_cast<control::TileStage*>(&stage))
    return {"Tile", {}, {}, fmt::format("x.repeat([1, {}])", tile->copies())};
  if (auto* g = dynamic_cast<control::GroupSumStage*>(&stage))
    return {
        "GroupSum",
        {},
        {},
        fmt::format("torch.sum(x.view([x.size(0), {0}, x.size(1) // {0}]), [2])", g->outputs())};
  throw UsageError(fmt::format("stage {} ({}): cannot be exported", t, stage.describe()));
}

std::string stage_name(size_t t) {
  return fmt::format("stage{}", t);
}

NamedTensors spec_tensors(const ExportSpec& spec) {
  NamedTensors out;
  if (spec.standardiser) {
    out.emplace_back("input_mean", plain(spec.standardiser->mean()));
    out.emplace_back("input_std", plain(spec.standardiser->std()));
  }
  if (spec.class_centres.defined()) out.emplace_back("class_centres", plain(spec.class_centres));
  return out;
}

c10::List<int64_t> int_list(const control::Shape& shape) {
  return c10::List<int64_t>(shape);
}

}  // namespace

ExportSpec export_spec(const control::TerminalLoss& loss, const data::Dataset& data,
                       nlohmann::json metadata) {
  ExportSpec spec;
  spec.classification = loss.classification();
  spec.num_classes = spec.classification ? data.num_classes : 0;
  spec.loss = loss.name();
  if (auto* mmc = dynamic_cast<const control::MaxMahalanobisLoss*>(&loss))
    spec.class_centres = mmc->centres();
  const auto record = data.metadata.find("standardisation");
  if (record != data.metadata.end())
    spec.standardiser = data::Standardiser::from_json(*record, data.name);
  spec.metadata = std::move(metadata);
  return spec;
}

std::vector<std::pair<std::string, torch::Tensor>> exported_tensors(control::Network& network,
                                                                    const ExportSpec& spec) {
  torch::NoGradGuard no_grad;
  NamedTensors out;
  for (size_t t = 0; t < network.size(); ++t) {
    const auto stage = export_stage(network.stage(t), t);
    for (const auto* list : {&stage.parameters, &stage.buffers})
      for (const auto& [name, tensor] : *list) out.emplace_back(stage_name(t) + "." + name, tensor);
  }
  for (auto& entry : spec_tensors(spec)) out.push_back(std::move(entry));
  return out;
}

torch::jit::Module to_torchscript(control::Network& network, const ExportSpec& spec) {
  torch::NoGradGuard no_grad;
  auto cu = std::make_shared<torch::jit::CompilationUnit>();
  // Class names are unique within the archive: octrain.Model, octrain.Stage0Dense, …
  const auto module_of = [&](const std::string& type) {
    torch::jit::Module m(c10::QualifiedName("__torch__.octrain." + type), cu);
    m.register_attribute("training", c10::BoolType::get(), false);
    return m;
  };
  torch::jit::Module model = module_of("Model");
  std::string network_source = "def network(self, x):\n";
  for (size_t t = 0; t < network.size(); ++t) {
    const auto e = export_stage(network.stage(t), t);
    torch::jit::Module stage = module_of(fmt::format("Stage{}{}", t, e.type));
    for (const auto& [name, tensor] : e.parameters)
      stage.register_parameter(name, tensor.requires_grad_(true), /*is_buffer=*/false);
    for (const auto& [name, tensor] : e.buffers) stage.register_buffer(name, tensor);
    stage.define("def forward(self, x):\n    return " + e.expression + "\n");
    model.register_module(stage_name(t), stage);
    network_source += fmt::format("    x = self.{}.forward(x)\n", stage_name(t));
  }
  network_source += "    return x\n";
  for (const auto& [name, tensor] : spec_tensors(spec)) model.register_buffer(name, tensor);

  model.register_attribute("input_standardised", c10::BoolType::get(),
                           spec.standardiser.has_value());
  model.register_attribute("task", c10::StringType::get(),
                           spec.classification ? "classification" : "regression");
  model.register_attribute("num_classes", c10::IntType::get(), spec.num_classes);
  model.register_attribute("loss", c10::StringType::get(), spec.loss);
  model.register_attribute("input_shape", c10::ListType::ofInts(), int_list(network.input_shape()));
  model.register_attribute("output_shape", c10::ListType::ofInts(),
                           int_list(network.output_shape()));
  model.define(network_source);
  // Standardiser::apply: (x in float64 − mean) / std, back to float32 (ScalarType 7 and 6).
  model.define(spec.standardiser
                   ? fmt::format("def forward(self, x):\n    return self.network(((x.to({}) - "
                                 "self.input_mean) / self.input_std).to({}))\n",
                                 int(torch::kDouble), int(torch::kFloat))
                   : "def forward(self, x):\n    return self.network(x)\n");
  model.define(spec.class_centres.defined()
                   ? "def predict_class(self, x):\n    return torch.argmin(torch.cdist("
                     "self.forward(x), self.class_centres), 1)\n"
                   : "def predict_class(self, x):\n    return torch.argmax(self.forward(x), 1)\n");
  model.eval();
  return model;
}

void write_torchscript(const std::string& path, control::Network& network, const ExportSpec& spec) {
  const auto module = to_torchscript(network, spec);
  const torch::jit::ExtraFilesMap extra = {{"octrain.json", spec.metadata.dump(2) + "\n"}};
  // Through a stream, so the archive's folder is "archive", not the temporary file's name.
  write_atomically(path, [&](const std::string& tmp) {
    std::ofstream out(tmp, std::ios::binary);
    module.save(out, extra);
    if (!out.flush()) throw DataError(tmp + ": cannot write");
  });
}

void write_state_dict(const std::string& path, control::Network& network, const ExportSpec& spec) {
  c10::Dict<std::string, torch::Tensor> dict;
  for (const auto& [name, tensor] : exported_tensors(network, spec)) dict.insert(name, tensor);
  const std::vector<char> bytes = torch::jit::pickle_save(c10::IValue(dict));
  write_atomically(path, [&](const std::string& tmp) {
    std::ofstream out(tmp, std::ios::binary);
    out.write(bytes.data(), std::streamsize(bytes.size()));
    if (!out) throw DataError(tmp + ": cannot write");
  });
}

}  // namespace octrain::deploy
