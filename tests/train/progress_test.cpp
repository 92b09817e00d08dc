// What a run shows while it trains: the live line on a terminal, plain lines on a pipe.
#include "octrain/train/progress.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <string>
#include <thread>

namespace octrain::train {
namespace {

std::string contents(std::FILE* file) {
  std::fflush(file);
  std::rewind(file);
  std::string text;
  char buffer[4096];
  size_t n;
  while ((n = std::fread(buffer, 1, sizeof buffer, file)) > 0) text.append(buffer, n);
  return text;
}

size_t count(const std::string& text, const std::string& what) {
  size_t n = 0;
  for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

// What `use` makes a Progress of `epochs` × `steps` with `options` write.
template <typename F>
std::string shown(const ProgressOptions& options, int64_t epochs, int64_t steps, F&& use) {
  std::FILE* file = std::tmpfile();
  {
    Progress progress(file, options, epochs, steps);
    use(progress);
  }
  const auto text = contents(file);
  std::fclose(file);
  return text;
}

TEST(Progress, PlainLinesOnAPipeEveryFewSeconds) {
  ProgressOptions options;
  options.terminal = 0;
  options.plain_every = 0.2;
  const auto text = shown(options, 2, 10, [](Progress& progress) {
    progress.line("header");
    for (int s = 1; s <= 10; ++s) {
      std::this_thread::sleep_for(std::chrono::milliseconds(s == 5 ? 250 : 0));
      progress.step(0, s, 0.5, 0.75, s);
    }
    progress.line("epoch   1/2");
  });
  EXPECT_EQ(text.find('\r'), std::string::npos) << text;
  EXPECT_EQ(count(text, "epoch 1/2  step "), 1u) << text;  // only once the interval passed
  EXPECT_NE(text.find("epoch 1/2  step 5/10  loss 0.5000  acc  75.0%"), std::string::npos);
  EXPECT_EQ(text.rfind("epoch   1/2\n"), text.size() - 12) << text;
}

TEST(Progress, NoPlainLinesWhenSwitchedOff) {
  ProgressOptions options;
  options.terminal = 0;
  options.plain_every = 0;
  EXPECT_EQ(shown(options, 1, 3,
                  [](Progress& progress) {
                    for (int s = 1; s <= 3; ++s) progress.step(0, s, 0.5, 0.75, s);
                  }),
            "");
}

// In a grid: the run's place, the live line and an ETA for the whole grid; no epoch lines, but
// notices; the live line is cleared when the run ends.
TEST(Progress, GridRunsShowTheirPlaceAndTheOverallEta) {
  ProgressOptions options;
  options.terminal = 1;
  options.run_lines = false;
  options.prefix = "[2/5] adam seed 0";
  options.runs_after = 3;
  options.seconds_per_run = 60;
  const auto text = shown(options, 1, 4, [](Progress& progress) {
    progress.line("epoch   1/1");
    progress.step(0, 4, 0.25, std::nan(""), 4);
    progress.notice("rolled back");
  });
  EXPECT_EQ(text.find("epoch   1/1"), std::string::npos) << text;
  EXPECT_NE(text.find("\r\033[K[2/5] adam seed 0  epoch 1/1  step 4/4  loss 0.2500"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("(all 3:00)"), std::string::npos) << text;
  EXPECT_NE(text.find("\r\033[Krolled back\n"), std::string::npos) << text;
}

TEST(Progress, QuietShowsNothing) {
  ProgressOptions options;
  options.quiet = true;
  options.terminal = 1;
  EXPECT_EQ(shown(options, 1, 1,
                  [](Progress& progress) {
                    progress.line("x");
                    progress.notice("y");
                    progress.step(0, 1, 0.1, 0.1, 1);
                  }),
            "");
}

TEST(Progress, Durations) {
  EXPECT_EQ(format_duration(0), "0:00");
  EXPECT_EQ(format_duration(65.4), "1:05");
  EXPECT_EQ(format_duration(3723), "1:02:03");
  EXPECT_EQ(format_duration(std::nan("")), "0:00");
}

}  // namespace
}  // namespace octrain::train
