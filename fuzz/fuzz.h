#pragma once

// The libFuzzer harnesses (fuzz/*.cpp), linked into one executable that runs the harness named
// by --harness=NAME (see fuzz/main.cpp and scripts/fuzz.sh).

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace octrain::fuzz {

using Harness = void (*)(const uint8_t* data, size_t size);

// A harness registers itself at static initialisation: OCTRAIN_FUZZ_HARNESS(idx) { ... }.
struct Registration {
  Registration(const char* name, Harness harness);
};

// Writes the bytes to this process's scratch file with the given suffix (one file per suffix,
// overwritten each call; in /dev/shm where it exists) and returns its path.
std::string scratch_file(const void* data, size_t size, const std::string& suffix);
std::string scratch_file(const std::string& text, const std::string& suffix);

// True when the bytes start with gzip's magic number: the harnesses of file readers parse in
// memory and go through a scratch file (and zlib) only for such inputs.
bool is_gzip(const uint8_t* data, size_t size);

// The input parsed in memory by `parse(bytes)`, or, when it is gzip, read through a scratch file
// by `read(path)` (the file reader's zlib path).
template <typename Parse, typename Read>
auto parse_or_read(const uint8_t* data, size_t size, const std::string& suffix, Parse&& parse,
                   Read&& read) {
  return is_gzip(data, size) ? read(scratch_file(data, size, suffix))
                             : parse(std::vector<uint8_t>(data, data + size));
}

// True when the text holds a decimal number above `limit`: the model harnesses skip such
// inputs, whose networks are legitimately too large to build thousands of times a second.
bool has_number_above(const std::string& text, uint64_t limit);

// Runs `f`; an octrain::Error (the documented answer to a bad input) is swallowed, any other
// exception is a finding: printed, then abort() so that libFuzzer records the input.
template <typename F>
void expect_octrain_errors_only(F&& f);

[[noreturn]] void unexpected_exception(const char* what);

}  // namespace octrain::fuzz

#include "octrain/util/error.h"

template <typename F>
void octrain::fuzz::expect_octrain_errors_only(F&& f) {
  try {
    f();
  } catch (const octrain::Error&) {
  } catch (const std::exception& e) {
    unexpected_exception(e.what());
  } catch (...) {
    unexpected_exception("a non-std exception");
  }
}

#define OCTRAIN_FUZZ_HARNESS(name)                                             \
  static void octrain_fuzz_##name(const uint8_t* data, size_t size);           \
  static const ::octrain::fuzz::Registration octrain_fuzz_registration_##name( \
      #name, octrain_fuzz_##name);                                             \
  static void octrain_fuzz_##name(const uint8_t* data, size_t size)
