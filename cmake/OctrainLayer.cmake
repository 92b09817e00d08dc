# octrain_layer(NAME [DEPS...]): a static library octrain_NAME built from src/NAME/*.cpp.
# All layers share one precompiled header (libtorch's headers dominate compile time).
function(octrain_layer name)
  file(GLOB sources CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/src/${name}/*.cpp)
  add_library(octrain_${name} STATIC ${sources})
  target_include_directories(octrain_${name} PUBLIC ${CMAKE_SOURCE_DIR}/include)
  target_compile_options(octrain_${name} PRIVATE -Wall -Wextra -Wno-unused-parameter)
  set(deps)
  foreach(dep ${ARGN})
    list(APPEND deps octrain_${dep})
  endforeach()
  target_link_libraries(octrain_${name} PUBLIC ${deps} ${TORCH_LIBRARIES} fmt::fmt
                        nlohmann_json::nlohmann_json tomlplusplus::tomlplusplus ZLIB::ZLIB)
  if(name STREQUAL "util")
    target_precompile_headers(octrain_util PUBLIC
      <torch/torch.h> <fmt/format.h> <nlohmann/json.hpp> <string> <vector> <memory>)
  else()
    target_precompile_headers(octrain_${name} REUSE_FROM octrain_util)
  endif()
endfunction()

# octrain_test(NAME LIB): a GoogleTest executable test_NAME from tests/NAME/*.cpp.
function(octrain_test name lib)
  file(GLOB sources CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/tests/${name}/*.cpp)
  if(NOT sources)
    return()
  endif()
  add_executable(test_${name} ${sources})
  target_link_libraries(test_${name} PRIVATE ${lib} GTest::gtest_main)
  target_include_directories(test_${name} PRIVATE ${CMAKE_SOURCE_DIR}/tests)
  target_precompile_headers(test_${name} REUSE_FROM octrain_util)
  gtest_discover_tests(test_${name} DISCOVERY_TIMEOUT 60
                       PROPERTIES ENVIRONMENT "OCTRAIN_TEST_TMP=${CMAKE_BINARY_DIR}/test-tmp")
endfunction()
