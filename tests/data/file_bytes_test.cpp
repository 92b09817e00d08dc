// read_file_bytes sizes its buffer from a gzip trailer only when the claim is possible.
#include "octrain/data/file_bytes.h"

#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <string>

#include "data/fixtures.h"

namespace octrain::data {
namespace {

using namespace testing;

// Bytes of address space this process maps now (VmSize).
size_t mapped_bytes() {
  std::ifstream status("/proc/self/status");
  for (std::string line; std::getline(status, line);)
    if (line.rfind("VmSize:", 0) == 0) return size_t(std::stoull(line.substr(7))) << 10;
  return 0;
}

// A 1 KB gzip whose trailer claims 4 GB is read (and found corrupt) with 256 MB of address space
// to spare: the claim is beyond deflate's 1032:1 and must not be allocated.
TEST(FileBytes, HostileGzipTrailerDoesNotSizeTheBuffer) {
  const fs::path dir = fresh_dir();
  auto bytes = gzip(std::vector<uint8_t>(1000, 7));
  for (size_t i = bytes.size() - 4; i < bytes.size(); ++i) bytes[i] = 0xF0;
  write_bytes(dir / "huge.gz", bytes);
  const pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    const rlim_t room = mapped_bytes() + (size_t(256) << 20);
    const rlimit limit{room, room};
    setrlimit(RLIMIT_AS, &limit);
    try {
      read_file_bytes((dir / "huge.gz").string());
    } catch (const DataError&) {
      _exit(0);  // the trailer's size disagrees with the data: reported as corrupt
    } catch (...) {
      _exit(2);  // bad_alloc: the trailer was believed
    }
    _exit(1);
  }
  int status = 0;
  waitpid(child, &status, 0);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0);
}

}  // namespace
}  // namespace octrain::data
