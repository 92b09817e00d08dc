#include "octrain/dist/communicator.h"

#include <gtest/gtest.h>
#include <torch/types.h>

#include <future>
#include <thread>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>

#include "octrain/dist/batch_reducer.h"
#include "octrain/dist/process_group_communicator.h"
#include "octrain/util/error.h"

namespace octrain::dist {
namespace {

// A store on a free port, as the launcher serves it, and the spec of each rank joining it.
struct LoopbackWorld {
  LoopbackWorld() {
    c10d::TCPStoreOptions options;
    options.port = 0;
    options.isServer = true;
    options.waitWorkers = false;
    store = std::make_unique<c10d::TCPStore>("127.0.0.1", options);
  }
  WorldSpec spec(int rank, int world, int timeout_s = 20) const {
    WorldSpec s;
    s.rank = rank;
    s.world_size = world;
    s.master_port = store->getPort();
    s.agent_store = true;
    s.timeout = std::chrono::seconds(timeout_s);
    return s;
  }
  std::unique_ptr<c10d::TCPStore> store;
};

// Runs body(communicator) on `world` ranks, one thread each, and returns their results.
template <typename Body>
auto on_ranks(const LoopbackWorld& w, int world, Body body) {
  using Result = decltype(body(std::declval<Communicator&>()));
  std::vector<std::future<Result>> futures;
  for (int r = 0; r < world; ++r)
    futures.push_back(std::async(std::launch::async, [&, r] {
      auto c = make_process_group_communicator(w.spec(r, world));
      return body(*c);
    }));
  std::vector<Result> out;
  for (auto& f : futures) out.push_back(f.get());
  return out;
}

TEST(Communicator, SingleProcessLeavesEverythingAsItIs) {
  auto c = make_single_process_communicator();
  std::vector<torch::Tensor> t{torch::ones({3})};
  std::vector<double> v{2.5};
  c->all_reduce_sum(t);
  c->all_reduce_mean(v);
  EXPECT_TRUE(t[0].equal(torch::ones({3})));
  EXPECT_EQ(v[0], 2.5);
  EXPECT_EQ(c->stats().calls, 0);
}

TEST(Communicator, AllReduceSumsMixedTensorsInOneCollectivePerDtype) {
  LoopbackWorld w;
  const auto results = on_ranks(w, 2, [](Communicator& c) {
    std::vector<torch::Tensor> t{torch::full({2, 3}, double(c.rank() + 1), torch::kFloat32),
                                 torch::full({4}, 10.0 * (c.rank() + 1), torch::kFloat32),
                                 torch::full({1}, 0.5, torch::kFloat64)};
    c.all_reduce_sum(t);
    std::vector<double> v{double(c.rank()), 1.0};
    c.all_reduce_mean(v);
    std::string bytes = c.rank() == 0 ? std::string("from rank zero") : std::string();
    c.broadcast_bytes(bytes, 0);
    c.barrier();
    return std::make_tuple(t[0].sum().item<double>(), t[1].sum().item<double>(),
                           t[2].item<double>(), v[0], v[1], bytes, c.stats().calls);
  });
  for (const auto& [a, b, d, v0, v1, bytes, calls] : results) {
    EXPECT_EQ(a, 18.0);   // (1 + 2)·6
    EXPECT_EQ(b, 120.0);  // (10 + 20)·4
    EXPECT_EQ(d, 1.0);
    EXPECT_EQ(v0, 0.5);
    EXPECT_EQ(v1, 1.0);
    EXPECT_EQ(bytes, "from rank zero");
    EXPECT_EQ(calls, 2 + 1 + 2 + 1);  // float + double buckets, the doubles, 2 broadcasts, barrier
  }
}

TEST(BatchReducer, UnevenShardsGiveTheGlobalMean) {
  // 5 samples over 2 ranks: 3 + 2. Local means of x_s = s give the mean of 0…4.
  EXPECT_EQ(shard_of(5, 0, 2).offset, 0);
  EXPECT_EQ(shard_of(5, 0, 2).size, 3);
  EXPECT_EQ(shard_of(5, 1, 2).offset, 3);
  EXPECT_EQ(shard_of(5, 1, 2).size, 2);
  LoopbackWorld w;
  const auto results = on_ranks(w, 2, [](Communicator& c) {
    const auto shard = shard_of(5, c.rank(), 2);
    BatchReducer reducer(c);
    reducer.set_shard(shard.offset, shard.size, 5);
    auto x = torch::arange(shard.offset, shard.offset + shard.size, torch::kFloat64);
    auto m = x.mean();
    reducer.mean(m);
    return std::make_pair(m.item<double>(), reducer.sum(double(shard.size)));
  });
  for (const auto& [mean, count] : results) {
    EXPECT_DOUBLE_EQ(mean, 2.0);
    EXPECT_EQ(count, 5.0);
  }
}

TEST(Communicator, AMissingPeerIsNamedWithinTheTimeout) {
  LoopbackWorld w;
  const auto start = std::chrono::steady_clock::now();
  try {
    make_process_group_communicator(w.spec(0, 2, /*timeout_s=*/2));
    FAIL() << "joined a world whose rank 1 never came";
  } catch (const PeerLostError& e) {
    EXPECT_NE(std::string(e.what()).find("rank(s) 1 did not join"), std::string::npos) << e.what();
  }
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(10));
}

}  // namespace
}  // namespace octrain::dist
