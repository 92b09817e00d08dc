#include "octrain/dist/local_launcher.h"

#include <fmt/format.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <csignal>
#include <cstring>
#include <map>
#include <optional>
#include <thread>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>

#include "octrain/util/error.h"

extern char** environ;

namespace octrain::dist {
namespace {

using Clock = std::chrono::steady_clock;
std::atomic<int> g_forward_signal{0};

void remember_signal(int signal) {
  g_forward_signal.store(signal);
}

// The workers' environment: ours without the variables we set, plus those.
std::vector<std::string> worker_environment(int rank, int nproc, int port,
                                            std::chrono::seconds timeout) {
  static const char* ours[] = {"RANK=",
                               "LOCAL_RANK=",
                               "WORLD_SIZE=",
                               "LOCAL_WORLD_SIZE=",
                               "MASTER_ADDR=",
                               "MASTER_PORT=",
                               "TORCHELASTIC_USE_AGENT_STORE=",
                               "OCTRAIN_DIST_TIMEOUT=",
                               "GROUP_RANK="};
  std::vector<std::string> env;
  for (char** e = environ; *e; ++e) {
    bool replaced = false;
    for (const char* prefix : ours) replaced |= std::strncmp(*e, prefix, std::strlen(prefix)) == 0;
    if (!replaced) env.emplace_back(*e);
  }
  env.push_back(fmt::format("RANK={}", rank));
  env.push_back(fmt::format("LOCAL_RANK={}", rank));
  env.push_back(fmt::format("GROUP_RANK=0"));
  env.push_back(fmt::format("WORLD_SIZE={}", nproc));
  env.push_back(fmt::format("LOCAL_WORLD_SIZE={}", nproc));
  env.push_back("MASTER_ADDR=127.0.0.1");
  env.push_back(fmt::format("MASTER_PORT={}", port));
  env.push_back("TORCHELASTIC_USE_AGENT_STORE=True");
  env.push_back(fmt::format("OCTRAIN_DIST_TIMEOUT={}", timeout.count()));
  return env;
}

std::vector<char*> pointers(std::vector<std::string>& strings) {
  std::vector<char*> out;
  for (auto& s : strings) out.push_back(s.data());
  out.push_back(nullptr);
  return out;
}

std::string describe_status(int status) {
  if (WIFSIGNALED(status)) {
    const int signal = WTERMSIG(status);
    return fmt::format("was killed by signal {} ({})", signal, strsignal(signal));
  }
  return fmt::format("exited with code {}", WEXITSTATUS(status));
}

}  // namespace

int launch_local_workers(int nproc, const std::vector<std::string>& arguments,
                         std::chrono::seconds timeout) {
  // The store outlives every worker, so a dying rank 0 does not take the rendezvous with it.
  c10d::TCPStoreOptions options;
  options.port = 0;  // a free port, chosen by the kernel: parallel launches never collide
  options.isServer = true;
  options.waitWorkers = false;
  options.timeout = timeout;
  c10d::TCPStore store("127.0.0.1", options);
  const int port = store.getPort();

  std::string executable = "/proc/self/exe";
  std::vector<std::string> argv_strings{"octrain"};
  argv_strings.insert(argv_strings.end(), arguments.begin(), arguments.end());
  std::map<pid_t, int> rank_of;
  std::vector<std::vector<std::string>> environments;
  for (int r = 0; r < nproc; ++r)
    environments.push_back(worker_environment(r, nproc, port, timeout));

  // Interrupts reach the workers through the terminal's process group; a SIGTERM sent to the
  // launcher alone is passed on.
  auto previous_int = std::signal(SIGINT, SIG_IGN);
  auto previous_term = std::signal(SIGTERM, remember_signal);
  for (int r = 0; r < nproc; ++r) {
    auto argv = pointers(argv_strings);
    auto envp = pointers(environments[size_t(r)]);
    const pid_t pid = fork();
    if (pid < 0) throw Error(ExitCode::kFailure, fmt::format("fork: {}", std::strerror(errno)));
    if (pid == 0) {
      std::signal(SIGINT, SIG_DFL);
      std::signal(SIGTERM, SIG_DFL);
      execve(executable.c_str(), argv.data(), envp.data());
      _exit(127);
    }
    rank_of[pid] = r;
  }

  std::optional<int> first_failure;
  auto kill_at = Clock::time_point::max();  // set by the first failure
  while (!rank_of.empty()) {
    if (const int signal = g_forward_signal.exchange(0))
      for (const auto& [pid, rank] : rank_of) kill(pid, signal);
    if (Clock::now() >= kill_at) {
      for (const auto& [pid, rank] : rank_of) {
        fmt::print(stderr,
                   "octrain: worker rank {} (pid {}) still running {} s after a failure; "
                   "killing it\n",
                   rank, pid, timeout.count());
        kill(pid, SIGKILL);
      }
      kill_at = Clock::time_point::max();
    }
    int status = 0;
    const pid_t pid = waitpid(-1, &status, WNOHANG);
    if (pid <= 0) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
      continue;
    }
    const auto it = rank_of.find(pid);
    if (it == rank_of.end()) continue;
    const int rank = it->second;
    rank_of.erase(it);
    const bool ok = WIFEXITED(status) && WEXITSTATUS(status) == 0;
    if (ok) continue;
    if (WIFSIGNALED(status) || !first_failure)
      fmt::print(stderr, "octrain: worker rank {} (pid {}) {}\n", rank, pid,
                 describe_status(status));
    if (!first_failure) {
      first_failure = WIFEXITED(status) ? WEXITSTATUS(status) : int(ExitCode::kPeerLost);
      kill_at = Clock::now() + timeout;
    }
  }
  std::signal(SIGINT, previous_int);
  std::signal(SIGTERM, previous_term);
  return first_failure.value_or(0);
}

}  // namespace octrain::dist
