# Run at every build (cmake -P): writes OUT from build_info.cpp.in with the current git revision,
# touching OUT only when its text changes, so a commit recompiles one file instead of leaving the
# revision of the last configure in every binary.
execute_process(COMMAND git rev-parse --short HEAD WORKING_DIRECTORY ${SOURCE_DIR}
                OUTPUT_VARIABLE OCTRAIN_GIT_REVISION OUTPUT_STRIP_TRAILING_WHITESPACE ERROR_QUIET)
if(NOT OCTRAIN_GIT_REVISION)
  set(OCTRAIN_GIT_REVISION unknown)
endif()
set(CMAKE_SOURCE_DIR ${SOURCE_DIR})
configure_file(${SOURCE_DIR}/cmake/build_info.cpp.in ${OUT} @ONLY)
