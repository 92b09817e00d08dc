#include "octrain/train/trainer.h"

#include <ATen/CPUGeneratorImpl.h>
#include <fmt/format.h>
#include <torch/cuda.h>
#include <torch/utils.h>
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

// Where a rank's records go: rank 0 keeps the run's metrics log, the other ranks keep none.
class RankLog {
 public:
  RankLog(bool writer, const std::string& dir, bool resume, int64_t keep_until_step,
          bool skip_damaged) {
    if (writer) log_.emplace(dir, resume, keep_until_step, skip_damaged);
  }
  void append(const nlohmann::json& r) {
    if (log_) log_->append(r);
  }
  void flush() {
    if (log_) log_->flush();
  }
  void flush_tables() {
    if (log_) log_->flush_tables();
  }
  void discard_steps_after(int64_t step) {
    if (log_) log_->discard_steps_after(step);
  }
  std::vector<nlohmann::json> epochs() const {
    return log_ ? log_->epochs() : std::vector<nlohmann::json>{};
  }
  std::vector<nlohmann::json> records() const {
    return log_ ? log_->records() : std::vector<nlohmann::json>{};
  }

 private:
  std::optional<MetricsLog> log_;
};

// One run, in the order it happens: the model (data, network, loss, method), the run directory
// (lock, resume, config and metadata), the loop's fixed facts (splits, steps per epoch, schedule,
// progress), then epochs of steps, each step checked for divergence, each epoch evaluated and
// checkpointed, and the summary. Every phase is a member function; the state they share is here.
class TrainingRun {
 public:
  TrainingRun(RunConfig config, const RunOptions& options)
      : config_(std::move(config)),
        options_(options),
        communicator_(dist::world()),
        rank_(communicator_.rank()),
        world_(communicator_.world_size()),
        writer_(rank_ == 0),
        shard_(communicator_) {}

  RunResult run() {
    config_.validate();
    threads_ = set_compute_threads(int(config_.threads));
    device_ = parse_compute_device(config_.device);
    build_model();
    open_run_directory();
    write_run_files();
    prepare_loop();
    if (exporting_ && options_.resume)
      metrics_->append(
          {{"kind", "resume"}, {"epoch", position_.epoch}, {"step", position_.global_step}});
    if (exporting_ && !options_.resume) record_initial_evaluation();
    const StopOnSignal stop_on_signal_guard;
    while (position_.epoch < config_.epochs && !stopped_early_)
      if (train_epoch()) end_epoch();
    return finish();
  }

 private:
  // The data, the network planned and checked against the available memory, the loss and the
  // method, on the compute device.
  void build_model() {
    const data::Dataset& data =
        options_.dataset
            ? *options_.dataset
            : (loaded_ = data::load_dataset(config_.dataset, load_options_for(config_)));
    data_ = &data;
    if (data.train.size() == 0) throw DataError(config_.dataset + ": the training split is empty");
    // The estimate comes from the model planned on the meta device, before anything is allocated.
    const int64_t batch = std::min(config_.batch_size, data.train.size());
    check_memory(
        estimate_memory(*control::plan_network(config_.model, data.input_shape), config_.method,
                        config_.method_options, (batch + world_ - 1) / world_),
        available_memory(),
        fmt::format("model '{}' with {} at batch {}", config_.model, config_.method, batch));
    torch::manual_seed(config_.seed);
    network_ = control::build_network(config_.model, data.input_shape);
    loss_ = make_loss_for(config_, data, *network_);
    for (size_t t = 0; t < network_->size(); ++t)
      if (network_->stage(t).kind() == control::StageKind::kBatchNorm && batch < 2 * world_)
        throw UsageError(fmt::format(
            "stage {} ({}) needs batches of at least 2 samples per process; got {} for {}", t,
            network_->stage(t).describe(), batch, world_));
    if (batch < world_)
      throw UsageError(
          fmt::format("--batch-size {} cannot be split across {} processes", batch, world_));
    network_->set_running_cost({config_.weight_decay, 0.0});
    network_->to(device_);
    if (config_.sync_bn && communicator_.distributed()) synchronise_batch_norm();
    network_->train();
    method_ = make_configured_method();
    config_.method_options = method_->options().to_map();
  }

