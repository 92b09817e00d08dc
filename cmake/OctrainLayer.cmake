# octrain_use_pch(TARGET): TARGET reuses octrain_util's precompiled header (libtorch's headers
# dominate compile time). The PCH is private: consumers of the library never see it.
function(octrain_use_pch target)
  if(OCTRAIN_USE_PCH)
    target_precompile_headers(${target} REUSE_FROM octrain_util)
  endif()
endfunction()

# octrain_unity(TARGET): TARGET compiles its sources in batches of OCTRAIN_UNITY_BATCH_SIZE. Sources
# in a batch share one translation unit, so names in their anonymous namespaces must differ.
function(octrain_unity target)
  if(OCTRAIN_UNITY_BUILD)
    set_target_properties(${target} PROPERTIES UNITY_BUILD ON
                          UNITY_BUILD_BATCH_SIZE ${OCTRAIN_UNITY_BATCH_SIZE})
  endif()
endfunction()

# octrain_layer(NAME [DEPS...]): a static library octrain_NAME built from src/NAME/*.cpp,
# exported as octrain::NAME.
function(octrain_layer name)
  file(GLOB sources CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/src/${name}/*.cpp)
  add_library(octrain_${name} STATIC ${sources})
  set_target_properties(octrain_${name} PROPERTIES EXPORT_NAME ${name})
  target_include_directories(octrain_${name} PUBLIC $<BUILD_INTERFACE:${PROJECT_SOURCE_DIR}/include>
                                                    $<INSTALL_INTERFACE:include>)
  target_compile_options(octrain_${name} PRIVATE -Wall -Wextra -Wno-unused-parameter)
  set(deps)
  foreach(dep ${ARGN})
    list(APPEND deps octrain_${dep})
  endforeach()
  target_link_libraries(octrain_${name} PUBLIC ${deps} ${TORCH_LIBRARIES} fmt::fmt
                        nlohmann_json::nlohmann_json tomlplusplus::tomlplusplus ZLIB::ZLIB)
  if(name STREQUAL "util")
    if(OCTRAIN_USE_PCH)
      # Only what nearly every source includes: a PCH of <torch/torch.h> (optimisers, nn modules,
      # data, JIT) was 630 MB and made even a torch-free source take 1.6x as long to compile.
      target_precompile_headers(octrain_util PRIVATE
        <torch/types.h> <torch/nn/module.h> <torch/utils.h> <fmt/format.h> <nlohmann/json.hpp>
        <string> <vector> <memory>)
    endif()
  else()
    octrain_use_pch(octrain_${name})
  endif()
  octrain_unity(octrain_${name})
  set_property(GLOBAL APPEND PROPERTY OCTRAIN_LAYERS octrain_${name})
endfunction()

# octrain_test(NAME LIB): a GoogleTest executable test_NAME from tests/NAME/*.cpp.
function(octrain_test name lib)
  file(GLOB sources CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/tests/${name}/*.cpp)
  if(NOT sources)
    return()
  endif()
  add_executable(test_${name} ${sources})
  target_link_libraries(test_${name} PRIVATE ${lib} GTest::gtest_main)
  target_include_directories(test_${name} PRIVATE ${PROJECT_SOURCE_DIR}/tests)
  octrain_use_pch(test_${name})
  octrain_unity(test_${name})
  # Labels: the layer, and unit (one layer's code in-process) or integration (train/ and deploy/:
  # whole runs, the real executable or PyTorch, several processes), so `ctest -L unit` is the
  # quick loop.
  if(name STREQUAL "train" OR name STREQUAL "deploy")
    set(kind integration)
  else()
    set(kind unit)
  endif()
  gtest_discover_tests(test_${name} DISCOVERY_TIMEOUT 60
                       PROPERTIES ENVIRONMENT "OCTRAIN_TEST_TMP=${PROJECT_BINARY_DIR}/test-tmp"
                                  LABELS "${kind};${name}")
endfunction()
