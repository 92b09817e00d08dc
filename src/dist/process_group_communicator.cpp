#include "octrain/dist/process_group_communicator.h"

// libtorch's c10d headers declare the Gloo process group only with USE_C10D_GLOO (libgloo-dev).
// Defined here rather than on the target so every target keeps sharing one precompiled header.
#ifndef USE_C10D_GLOO
#define USE_C10D_GLOO
#endif
#include <fmt/format.h>

#include <chrono>
#include <cstdlib>
#include <set>
#include <thread>
#include <torch/csrc/distributed/c10d/PrefixStore.hpp>
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>

#include "octrain/util/error.h"

namespace octrain::dist {
namespace {

using Clock = std::chrono::steady_clock;
// How long a rank whose collective failed waits for the other survivors to say so, before it
// names the silent ranks as lost.
constexpr auto kSurvivorWait = std::chrono::seconds(3);
constexpr auto kPoll = std::chrono::milliseconds(50);

std::string first_line(const std::string& text) {
  return text.substr(0, text.find('\n'));
}

std::vector<uint8_t> bytes_of(const std::string& text) {
  return {text.begin(), text.end()};
}

std::string rank_list(const std::set<int>& ranks) {
  std::string out;
  for (int r : ranks) out += (out.empty() ? "" : ", ") + std::to_string(r);
  return out;
}

bool is_loopback(const std::string& host) {
  return host == "localhost" || host.rfind("127.", 0) == 0 || host == "::1";
}

std::shared_ptr<::gloo::transport::Device> gloo_device(const WorldSpec& spec) {
  // As torch.distributed: GLOO_SOCKET_IFNAME picks the interface; a loopback master means one
  // machine; otherwise the address this machine's hostname resolves to.
  if (const char* interface = std::getenv("GLOO_SOCKET_IFNAME"); interface && *interface)
    return c10d::ProcessGroupGloo::createDeviceForInterface(interface);
  if (is_loopback(spec.master_addr))
    return c10d::ProcessGroupGloo::createDeviceForHostname("127.0.0.1");
  return c10d::ProcessGroupGloo::createDefaultDevice();
}

class ProcessGroupCommunicator : public Communicator {
 public:
  explicit ProcessGroupCommunicator(const WorldSpec& spec) : spec_(spec) {
    const double seconds = std::chrono::duration<double>(spec.timeout).count();
    const std::string where = fmt::format("{}:{}", spec.master_addr, spec.master_port);
    try {
      c10d::TCPStoreOptions options;
      options.port = uint16_t(spec.master_port);
      options.isServer = spec.rank == 0 && !spec.agent_store;
      options.waitWorkers = false;
      options.timeout = spec.timeout;
      store_ = c10::make_intrusive<c10d::TCPStore>(spec.master_addr, options);
    } catch (const std::exception& e) {
      throw PeerLostError(fmt::format(
          "rank {} of {}: cannot {} the rendezvous store at {} within {} s: {}", spec.rank,
          spec.world_size, spec.rank == 0 && !spec.agent_store ? "serve" : "reach", where, seconds,
          first_line(e.what())));
    }
    join();
    try {
      auto options = c10d::ProcessGroupGloo::Options::create(spec.timeout);
      options->devices.push_back(gloo_device(spec));
      options->threads = 2;
      auto prefixed = c10::make_intrusive<c10d::PrefixStore>("octrain/gloo", store_);
      group_ = c10::make_intrusive<c10d::ProcessGroupGloo>(prefixed, spec.rank, spec.world_size,
                                                           options);
    } catch (const std::exception& e) {
      lost("connecting the Gloo process group", e);
    }
  }

  int rank() const override { return spec_.rank; }
  int world_size() const override { return spec_.world_size; }

  void broadcast(std::vector<torch::Tensor>& tensors, int root) override {
    for (auto& t : tensors) {
      std::vector<at::Tensor> one{t.is_contiguous() ? t : t.contiguous()};
      c10d::BroadcastOptions options;
      options.rootRank = root;
      run(
          "broadcast", [&] { return group_->broadcast(one, options); }, t.nbytes());
      if (!one[0].is_same(t)) t.copy_(one[0]);
    }
  }