  // Batch norm over the global batch: its sums are all-reduced, weighted by the shards' sizes.
  void synchronise_batch_norm() {
    for (size_t t = 0; t < network_->size(); ++t)
      if (auto* bn = dynamic_cast<control::BatchNormStage*>(&network_->stage(t)))
        bn->synchronise({[this](const torch::Tensor& x) {
                           torch::Tensor total = x.detach().clone();
                           communicator_.all_reduce_sum(total);
                           return total;
                         },
                         [this] { return shard_.weight(); }});
  }

  std::unique_ptr<methods::Method> make_configured_method() {
    auto m = methods::make_method(config_.method, config_.method_options, *network_);
    m->set_compute_threads(std::max(threads_.blas, threads_.intra_op));
    m->set_batch_reducer(shard_);
    return m;
  }

  // The run directory, locked by rank 0; a resume restores the position, network and method.
  void open_run_directory() {
    if (config_.out.empty())
      config_.out = fmt::format("runs/{}-{}-s{}-{}", safe_file_name(config_.dataset),
                                config_.method, config_.seed, timestamp());
    dir_ = config_.out;
    checkpoint_path_ = dir_ + "/checkpoint.pt";
    agree_with_rank0(communicator_, [&] {
      std::filesystem::create_directories(dir_);
      lock_.emplace(dir_);
      remove_dead_writers_temporaries(dir_);  // e.g. best.pt's, which only a new best would clear
      if (!options_.resume && std::filesystem::exists(checkpoint_path_))
        throw UsageError(fmt::format(
            "{}: already holds a run; pass --resume {} to continue it or choose another --out",
            dir_, dir_));
    });
    if (options_.resume) resume();
  }

  void resume() {
    if (communicator_.distributed()) {
      // Rank 0 reads the checkpoint and sends it: the others need not see its file system.
      std::string bytes;
      agree_with_rank0(communicator_, [&] {
        if (!std::filesystem::exists(checkpoint_path_))
          throw UsageError(fmt::format("--resume {}: no checkpoint.pt there", dir_));
        std::ifstream file(checkpoint_path_, std::ios::binary);
        bytes.assign(std::istreambuf_iterator<char>(file), {});
      });
      communicator_.broadcast_bytes(bytes, 0);
      position_ = restore_checkpoint_bytes(bytes, *network_, *method_, checkpoint_path_);
    } else {
      position_ = load_checkpoint(checkpoint_path_, *network_, *method_);
    }
    if (config_.epochs < position_.epoch)
      throw UsageError(fmt::format(
          "--resume {}: the run has already trained {} epochs; --epochs {} would undo them", dir_,
          position_.epoch, config_.epochs));
    method_->set_learning_rate_scale(position_.lr_scale);
    if (!position_.lr_schedule.empty() && position_.lr_schedule != config_.lr_schedule)
      throw UsageError(fmt::format(
          "--resume {}: the checkpoint was trained with lr_schedule '{}', the config says '{}'",
          dir_, position_.lr_schedule, config_.lr_schedule));
  }

  // config.toml and metadata.json (rank 0), and the metrics log.
  void write_run_files() {
    const data::Dataset& data = *data_;
    if (writer_) write_text_atomically(dir_ + "/config.toml", config_.to_toml());
    const nlohmann::json metadata = {
        {"octrain_version", version()},
        {"git_revision", git_revision()},
        {"torch_version", TORCH_VERSION},
        {"seed", config_.seed},
        {"split_seed", config_.split_seed()},
        {"threads", config_.threads},
        {"compute_threads", threads_.describe()},
        {"device", config_.device},
        {"dataset", data.name},
        {"dataset_checksum", data.checksum},
        {"dataset_metadata", data.metadata},
        {"train_size", data.train.size()},
        {"validation_size", data.validation.size()},
        {"test_size", data.test.size()},
        {"model", config_.model},
        {"model_summary", network_->summary()},
        {"controls", network_->num_controls()},
        {"loss", loss_->name()},
        {"method", method_->describe()},
        {"resumed_from_step", position_.global_step},
        {"world_size", world_},
    };
    if (writer_) write_text_atomically(dir_ + "/metadata.json", metadata.dump(2) + "\n");
    metrics_.emplace(writer_, dir_, options_.resume, position_.global_step,
                     options_.skip_damaged_metrics);
  }

