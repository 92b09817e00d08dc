// write_atomically replaces only regular files and cleans up after killed writers.
#include "octrain/util/atomic_file.h"

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>

#include "octrain/util/error.h"
#include "run_helpers.h"

namespace octrain::train::testing {
namespace {

TEST(AtomicFile, RefusesToReplaceANonRegularFile) {
  const auto dir = fresh_dir();
  const auto fifo = dir / "fifo";
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  EXPECT_THROW(write_text_atomically(fifo.string(), "x"), UsageError);
  EXPECT_TRUE(fs::is_fifo(fifo));
  EXPECT_THROW(write_text_atomically(dir.string(), "x"), UsageError);  // a directory
  EXPECT_TRUE(fs::is_directory(dir));
}

TEST(AtomicFile, WritesAndRemovesTemporariesOfDeadWriters) {
  const auto dir = fresh_dir();
  const auto target = dir / "result.json";
  const auto stale = dir / "result.json.tmp.2147483646";  // above any pid_max: not running
  const auto other = dir / "other.json.tmp.2147483646";   // another file's: left alone
  std::ofstream(stale) << "half";
  std::ofstream(other) << "half";
  write_text_atomically(target.string(), "done");
  std::ifstream in(target);
  EXPECT_EQ(std::string(std::istreambuf_iterator<char>(in), {}), "done");
  EXPECT_FALSE(fs::exists(stale));
  EXPECT_TRUE(fs::exists(other));
}

// Found by scripts/kill_test.sh: a SIGKILL while save_checkpoint wrote left its folder
// checkpoint.pt.tmp.<pid>.d (a whole checkpoint) behind for good.
TEST(AtomicFile, RemovesTheHelperFoldersOfDeadWriters) {
  const auto dir = fresh_dir();
  const auto target = dir / "checkpoint.pt";
  const auto stale = dir / "checkpoint.pt.tmp.2147483646.d";  // a dead writer's folder
  const auto not_a_pid = dir / "checkpoint.pt.tmp.x.d";       // not ours: left alone
  fs::create_directories(stale);
  fs::create_directories(not_a_pid);
  std::ofstream(stale / "checkpoint.pt") << "half";
  write_text_atomically(target.string(), "done");
  EXPECT_FALSE(fs::exists(stale));
  EXPECT_TRUE(fs::exists(not_a_pid));
}

// A run directory is swept when a run takes it: a killed writer's best.pt helper folder goes,
// although best.pt itself may never be written again; live writers' and foreign files stay.
TEST(AtomicFile, ARunDirectoryIsSweptOfDeadWritersTemporaries) {
  const auto dir = fresh_dir();
  const auto dead_folder = dir / "best.pt.tmp.2147483646.d";
  const auto dead_file = dir / "result.json.tmp.2147483646";
  const auto live = dir / fmt::format("checkpoint.pt.tmp.{}", ::getpid());
  const auto foreign = dir / "notes.tmp.txt";
  fs::create_directories(dead_folder);
  std::ofstream(dead_folder / "best.pt") << "half";
  std::ofstream(dead_file) << "half";
  std::ofstream(live) << "being written";
  std::ofstream(foreign) << "mine";
  remove_dead_writers_temporaries(dir.string());
  EXPECT_FALSE(fs::exists(dead_folder));
  EXPECT_FALSE(fs::exists(dead_file));
  EXPECT_TRUE(fs::exists(live));
  EXPECT_TRUE(fs::exists(foreign));
}

}  // namespace
}  // namespace octrain::train::testing
