#include "octrain/train/trainer.h"

#include <ATen/CPUGeneratorImpl.h>
#include <fmt/format.h>
#include <torch/cuda.h>
#include <torch/version.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <csignal>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <functional>
#include <optional>

#include "octrain/analysis/costate_diagnostics.h"
#include "octrain/control/batch_norm.h"
#include "octrain/control/discrete_controls.h"
#include "octrain/control/model_builder.h"
#include "octrain/control/network.h"
#include "octrain/dist/batch_reducer.h"
#include "octrain/dist/communicator.h"
#include "octrain/dist/world.h"
#include "octrain/methods/registry.h"
#include "octrain/train/checkpoint.h"
#include "octrain/train/compute_device.h"
#include "octrain/train/compute_threads.h"
#include "octrain/train/lr_schedule.h"
#include "octrain/train/memory_estimate.h"
#include "octrain/train/metrics_log.h"
#include "octrain/train/progress.h"
#include "octrain/train/run_exports.h"
#include "octrain/util/atomic_file.h"
#include "octrain/util/build_info.h"
#include "octrain/util/directory_lock.h"
#include "octrain/util/error.h"
#include "octrain/util/file_name.h"

namespace octrain::train {
namespace {

std::atomic<bool> g_stop_requested{false};

using Clock = std::chrono::steady_clock;
constexpr auto kAutoCheckpointInterval = std::chrono::seconds(30);

std::string timestamp() {
  const std::time_t now = std::time(nullptr);
  char buffer[32];
  std::strftime(buffer, sizeof buffer, "%Y%m%d-%H%M%S", std::localtime(&now));
  return buffer;
}

// The shuffle of epoch e depends only on (seed, e), so a resumed run sees the same batches.
torch::Tensor epoch_permutation(uint64_t seed, int64_t epoch, int64_t n) {
  auto generator =
      at::detail::createCPUGenerator(seed * 0x9E3779B97F4A7C15ULL + uint64_t(epoch) + 1);
  return torch::randperm(n, generator, torch::kLong);
}

// Index of the first stage with a non-finite control, or −1. One reduction per control.
int64_t first_nonfinite_stage(control::Network& network) {
  torch::NoGradGuard no_grad;
  std::vector<torch::Tensor> sums;
  for (auto& theta : network.controls()) sums.push_back(theta.sum());
  if (sums.empty() || torch::stack(sums).sum().isfinite().item<bool>()) return -1;
  for (size_t t = 0; t < network.size(); ++t)
    for (auto& theta : network.stage(t).controls())
      if (!theta.isfinite().all().item<bool>()) return int64_t(t);
  return -1;
}

// Whether a validation result beats the best so far by `metric`: auto is higher accuracy (equal
// accuracy and lower loss break ties), or lower loss where there is no accuracy (regression).
bool improves(const Evaluation& v, const TrainingPosition& best, const std::string& metric) {
  if (best.best_epoch == 0) return true;
  if (metric == "loss") return v.loss < best.best_validation_loss;
  if (!std::isnan(v.accuracy) && !std::isnan(best.best_validation_accuracy)) {
    if (v.accuracy != best.best_validation_accuracy)
      return v.accuracy > best.best_validation_accuracy;
  }
  return v.loss < best.best_validation_loss;
}

nlohmann::json nan_to_null(double v) {
  return std::isfinite(v) ? nlohmann::json(v) : nlohmann::json();
}

// Adds `prefix`_loss and `prefix`_accuracy (null where non-finite) to a metrics record.
void record_evaluation(nlohmann::json& record, const std::string& prefix, const Evaluation& e) {
  record[prefix + "_loss"] = nan_to_null(e.loss);
  record[prefix + "_accuracy"] = nan_to_null(e.accuracy);
}

std::string describe_evaluation(double loss, double accuracy) {
  return std::isnan(accuracy) ? fmt::format("loss {:.4f}", loss)
                              : fmt::format("acc {:.2f}%, loss {:.4f}", 100 * accuracy, loss);
}

std::unique_ptr<control::TerminalLoss> make_loss_for(const RunConfig& config,
                                                     const data::Dataset& data,
                                                     control::Network& network) {
  const bool regression = data.task == data::Task::kRegression;
  const std::string spec = !config.loss.empty() ? config.loss
                           : regression         ? "mse"
                                                : "cross-entropy";
  if (network.output_shape().size() != 1)
    throw UsageError(fmt::format("model '{}': the output must be a vector, got {}", config.model,
                                 control::to_string(network.output_shape())));
  const int64_t output_dim = network.output_shape()[0];
  auto loss = control::make_terminal_loss(spec, data.num_classes, output_dim);
  loss->check_output(output_dim, data.num_classes);
  if (regression && output_dim != data.target_dim)
    throw UsageError(fmt::format("model '{}': outputs {} values but the dataset has {} targets",
                                 config.model, output_dim, data.target_dim));
  return loss;
}

data::Split to_device(const data::Split& split, const torch::Device& device) {
  return {split.x.defined() ? split.x.to(device) : split.x,
          split.y.defined() ? split.y.to(device) : split.y};
}

// Data-parallel runs keep batch norm's statistics local (as PyTorch's DDP), so the running
// statistics drift apart; their EMAs are linear, so the mean over the ranks is the EMA of the
// ranks' mean statistics. Averaged before every evaluation and checkpoint.
void average_running_statistics(control::Network& network, dist::Communicator& communicator) {
  if (!communicator.distributed()) return;
  std::vector<torch::Tensor> floating;
  for (auto& b : network.buffers())
    if (b.is_floating_point()) floating.push_back(b);
  communicator.all_reduce_mean(floating);
}

// Rank 0 checks what only it may see (its run directory); the others learn the verdict.
void agree_with_rank0(dist::Communicator& communicator, const std::function<void()>& check) {
  std::optional<UsageError> refused;
  if (communicator.rank() == 0) {
    try {
      check();
    } catch (const UsageError& e) {
      refused = e;
    }
  }
  std::vector<double> verdict{refused ? 1.0 : 0.0};
  communicator.all_reduce_sum(verdict);
  if (refused) throw *refused;
  if (verdict[0] > 0) throw UsageError("rank 0 refused the run (see its message)");
}

}  // namespace

void request_stop() {
  g_stop_requested.store(true);
}

namespace {

void stop_on_signal(int signal) {
  request_stop();
  std::signal(signal, SIG_DFL);  // a second signal ends the process at once
}

// While training, SIGINT/SIGTERM stop after the current step with a checkpoint; elsewhere
// (loading, evaluating) they keep their usual meaning.
class StopOnSignal {
 public:
  StopOnSignal()
      : previous_int_(std::signal(SIGINT, stop_on_signal)),
        previous_term_(std::signal(SIGTERM, stop_on_signal)) {}
  ~StopOnSignal() {
    std::signal(SIGINT, previous_int_);
    std::signal(SIGTERM, previous_term_);
  }