  // What the loop needs and never changes: the splits on the device, steps per epoch, the
  // learning-rate schedule, best-model tracking, the wall clock across resumes and the progress
  // header.
  void prepare_loop() {
    const data::Dataset& data = *data_;
    train_ = to_device(data.train, device_);
    test_ = to_device(data.test, device_);
    validation_ = to_device(data.validation, device_);
    const int64_t n = train_.size();
    // DeepOBS and AlgoPerf report training figures on a fixed training subset the size of the
    // test set (DeepOBS's train_eval set), evaluated like the others from epoch 0 on.
    exporting_ = ExportFormats::parse(config_.export_format).any();
    const int64_t train_eval_size = test_.size() > 0 ? std::min(n, test_.size()) : n;
    if (exporting_)
      train_eval_ = {train_.x.slice(0, 0, train_eval_size), train_.y.slice(0, 0, train_eval_size)};
    // Wall time since the run began, across resumes (from the last evaluation's record).
    run_start_ = Clock::now();
    for (const auto& r : metrics_->records())
      if (r.contains("elapsed_s") && r["elapsed_s"].is_number())
        elapsed_before_ = r["elapsed_s"].get<double>();
    steps_per_epoch_ = n / config_.batch_size + (n % config_.batch_size != 0);  // no overflow
    // Batch norm cannot take 1 sample, nor can a process take none: a last batch too small for
    // that joins the one before it.
    const int64_t remainder = n % config_.batch_size;
    if (steps_per_epoch_ > 1 && remainder > 0 && (remainder == 1 || remainder < world_))
      --steps_per_epoch_;
    schedule_ = LrSchedule::parse(config_.lr_schedule, "config 'lr_schedule'");
    position_.lr_schedule = schedule_.spec();
    if (position_.schedule_horizon == 0)
      position_.schedule_horizon = config_.epochs * steps_per_epoch_;
    track_best_ = config_.keep == "best" || config_.early_stop > 0;
    if (track_best_ && data.validation.size() == 0)
      throw UsageError(fmt::format(
          "--keep best and --early-stop need validation samples; {} has none", data.name));
    if (track_best_ && config_.best_metric == "accuracy" && !loss_->classification())
      throw UsageError(fmt::format(
          "--best-metric accuracy needs a classification loss; {} has no accuracy (use loss)",
          loss_->name()));
    stopped_early_ = patience_spent();  // a resumed run that had already stopped stays stopped
    open_progress();
    result_.run_dir = dir_;
    last_checkpoint_ = Clock::now();
  }

  void open_progress() {
    const data::Dataset& data = *data_;
    ProgressOptions progress_options = options_.progress;
    progress_options.quiet = progress_options.quiet || options_.quiet || !writer_;
    progress_.emplace(options_.out, progress_options, config_.epochs, steps_per_epoch_);
    std::string model_summary = network_->summary();
    model_summary.pop_back();  // its last newline; line() adds one
    progress_->line(fmt::format("{}: {} train, {} validation, {} test samples, input {}", data.name,
                                data.train.size(), data.validation.size(), data.test.size(),
                                control::to_string(data.input_shape)));
    progress_->line(model_summary);
    progress_->line(fmt::format("loss {} · method {} · {}", loss_->name(), method_->describe(),
                                threads_.describe()));
    if (communicator_.distributed())
      progress_->line(
          fmt::format("data-parallel: {} processes, global batch {}", world_, config_.batch_size));
    if (options_.resume)
      progress_->line(fmt::format("resuming {} at epoch {} step {}", dir_, position_.epoch + 1,
                                  position_.step_in_epoch));
  }

  bool patience_spent() const {
    return config_.early_stop > 0 && position_.best_epoch > 0 &&
           position_.epoch - position_.best_epoch >= config_.early_stop;
  }

  double elapsed_seconds() const {
    return elapsed_before_ + std::chrono::duration<double>(Clock::now() - run_start_).count();
  }

  Evaluation evaluate(const data::Split& split) {
    return evaluate_sharded(*network_, *loss_, split, communicator_);
  }

  void write_tables() {
    metrics_->flush_tables();
    if (writer_ && exporting_)
      write_run_exports(config_, metrics_->records(), {validation_.size(), test_.size()}, dir_);
  }

