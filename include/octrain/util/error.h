#pragma once

#include <stdexcept>
#include <string>

namespace octrain {

// Process exit codes, documented in `octrain --help` and README.md.
enum class ExitCode : int {
  kOk = 0,
  kFailure = 1,        // unexpected internal failure
  kUsage = 2,          // bad flag, config value or name
  kData = 3,           // missing, corrupt or truncated data file
  kDivergence = 4,     // training diverged and the policy gave up
  kPeerLost = 5,       // a data-parallel worker died, hung or never joined (docs/DISTRIBUTED.md)
  kOutOfMemory = 6,    // an allocation failed: the run needs more memory than is available
  kInterrupted = 130,  // stopped by SIGINT/SIGTERM after writing a resumable checkpoint
};

// An error meant for the user: one line, naming the input and what was expected.
class Error : public std::runtime_error {
 public:
  Error(ExitCode code, const std::string& message) : std::runtime_error(message), code_(code) {}
  ExitCode code() const { return code_; }

 private:
  ExitCode code_;
};

struct UsageError : Error {
  explicit UsageError(const std::string& message) : Error(ExitCode::kUsage, message) {}
};

struct DataError : Error {
  explicit DataError(const std::string& message) : Error(ExitCode::kData, message) {}
};

struct DivergenceError : Error {
  explicit DivergenceError(const std::string& message) : Error(ExitCode::kDivergence, message) {}
};

struct PeerLostError : Error {
  explicit PeerLostError(const std::string& message) : Error(ExitCode::kPeerLost, message) {}
};

}  // namespace octrain
