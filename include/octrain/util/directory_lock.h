#pragma once

#include <string>

namespace octrain {

// An exclusive advisory lock (flock) on DIR/.lock for as long as the object lives, so two
// processes never write one run directory at once; the kernel drops it if the process dies.
// Throws UsageError naming the directory (and the holder's pid) when another process holds it.
class DirectoryLock {
 public:
  explicit DirectoryLock(const std::string& dir);
  ~DirectoryLock();
  DirectoryLock(const DirectoryLock&) = delete;
  DirectoryLock& operator=(const DirectoryLock&) = delete;

 private:
  int fd_ = -1;
};

}  // namespace octrain