  // Epoch 0: the figures before any step, as DeepOBS and AlgoPerf record them.
  void record_initial_evaluation() {
    const auto eval_start = Clock::now();
    nlohmann::json record = {{"kind", "evaluation"}, {"epoch", 0}, {"step", 0}};
    record_evaluation(record, "train_eval", evaluate(train_eval_));
    record_evaluation(record, "test", evaluate(test_));
    if (validation_.size() > 0) record_evaluation(record, "validation", evaluate(validation_));
    record["eval_time_s"] = std::chrono::duration<double>(Clock::now() - eval_start).count();
    record["elapsed_s"] = elapsed_seconds();
    metrics_->append(record);
  }

  // The steps left in the current epoch. False when a divergence rolled the run back (the epoch
  // starts again from the snapshot's position).
  bool train_epoch() {
    const int64_t epoch = position_.epoch;
    if (config_.on_divergence == "rollback" && (position_.step_in_epoch == 0 || snapshot_.empty()))
      snapshot_ = checkpoint_bytes(*network_, *method_, position_);
    const auto permutation = epoch_permutation(config_.seed, epoch, train_.size()).to(device_);
    epoch_start_ = Clock::now();
    for (int64_t s = position_.step_in_epoch; s < steps_per_epoch_; ++s)
      if (!train_step(epoch, s, permutation)) return false;
    return true;
  }

  // One step on this rank's slice of global batch s, its figures averaged over the ranks, then
  // the divergence check, the step record and the interrupt check. False when rolled back.
  bool train_step(int64_t epoch, int64_t s, const torch::Tensor& permutation) {
    const int64_t n = train_.size();
    const int64_t begin = s * config_.batch_size;
    const int64_t end = s + 1 == steps_per_epoch_ ? n : std::min(n, begin + config_.batch_size);
    // Every rank shuffles alike and takes its slice of the global batch.
    const auto part = dist::shard_of(end - begin, rank_, world_);
    shard_.set_shard(part.offset, part.size, end - begin);
    const auto index = permutation.slice(0, begin + part.offset, begin + part.offset + part.size);
    const auto x = train_.x.index_select(0, index);
    const auto y = train_.y.index_select(0, index);

    std::optional<analysis::CostateDiagnostics> diagnostics;
    if (config_.diagnostics_every > 0 &&
        (position_.global_step + 1) % config_.diagnostics_every == 0)
      diagnostics.emplace(*network_, *loss_, x, y);

    double lr_factor = 1.0;
    if (!schedule_.constant()) {
      lr_factor = schedule_.factor(position_.global_step, epoch, position_.schedule_horizon);
      method_->set_learning_rate_scale(position_.lr_scale * lr_factor);
    }

    const auto t0 = Clock::now();
    const auto communication_before = communicator_.stats();
    auto stats = method_->step(*network_, *loss_, x, y);
    const double seconds = std::chrono::duration<double>(Clock::now() - t0).count();
    const bool stop = average_over_ranks(stats, communication_before);

    if (const auto diverged = divergence(stats)) {
      const std::string message =
          fmt::format("training diverged at epoch {} step {} (global step {}): {}", epoch + 1,
                      s + 1, position_.global_step + 1, *diverged);
      if (config_.on_divergence == "rollback" && position_.rollbacks < config_.max_rollbacks &&
          !snapshot_.empty()) {
        roll_back(epoch, message);
        return false;
      }
      metrics_->append({{"kind", "divergence"},
                        {"epoch", epoch + 1},
                        {"step", position_.global_step + 1},
                        {"message", message}});
      write_tables();
      throw DivergenceError(message);
    }

    position_.step_in_epoch = s + 1;
    ++position_.global_step;
    position_.epoch_loss_sum += stats.loss;
    position_.epoch_accuracy_sum += stats.accuracy;
    position_.epoch_step_seconds += seconds;
    run_step_seconds_ += seconds;
    ++run_steps_;
    if (position_.global_step % config_.log_every == 0) {
      nlohmann::json record = {{"kind", "step"},
                               {"epoch", epoch + 1},
                               {"step", position_.global_step},
                               {"loss", stats.loss},
                               {"objective", stats.objective},
                               {"accuracy", nan_to_null(stats.accuracy)},
                               {"step_time_ms", 1e3 * seconds}};
      for (const auto& [key, value] : stats.extras) record[key] = nan_to_null(value);
      if (!schedule_.constant()) record["lr_factor"] = lr_factor;
      metrics_->append(record);
    }
    if (diagnostics) {
      diagnostics->measure_update(*network_);
      metrics_->append({{"kind", "diagnostics"},
                        {"epoch", epoch + 1},
                        {"step", position_.global_step},
                        {"costate_norm", diagnostics->costate_norm},
                        {"update_norm", diagnostics->update_norm},
                        {"hamiltonian", diagnostics->hamiltonian}});
    }
    progress_->step(epoch, s + 1, stats.loss, stats.accuracy, run_steps_);
    if (stop) interrupt(epoch, s);
    return true;
  }