 private:
  void (*previous_int_)(int);
  void (*previous_term_)(int);
};

}  // namespace

data::LoadOptions load_options_for(const RunConfig& config) {
  data::LoadOptions o;
  o.seed = config.split_seed();
  o.test_fraction = config.test_fraction;
  o.validation_fraction = config.validation_fraction;
  o.train_limit = config.train_limit;
  o.test_limit = config.test_limit;
  return o;
}

RunResult run_training(RunConfig config, const RunOptions& options) {
  config.validate();
  const ComputeThreads threads = set_compute_threads(int(config.threads));
  dist::Communicator& communicator = dist::world();
  const int rank = communicator.rank(), world = communicator.world_size();
  const bool writer = rank == 0;  // rank 0 alone writes metrics, checkpoints and reports
  dist::BatchReducer shard(communicator);
  const torch::Device device = parse_compute_device(config.device);

  data::Dataset loaded;
  const data::Dataset& data =
      options.dataset ? *options.dataset
                      : (loaded = data::load_dataset(config.dataset, load_options_for(config)));
  if (data.train.size() == 0) throw DataError(config.dataset + ": the training split is empty");

  // The estimate comes from the model planned on the meta device, before anything is allocated.
  const int64_t batch = std::min(config.batch_size, data.train.size());
  check_memory(estimate_memory(*control::plan_network(config.model, data.input_shape),
                               config.method, config.method_options, (batch + world - 1) / world),
               available_memory(),
               fmt::format("model '{}' with {} at batch {}", config.model, config.method, batch));
  torch::manual_seed(config.seed);
  auto network = control::build_network(config.model, data.input_shape);
  auto loss = make_loss_for(config, data, *network);
  for (size_t t = 0; t < network->size(); ++t)
    if (network->stage(t).kind() == control::StageKind::kBatchNorm &&
        std::min(config.batch_size, data.train.size()) < 2 * world)
      throw UsageError(fmt::format(
          "stage {} ({}) needs batches of at least 2 samples per process; got {} for {}", t,
          network->stage(t).describe(), std::min(config.batch_size, data.train.size()), world));
  if (std::min(config.batch_size, data.train.size()) < world)
    throw UsageError(fmt::format("--batch-size {} cannot be split across {} processes",
                                 std::min(config.batch_size, data.train.size()), world));
  network->set_running_cost({config.weight_decay, 0.0});
  network->to(device);
  if (config.sync_bn && communicator.distributed())
    for (size_t t = 0; t < network->size(); ++t)
      if (auto* bn = dynamic_cast<control::BatchNormStage*>(&network->stage(t)))
        bn->synchronise({[&communicator](const torch::Tensor& x) {
                           torch::Tensor total = x.detach().clone();
                           communicator.all_reduce_sum(total);
                           return total;
                         },
                         [&shard] { return shard.weight(); }});
  network->train();
  auto make_configured_method = [&] {
    auto m = methods::make_method(config.method, config.method_options, *network);
    m->set_compute_threads(std::max(threads.blas, threads.intra_op));
    m->set_batch_reducer(shard);
    return m;
  };
  auto method = make_configured_method();
  config.method_options = method->options().to_map();

  if (config.out.empty())
    config.out = fmt::format("runs/{}-{}-s{}-{}", safe_file_name(config.dataset), config.method,
                             config.seed, timestamp());
  const std::string dir = config.out;
  const std::string checkpoint_path = dir + "/checkpoint.pt";
  std::optional<DirectoryLock> lock;  // rank 0 writes the run directory, alone
  agree_with_rank0(communicator, [&] {
    std::filesystem::create_directories(dir);
    lock.emplace(dir);
    remove_dead_writers_temporaries(dir);  // e.g. best.pt's, which only a new best would clear
    if (!options.resume && std::filesystem::exists(checkpoint_path))
      throw UsageError(fmt::format(
          "{}: already holds a run; pass --resume {} to continue it or choose another --out", dir,
          dir));
  });

  TrainingPosition position;
  if (options.resume) {
    if (communicator.distributed()) {
      // Rank 0 reads the checkpoint and sends it: the others need not see its file system.
      std::string bytes;
      agree_with_rank0(communicator, [&] {
        if (!std::filesystem::exists(checkpoint_path))
          throw UsageError(fmt::format("--resume {}: no checkpoint.pt there", dir));
        std::ifstream file(checkpoint_path, std::ios::binary);
        bytes.assign(std::istreambuf_iterator<char>(file), {});
      });
      communicator.broadcast_bytes(bytes, 0);
      position = restore_checkpoint_bytes(bytes, *network, *method, checkpoint_path);
    } else {
      position = load_checkpoint(checkpoint_path, *network, *method);
    }
    if (config.epochs < position.epoch)
      throw UsageError(fmt::format(
          "--resume {}: the run has already trained {} epochs; --epochs {} would undo them", dir,
          position.epoch, config.epochs));
    method->set_learning_rate_scale(position.lr_scale);
    if (!position.lr_schedule.empty() && position.lr_schedule != config.lr_schedule)
      throw UsageError(fmt::format(
          "--resume {}: the checkpoint was trained with lr_schedule '{}', the config says '{}'",
          dir, position.lr_schedule, config.lr_schedule));
  }
  if (writer) write_text_atomically(dir + "/config.toml", config.to_toml());
  nlohmann::json metadata = {
      {"octrain_version", version()},
      {"git_revision", git_revision()},
      {"torch_version", TORCH_VERSION},
      {"seed", config.seed},
      {"split_seed", config.split_seed()},
      {"threads", config.threads},
      {"compute_threads", threads.describe()},
      {"device", config.device},
      {"dataset", data.name},
      {"dataset_checksum", data.checksum},
      {"dataset_metadata", data.metadata},
      {"train_size", data.train.size()},
      {"validation_size", data.validation.size()},
      {"test_size", data.test.size()},
      {"model", config.model},
      {"model_summary", network->summary()},
      {"controls", network->num_controls()},
      {"loss", loss->name()},
      {"method", method->describe()},
      {"resumed_from_step", position.global_step},
      {"world_size", world},
  };
  if (writer) write_text_atomically(dir + "/metadata.json", metadata.dump(2) + "\n");

  // Only rank 0 keeps a log; the others' records go nowhere.
  std::optional<MetricsLog> log;
  if (writer) log.emplace(dir, options.resume, position.global_step, options.skip_damaged_metrics);
  struct {
    std::optional<MetricsLog>& log;
    void append(const nlohmann::json& r) {
      if (log) log->append(r);
    }
    void flush() {
      if (log) log->flush();
    }
    void flush_tables() {
      if (log) log->flush_tables();
    }
    void discard_steps_after(int64_t step) {
      if (log) log->discard_steps_after(step);
    }
    std::vector<nlohmann::json> epochs() const {
      return log ? log->epochs() : std::vector<nlohmann::json>{};
    }
    std::vector<nlohmann::json> records() const {
      return log ? log->records() : std::vector<nlohmann::json>{};
    }
  } metrics{log};
  const data::Split train = to_device(data.train, device);
  const data::Split test = to_device(data.test, device);
  const data::Split validation = to_device(data.validation, device);
  const int64_t n = train.size();
  // DeepOBS and AlgoPerf report training figures on a fixed training subset the size of the
  // test set (DeepOBS's train_eval set), evaluated like the others from epoch 0 on.
  const bool exporting = ExportFormats::parse(config.export_format).any();
  const int64_t train_eval_size = test.size() > 0 ? std::min(n, test.size()) : n;
  const data::Split train_eval = exporting ? data::Split{train.x.slice(0, 0, train_eval_size),
                                                         train.y.slice(0, 0, train_eval_size)}
                                           : data::Split{};
  auto write_tables = [&] {
    metrics.flush_tables();
    if (writer && exporting)
      write_run_exports(config, metrics.records(), {validation.size(), test.size()}, dir);
  };
  // Wall time since the run began, across resumes (from the last evaluation's record).
  const auto run_start = Clock::now();
  double elapsed_before = 0;
  for (const auto& r : metrics.records())
    if (r.contains("elapsed_s") && r["elapsed_s"].is_number())
      elapsed_before = r["elapsed_s"].get<double>();
  auto elapsed_seconds = [&] {
    return elapsed_before + std::chrono::duration<double>(Clock::now() - run_start).count();
  };
  int64_t steps_per_epoch = n / config.batch_size + (n % config.batch_size != 0);  // no overflow
  // Batch norm cannot take 1 sample, nor can a process take none: a last batch too small for
  // that joins the one before it.
  const int64_t remainder = n % config.batch_size;
  if (steps_per_epoch > 1 && remainder > 0 && (remainder == 1 || remainder < world))
    --steps_per_epoch;
  const LrSchedule schedule = LrSchedule::parse(config.lr_schedule, "config 'lr_schedule'");
  position.lr_schedule = schedule.spec();
  if (position.schedule_horizon == 0) position.schedule_horizon = config.epochs * steps_per_epoch;
  const bool track_best = config.keep == "best" || config.early_stop > 0;
  if (track_best && data.validation.size() == 0)
    throw UsageError(fmt::format(
        "--keep best and --early-stop need validation samples; {} has none", data.name));
  if (track_best && config.best_metric == "accuracy" && !loss->classification())
    throw UsageError(fmt::format(
        "--best-metric accuracy needs a classification loss; {} has no accuracy (use loss)",
        loss->name()));
  const std::string best_path = dir + "/best.pt";
  // A resumed run that had already stopped early stays stopped.
  auto patience_spent = [&] {
    return config.early_stop > 0 && position.best_epoch > 0 &&
           position.epoch - position.best_epoch >= config.early_stop;
  };
  bool stopped_early = patience_spent();

  ProgressOptions progress_options = options.progress;
  progress_options.quiet = progress_options.quiet || options.quiet || !writer;
  Progress progress(options.out, progress_options, config.epochs, steps_per_epoch);
  std::string model_summary = network->summary();
  model_summary.pop_back();  // its last newline; line() adds one
  progress.line(fmt::format("{}: {} train, {} validation, {} test samples, input {}", data.name,
                            data.train.size(), data.validation.size(), data.test.size(),
                            control::to_string(data.input_shape)));
  progress.line(model_summary);
  progress.line(fmt::format("loss {} · method {} · {}", loss->name(), method->describe(),
                            threads.describe()));
  if (communicator.distributed())
    progress.line(
        fmt::format("data-parallel: {} processes, global batch {}", world, config.batch_size));
  if (options.resume)
    progress.line(fmt::format("resuming {} at epoch {} step {}", dir, position.epoch + 1,
                              position.step_in_epoch));
  RunResult result;
  result.run_dir = dir;
  double run_step_seconds = 0.0;
  int64_t run_steps = 0;
  std::string snapshot;
  auto last_checkpoint = Clock::now();

  if (exporting && options.resume)
    metrics.append({{"kind", "resume"}, {"epoch", position.epoch}, {"step", position.global_step}});
  if (exporting && !options.resume) {
    // Epoch 0: the figures before any step, as DeepOBS and AlgoPerf record them.
    const auto eval_start = Clock::now();
    nlohmann::json record = {{"kind", "evaluation"}, {"epoch", 0}, {"step", 0}};
    record_evaluation(record, "train_eval",
                      evaluate_sharded(*network, *loss, train_eval, communicator));
    record_evaluation(record, "test", evaluate_sharded(*network, *loss, test, communicator));
    if (validation.size() > 0)
      record_evaluation(record, "validation",
                        evaluate_sharded(*network, *loss, validation, communicator));
    record["eval_time_s"] = std::chrono::duration<double>(Clock::now() - eval_start).count();
    record["elapsed_s"] = elapsed_seconds();
    metrics.append(record);
  }

  const StopOnSignal stop_on_signal_guard;
  while (position.epoch < config.epochs && !stopped_early) {
    const int64_t epoch = position.epoch;
    if (config.on_divergence == "rollback" && (position.step_in_epoch == 0 || snapshot.empty()))
      snapshot = checkpoint_bytes(*network, *method, position);
    const auto permutation = epoch_permutation(config.seed, epoch, n).to(device);
    const auto epoch_start = Clock::now();
    bool rolled_back = false;
    for (int64_t s = position.step_in_epoch; s < steps_per_epoch; ++s) {
      const int64_t begin = s * config.batch_size;
      const int64_t end = s + 1 == steps_per_epoch ? n : std::min(n, begin + config.batch_size);
      // Every rank shuffles alike and takes its slice of the global batch.
      const auto part = dist::shard_of(end - begin, rank, world);
      shard.set_shard(part.offset, part.size, end - begin);
      const auto index = permutation.slice(0, begin + part.offset, begin + part.offset + part.size);
      const auto x = train.x.index_select(0, index);
      const auto y = train.y.index_select(0, index);

      std::optional<analysis::CostateDiagnostics> diagnostics;
      if (config.diagnostics_every > 0 &&
          (position.global_step + 1) % config.diagnostics_every == 0)
        diagnostics.emplace(*network, *loss, x, y);

      double lr_factor = 1.0;
      if (!schedule.constant()) {
        lr_factor = schedule.factor(position.global_step, epoch, position.schedule_horizon);
        method->set_learning_rate_scale(position.lr_scale * lr_factor);
      }

      const auto t0 = Clock::now();
      const auto communication_before = communicator.stats();
      auto stats = method->step(*network, *loss, x, y);
      const double seconds = std::chrono::duration<double>(Clock::now() - t0).count();
      const auto communication = communicator.stats();
      // The step's figures over the global batch; an interrupt on any rank stops every rank.
      std::vector<double> figures{stats.loss, stats.objective, stats.accuracy};
      for (const auto& [key, value] : stats.extras) figures.push_back(value);
      figures.push_back(g_stop_requested.exchange(false) ? 1.0 : 0.0);
      shard.mean(figures);
      stats.loss = figures[0];
      stats.objective = figures[1];
      stats.accuracy = figures[2];
      size_t at = 3;
      for (auto& entry : stats.extras) entry.second = figures[at++];
      const bool stop = figures.back() > 0;
      if (communicator.distributed()) {
        stats.extras["comm_ms"] = 1e3 * (communication.seconds - communication_before.seconds);
        stats.extras["comm_bytes"] = double(communication.bytes - communication_before.bytes);
        stats.extras["comm_calls"] = double(communication.calls - communication_before.calls);
      }

      const int64_t bad_stage = first_nonfinite_stage(*network);
      bool grown = false;
      if (std::isfinite(stats.loss) && bad_stage < 0) {
        position.loss_growth.observe(stats.loss);
        grown = position.loss_growth.grown_past(config.divergence_factor);
      }
      if (!std::isfinite(stats.loss) || bad_stage >= 0 || grown) {
        std::string what =
            std::isfinite(stats.loss) ? "" : fmt::format("non-finite loss ({})", stats.loss);
        if (bad_stage >= 0)
          what += fmt::format("{}non-finite controls in stage {} ({})", what.empty() ? "" : "; ",
                              bad_stage, network->stage(size_t(bad_stage)).describe());
        if (grown)
          what = fmt::format("{} (divergence_factor {:g})", position.loss_growth.describe(),
                             config.divergence_factor);
        const std::string message =
            fmt::format("training diverged at epoch {} step {} (global step {}): {}", epoch + 1,
                        s + 1, position.global_step + 1, what);
        if (config.on_divergence == "rollback" && position.rollbacks < config.max_rollbacks &&
            !snapshot.empty()) {
          const int64_t rollbacks = position.rollbacks + 1;
          position = restore_snapshot(snapshot, *network, method, make_configured_method);
          const auto left = nonfinite_method_state(*method);
          if (!left.empty())
            throw DivergenceError(fmt::format(
                "{}; cannot roll back: the snapshot's method state holds non-finite values ({})",
                message, fmt::join(left, ", ")));
          position.rollbacks = rollbacks;
          position.lr_scale *= config.rollback_factor;
          method->set_learning_rate_scale(position.lr_scale);
          metrics.discard_steps_after(position.global_step);  // the abandoned steps
          snapshot = checkpoint_bytes(*network, *method, position);
          metrics.append({{"kind", "rollback"},
                          {"epoch", epoch + 1},
                          {"step", position.global_step},
                          {"message", message},
                          {"lr_scale", position.lr_scale}});
          progress.notice(
              fmt::format("{}; rolled back to step {} with step size ×{} (rollback {}/{})", message,
                          position.global_step, format_real(position.lr_scale), rollbacks,
                          config.max_rollbacks));
          rolled_back = true;
          break;
        }
        metrics.append({{"kind", "divergence"},
                        {"epoch", epoch + 1},
                        {"step", position.global_step + 1},
                        {"message", message}});
        write_tables();
        throw DivergenceError(message);
      }

      position.step_in_epoch = s + 1;
      ++position.global_step;
      position.epoch_loss_sum += stats.loss;
      position.epoch_accuracy_sum += stats.accuracy;
      position.epoch_step_seconds += seconds;
      run_step_seconds += seconds;
      ++run_steps;
      if (position.global_step % config.log_every == 0) {
        nlohmann::json record = {{"kind", "step"},
                                 {"epoch", epoch + 1},
                                 {"step", position.global_step},
                                 {"loss", stats.loss},
                                 {"objective", stats.objective},
                                 {"accuracy", nan_to_null(stats.accuracy)},
                                 {"step_time_ms", 1e3 * seconds}};
        for (const auto& [key, value] : stats.extras) record[key] = nan_to_null(value);
        if (!schedule.constant()) record["lr_factor"] = lr_factor;
        metrics.append(record);
      }
      if (diagnostics) {
        diagnostics->measure_update(*network);
        metrics.append({{"kind", "diagnostics"},
                        {"epoch", epoch + 1},
                        {"step", position.global_step},
                        {"costate_norm", diagnostics->costate_norm},
                        {"update_norm", diagnostics->update_norm},
                        {"hamiltonian", diagnostics->hamiltonian}});
      }
      progress.step(epoch, s + 1, stats.loss, stats.accuracy, run_steps);
      if (stop) {
        average_running_statistics(*network, communicator);
        if (writer) save_checkpoint(checkpoint_path, *network, *method, position);
        write_tables();
        progress.notice(fmt::format(
            "interrupted at epoch {} step {}; resume with: {}", epoch + 1, s + 1,
            options.resume_hint.empty() ? "octrain train --resume " + dir : options.resume_hint));
        throw Error(ExitCode::kInterrupted,
                    "interrupted; checkpoint written to " + checkpoint_path);
      }
    }
    if (rolled_back) continue;

    method->end_epoch(epoch);
    average_running_statistics(*network, communicator);
    const bool last = epoch + 1 == config.epochs;
    const double steps = double(position.step_in_epoch);
    nlohmann::json record = {
        {"kind", "epoch"},
        {"epoch", epoch + 1},
        {"step", position.global_step},
        {"train_loss", position.epoch_loss_sum / steps},
        {"train_accuracy", nan_to_null(position.epoch_accuracy_sum / steps)},
        {"mean_step_ms", 1e3 * position.epoch_step_seconds / steps},
        {"epoch_time_s", std::chrono::duration<double>(Clock::now() - epoch_start).count()},
        {"lr_scale", position.lr_scale}};
    for (const auto& [key, value] : control::nonzero_fractions(*network)) record[key] = value;
    for (const auto& [key, value] : method->epoch_extras()) record[key] = nan_to_null(value);
    const bool evaluation_due = last || (epoch + 1) % config.eval_every == 0;
    const auto eval_start = Clock::now();
    if (exporting)
      record_evaluation(record, "train_eval",
                        evaluate_sharded(*network, *loss, train_eval, communicator));
    std::optional<Evaluation> tested, validated;
    if (evaluation_due) tested = evaluate_sharded(*network, *loss, test, communicator);
    if (validation.size() > 0 && (evaluation_due || track_best))
      validated = evaluate_sharded(*network, *loss, validation, communicator);
    bool new_best = false;
    if (validated && track_best && improves(*validated, position, config.best_metric)) {
      new_best = true;
      if (!tested) tested = evaluate_sharded(*network, *loss, test, communicator);
      position.best_epoch = epoch + 1;
      position.best_validation_loss = validated->loss;
      position.best_validation_accuracy = validated->accuracy;
      position.best_test_loss = tested->loss;
      position.best_test_accuracy = tested->accuracy;
    }
    if (tested) {
      record["test_loss"] = tested->loss;
      record["test_accuracy"] = nan_to_null(tested->accuracy);
      result.test = *tested;
    }
    if (validated) {
      record["validation_loss"] = validated->loss;
      record["validation_accuracy"] = nan_to_null(validated->accuracy);
      result.validation = *validated;
    }
    if (track_best) record["best_epoch"] = position.best_epoch;
    if (exporting) {
      record["eval_time_s"] = std::chrono::duration<double>(Clock::now() - eval_start).count();
      record["elapsed_s"] = elapsed_seconds();
    }
    metrics.append(record);
    result.final_train_loss = position.epoch_loss_sum / steps;
    position.epoch = epoch + 1;
    position.step_in_epoch = 0;
    position.epoch_loss_sum = position.epoch_accuracy_sum = position.epoch_step_seconds = 0.0;
    stopped_early = patience_spent();
    if (stopped_early && !tested) {
      tested = evaluate_sharded(*network, *loss, test, communicator);
      result.test = *tested;
    }
    if (stopped_early)
      metrics.append({{"kind", "early_stop"},
                      {"epoch", epoch + 1},
                      {"step", position.global_step},
                      {"best_epoch", position.best_epoch},
                      {"test_loss", tested->loss},
                      {"test_accuracy", nan_to_null(tested->accuracy)}});
    metrics.flush();
    const bool checkpoint_due = config.checkpoint_every > 0
                                    ? (epoch + 1) % config.checkpoint_every == 0
                                    : Clock::now() - last_checkpoint >= kAutoCheckpointInterval;
    if (writer && (last || stopped_early || checkpoint_due)) {
      save_checkpoint(checkpoint_path, *network, *method, position);
      last_checkpoint = Clock::now();
    }
    if (writer && new_best && config.keep == "best")
      save_checkpoint(best_path, *network, *method, position);

    std::string line = fmt::format("epoch {:>3}/{}  train loss {:.4f}", epoch + 1, config.epochs,
                                   record["train_loss"].get<double>());
    if (!record["train_accuracy"].is_null())
      line += fmt::format("  train acc {:.2f}%", 100 * record["train_accuracy"].get<double>());
    if (validated) {
      line += fmt::format("  val loss {:.4f}", validated->loss);
      if (!std::isnan(validated->accuracy))
        line += fmt::format("  val acc {:.2f}%", 100 * validated->accuracy);
    }
    if (tested) {
      line += fmt::format("  test loss {:.4f}", tested->loss);
      if (!std::isnan(tested->accuracy))
        line += fmt::format("  test acc {:.2f}%", 100 * tested->accuracy);
    }
    if (record.contains("nonzero"))
      line += fmt::format("  non-zero {:.2f}%", 100 * record["nonzero"].get<double>());
    line += fmt::format("  {:.2f} ms/step", record["mean_step_ms"].get<double>());
    if (new_best) line += "  (best)";
    progress.line(line);
    if (stopped_early)
      progress.notice(fmt::format(
          "early stop after epoch {}: no validation improvement for {} epochs; best epoch {} "
          "(validation {}, test {})",
          epoch + 1, config.early_stop, position.best_epoch,
          describe_evaluation(position.best_validation_loss, position.best_validation_accuracy),
          describe_evaluation(position.best_test_loss, position.best_test_accuracy)));
  }

  write_tables();
  result.epochs = metrics.epochs();
  result.steps = run_steps;
  result.mean_step_ms = run_steps > 0 ? 1e3 * run_step_seconds / double(run_steps) : 0.0;
  if (result.test.samples == 0 && (position.epoch == config.epochs || stopped_early))
    result.test = evaluate_sharded(*network, *loss, test, communicator);
  if (result.validation.samples == 0 && validation.size() > 0 &&
      (position.epoch == config.epochs || stopped_early))
    result.validation = evaluate_sharded(*network, *loss, validation, communicator);
  if (!result.epochs.empty())
    result.final_train_loss = result.epochs.back().value("train_loss", 0.0);
  nlohmann::json summary = {{"test_loss", result.test.loss},
                            {"test_accuracy", nan_to_null(result.test.accuracy)},
                            {"final_train_loss", result.final_train_loss},
                            {"mean_step_ms", result.mean_step_ms},
                            {"epochs", config.epochs},
                            {"steps", position.global_step},
                            {"method", method->describe()}};
  if (result.validation.samples > 0) {
    summary["validation_loss"] = result.validation.loss;
    summary["validation_accuracy"] = nan_to_null(result.validation.accuracy);
  }
  summary["loss_growth"] = {{"max_ratio", position.loss_growth.max_ratio},
                            {"max_ratio_to_start", position.loss_growth.max_ratio_to_start},
                            {"max_ratio_above_start", position.loss_growth.max_ratio_above_start}};
  if (stopped_early) {
    summary["stopped_early"] = true;
    summary["epochs_trained"] = position.epoch;
  }
  if (position.best_epoch > 0) {
    summary["best"] = {{"epoch", position.best_epoch},
                       {"validation_loss", position.best_validation_loss},
                       {"validation_accuracy", nan_to_null(position.best_validation_accuracy)},
                       {"test_loss", position.best_test_loss},
                       {"test_accuracy", nan_to_null(position.best_test_accuracy)}};
    if (config.keep == "best") summary["best"]["checkpoint"] = "best.pt";
    result.best_epoch = position.best_epoch;
    result.best_test = {position.best_test_loss, position.best_test_accuracy, result.test.samples};
  }
  result.stopped_early = stopped_early;
  if (writer) write_text_atomically(dir + "/result.json", summary.dump(2) + "\n");
  return result;
}

}  // namespace octrain::train
