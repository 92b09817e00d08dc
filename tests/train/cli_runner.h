#pragma once

#include <gtest/gtest.h>
#include <sys/wait.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <string>

// Runs the real octrain executable (OCTRAIN_CLI_PATH, set by tests/CMakeLists.txt).
namespace octrain::train::testing {

struct Outcome {
  int code = -1;
  std::string output;  // stdout and stderr together
};

inline Outcome run_cli(const std::string& args, const std::string& env = "") {
  const std::string command = env + " '" OCTRAIN_CLI_PATH "' " + args + " 2>&1";
  Outcome o;
  std::FILE* pipe = ::popen(command.c_str(), "r");
  std::array<char, 4096> buffer{};
  while (std::fgets(buffer.data(), int(buffer.size()), pipe)) o.output += buffer.data();
  const int status = ::pclose(pipe);
  o.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return o;
}

#define EXPECT_FAILS_WITH(outcome, exit_code, text)                                  \
  do {                                                                               \
    const auto& o_ = (outcome);                                                      \
    EXPECT_EQ(o_.code, exit_code) << o_.output;                                      \
    EXPECT_NE(o_.output.find(text), std::string::npos) << o_.output;                 \
    EXPECT_EQ(std::count(o_.output.begin(), o_.output.end(), '\n'), 1) << o_.output; \
  } while (0)

}  // namespace octrain::train::testing