  // The step's figures over the global batch, and the communication it cost; returns whether
  // any rank was asked to stop (an interrupt on one rank stops every rank).
  bool average_over_ranks(methods::StepStats& stats, const dist::CommunicationStats& before) {
    const auto communication = communicator_.stats();
    std::vector<double> figures{stats.loss, stats.objective, stats.accuracy};
    for (const auto& [key, value] : stats.extras) figures.push_back(value);
    figures.push_back(g_stop_requested.exchange(false) ? 1.0 : 0.0);
    shard_.mean(figures);
    stats.loss = figures[0];
    stats.objective = figures[1];
    stats.accuracy = figures[2];
    size_t at = 3;
    for (auto& entry : stats.extras) entry.second = figures[at++];
    if (communicator_.distributed()) {
      stats.extras["comm_ms"] = 1e3 * (communication.seconds - before.seconds);
      stats.extras["comm_bytes"] = double(communication.bytes - before.bytes);
      stats.extras["comm_calls"] = double(communication.calls - before.calls);
    }
    return figures.back() > 0;
  }

  // What went wrong in this step, if anything: a non-finite loss or control, or a loss grown
  // past divergence_factor.
  std::optional<std::string> divergence(const methods::StepStats& stats) {
    const int64_t bad_stage = first_nonfinite_stage(*network_);
    bool grown = false;
    if (std::isfinite(stats.loss) && bad_stage < 0) {
      position_.loss_growth.observe(stats.loss);
      grown = position_.loss_growth.grown_past(config_.divergence_factor);
    }
    if (std::isfinite(stats.loss) && bad_stage < 0 && !grown) return std::nullopt;
    std::string what =
        std::isfinite(stats.loss) ? "" : fmt::format("non-finite loss ({})", stats.loss);
    if (bad_stage >= 0)
      what += fmt::format("{}non-finite controls in stage {} ({})", what.empty() ? "" : "; ",
                          bad_stage, network_->stage(size_t(bad_stage)).describe());
    if (grown)
      what = fmt::format("{} (divergence_factor {:g})", position_.loss_growth.describe(),
                         config_.divergence_factor);
    return what;
  }

  // Back to the snapshot with a smaller step size; the abandoned steps leave the log.
  void roll_back(int64_t epoch, const std::string& message) {
    const int64_t rollbacks = position_.rollbacks + 1;
    position_ = restore_snapshot(snapshot_, *network_, method_,
                                 [this] { return make_configured_method(); });
    const auto left = nonfinite_method_state(*method_);
    if (!left.empty())
      throw DivergenceError(fmt::format(
          "{}; cannot roll back: the snapshot's method state holds non-finite values ({})", message,
          fmt::join(left, ", ")));
    position_.rollbacks = rollbacks;
    position_.lr_scale *= config_.rollback_factor;
    method_->set_learning_rate_scale(position_.lr_scale);
    metrics_->discard_steps_after(position_.global_step);
    snapshot_ = checkpoint_bytes(*network_, *method_, position_);
    metrics_->append({{"kind", "rollback"},
                      {"epoch", epoch + 1},
                      {"step", position_.global_step},
                      {"message", message},
                      {"lr_scale", position_.lr_scale}});
    progress_->notice(fmt::format("{}; rolled back to step {} with step size ×{} (rollback {}/{})",
                                  message, position_.global_step, format_real(position_.lr_scale),
                                  rollbacks, config_.max_rollbacks));
  }

  [[noreturn]] void interrupt(int64_t epoch, int64_t s) {
    average_running_statistics(*network_, communicator_);
    if (writer_) save_checkpoint(checkpoint_path_, *network_, *method_, position_);
    write_tables();
    progress_->notice(fmt::format(
        "interrupted at epoch {} step {}; resume with: {}", epoch + 1, s + 1,
        options_.resume_hint.empty() ? "octrain train --resume " + dir_ : options_.resume_hint));
    throw Error(ExitCode::kInterrupted, "interrupted; checkpoint written to " + checkpoint_path_);
  }

