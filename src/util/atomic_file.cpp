#include "octrain/util/atomic_file.h"

#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>

#include "octrain/util/error.h"

namespace octrain {

void write_atomically(const std::string& path,
                      const std::function<void(const std::string&)>& write) {
  const std::string temp = path + ".tmp." + std::to_string(::getpid());
  try {
    write(temp);
  } catch (...) {
    std::remove(temp.c_str());
    throw;
  }
  std::error_code ec;
  std::filesystem::rename(temp, path, ec);
  if (ec) {
    std::remove(temp.c_str());
    throw Error(ExitCode::kFailure, path + ": cannot write: " + ec.message());
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
