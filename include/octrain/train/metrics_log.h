#pragma once

#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace octrain::train {

// The run's metrics: metrics.jsonl (one JSON record per line, appended as training goes) and,
// on flush_tables(), steps.csv and epochs.csv derived from it.
class MetricsLog {
 public:
  // Opens `dir`/metrics.jsonl. When resuming, keeps only records at or before `keep_until_step`
  // (later ones belong to work after the checkpoint and are recomputed); a damaged line refuses
  // the resume (DataError) unless `skip_damaged`.
  MetricsLog(const std::string& dir, bool resume, int64_t keep_until_step,
             bool skip_damaged = false);
  // Buffered; flush() (at every epoch end, before a checkpoint) makes the records durable.
  void append(const nlohmann::json& record);
  void flush();
  // Drops step records after `step` (work abandoned by a rollback) and rewrites the file.
  void discard_steps_after(int64_t step);
  // Flushes, then rewrites the CSV tables atomically from all records so far.
  void flush_tables();
  const std::vector<nlohmann::json>& records() const { return records_; }
  std::vector<nlohmann::json> epochs() const;

 private:
  std::string dir_;
  std::vector<nlohmann::json> records_;
  std::ofstream out_;
};

}  // namespace octrain::train
