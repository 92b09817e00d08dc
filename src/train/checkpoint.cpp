#include "octrain/train/checkpoint.h"

#include <ATen/CPUGeneratorImpl.h>
#include <ATen/Context.h>
#include <fmt/format.h>
#include <torch/cuda.h>
#include <torch/serialize.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <mutex>
#include <sstream>

#include "octrain/control/network.h"
#include "octrain/methods/method.h"
#include "octrain/train/zip_integrity.h"
#include "octrain/util/atomic_file.h"
#include "octrain/util/error.h"

namespace octrain::train {
namespace {

constexpr int64_t kFormatVersion = 1;

int64_t cuda_devices() {
  return torch::cuda::is_available() ? int64_t(torch::cuda::device_count()) : 0;
}

at::Generator cuda_generator(int64_t device) {
  return at::globalContext().defaultGenerator(at::Device(at::kCUDA, at::DeviceIndex(device)));
}

void write_archive(torch::serialize::OutputArchive& archive, control::Network& network,
                   const methods::Method& method, const TrainingPosition& p) {
  archive.write("format_version", torch::tensor(kFormatVersion));
  torch::serialize::OutputArchive model, state;
  network.save(model);
  archive.write("model", model);
  method.save(state);
  archive.write("method", state);
  const std::string name = method.name();
  archive.write("method_name", torch::tensor(std::vector<int64_t>(name.begin(), name.end())));
  archive.write("position", torch::tensor({p.epoch, p.step_in_epoch, p.global_step, p.rollbacks}));
  archive.write("position_real", torch::tensor({p.lr_scale, p.epoch_loss_sum, p.epoch_accuracy_sum,
                                                p.epoch_step_seconds},
                                               torch::kFloat64));
  archive.write("torch_rng", at::detail::getDefaultCPUGenerator().get_state());
  // Each CUDA device's generator too: sampled curvature factors draw on the compute device, so
  // resume on a GPU is exact only with its generator's state.
  for (int64_t d = 0; d < cuda_devices(); ++d)
    archive.write(fmt::format("cuda_rng.{}", d), cuda_generator(d).get_state());
  // Later additions, optional on reading (checkpoints before them lack them).
  archive.write("lr_schedule",
                torch::tensor(std::vector<int64_t>(p.lr_schedule.begin(), p.lr_schedule.end()),
                              torch::kLong));
  archive.write("position_extra", torch::tensor({p.schedule_horizon, p.best_epoch}));
  archive.write("best", torch::tensor({p.best_validation_loss, p.best_validation_accuracy,
                                       p.best_test_loss, p.best_test_accuracy},
                                      torch::kFloat64));
  const LossGrowth& g = p.loss_growth;
  archive.write("loss_growth",
                torch::tensor({g.ema, double(g.steps), g.start, g.minimum, g.max_ratio,
                               g.max_ratio_to_start, g.max_ratio_above_start},
                              torch::kFloat64));
}

void verify_version(torch::serialize::InputArchive& archive, const std::string& where) {
  torch::Tensor version;
  archive.read("format_version", version);
  const int64_t v = version.cpu().item<int64_t>();
  if (v != kFormatVersion)
    throw DataError(fmt::format("{}: unsupported checkpoint format version {}", where, v));
}

// Loads the network's tensors, refusing a checkpoint of another shape: libtorch's reader would
// otherwise give each tensor the saved shape, so weights of mlp:64-33-10 would run as if the
// config's mlp:64-32-10 had been trained.
void load_model(torch::serialize::InputArchive& archive, control::Network& network,
                const std::string& where) {
  std::vector<std::pair<std::string, std::vector<int64_t>>> shapes;
  for (const auto& item : network.named_parameters())
    shapes.emplace_back(item.key(), item.value().sizes().vec());
  for (const auto& item : network.named_buffers())
    shapes.emplace_back(item.key(), item.value().sizes().vec());
  torch::serialize::InputArchive model;
  archive.read("model", model);
  network.load(model);
  size_t i = 0;
  for (const auto& items : {network.named_parameters(), network.named_buffers()})
    for (const auto& item : items) {
      const auto& [name, expected] = shapes.at(i++);
      if (item.value().sizes().vec() != expected)
        throw DataError(fmt::format(
            "{}: tensor '{}' is [{}] in the checkpoint but [{}] in this model: the checkpoint "
            "was written for another model",
            where, name, fmt::join(item.value().sizes(), ", "), fmt::join(expected, ", ")));
    }
}

TrainingPosition read_archive(torch::serialize::InputArchive& archive, control::Network& network,
                              methods::Method& method, const std::string& where) {
  verify_version(archive, where);
  torch::Tensor name, position, position_real, rng;
  archive.read("method_name", name);
  name = name.cpu();
  const std::string saved_name(name.data_ptr<int64_t>(), name.data_ptr<int64_t>() + name.numel());
  if (saved_name != method.name())
    throw DataError(where + ": checkpoint was written by method '" + saved_name + "', not '" +
                    method.name() + "'");
  load_model(archive, network, where);
  torch::serialize::InputArchive state;
  archive.read("method", state);
  method.load(state);
  archive.read("position", position);
  archive.read("position_real", position_real);
  archive.read("torch_rng", rng);
  position = position.cpu(), position_real = position_real.cpu(), rng = rng.cpu();
  at::Generator generator = at::detail::getDefaultCPUGenerator();  // shares the global generator
  {
    std::lock_guard<std::mutex> lock(generator.mutex());
    generator.set_state(rng);
  }
  for (int64_t d = 0; d < cuda_devices(); ++d) {
    torch::Tensor cuda_rng;
    if (!archive.try_read(fmt::format("cuda_rng.{}", d), cuda_rng)) break;  // written without CUDA
    at::Generator cuda = cuda_generator(d);
    std::lock_guard<std::mutex> lock(cuda.mutex());
    cuda.set_state(cuda_rng.cpu());
  }
  TrainingPosition p;
  auto pi = position.accessor<int64_t, 1>();
  auto pr = position_real.accessor<double, 1>();
  p.epoch = pi[0], p.step_in_epoch = pi[1], p.global_step = pi[2], p.rollbacks = pi[3];
  p.lr_scale = pr[0], p.epoch_loss_sum = pr[1], p.epoch_accuracy_sum = pr[2],
  p.epoch_step_seconds = pr[3];
  torch::Tensor schedule, extra, best;
  if (archive.try_read("lr_schedule", schedule)) {
    schedule = schedule.cpu().to(torch::kLong).contiguous();
    p.lr_schedule.assign(schedule.data_ptr<int64_t>(),
                         schedule.data_ptr<int64_t>() + schedule.numel());
  }
  if (archive.try_read("position_extra", extra)) {
    extra = extra.cpu();
    p.schedule_horizon = extra[0].item<int64_t>(), p.best_epoch = extra[1].item<int64_t>();
  }
  if (archive.try_read("best", best)) {
    best = best.cpu();
    auto b = best.accessor<double, 1>();
    p.best_validation_loss = b[0], p.best_validation_accuracy = b[1];
    p.best_test_loss = b[2], p.best_test_accuracy = b[3];
  }
  torch::Tensor growth;
  if (archive.try_read("loss_growth", growth)) {
    growth = growth.cpu();
    auto g = growth.accessor<double, 1>();
    LossGrowth& l = p.loss_growth;
    l.ema = g[0], l.steps = int64_t(g[1]), l.start = g[2], l.minimum = g[3];
    l.max_ratio = g[4], l.max_ratio_to_start = g[5], l.max_ratio_above_start = g[6];
  }
  return p;
}

// Tensors are read straight onto the network's device, so a GPU run resumes on the GPU.
torch::Device device_of(control::Network& network) {
  const auto parameters = network.parameters();
  return parameters.empty() ? torch::Device(torch::kCPU) : parameters.front().device();
}

// libtorch's reader trusts the bytes (a flipped bit in a pickle can crash it; one in a tensor
// loads as a different number), so the zip's own CRC-32s are checked first.
void load_verified(torch::serialize::InputArchive& archive, const std::string& path,
                   const torch::Device& device) {
  std::ifstream in(path, std::ios::binary);
  const std::string bytes{std::istreambuf_iterator<char>(in), {}};
  if (!in.good() && !in.eof()) throw DataError(path + ": cannot read the checkpoint");
  verify_zip_integrity(bytes, path);
  std::istringstream stream(bytes);
  archive.load_from(stream, device);
}

template <typename F>
auto as_data_error(const std::string& where, F&& f) {
  try {
    return f();
  } catch (const Error&) {
    throw;
  } catch (const std::exception& e) {
    std::string message = e.what();
    message = message.substr(0, message.find('\n'));
    throw DataError(where + ": not a valid checkpoint for this model (" + message + ")");
  }
}

}  // namespace

void save_checkpoint(const std::string& path, control::Network& network,
                     const methods::Method& method, const TrainingPosition& position) {
  torch::serialize::OutputArchive archive;
  write_archive(archive, network, method, position);
  // torch names the zip's inner folder after the file it writes; a file of the final name in a
  // folder of its own keeps that name ("checkpoint/") rather than the temporary one's.
  write_atomically(path, [&](const std::string& temp) {
    const std::filesystem::path folder = temp + ".d";
    std::filesystem::create_directories(folder);
    const auto file = folder / std::filesystem::path(path).filename();
    try {
      archive.save_to(file.string());
      std::filesystem::rename(file, temp);
    } catch (...) {
      std::filesystem::remove_all(folder);
      throw;
    }
    std::filesystem::remove_all(folder);
  });
}

std::string checkpoint_bytes(control::Network& network, const methods::Method& method,
                             const TrainingPosition& position) {
  torch::serialize::OutputArchive archive;
  write_archive(archive, network, method, position);
  std::ostringstream out;
  archive.save_to(out);
  return out.str();
}

TrainingPosition load_checkpoint(const std::string& path, control::Network& network,
                                 methods::Method& method) {
  if (!std::filesystem::exists(path)) throw DataError(path + ": checkpoint not found");
  return as_data_error(path, [&] {
    torch::serialize::InputArchive archive;
    load_verified(archive, path, device_of(network));
    return read_archive(archive, network, method, path);
  });
}

TrainingPosition restore_checkpoint_bytes(const std::string& bytes, control::Network& network,
                                          methods::Method& method, const std::string& where) {
  return as_data_error(where, [&] {
    verify_zip_integrity(bytes, where);
    std::istringstream in(bytes);
    torch::serialize::InputArchive archive;
    archive.load_from(in, device_of(network));
    return read_archive(archive, network, method, where);
  });
}

void load_network_from_checkpoint(const std::string& path, control::Network& network) {
  if (!std::filesystem::exists(path)) throw DataError(path + ": checkpoint not found");
  as_data_error(path, [&] {
    torch::serialize::InputArchive archive;
    load_verified(archive, path, device_of(network));
    verify_version(archive, path);
    load_model(archive, network, path);
    return 0;
  });
}

TrainingPosition restore_snapshot(const std::string& bytes, control::Network& network,
                                  std::unique_ptr<methods::Method>& method,
                                  const std::function<std::unique_ptr<methods::Method>()>& fresh) {
  restore_checkpoint_bytes(bytes, network, *method);  // the controls first: `fresh` may read them
  method = fresh();
  return restore_checkpoint_bytes(bytes, network, *method);
}

namespace {

void collect_nonfinite(torch::serialize::InputArchive& archive, const std::string& prefix,
                       std::vector<std::string>& out) {
  for (const auto& key : archive.keys()) {
    torch::Tensor tensor;
    torch::serialize::InputArchive inner;
    if (archive.try_read(key, tensor)) {
      if (tensor.is_floating_point() && !tensor.isfinite().all().item<bool>())
        out.push_back(prefix + key);
    } else if (archive.try_read(key, inner)) {
      collect_nonfinite(inner, prefix + key + "/", out);
    }
  }
}

}  // namespace

std::vector<std::string> nonfinite_method_state(const methods::Method& method) {
  torch::serialize::OutputArchive saved;
  method.save(saved);
  std::ostringstream bytes;
  saved.save_to(bytes);
  std::istringstream in(bytes.str());
  torch::serialize::InputArchive archive;
  archive.load_from(in);
  std::vector<std::string> out;
  collect_nonfinite(archive, "", out);
  return out;
}

}  // namespace octrain::train