  // The epoch record (training figures, sparsity, the method's extras, evaluations), best-model
  // and early-stop bookkeeping, the checkpoint when due, and the epoch line.
  void end_epoch() {
    const int64_t epoch = position_.epoch;
    method_->end_epoch(epoch);
    average_running_statistics(*network_, communicator_);
    const bool last = epoch + 1 == config_.epochs;
    const double steps = double(position_.step_in_epoch);
    nlohmann::json record = {
        {"kind", "epoch"},
        {"epoch", epoch + 1},
        {"step", position_.global_step},
        {"train_loss", position_.epoch_loss_sum / steps},
        {"train_accuracy", nan_to_null(position_.epoch_accuracy_sum / steps)},
        {"mean_step_ms", 1e3 * position_.epoch_step_seconds / steps},
        {"epoch_time_s", std::chrono::duration<double>(Clock::now() - epoch_start_).count()},
        {"lr_scale", position_.lr_scale}};
    for (const auto& [key, value] : control::nonzero_fractions(*network_)) record[key] = value;
    for (const auto& [key, value] : method_->epoch_extras()) record[key] = nan_to_null(value);
    const bool evaluation_due = last || (epoch + 1) % config_.eval_every == 0;
    const auto eval_start = Clock::now();
    if (exporting_) record_evaluation(record, "train_eval", evaluate(train_eval_));
    std::optional<Evaluation> tested, validated;
    if (evaluation_due) tested = evaluate(test_);
    if (validation_.size() > 0 && (evaluation_due || track_best_))
      validated = evaluate(validation_);
    bool new_best = false;
    if (validated && track_best_ && improves(*validated, position_, config_.best_metric)) {
      new_best = true;
      if (!tested) tested = evaluate(test_);
      position_.best_epoch = epoch + 1;
      position_.best_validation_loss = validated->loss;
      position_.best_validation_accuracy = validated->accuracy;
      position_.best_test_loss = tested->loss;
      position_.best_test_accuracy = tested->accuracy;
    }
    if (tested) {
      record["test_loss"] = tested->loss;
      record["test_accuracy"] = nan_to_null(tested->accuracy);
      result_.test = *tested;
    }
    if (validated) {
      record["validation_loss"] = validated->loss;
      record["validation_accuracy"] = nan_to_null(validated->accuracy);
      result_.validation = *validated;
    }
    if (track_best_) record["best_epoch"] = position_.best_epoch;
    if (exporting_) {
      record["eval_time_s"] = std::chrono::duration<double>(Clock::now() - eval_start).count();
      record["elapsed_s"] = elapsed_seconds();
    }
    metrics_->append(record);
    result_.final_train_loss = position_.epoch_loss_sum / steps;
    position_.epoch = epoch + 1;
    position_.step_in_epoch = 0;
    position_.epoch_loss_sum = position_.epoch_accuracy_sum = position_.epoch_step_seconds = 0.0;
    stopped_early_ = patience_spent();
    if (stopped_early_ && !tested) {
      tested = evaluate(test_);
      result_.test = *tested;
    }
    if (stopped_early_)
      metrics_->append({{"kind", "early_stop"},
                        {"epoch", epoch + 1},
                        {"step", position_.global_step},
                        {"best_epoch", position_.best_epoch},
                        {"test_loss", tested->loss},
                        {"test_accuracy", nan_to_null(tested->accuracy)}});
    metrics_->flush();
    const bool checkpoint_due = config_.checkpoint_every > 0
                                    ? (epoch + 1) % config_.checkpoint_every == 0
                                    : Clock::now() - last_checkpoint_ >= kAutoCheckpointInterval;
    if (writer_ && (last || stopped_early_ || checkpoint_due)) {
      save_checkpoint(checkpoint_path_, *network_, *method_, position_);
      last_checkpoint_ = Clock::now();
    }
    if (writer_ && new_best && config_.keep == "best")
      save_checkpoint(dir_ + "/best.pt", *network_, *method_, position_);
    progress_->line(epoch_line(record, validated, tested, new_best));
    if (stopped_early_)
      progress_->notice(fmt::format(
          "early stop after epoch {}: no validation improvement for {} epochs; best epoch {} "
          "(validation {}, test {})",
          epoch + 1, config_.early_stop, position_.best_epoch,
          describe_evaluation(position_.best_validation_loss, position_.best_validation_accuracy),
          describe_evaluation(position_.best_test_loss, position_.best_test_accuracy)));
  }

