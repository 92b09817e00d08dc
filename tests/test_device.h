#pragma once

// The device the device-parameterised suites run on: OCTRAIN_TEST_DEVICE = cpu (default),
// cuda or cuda:N. With CUDA asked for and absent, every test of the binary is skipped with a
// message, so `OCTRAIN_TEST_DEVICE=cuda ctest` is safe on any machine.

#include <gtest/gtest.h>
#include <torch/cuda.h>
#include <torch/types.h>

#include <cstdlib>
#include <string>

namespace octrain::test_env {

inline std::string test_device_name() {
  const char* env = std::getenv("OCTRAIN_TEST_DEVICE");
  return env && *env ? std::string(env) : std::string("cpu");
}

inline bool test_device_is_cuda() {
  return test_device_name().rfind("cuda", 0) == 0;
}

inline torch::Device test_device() {
  return torch::Device(test_device_name());
}

class TestDeviceEnvironment : public ::testing::Environment {
 public:
  void SetUp() override {
    if (test_device_is_cuda() && !torch::cuda::is_available())
      GTEST_SKIP() << "OCTRAIN_TEST_DEVICE=" << test_device_name()
                   << " but this machine (or this libtorch build) has no CUDA";
  }
};

// One registration per test binary, whichever of its files include this header.
inline ::testing::Environment* const kTestDeviceEnvironment =
    ::testing::AddGlobalTestEnvironment(new TestDeviceEnvironment);

}  // namespace octrain::test_env