  void barrier() override {
    run(
        "barrier", [&] { return group_->barrier(); }, 0);
  }

 protected:
  void all_reduce_flat(torch::Tensor& buffer) override {
    std::vector<at::Tensor> one{buffer};
    run(
        "all_reduce", [&] { return group_->allreduce(one); }, buffer.nbytes());
  }

 private:
  // Announces this rank in the store and waits, up to the timeout, for every other rank.
  void join() {
    const auto key = [](int r) { return fmt::format("octrain/joined/{}", r); };
    std::set<int> missing;
    try {
      store_->set(key(spec_.rank), bytes_of("1"));
      for (int r = 0; r < spec_.world_size; ++r)
        if (r != spec_.rank) missing.insert(r);
      const auto deadline = Clock::now() + spec_.timeout;
      while (!missing.empty() && Clock::now() < deadline) {
        for (auto it = missing.begin(); it != missing.end();)
          it = store_->check({key(*it)}) ? missing.erase(it) : std::next(it);
        if (!missing.empty()) std::this_thread::sleep_for(kPoll);
      }
    } catch (const std::exception& e) {
      throw PeerLostError(fmt::format("rank {} of {}: lost the rendezvous store at {}:{}: {}",
                                      spec_.rank, spec_.world_size, spec_.master_addr,
                                      spec_.master_port, first_line(e.what())));
    }
    if (!missing.empty())
      throw PeerLostError(
          fmt::format("rank {} of {}: rank(s) {} did not join the rendezvous at {}:{} within {} s",
                      spec_.rank, spec_.world_size, rank_list(missing), spec_.master_addr,
                      spec_.master_port, std::chrono::duration<double>(spec_.timeout).count()));
  }

  template <typename Start>
  void run(const char* what, Start start, int64_t bytes) {
    const auto t0 = Clock::now();
    try {
      auto work = start();
      work->wait(spec_.timeout);
    } catch (const std::exception& e) {
      lost(what, e);
    }
    stats_.calls += 1;
    stats_.bytes += bytes;
    stats_.seconds += std::chrono::duration<double>(Clock::now() - t0).count();
  }

  // A collective failed (a peer closed its connection or timed out). Survivors leave a mark in
  // the store; the ranks that leave none within kSurvivorWait are the lost ones. If the store is
  // gone too, its host is: rank 0, unless a launcher serves it.
  [[noreturn]] void lost(const std::string& during, const std::exception& error) {
    const auto key = [](int r) { return fmt::format("octrain/failed/{}", r); };
    std::set<int> silent;
    for (int r = 0; r < spec_.world_size; ++r)
      if (r != spec_.rank) silent.insert(r);
    std::string store_note;
    try {
      store_->setTimeout(std::chrono::duration_cast<std::chrono::milliseconds>(kSurvivorWait));
      store_->set(key(spec_.rank), bytes_of("1"));
      const auto deadline = Clock::now() + kSurvivorWait;
      while (!silent.empty() && Clock::now() < deadline) {
        for (auto it = silent.begin(); it != silent.end();)
          it = store_->check({key(*it)}) ? silent.erase(it) : std::next(it);
        if (!silent.empty()) std::this_thread::sleep_for(kPoll);
      }
    } catch (const std::exception&) {
      if (spec_.agent_store) {
        store_note = "; the launcher's rendezvous store is gone too";
      } else {
        silent = {0};
        store_note = "; its rendezvous store is gone too";
      }
    }
    const std::string who = silent.empty()       ? "a peer"
                            : silent.size() == 1 ? fmt::format("rank {}", *silent.begin())
                                                 : fmt::format("ranks {}", rank_list(silent));
    throw PeerLostError(fmt::format("rank {} of {}: lost {} during {}{}: {}", spec_.rank,
                                    spec_.world_size, who, during, store_note,
                                    first_line(error.what())));
  }

  WorldSpec spec_;
  c10::intrusive_ptr<c10d::Store> store_;
  c10::intrusive_ptr<c10d::ProcessGroupGloo> group_;
};

}  // namespace

std::unique_ptr<Communicator> make_process_group_communicator(const WorldSpec& spec) {
  return std::make_unique<ProcessGroupCommunicator>(spec);
}

}  // namespace octrain::dist
