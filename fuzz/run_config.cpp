// The TOML run configuration (RunConfig::merge_toml_file, validate, to_toml): the input is a
// config file, read plain and with the profile "quick"; a config that validates must read back
// from its own to_toml() to the same text.
#include "octrain/train/run_config.h"

#include <cstdio>
#include <string>

#include "fuzz.h"

OCTRAIN_FUZZ_HARNESS(run_config) {
  using namespace octrain;
  const std::string path = fuzz::scratch_file(data, size, ".toml");
  for (const char* profile : {"", "quick"}) {
    fuzz::expect_octrain_errors_only([&] {
      train::RunConfig config;
      config.merge_toml_file(path, profile);
      config.validate();
      const std::string text = config.to_toml();
      train::RunConfig again;
      try {
        again.merge_toml_file(fuzz::scratch_file(text, ".again.toml"));
      } catch (const Error& e) {
        std::fprintf(stderr, "to_toml():\n%s\n", text.c_str());
        fuzz::unexpected_exception(e.what());
      }
      if (again.to_toml() != text) {
        std::fprintf(stderr, "to_toml():\n%s\nread back:\n%s\n", text.c_str(),
                     again.to_toml().c_str());
        fuzz::unexpected_exception("to_toml() does not read back to the same config");
      }
    });
  }
}
