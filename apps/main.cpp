// octrain: train neural networks with optimal-control methods and their baselines.
#include <fmt/format.h>

#include <cstdio>
#include <cstdlib>
#include <new>
#include <string>

#include "commands.h"
#include "local_workers.h"
#include "octrain/util/allocator.h"
#include "octrain/util/error.h"

namespace {

// std::bad_alloc, or libtorch's allocators refusing (c10::Error "DefaultCPUAllocator: can't
// allocate memory: you tried to allocate …" or "… not enough memory …", "CUDA out of memory.
// Tried to allocate …").
bool out_of_memory(const std::exception& e, const std::string& message) {
  if (dynamic_cast<const std::bad_alloc*>(&e)) return true;
  for (const char* text : {"can't allocate memory", "not enough memory", "out of memory"})
    if (message.find(text) != std::string::npos) return true;
  return false;
}

// libtorch's "[enforce fail at alloc_cpu.cpp:75] err == 0. " before the message proper.
std::string without_enforce_prefix(const std::string& message) {
  if (message.rfind("[enforce fail at ", 0) != 0) return message;
  const size_t end = message.find("] ");
  const size_t sentence = end == std::string::npos ? end : message.find(". ", end);
  return sentence == std::string::npos ? message : message.substr(sentence + 2);
}

}  // namespace

int main(int argc, char** argv) {
  octrain::retain_freed_memory();
  octrain::app::remember_command_line(argc, argv);
  CLI::App app{
      "octrain — neural-network training as optimal control (MSA, E-MSA, DDPNOpt, baselines)"};
  app.footer(
      "Exit codes: 0 success, 1 internal failure, 2 bad flag/config/name, 3 bad, missing or "
      "changed data\n"
      "            file or inputs of the wrong shape,\n"
      "            4 training diverged, 5 a data-parallel worker was lost (died, hung or never\n"
      "            joined), 6 out of memory (an allocation failed), 130 interrupted (a resumable\n"
      "            checkpoint was written).\n"
      "Run 'octrain COMMAND --help' for a command's options.");
  app.require_subcommand(1);
  app.set_version_flag(
      "--version", [] { return octrain::app::version_line(); },
      "print the version, git revision and libtorch version");
  octrain::app::add_train_command(app);
  octrain::app::add_compare_command(app);
  octrain::app::add_tune_command(app);
  octrain::app::add_eval_command(app);
  octrain::app::add_export_command(app);
  octrain::app::add_predict_command(app);
  octrain::app::add_datasets_command(app);
  octrain::app::add_info_commands(app);
  octrain::app::add_meanfield_command(app);
  octrain::app::add_plot_command(app);
  octrain::app::add_report_command(app);
  octrain::app::add_bench_command(app);
  try {
    octrain::app::check_command_name(app, argc, argv);
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int code = app.exit(e);
    return code == 0 ? 0 : int(octrain::ExitCode::kUsage);
  } catch (const octrain::Error& e) {
    fmt::print(stderr, "octrain: error: {}\n", e.what());
    if (e.code() == octrain::ExitCode::kPeerLost) {
      // The process group's threads may still wait on the lost peer: leave without joining them.
      std::fflush(stdout);
      std::fflush(stderr);
      std::_Exit(int(e.code()));
    }
    return int(e.code());
  } catch (const std::exception& e) {
    // The first line with text (libtorch's messages may start with a line break).
    std::string message = e.what();
    message.erase(0, message.find_first_not_of("\n "));
    message = message.substr(0, message.find('\n'));
    if (out_of_memory(e, message)) {
      fmt::print(stderr,
                 "octrain: error: out of memory ({}); a smaller model or --batch-size needs less\n",
                 without_enforce_prefix(message));
      return int(octrain::ExitCode::kOutOfMemory);
    }
    fmt::print(stderr, "octrain: internal error: {}\n", message);
    return int(octrain::ExitCode::kFailure);
  }
  return 0;
}
