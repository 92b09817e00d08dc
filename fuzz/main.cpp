// The fuzz executable's entry points: LLVMFuzzerInitialize picks the harness from
// --harness=NAME (libFuzzer ignores flags that start with "--") or OCTRAIN_FUZZ_HARNESS, and
// LLVMFuzzerTestOneInput runs it. Built only with -DOCTRAIN_FUZZ=ON (clang, -fsanitize=fuzzer).

#include <unistd.h>

#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <set>
#include <string>

#include "fuzz.h"

namespace octrain::fuzz {
namespace {

std::map<std::string, Harness>& harnesses() {
  static std::map<std::string, Harness> table;
  return table;
}

Harness selected = nullptr;

// The scratch files this process wrote, removed when it exits (libFuzzer ends with exit()).
// Never destroyed: the atexit handler runs after static destructors of later-built objects.
std::set<std::string>& scratch_files() {
  static auto* files = new std::set<std::string>;
  return *files;
}

void remove_scratch_files() {
  for (const auto& path : scratch_files()) std::remove(path.c_str());
}

std::string scratch_dir() {
  const char* tmp = std::getenv("TMPDIR");
  if (access("/dev/shm", W_OK) == 0) return "/dev/shm";
  return tmp && *tmp ? tmp : "/tmp";
}

}  // namespace

Registration::Registration(const char* name, Harness harness) {
  harnesses()[name] = harness;
}

std::string scratch_file(const void* data, size_t size, const std::string& suffix) {
  static const std::string prefix =
      scratch_dir() + "/octrain-fuzz-" + std::to_string(static_cast<long>(getpid()));
  const std::string path = prefix + suffix;
  scratch_files().insert(path);
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(static_cast<const char*>(data), static_cast<std::streamsize>(size));
  if (!out) {
    std::fprintf(stderr, "fuzz: cannot write %s\n", path.c_str());
    std::abort();
  }
  return path;
}

std::string scratch_file(const std::string& text, const std::string& suffix) {
  return scratch_file(text.data(), text.size(), suffix);
}

bool is_gzip(const uint8_t* data, size_t size) {
  return size >= 2 && data[0] == 0x1f && data[1] == 0x8b;
}

bool has_number_above(const std::string& text, uint64_t limit) {
  uint64_t value = 0;
  bool in_number = false;
  for (const char c : text) {
    if (std::isdigit(static_cast<unsigned char>(c))) {
      value = in_number ? value * 10 + uint64_t(c - '0') : uint64_t(c - '0');
      in_number = true;
      if (value > limit) return true;
    } else {
      in_number = false;
    }
  }
  return false;
}

void unexpected_exception(const char* what) {
  std::fprintf(stderr, "fuzz: an exception other than octrain::Error escaped: %s\n", what);
  std::abort();
}

}  // namespace octrain::fuzz

extern "C" int LLVMFuzzerInitialize(int* argc, char*** argv) {
  using namespace octrain::fuzz;
  std::string name;
  if (const char* env = std::getenv("OCTRAIN_FUZZ_HARNESS")) name = env;
  for (int i = 1; i < *argc; ++i)
    if (std::strncmp((*argv)[i], "--harness=", 10) == 0) name = (*argv)[i] + 10;
  auto it = harnesses().find(name);
  if (it == harnesses().end()) {
    std::fprintf(stderr, "fuzz: %s harness '%s'; one of:", name.empty() ? "no" : "unknown",
                 name.c_str());
    for (const auto& entry : harnesses()) std::fprintf(stderr, " %s", entry.first.c_str());
    std::fprintf(stderr, " (--harness=NAME or OCTRAIN_FUZZ_HARNESS)\n");
    std::exit(2);
  }
  selected = it->second;
  std::atexit(remove_scratch_files);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  octrain::fuzz::selected(data, size);
  return 0;
}