  std::string epoch_line(const nlohmann::json& record, const std::optional<Evaluation>& validated,
                         const std::optional<Evaluation>& tested, bool new_best) const {
    std::string line = fmt::format("epoch {:>3}/{}  train loss {:.4f}", position_.epoch,
                                   config_.epochs, record["train_loss"].get<double>());
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
    return line;
  }

  // The final tables, the evaluations a finished run still lacks, and result.json.
  RunResult finish() {
    write_tables();
    const bool finished = position_.epoch == config_.epochs || stopped_early_;
    result_.epochs = metrics_->epochs();
    result_.steps = run_steps_;
    result_.mean_step_ms = run_steps_ > 0 ? 1e3 * run_step_seconds_ / double(run_steps_) : 0.0;
    if (result_.test.samples == 0 && finished) result_.test = evaluate(test_);
    if (result_.validation.samples == 0 && validation_.size() > 0 && finished)
      result_.validation = evaluate(validation_);
    if (!result_.epochs.empty())
      result_.final_train_loss = result_.epochs.back().value("train_loss", 0.0);
    nlohmann::json summary = {{"test_loss", result_.test.loss},
                              {"test_accuracy", nan_to_null(result_.test.accuracy)},
                              {"final_train_loss", result_.final_train_loss},
                              {"mean_step_ms", result_.mean_step_ms},
                              {"epochs", config_.epochs},
                              {"steps", position_.global_step},
                              {"method", method_->describe()}};
    if (result_.validation.samples > 0) {
      summary["validation_loss"] = result_.validation.loss;
      summary["validation_accuracy"] = nan_to_null(result_.validation.accuracy);
    }
    summary["loss_growth"] = {
        {"max_ratio", position_.loss_growth.max_ratio},
        {"max_ratio_to_start", position_.loss_growth.max_ratio_to_start},
        {"max_ratio_above_start", position_.loss_growth.max_ratio_above_start}};
    if (stopped_early_) {
      summary["stopped_early"] = true;
      summary["epochs_trained"] = position_.epoch;
    }
    if (position_.best_epoch > 0) {
      summary["best"] = {{"epoch", position_.best_epoch},
                         {"validation_loss", position_.best_validation_loss},
                         {"validation_accuracy", nan_to_null(position_.best_validation_accuracy)},
                         {"test_loss", position_.best_test_loss},
                         {"test_accuracy", nan_to_null(position_.best_test_accuracy)}};
      if (config_.keep == "best") summary["best"]["checkpoint"] = "best.pt";
      result_.best_epoch = position_.best_epoch;
      result_.best_test.loss = position_.best_test_loss;
      result_.best_test.accuracy = position_.best_test_accuracy;
      result_.best_test.samples = result_.test.samples;
    }
    result_.stopped_early = stopped_early_;
    if (writer_) write_text_atomically(dir_ + "/result.json", summary.dump(2) + "\n");
    return result_;
  }

  RunConfig config_;
  const RunOptions& options_;
  dist::Communicator& communicator_;
  const int rank_, world_;
  const bool writer_;  // rank 0 alone writes metrics, checkpoints and reports
  dist::BatchReducer shard_;
  ComputeThreads threads_;
  torch::Device device_ = torch::kCPU;

  data::Dataset loaded_;
  const data::Dataset* data_ = nullptr;
  std::shared_ptr<control::Network> network_;
  std::unique_ptr<control::TerminalLoss> loss_;
  std::unique_ptr<methods::Method> method_;

  std::string dir_, checkpoint_path_;
  std::optional<DirectoryLock> lock_;
  TrainingPosition position_;
  std::optional<RankLog> metrics_;

  data::Split train_, test_, validation_, train_eval_;
  bool exporting_ = false;
  int64_t steps_per_epoch_ = 0;
  LrSchedule schedule_;
  bool track_best_ = false, stopped_early_ = false;
  std::optional<Progress> progress_;
  Clock::time_point run_start_, epoch_start_, last_checkpoint_;
  double elapsed_before_ = 0;

  RunResult result_;
  double run_step_seconds_ = 0.0;
  int64_t run_steps_ = 0;
  std::string snapshot_;  // the rollback point (on_divergence = rollback)
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
  return TrainingRun(std::move(config), options).run();
}

}  // namespace octrain::train
