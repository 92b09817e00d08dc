#include "octrain/util/atomic_file.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <filesystem>
#include <fstream>

#include "octrain/util/error.h"

namespace octrain {
namespace {

namespace fs = std::filesystem;

// Flushes a file's (or a directory's) data to the disk, so that a crash after the rename
// cannot leave the new name pointing at unwritten blocks.
void sync_path(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY);
  if (fd < 0) return;  // nothing to flush that we could name
  ::fsync(fd);
  ::close(fd);
}

// "<prefix><pid>" or "<prefix><pid>.<suffix>" of a process that no longer runs.
bool left_by_dead_writer(const std::string& name, const std::string& prefix) {
  if (name.rfind(prefix, 0) != 0) return false;
  char* end = nullptr;
  const long pid = std::strtol(name.c_str() + prefix.size(), &end, 10);
  if ((*end != '\0' && *end != '.') || end == name.c_str() + prefix.size() || pid <= 0)
    return false;
  return ::kill(pid_t(pid), 0) != 0 && errno == ESRCH;
}

// Temporary files of this path left by a process that no longer runs (a SIGKILL mid-write):
// "<name>.tmp.<pid>" and the writer's own helpers beside it, "<name>.tmp.<pid>.<suffix>" (the
// folder save_checkpoint writes in).
void remove_stale_temporaries(const std::string& path) {
  const fs::path target(path);
  const std::string prefix = target.filename().string() + ".tmp.";
  std::error_code ec;
  const fs::path dir = target.has_parent_path() ? target.parent_path() : fs::path(".");
  for (const auto& entry : fs::directory_iterator(dir, ec))
    if (left_by_dead_writer(entry.path().filename().string(), prefix))
      fs::remove_all(entry.path(), ec);
}

}  // namespace

void write_atomically(const std::string& path,
                      const std::function<void(const std::string&)>& write) {
  // A rename would replace whatever is there: a device node or a directory is not ours to replace.
  std::error_code ec;
  const auto status = fs::status(path, ec);
  if (!ec && fs::exists(status) && !fs::is_regular_file(status))
    throw UsageError(path +
                     ": exists and is not a regular file; octrain writes only regular files");
  const std::string temp = path + ".tmp." + std::to_string(::getpid());
  try {
    write(temp);
  } catch (...) {
    std::remove(temp.c_str());
    throw;
  }
  sync_path(temp);
  fs::rename(temp, path, ec);
  if (ec) {
    std::remove(temp.c_str());
    throw Error(ExitCode::kFailure, path + ": cannot write: " + ec.message());
  }
  const fs::path parent = fs::path(path).parent_path();
  sync_path(parent.empty() ? std::string(".") : parent.string());
  remove_stale_temporaries(path);
}

void remove_dead_writers_temporaries(const std::string& dir) {
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    const std::string name = entry.path().filename().string();
    const size_t tmp = name.find(".tmp.");
    if (tmp != std::string::npos && tmp > 0 &&
        left_by_dead_writer(name, name.substr(0, tmp) + ".tmp."))
      fs::remove_all(entry.path(), ec);
  }
}

void write_text_atomically(const std::string& path, const std::string& content) {
  write_atomically(path, [&](const std::string& temp) {
    std::ofstream out(temp, std::ios::binary);
    out << content;
    out.flush();
    if (!out) throw Error(ExitCode::kFailure, temp + ": write failed");
  });
}

}  // namespace octrain
